"""The model store: one folder per trained model under the user data directory.

A model folder holds ``model.keras``, ``vocabulary.json`` and ``metadata.json``. A save
is built in a hidden staging folder and renamed into place in one step, so a crash or
a full disk never leaves a half model that looks whole; staging folders left by a dead
process are removed the next time a store is opened. A folder that cannot be read is
listed as damaged, with the reason, and never breaks the listing. A model travels between
machines as one ``.ssmodel`` file (a zip of its three files), checked whole before import.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import shutil
import uuid
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from models import paths
from models.errors import ModelStoreError
from models.vocabulary import Vocabulary

MODEL_FILE = "model.keras"
VOCAB_FILE = "vocabulary.json"
META_FILE = "metadata.json"
METADATA_VERSION = 1
_STAGING = ".staging-"
_TRASH = ".trash-"
ARCHIVE_SUFFIX = ".ssmodel"
# Upper bounds on an imported archive's members (the largest preset's model is ~10 MB).
_MAX_MODEL_BYTES = 2 * 1024**3
_MAX_JSON_BYTES = 64 * 1024**2


@dataclass
class ModelInfo:
    id: str  # folder name, stable across renames
    path: Path
    name: str  # display name, editable
    created: str  # ISO 8601, UTC
    metadata: dict[str, Any] = field(default_factory=dict)
    damaged: str | None = None  # why it cannot be used, or None
    builtin: bool = False

    def summary(self) -> dict[str, Any]:
        m = self.metadata
        results = m.get("results", {})
        # Which reviews chose the best epoch; models saved before this was recorded say it in their config.
        validated_on = results.get("validated_on") or (m.get("config") or {}).get("validation")
        validation_accuracy = results.get("validation_accuracy")
        if validation_accuracy is None and validated_on == "test":
            validation_accuracy = results.get("test_accuracy")  # one figure: it chose the epoch and was reported
        return {
            "name": self.name,
            "id": self.id,
            "created": self.created,
            "preset": m.get("preset"),
            "source": m.get("data", {}).get("source"),
            "validated_on": validated_on,  # "split" (held-out training reviews) or "test" (the tutorials' way)
            "validation_accuracy": validation_accuracy,
            "test_accuracy": results.get("test_accuracy"),
            "best_epoch": results.get("best_epoch"),
            "kind": m.get("kind"),  # "trained", or "imported" for a model trained with plain Keras
            "imported": m.get("imported"),  # {"from": file name, "at": ISO date} for imported files
            "builtin": self.builtin,
            "damaged": self.damaged,
            "path": str(self.path),
        }


@dataclass
class LoadedModel:
    info: ModelInfo
    model: Any
    vocabulary: Vocabulary
    maxlen: int


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")  # orders quick saves too


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


def _write_json_atomic(path: Path, data: Any) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=2, ensure_ascii=False)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


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
        """Every model, newest first; user models before built-in ones."""
        infos: list[ModelInfo] = []
        if self.root.is_dir():
            for entry in self.root.iterdir():
                if entry.is_dir() and not entry.name.startswith("."):
                    infos.append(self._read_info(entry))
        infos.sort(key=lambda i: i.created, reverse=True)
        for folder in self.builtin:
            if folder.is_dir():
                infos.append(self._read_info(folder, builtin=True))
        return infos

    def _read_info(self, folder: Path, builtin: bool = False) -> ModelInfo:
        info = ModelInfo(id=folder.name, path=folder, name=folder.name, created="", builtin=builtin)
        try:
            with open(folder / META_FILE, encoding="utf-8") as f:
                meta = json.load(f)
            if not isinstance(meta, dict):
                raise ValueError("not a JSON object")
        except FileNotFoundError:
            info.damaged = f"{META_FILE} is missing"
            return info
        except (OSError, ValueError) as exc:
            info.damaged = f"{META_FILE} cannot be read ({exc})"
            return info
        info.metadata = meta
        info.name = str(meta.get("name") or folder.name)
        info.created = str(meta.get("created") or "")
        if int(meta.get("format_version", 1)) > METADATA_VERSION:
            info.damaged = "written by a newer version of Sentiment Studio; update the app to use it"
            return info
        for required in (MODEL_FILE, VOCAB_FILE):
            file = folder / required
            if not file.is_file() or file.stat().st_size == 0:
                info.damaged = f"{required} is missing or empty"
                return info
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
        if path.is_dir() and (path / META_FILE).exists():
            return self._read_info(path.resolve())
        names = ", ".join(repr(i.name) for i in infos[:8]) or "none yet"
        raise ModelStoreError(f"No model called {ref!r}. Stored models: {names}.")

    def newest(self) -> ModelInfo:
        """The newest usable model (user models first, then the built-in one)."""
        for info in self.list():
            if info.damaged is None:
                return info
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

    def save(self, model: Any, vocabulary: Vocabulary, metadata: dict[str, Any], name: str) -> ModelInfo:
        """Write a model atomically and return its entry. Raises ModelStoreError (e.g. disk full);
        the caller still holds ``model`` and can retry or export elsewhere."""
        return self._save_new(model, vocabulary, metadata, name.strip() or "model",
                              "Could not save the model in {root} ({reason}). The trained model is still open: "
                              "free some disk space or fix the folder's permissions and save again, or export it "
                              "to another folder.")

    def save_imported(self, model: Any, vocabulary: Vocabulary, metadata: dict[str, Any], name: str) -> ModelInfo:
        """Write a model brought in from outside the app (see models.keras_interop), atomically,
        under a unique name; a failure adds nothing."""
        return self._save_new(model, vocabulary, metadata, name.strip() or "imported model",
                              "Could not import the model into {root} ({reason}). Free some disk space or fix "
                              "the folder's permissions and import it again.")

    def _save_new(self, model: Any, vocabulary: Vocabulary, metadata: dict[str, Any], name: str,
                  failure: str) -> ModelInfo:
        name = self.unique_name(name)
        meta = {**metadata, "name": name, "created": utc_now(), "format_version": METADATA_VERSION}

        def write(staging: Path) -> None:
            model.save(staging / MODEL_FILE)
            vocabulary.save(staging / VOCAB_FILE)
            _write_json_atomic(staging / META_FILE, meta)

        try:
            target = self._commit(name, write)
        except OSError as exc:
            raise ModelStoreError(failure.format(root=self.root, reason=exc.strerror or exc)) from None
        return self._read_info(target)

    def _commit(self, name: str, write: Callable[[Path], None]) -> Path:
        """Let ``write`` fill a hidden staging folder, then rename it to a new model folder.

        The model appears whole or not at all; the staging folder is removed on any failure
        (OSError included, which the caller turns into its own message). An existing folder
        is never replaced: a taken name gets a numbered suffix.
        """
        staging = self.root / f"{_STAGING}{os.getpid()}-{uuid.uuid4().hex[:12]}"
        try:
            staging.mkdir(parents=True)
            write(staging)
            stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
            base = f"{_slug(name)}-{stamp}"
            for n in itertools.count(1):
                target = self.root / (base if n == 1 else f"{base}-{n}")
                if target.exists():
                    continue
                try:
                    os.rename(staging, target)  # atomic: the model appears whole or not at all
                    break
                except OSError:
                    if target.exists():  # another process took this name in between
                        continue
                    raise
            _fsync_dir(self.root)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return target

    # -- single-file export and import ----------------------------------------------------
    def export_archive(self, ref: str, dest: Path) -> Path:
        """Write one model as a single zip file (``.ssmodel``) holding its three files.

        The file is written under a temporary name beside ``dest`` and renamed over it, so
        ``dest`` is either the old file or the whole new one.
        """
        info = self.find(ref)
        if info.damaged:
            raise ModelStoreError(f"The model {info.name!r} cannot be exported: {info.damaged}.")
        dest = Path(dest)
        tmp = dest.with_name(f".{dest.name}.{uuid.uuid4().hex[:12]}.tmp")
        try:
            with zipfile.ZipFile(tmp, "w") as zf:
                # model.keras is itself a zip: compressing it again gains nothing.
                zf.write(info.path / MODEL_FILE, MODEL_FILE, compress_type=zipfile.ZIP_STORED)
                for member in (VOCAB_FILE, META_FILE):
                    zf.write(info.path / member, member, compress_type=zipfile.ZIP_DEFLATED)
            with open(tmp, "rb") as f:
                os.fsync(f.fileno())
            os.replace(tmp, dest)
        except OSError as exc:
            raise ModelStoreError(
                f"Could not export the model to {dest} ({exc.strerror or exc})."
            ) from None
        finally:
            if tmp.exists():
                tmp.unlink()
        return dest

    def import_archive(self, path: Path, name: str | None = None) -> ModelInfo:
        """Add a model from a file written by :meth:`export_archive`; returns its new entry.

        The archive is checked completely before anything is written: exactly the three
        model files at the top level, bounded sizes, readable metadata and vocabulary.
        It is then committed like a save (staging folder, one rename), under a unique
        name, so a failure adds nothing and nothing existing is ever replaced.
        """
        path = Path(path)
        what = (f"a Sentiment Studio model file (.ssmodel): a zip holding exactly "
                f"{MODEL_FILE}, {VOCAB_FILE} and {META_FILE}")
        try:
            zf = zipfile.ZipFile(path)
        except FileNotFoundError:
            raise ModelStoreError(f"{path} does not exist.") from None
        except IsADirectoryError:
            raise ModelStoreError(f"{path} is a folder; expected {what}.") from None
        except zipfile.BadZipFile:
            raise ModelStoreError(f"{path.name} is not {what}.") from None
        except OSError as exc:
            raise ModelStoreError(f"Could not read {path} ({exc.strerror or exc}).") from None
        with zf:
            members = _archive_members(zf, path.name, what)
            try:
                meta_bytes = _read_member(zf, members[META_FILE])
                vocab_bytes = _read_member(zf, members[VOCAB_FILE])
            except _UNREADABLE_MEMBER as exc:
                raise ModelStoreError(f"{path.name} is damaged ({exc}).") from None
            except OSError as exc:
                raise ModelStoreError(f"Could not read {path} ({exc.strerror or exc}).") from None
            try:
                meta = json.loads(meta_bytes.decode("utf-8"))
                vocab_data = json.loads(vocab_bytes.decode("utf-8"))
            except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError included
                raise ModelStoreError(f"{path.name} is damaged: its JSON files cannot be read ({exc}).") from None
            if not isinstance(meta, dict):
                raise ModelStoreError(f"{path.name} is damaged: {META_FILE} is not a JSON object.")
            try:
                version = int(meta.get("format_version", 1))
            except (TypeError, ValueError):
                raise ModelStoreError(f"{path.name} is damaged: {META_FILE} has no valid format version.") from None
            if version > METADATA_VERSION:
                raise ModelStoreError(
                    f"{path.name} was written by a newer version of Sentiment Studio; update the app to import it."
                )
            try:
                Vocabulary.from_json(vocab_data)
            except ModelStoreError as exc:
                raise ModelStoreError(f"{path.name} is damaged: {exc}") from None
            final_name = self.unique_name((name or "").strip() or str(meta.get("name") or "").strip()
                                          or path.stem or "model")
            meta = {**meta, "name": final_name, "created": str(meta.get("created") or utc_now()),
                    "format_version": METADATA_VERSION, "imported": {"from": path.name, "at": utc_now()}}

            def write(staging: Path) -> None:
                _copy_member(zf, members[MODEL_FILE], staging / MODEL_FILE)
                if not zipfile.is_zipfile(staging / MODEL_FILE):  # every .keras file is a zip
                    raise _BadArchive(f"{path.name} is damaged: its {MODEL_FILE} is not a Keras model file.")
                with open(staging / VOCAB_FILE, "wb") as f:
                    f.write(vocab_bytes)
                    f.flush()
                    os.fsync(f.fileno())
                _write_json_atomic(staging / META_FILE, meta)

            try:
                target = self._commit(final_name, write)
            except _BadArchive as exc:
                raise ModelStoreError(str(exc)) from None
            except _UNREADABLE_MEMBER as exc:  # e.g. a CRC mismatch, found while copying
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

        vocabulary = Vocabulary.load(info.path / VOCAB_FILE)
        try:
            model = keras().saving.load_model(info.path / MODEL_FILE, compile=False)
        except Exception as exc:  # Keras raises many types for a bad file  # noqa: BLE001
            raise ModelStoreError(
                f"The model {info.name!r} is damaged: {MODEL_FILE} cannot be read ({type(exc).__name__})."
            ) from None
        maxlen = model_sequence_length(model) or int(info.metadata.get("config", {}).get("maxlen", 80))
        input_dim = embedding_input_dim(model)
        if input_dim is not None and input_dim != vocabulary.num_words:
            raise ModelStoreError(
                f"The model {info.name!r} does not match its vocabulary: the model expects "
                f"{input_dim} word ids, the vocabulary has {vocabulary.num_words}."
            )
        return LoadedModel(info, model, vocabulary, maxlen)

    # -- editing --------------------------------------------------------------------------
    def _user_model(self, ref: str) -> ModelInfo:
        info = self.find(ref)
        if info.builtin:
            raise ModelStoreError(f"{info.name!r} is built in and cannot be changed.")
        if info.path.parent.resolve() != self.root.resolve():
            raise ModelStoreError(f"{info.path} is not in the model store.")
        return info

    def rename(self, ref: str, new_name: str) -> ModelInfo:
        info = self._user_model(ref)
        new_name = new_name.strip()
        if not new_name:
            raise ModelStoreError("A model name cannot be empty.")
        if info.damaged and not info.metadata:
            raise ModelStoreError(f"The model {info.name!r} is damaged ({info.damaged}) and cannot be renamed.")
        builtin = [i.name for i in self.list() if i.builtin]
        if any(new_name.casefold() == name.casefold() for name in builtin) or "(built-in)" in new_name.casefold():
            raise ModelStoreError(f"{new_name!r} would look like the model that ships with the app; "
                                  "choose a name without \"(built-in)\".")
        if new_name.casefold() != info.name.casefold():
            new_name = self.unique_name(new_name)
        try:
            _write_json_atomic(info.path / META_FILE, {**info.metadata, "name": new_name})
        except OSError as exc:
            raise ModelStoreError(f"Could not rename the model ({exc.strerror or exc}).") from None
        return self._read_info(info.path)

    def delete(self, ref: str) -> None:
        info = self._user_model(ref)
        trash = self.root / f"{_TRASH}{os.getpid()}-{uuid.uuid4().hex[:12]}"
        try:
            os.rename(info.path, trash)  # gone from listings at once, even if removal is slow
        except OSError as exc:
            raise ModelStoreError(f"Could not delete the model ({exc.strerror or exc}).") from None
        shutil.rmtree(trash, ignore_errors=True)


# What reading a corrupt member can raise: bad CRC or size, a broken deflate stream, an
# unsupported compression method.
_UNREADABLE_MEMBER = (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError)


class _BadArchive(Exception):
    """An archive member found wrong while it is being written to the staging folder."""


def _archive_members(zf: zipfile.ZipFile, file_name: str, what: str) -> dict[str, zipfile.ZipInfo]:
    """The archive's three members by name, or ModelStoreError saying what is wrong."""
    infos = zf.infolist()
    names = [i.filename for i in infos]
    expected = {MODEL_FILE, VOCAB_FILE, META_FILE}
    if len(names) != len(expected) or set(names) != expected:  # also rules out paths and duplicates
        found = ", ".join(names[:6]) + (", ..." if len(names) > 6 else "") if names else "nothing"
        raise ModelStoreError(f"{file_name} is not {what}; it holds {found}.")
    members = {i.filename: i for i in infos}
    for info in infos:
        if info.flag_bits & 0x1:
            raise ModelStoreError(f"{file_name} is encrypted; expected {what}.")
        limit = _MAX_MODEL_BYTES if info.filename == MODEL_FILE else _MAX_JSON_BYTES
        if info.file_size > limit:
            raise ModelStoreError(
                f"{file_name} is not a usable model file: {info.filename} is too large "
                f"({info.file_size / 1024**2:.0f} MB; at most {limit / 1024**2:.0f} MB)."
            )
    if members[MODEL_FILE].file_size == 0:
        raise ModelStoreError(f"{file_name} is damaged: its {MODEL_FILE} is empty.")
    return members


def _read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    with zf.open(info) as f:
        data = f.read(info.file_size + 1)  # never more than the (bounded) declared size, plus one to notice
    if len(data) != info.file_size:
        raise zipfile.BadZipFile(f"{info.filename} does not have its declared size")
    return data


def _copy_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, dest: Path) -> None:
    written = 0
    with zf.open(info) as src, open(dest, "wb") as out:
        while chunk := src.read(1024 * 1024):
            written += len(chunk)
            if written > info.file_size:
                raise zipfile.BadZipFile(f"{info.filename} is larger than declared")
            out.write(chunk)
        out.flush()
        os.fsync(out.fileno())


def _fsync_dir(folder: Path) -> None:
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


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
