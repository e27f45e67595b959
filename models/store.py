"""The model store: one folder per trained model under the user data directory.

A model folder holds ``model.keras``, ``vocabulary.json`` and ``metadata.json``. A save
is built in a hidden staging folder and renamed into place in one step, so a crash or
a full disk never leaves a half model that looks whole; staging folders left by a dead
process are removed the next time a store is opened. A folder that cannot be read is
listed as damaged, with the reason, and never breaks the listing. A model travels between
machines as one ``.ssmodel`` file (a zip of its three files), checked whole before import.

Everything read from a model folder or an archive is untrusted: metadata goes through the
one schema (models.metadata), files are read with size caps (models.bounded_io), and the
store never follows a link out of itself: a model folder that is a link, or that holds
links, is listed as damaged, cannot be renamed, and deleting it removes only the link.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import shutil
import sys
import uuid
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from models import paths
from models.atomic_write import atomic_write, fsync_dir, write_bytes_atomic, write_json_atomic
from models.bounded_io import (
    MAX_JSON_BYTES,
    MAX_METADATA_BYTES,
    InputPathError,
    TooLarge,
    UnreadableJson,
    checked_input_file,
    checked_zip_members,
    copy_at_most,
    os_error_reason,
    parse_json,
    read_own_file,
    read_zip_member,
)
from models.config import LSTM, NGRAM, SPECIFIED_MAXLEN
from models.errors import ModelStoreError, StoreWriteError
from models.families import family_named
from models.keras_file import KerasFileError, read_summary
from models.metadata import METADATA_VERSION, ImportedFrom, MetadataError, ModelMetadata, clean_name, utc_now
from models.vocabulary import Vocabulary

MODEL_FILE = "model.keras"
VOCAB_FILE = "vocabulary.json"
META_FILE = "metadata.json"
_STAGING = ".staging-"
_TRASH = ".trash-"
ARCHIVE_SUFFIX = ".ssmodel"
FINE_TUNED_KEY = "fine_tuned"  # a fine-tuned copy's record in its metadata (models.fine_tuning)
__all__ = ["METADATA_VERSION", "utc_now"]  # re-exported: the store is where callers meet them


@dataclass
class ModelInfo:
    id: str  # folder name, stable across renames
    path: Path
    name: str  # display name, editable
    created: str  # ISO 8601, UTC
    metadata: ModelMetadata | None = None  # None when metadata.json is missing or fails the schema
    damaged: str | None = None  # why it cannot be used, or None
    builtin: bool = False

    @property
    def kept_from_default(self) -> bool:
        """A fine-tuned copy that lost test accuracy (models.fine_tuning): listed and usable, but never
        the default model. Read from an untrusted file: only an explicit ``made_default: false`` counts."""
        record = self.metadata.extra.get(FINE_TUNED_KEY) if self.metadata is not None else None
        return isinstance(record, dict) and record.get("made_default") is False

    def summary(self) -> dict[str, Any]:
        m = self.metadata
        return {
            "name": self.name,
            "id": self.id,
            "created": self.created,
            "family": m.family if m else None,  # models.families: "lstm" or "ngram"
            "preset": m.preset if m else None,
            "source": m.source if m else None,
            "validated_on": m.validated_on if m else None,  # "split" (held-out training reviews) or "test"
            "validation_accuracy": m.validation_accuracy if m else None,
            "test_accuracy": m.test_accuracy if m else None,
            "best_epoch": m.best_epoch if m else None,
            "kind": m.kind if m else None,  # "trained", or "imported" for a model trained with plain Keras
            # {"from": file name, "at": ISO date} for imported files
            "imported": m.imported.to_json() if m and m.imported else None,
            "builtin": self.builtin,
            "damaged": self.damaged,
            "path": str(self.path),
        }


@dataclass
class LoadedModel:
    info: ModelInfo
    model: Any
    vocabulary: Any  # Vocabulary; an n-gram model's NgramFeatures
    maxlen: int | None  # None: the family reads the whole review

    @property
    def family(self):
        return family_named(self.info.metadata.family if self.info.metadata else None)


def _slug(name: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.")[:60]
    return slug or "model"


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # exists but not ours, or the platform cannot tell: leave it alone
    return True


@contextlib.contextmanager
def _store_lock(root: Path) -> Iterator[None]:
    """Hold the store's lock: one process at a time chooses a name and puts a model under it (another
    import under the same name in between gave two models one name, in 5 of 10 rounds). The lock is
    on the store's folder itself (flock), so nothing is added to it; Windows locks a hidden file in it."""
    root.mkdir(parents=True, exist_ok=True)
    if sys.platform == "win32":
        import msvcrt

        fd = os.open(root / ".store.lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            msvcrt.locking(fd, msvcrt.LK_LOCK, 1)  # retries for 10 s, then OSError
            yield
        finally:
            os.close(fd)
        return
    import fcntl

    fd = os.open(root, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # released when closed, also by a killed process
        yield
    finally:
        os.close(fd)


class ModelStore:
    def __init__(self, root: Path | None = None, builtin: list[Path] | None = None):
        self.root = Path(root) if root is not None else paths.models_dir()
        self.builtin = [Path(p) for p in (builtin or [])]
        self.clean_leftovers()

    # -- housekeeping ---------------------------------------------------------------------
    def clean_leftovers(self) -> None:
        """Remove staging and trash folders whose writing process is gone."""
        if not self.root.is_dir():
            return
        for entry in self.root.iterdir():
            if not entry.name.startswith((_STAGING, _TRASH)):
                continue
            pid_text = entry.name.split("-")[1] if entry.name.count("-") >= 2 else ""
            if pid_text.isdigit() and _pid_alive(int(pid_text)):
                continue
            shutil.rmtree(entry, ignore_errors=True)

    # -- listing --------------------------------------------------------------------------
    def list(self) -> list[ModelInfo]:
        """Every model, newest first; user models before built-in ones. A folder that cannot be
        read is listed as damaged; it never breaks the listing of the others."""
        infos: list[ModelInfo] = []
        if self.root.is_dir():
            for entry in self.root.iterdir():
                if not entry.name.startswith(".") and (entry.is_dir() or entry.is_symlink()):
                    infos.append(self._read_info(entry))
        infos.sort(key=lambda i: i.created, reverse=True)
        for folder in self.builtin:
            if folder.is_dir():
                infos.append(self._read_info(folder, builtin=True))
        return infos

    def _read_info(self, folder: Path, builtin: bool = False) -> ModelInfo:
        info = ModelInfo(id=folder.name, path=folder, name=folder.name, created="", builtin=builtin)
        if folder.is_symlink():
            info.damaged = (f"the folder is a link to {os.path.realpath(folder)}; the store only uses its own "
                            "folders (delete removes the link, not what it points to)")
            return info
        try:
            meta = ModelMetadata.from_json(parse_json(read_own_file(folder / META_FILE, MAX_METADATA_BYTES)),
                                           fallback_name=folder.name)
        except FileNotFoundError:
            info.damaged = f"{META_FILE} is missing"
            return info
        except MetadataError as exc:
            info.damaged = f"{META_FILE} does not follow the format: {exc}"
            return info
        except (OSError, ValueError) as exc:  # a link, not a file, too large, not JSON
            reason = os_error_reason(exc) if isinstance(exc, OSError) else exc
            info.damaged = f"{META_FILE} cannot be read ({reason})"
            return info
        info.metadata = meta
        info.name = meta.name
        info.created = meta.created
        for required in (MODEL_FILE, VOCAB_FILE):
            file = folder / required
            if file.is_symlink():
                info.damaged = f"{required} is a link; the store only uses its own files"
                return info
            if not file.is_file() or file.stat().st_size == 0:
                info.damaged = f"{required} is missing or empty"
                return info
        try:
            read_summary(folder / MODEL_FILE)  # the zip's directory and config.json: cheap, and bounded
        except TooLarge as exc:
            info.damaged = f"{MODEL_FILE} cannot be used: {exc}"
        except UnreadableJson as exc:
            info.damaged = f"{MODEL_FILE} cannot be used: its config.json {exc.detail}"
        except KerasFileError:
            pass  # found when it is opened, with Keras' own reason
        return info

    def find(self, ref: str) -> ModelInfo:
        """A model by folder id, display name (case-insensitive) or folder path."""
        infos = self.list()
        for info in infos:
            if info.id == ref:
                return info
        matches = [i for i in infos if i.name.casefold() == ref.casefold()]
        if matches:
            return matches[0]  # newest of that name
        path = Path(ref).expanduser()
        try:
            if path.is_dir() and (path / META_FILE).exists():
                return self._read_info(path.resolve())
        except (OSError, ValueError):  # not a usable path (too long, a NUL in it): not a model either
            pass
        names = ", ".join(repr(i.name) for i in infos[:8]) or "none yet"
        raise ModelStoreError(f"No model called {ref!r}. Stored models: {names}.")

    def newest(self) -> ModelInfo:
        """The newest usable model (user models first, then the built-in one), the default wherever no model
        is named; a fine-tuned copy kept from the default is passed over unless it is the only usable one."""
        usable = [info for info in self.list() if info.damaged is None]
        for info in usable:
            if not info.kept_from_default:
                return info
        if usable:
            return usable[0]
        raise ModelStoreError(
            "There is no trained model yet. Train one first (python -m app train --data ...) "
            "or import one."
        )

    # -- saving ---------------------------------------------------------------------------
    def unique_name(self, name: str) -> str:
        taken = {i.name.casefold() for i in self.list()}
        if name.casefold() not in taken:
            return name
        n = 2
        while f"{name} ({n})".casefold() in taken:
            n += 1
        return f"{name} ({n})"

    def save(self, model: Any, vocabulary: Vocabulary, metadata: ModelMetadata, name: str) -> ModelInfo:
        """Write a model atomically and return its entry, its metadata ``metadata`` under the name
        given (made unique) and dated now. Raises ModelStoreError (e.g. disk full, or a record that
        does not follow the schema); the caller still holds ``model`` and can retry or export elsewhere."""
        return self._save_new(model, vocabulary, metadata, name.strip() or "model",
                              "Could not save the model in {root} ({reason}). The trained model is still open: "
                              "free some disk space or fix the folder's permissions and save again, or export it "
                              "to another folder.")

    def save_imported(self, model: Any, vocabulary: Vocabulary, metadata: ModelMetadata, name: str) -> ModelInfo:
        """Write a model brought in from outside the app (see models.keras_interop), atomically,
        under a unique name; a failure adds nothing."""
        return self._save_new(model, vocabulary, metadata, name.strip() or "imported model",
                              "Could not import the model into {root} ({reason}). Free some disk space or fix "
                              "the folder's permissions and import it again.")

    def _save_new(self, model: Any, vocabulary: Vocabulary, metadata: ModelMetadata, name: str,
                  failure: str) -> ModelInfo:
        if not isinstance(metadata, ModelMetadata):
            raise TypeError(f"metadata must be a ModelMetadata, not {type(metadata).__name__}")
        try:
            # Through the schema that reads it back: a record that would be listed as damaged is not written.
            meta = ModelMetadata.from_json({**metadata.to_json(), "name": name, "created": utc_now(),
                                            "format_version": METADATA_VERSION})
        except MetadataError as exc:
            raise ModelStoreError(f"The model's details cannot be saved: {exc}.") from None

        def write(staging: Path) -> None:
            model.save(staging / MODEL_FILE)
            vocabulary.save(staging / VOCAB_FILE)

        try:
            target = self._commit(name, write, lambda final: meta.with_name(final).to_json())
        except OSError as exc:
            reason = os_error_reason(exc)
            raise StoreWriteError(failure.format(root=self.root, reason=exc.strerror or exc), reason) from None
        return self._read_info(target)

    def _commit(self, name: str, write: Callable[[Path], None], metadata: Callable[[str], dict[str, Any]]) -> Path:
        """Let ``write`` fill a hidden staging folder, then rename it to a new model folder.

        The model appears whole or not at all; the staging folder is removed on any failure
        (OSError included, which the caller turns into its own message). An existing folder
        is never replaced: a taken name gets a numbered suffix. The name is chosen (unique_name)
        and ``metadata(name)`` written under the store's lock, just before the rename, so two
        processes saving at once never give two models one name.
        """
        staging = self.root / f"{_STAGING}{os.getpid()}-{uuid.uuid4().hex[:12]}"
        try:
            staging.mkdir(parents=True)
            write(staging)
            with _store_lock(self.root):
                final_name = self.unique_name(name)
                write_json_atomic(staging / META_FILE, metadata(final_name))
                stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
                base = f"{_slug(final_name)}-{stamp}"
                for n in itertools.count(1):
                    target = self.root / (base if n == 1 else f"{base}-{n}")
                    if target.exists():
                        continue
                    try:
                        os.rename(staging, target)  # atomic: the model appears whole or not at all
                        break
                    except OSError:
                        if target.exists():  # another process took this folder name in between
                            continue
                        raise
                fsync_dir(self.root)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return target

    def check_output(self, path: Path | str) -> Path:
        """:func:`check_output_path` against this store's folder and its built-in models."""
        return check_output_path(path, [self.root, *self.builtin])

    # -- single-file export and import ----------------------------------------------------
    def export_archive(self, ref: str, dest: Path) -> Path:
        """Write one model as a single zip file (``.ssmodel``) holding its three files.

        The file is written under a temporary name beside ``dest`` and renamed over it, so
        ``dest`` is either the old file or the whole new one.
        """
        info = self.find(ref)
        if info.damaged:
            raise ModelStoreError(f"The model {info.name!r} cannot be exported: {info.damaged}.")
        dest = self.check_output(dest)
        try:
            with atomic_write(dest) as out, zipfile.ZipFile(out, "w") as zf:
                # model.keras is itself a zip: compressing it again gains nothing.
                zf.write(info.path / MODEL_FILE, MODEL_FILE, compress_type=zipfile.ZIP_STORED)
                for member in (VOCAB_FILE, META_FILE):
                    zf.write(info.path / member, member, compress_type=zipfile.ZIP_DEFLATED)
        except OSError as exc:
            raise ModelStoreError(
                f"Could not export the model to {dest} ({exc.strerror or exc})."
            ) from None
        return dest

    def import_archive(self, path: Path, name: str | None = None) -> ModelInfo:
        """Add a model from a file written by :meth:`export_archive`; returns its new entry.

        The archive is checked completely before the model is committed: exactly the three
        model files at the top level, sizes bounded while they are read, metadata that
        follows the schema (models.metadata), a valid vocabulary that matches the model's
        Embedding and length. It is then committed like a save (staging folder, one
        rename), under a unique name, so a failure adds nothing and nothing existing is
        ever replaced.
        """
        what = (f"a Sentiment Studio model file (.ssmodel): a zip holding exactly "
                f"{MODEL_FILE}, {VOCAB_FILE} and {META_FILE}")
        try:
            path = checked_input_file(path, what)
            zf = zipfile.ZipFile(path)
        except InputPathError as exc:
            raise ModelStoreError(str(exc)) from None
        except zipfile.BadZipFile:
            raise ModelStoreError(f"{Path(path).name} is not {what}.") from None
        except OSError as exc:
            raise ModelStoreError(f"Could not read {path} ({exc.strerror or exc}).") from None
        with zf:
            members = _archive_members(zf, path.name, what)
            try:
                meta_bytes = read_zip_member(zf, META_FILE, MAX_METADATA_BYTES, path.name)
                vocab_bytes = read_zip_member(zf, VOCAB_FILE, MAX_JSON_BYTES, path.name)
            except TooLarge as exc:
                raise ModelStoreError(f"{path.name} is not a usable model file: {exc}.") from None
            except _UNREADABLE_MEMBER as exc:
                raise ModelStoreError(f"{path.name} is damaged ({exc}).") from None
            except OSError as exc:
                raise ModelStoreError(f"Could not read {path} ({exc.strerror or exc}).") from None
            try:
                meta_data = parse_json(meta_bytes)
                vocab_data = parse_json(vocab_bytes)
            except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError included
                raise ModelStoreError(f"{path.name} is damaged: its JSON files cannot be read ({exc}).") from None
            try:
                meta = ModelMetadata.from_json(meta_data, fallback_name=path.stem)
            except MetadataError as exc:
                reason = str(exc).rstrip(".")
                raise ModelStoreError(f"{path.name} cannot be imported: its {META_FILE}: {reason}.") from None
            try:
                vocabulary = family_named(meta.family).vocabulary_from_json(vocab_data)
            except ModelStoreError as exc:
                raise ModelStoreError(f"{path.name} is damaged: {exc}") from None
            wanted_name = clean_name((name or "").strip()) or meta.name or path.stem or "model"
            meta = replace(meta, name=wanted_name, imported=ImportedFrom(path.name, utc_now()))

            def write(staging: Path) -> None:
                with zf.open(members[MODEL_FILE]) as src, open(staging / MODEL_FILE, "wb") as out:
                    copy_at_most(src, out, members[MODEL_FILE].file_size, f"{path.name}: {MODEL_FILE}")
                    out.flush()
                    os.fsync(out.fileno())
                _check_matches(staging / MODEL_FILE, vocabulary, meta, path.name)
                write_bytes_atomic(staging / VOCAB_FILE, vocab_bytes)

            try:
                target = self._commit(wanted_name, write, lambda final: replace(meta, name=final).to_json())
            except _BadArchive as exc:
                raise ModelStoreError(str(exc)) from None
            except (*_UNREADABLE_MEMBER, TooLarge) as exc:  # e.g. a CRC mismatch, found while copying
                raise ModelStoreError(f"{path.name} is damaged ({exc}).") from None
            except OSError as exc:
                raise ModelStoreError(
                    f"Could not import the model into {self.root} ({exc.strerror or exc})."
                ) from None
        return self._read_info(target)

    # -- loading --------------------------------------------------------------------------
    def load(self, ref: str | ModelInfo | None = None) -> LoadedModel:
        info = ref if isinstance(ref, ModelInfo) else (self.newest() if ref is None else self.find(ref))
        if info.damaged:
            raise ModelStoreError(f"The model {info.name!r} cannot be used: {info.damaged}.")
        from models.keras_runtime import keras

        family = family_named(info.metadata.family if info.metadata else None)
        vocabulary = family.load_vocabulary(info.path / VOCAB_FILE)
        try:
            read_summary(info.path / MODEL_FILE)  # bounds first: Keras would read what the zip declares
        except TooLarge as exc:
            raise ModelStoreError(f"The model {info.name!r} cannot be used: {exc}.") from None
        except UnreadableJson as exc:
            raise ModelStoreError(f"The model {info.name!r} cannot be used: its {MODEL_FILE}'s config.json "
                                  f"{exc.detail}.") from None
        except KerasFileError:
            pass  # not a .keras zip: Keras' own message below says so
        try:
            model = keras().saving.load_model(info.path / MODEL_FILE, compile=False)
        except Exception as exc:  # Keras raises many types for a bad file  # noqa: BLE001
            raise ModelStoreError(
                f"The model {info.name!r} is damaged: {MODEL_FILE} cannot be read ({type(exc).__name__})."
            ) from None
        maxlen = family.check_loaded(model, vocabulary, info.name)
        if family.name == LSTM:
            maxlen = maxlen or (info.metadata and info.metadata.maxlen) or SPECIFIED_MAXLEN
        return LoadedModel(info, model, vocabulary, maxlen)

    # -- editing --------------------------------------------------------------------------
    def _user_model(self, ref: str) -> ModelInfo:
        info = self.find(ref)
        if info.builtin:
            raise ModelStoreError(f"{info.name!r} is built in and cannot be changed.")
        if info.path.parent.resolve() != self.root.resolve():
            raise ModelStoreError(f"{info.path} is not in the model store.")
        return info

    def _own_folder(self, info: ModelInfo, action: str) -> None:
        """Refuse to write through a link: the store never changes what lies outside it."""
        if info.path.is_symlink() or (info.path / META_FILE).is_symlink():
            raise ModelStoreError(f"The model {info.name!r} cannot be {action}: its folder or {META_FILE} is a "
                                  f"link to {os.path.realpath(info.path)}, outside the model store.")

    def rename(self, ref: str, new_name: str) -> ModelInfo:
        info = self._user_model(ref)
        new_name = new_name.strip()
        if not new_name:
            raise ModelStoreError("A model name cannot be empty.")
        self._own_folder(info, "renamed")
        if info.metadata is None:
            raise ModelStoreError(f"The model {info.name!r} is damaged ({info.damaged}) and cannot be renamed.")
        new_name = clean_name(new_name)
        if not new_name:
            raise ModelStoreError("A model name needs at least one visible character.")
        builtin = [i.name for i in self.list() if i.builtin]
        if any(new_name.casefold() == name.casefold() for name in builtin) or "(built-in)" in new_name.casefold():
            raise ModelStoreError(f"{new_name!r} would look like the model that ships with the app; "
                                  "choose a name without \"(built-in)\".")
        try:
            with _store_lock(self.root):  # the name chosen and written as one step (see _commit)
                if new_name.casefold() != info.name.casefold():
                    new_name = self.unique_name(new_name)
                write_json_atomic(info.path / META_FILE, info.metadata.with_name(new_name).to_json())
        except OSError as exc:
            raise ModelStoreError(f"Could not rename the model ({exc.strerror or exc}).") from None
        return self._read_info(info.path)

    def delete(self, ref: str) -> None:
        info = self._user_model(ref)
        if info.path.is_symlink():  # remove the link itself, never what it points to
            try:
                os.unlink(info.path)
            except OSError as exc:
                raise ModelStoreError(f"Could not delete the model ({exc.strerror or exc}).") from None
            return
        trash = self.root / f"{_TRASH}{os.getpid()}-{uuid.uuid4().hex[:12]}"
        try:
            os.rename(info.path, trash)  # gone from listings at once, even if removal is slow
        except OSError as exc:
            raise ModelStoreError(f"Could not delete the model ({exc.strerror or exc}).") from None
        try:
            shutil.rmtree(trash)
        except OSError as exc:
            # A folder whose files cannot be removed (read-only, files in use): said, and put back where it
            # was, never left as a hidden .trash folder while "deleted" is reported.
            reason = os_error_reason(exc)
            try:
                os.rename(trash, info.path)
            except OSError:
                raise ModelStoreError(f"Could not delete the model {info.name!r} ({reason}); what is left of it "
                                      f"is in {trash}.") from None
            whole = all((info.path / f).is_file() for f in (MODEL_FILE, VOCAB_FILE, META_FILE))
            raise ModelStoreError(
                f"Could not delete the model {info.name!r} ({reason}): "
                + ("it is still in the store." if whole else f"part of it was removed; the rest is in {info.path}.")
                + " Fix the folder's permissions and delete it again.") from None


# What reading a corrupt member can raise: bad CRC or size, a broken deflate stream, an
# unsupported compression method.
_UNREADABLE_MEMBER = (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError)


class _BadArchive(Exception):
    """An archive member found wrong while it is being written to the staging folder."""


def _archive_members(zf: zipfile.ZipFile, file_name: str, what: str) -> dict[str, zipfile.ZipInfo]:
    """The archive's three members by name, or ModelStoreError saying what is wrong."""
    try:
        infos = checked_zip_members(zf, file_name)
    except TooLarge as exc:
        raise ModelStoreError(f"{file_name} is not a usable model file: {exc}.") from None
    names = [i.filename for i in infos]
    expected = {MODEL_FILE, VOCAB_FILE, META_FILE}
    if len(names) != len(expected) or set(names) != expected:  # also rules out paths and duplicates
        found = ", ".join(names[:6]) + (", ..." if len(names) > 6 else "") if names else "nothing"
        raise ModelStoreError(f"{file_name} is not {what}; it holds {found}.")
    members = {i.filename: i for i in infos}
    for info in infos:
        if info.flag_bits & 0x1:
            raise ModelStoreError(f"{file_name} is encrypted; expected {what}.")
        limit = {META_FILE: MAX_METADATA_BYTES, VOCAB_FILE: MAX_JSON_BYTES}.get(info.filename)
        if limit is not None and info.file_size > limit:
            raise ModelStoreError(
                f"{file_name} is not a usable model file: {info.filename} is too large "
                f"({info.file_size / 1024**2:.0f} MB; at most {limit / 1024**2:.0f} MB)."
            )
    if members[MODEL_FILE].file_size == 0:
        raise ModelStoreError(f"{file_name} is damaged: its {MODEL_FILE} is empty.")
    return members


def _check_matches(model_file: Path, vocabulary: Vocabulary, meta: ModelMetadata, file_name: str) -> None:
    """The model (read without Keras, bounded) must take the vocabulary's ids and the metadata's length
    (an n-gram model: as many inputs as its feature table has n-grams)."""
    try:
        summary = read_summary(model_file)
    except UnreadableJson as exc:
        raise _BadArchive(f"{file_name} is damaged: its {MODEL_FILE}'s config.json "
                          f"{exc.detail}. Nothing was imported.") from None
    except KerasFileError:
        raise _BadArchive(f"{file_name} is damaged: its {MODEL_FILE} is not a Keras model file.") from None
    except TooLarge as exc:
        raise _BadArchive(f"{file_name} is not a usable model file: {exc}.") from None
    if meta.family == NGRAM:
        if summary.sequence_length != vocabulary.n_features:
            raise _BadArchive(f"{file_name} is damaged: its model takes {summary.sequence_length} features, its "
                              f"feature table has {vocabulary.n_features:,}. Nothing was imported.")
        return
    expected = summary.embedding_input_dim
    if expected is not None and expected != vocabulary.num_words:
        raise _BadArchive(f"{file_name} is damaged: its model expects {expected:,} word ids, its vocabulary has "
                          f"{vocabulary.num_words:,}. Nothing was imported.")
    if meta.vocab_size is not None and meta.vocab_size != vocabulary.num_words:
        raise _BadArchive(f"{file_name} is damaged: its {META_FILE} gives a vocabulary of {meta.vocab_size:,} "
                          f"words, its vocabulary has {vocabulary.num_words:,}. Nothing was imported.")
    length = summary.sequence_length
    if length is not None and meta.maxlen is not None and length != meta.maxlen:
        raise _BadArchive(f"{file_name} is damaged: its model reads {length:,} tokens per review, its "
                          f"{META_FILE} says {meta.maxlen:,}. Nothing was imported.")


def check_output_path(path: Path | str, roots: list[Path] | None = None) -> Path:
    """``path`` (``~`` expanded) for a file or folder the app writes at a user's request, or
    ModelStoreError when it lies inside the model store or a built-in model's folder.

    Only the store's own code writes there (a staging folder renamed into place): a CSV of
    scores saved as ``<model>/vocabulary.json``, or an export over its own ``model.keras``,
    would damage a stored model. Every output path goes through here: the CLI's --output,
    --misclassified and export, and the window's save dialogs. Links are followed, so a link
    into the store is refused too. ``roots`` defaults to the app's store and built-in models.
    """
    path = Path(path).expanduser()
    if roots is None:
        roots = [paths.models_dir(), *paths.builtin_model_dirs()]
    try:
        written = {Path(os.path.realpath(path)), Path(os.path.realpath(path.parent)) / path.name}
        inside = next((root for root in roots for place in written
                       if place.is_relative_to(os.path.realpath(root))), None)
    except (OSError, ValueError):  # a path too long or with a NUL: the writer's own check says so
        return path
    if inside is not None:
        raise ModelStoreError(f"{path} is inside the model store ({inside}): writing there would damage a stored "
                              "model. Choose a file outside it.")
    return path


def model_sequence_length(model: Any) -> int | None:
    shape = getattr(model, "input_shape", None)
    if isinstance(shape, list):
        shape = shape[0] if len(shape) == 1 else None
    if shape is not None and len(shape) == 2 and isinstance(shape[1], int):
        return shape[1]
    return None


def embedding_input_dim(model: Any) -> int | None:
    for layer in getattr(model, "layers", []):
        if hasattr(layer, "input_dim") and type(layer).__name__ == "Embedding":
            return int(layer.input_dim)
    return None
