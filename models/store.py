"""The model store: one folder per trained model under the user data directory.

A model folder holds ``model.keras``, ``vocabulary.json`` and ``metadata.json``. A save
is built in a hidden staging folder and renamed into place in one step, so a crash or
a full disk never leaves a half model that looks whole; staging folders left by a dead
process are removed the next time a store is opened. A folder that cannot be read is
listed as damaged, with the reason, and never breaks the listing.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import shutil
import uuid
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
        return {
            "name": self.name,
            "id": self.id,
            "created": self.created,
            "preset": m.get("preset"),
            "source": m.get("data", {}).get("source"),
            "test_accuracy": results.get("test_accuracy"),
            "best_epoch": results.get("best_epoch"),
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
        name = self.unique_name(name.strip() or "model")
        created = utc_now()
        meta = {**metadata, "name": name, "created": created, "format_version": METADATA_VERSION}
        staging = self.root / f"{_STAGING}{os.getpid()}-{uuid.uuid4().hex[:12]}"
        try:
            staging.mkdir(parents=True)
            model.save(staging / MODEL_FILE)
            vocabulary.save(staging / VOCAB_FILE)
            _write_json_atomic(staging / META_FILE, meta)
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
        except OSError as exc:
            shutil.rmtree(staging, ignore_errors=True)
            raise ModelStoreError(
                f"Could not save the model in {self.root} ({exc.strerror or exc}). The trained model is "
                "still open: free some disk space or fix the folder's permissions and save again, "
                "or export it to another folder."
            ) from None
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return self._read_info(target)

    # -- loading --------------------------------------------------------------------------
    def load(self, ref: str | ModelInfo | None = None) -> LoadedModel:
        info = ref if isinstance(ref, ModelInfo) else (self.newest() if ref is None else self.find(ref))
        if info.damaged:
            raise ModelStoreError(f"The model {info.name!r} cannot be used: {info.damaged}.")
        from models.keras_runtime import keras  # noqa: PLC0415 - Keras only when a model is opened

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
