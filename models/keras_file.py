"""The parts of a Keras 3 ``.keras`` file the app reads itself, without Keras and with bounds.

A ``.keras`` file is a zip of ``config.json``, ``metadata.json`` and ``model.weights.h5``.
Before anything else reads one (Keras, h5py, the NumPy engine), its members' sizes are
checked against models.bounded_io's limits; the JSON members are read with a cap, and the
weights are copied out to a temporary file with a cap rather than read into memory.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from models.bounded_io import (
    MAX_JSON_BYTES,
    MAX_MODEL_BYTES,
    TooLarge,
    UnreadableJson,
    checked_zip_members,
    copy_at_most,
    parse_json,
    read_zip_member,
)

CONFIG = "config.json"
METADATA = "metadata.json"
WEIGHTS = "model.weights.h5"


class KerasFileError(ValueError):
    """The file is not a readable, bounded .keras zip; the message says why."""


@dataclass(frozen=True)
class KerasZipSummary:
    config: dict[str, Any]
    keras_version: str | None  # from its metadata.json, when it has one
    embedding_input_dim: int | None  # the vocabulary size the model expects, if it has one Embedding
    sequence_length: int | None  # the fixed input length, if its config gives one


def read_summary(path: Path) -> KerasZipSummary:
    """Check a .keras zip's bounds and read its config: TooLarge or UnreadableJson (too deep, a lone
    surrogate) past a bound, KerasFileError for anything else that cannot be read."""
    try:
        with zipfile.ZipFile(path) as zf:
            names = {i.filename for i in checked_zip_members(zf, Path(path).name)}
            if CONFIG not in names:
                raise KerasFileError("it has no config.json")
            config = parse_json(read_zip_member(zf, CONFIG, MAX_JSON_BYTES, Path(path).name))
            meta = parse_json(read_zip_member(zf, METADATA, MAX_JSON_BYTES, Path(path).name)) \
                if METADATA in names else {}
    except (TooLarge, UnreadableJson):
        raise
    except (OSError, ValueError, zipfile.BadZipFile, EOFError, NotImplementedError) as exc:
        raise KerasFileError(f"it is not a readable .keras file ({exc})") from None
    if not isinstance(config, dict):
        raise KerasFileError("its config.json is not a JSON object")
    version = meta.get("keras_version") if isinstance(meta, dict) else None
    _check_embedding_size(config, Path(path).name)
    return KerasZipSummary(config, version if isinstance(version, str) else None,
                           _embedding_input_dim(config), _sequence_length(config))


def copy_weights(path: Path, dest: IO[bytes]) -> None:
    """Copy the weights member of a checked .keras zip to ``dest``, at most MAX_MODEL_BYTES."""
    try:
        with zipfile.ZipFile(path) as zf:
            checked_zip_members(zf, Path(path).name)
            with zf.open(WEIGHTS) as src:
                copy_at_most(src, dest, MAX_MODEL_BYTES, f"{Path(path).name}: {WEIGHTS}")
    except TooLarge:
        raise
    except (OSError, KeyError, zipfile.BadZipFile, EOFError, NotImplementedError) as exc:
        raise KerasFileError(f"its weights cannot be read ({exc})") from None


def _layers(node: Any):
    """Every layer config in a (possibly nested) Keras model config."""
    if isinstance(node, dict):
        if isinstance(node.get("class_name"), str) and isinstance(node.get("config"), dict):
            yield node
        for value in node.values():
            yield from _layers(value)
    elif isinstance(node, list):
        for value in node:
            yield from _layers(value)


def _embedding_input_dim(config: dict[str, Any]) -> int | None:
    dims = [layer["config"].get("input_dim") for layer in _layers(config) if layer["class_name"] == "Embedding"]
    if len(dims) == 1 and isinstance(dims[0], int) and not isinstance(dims[0], bool):
        return dims[0]
    return None


def _check_embedding_size(config: dict[str, Any], what: str) -> None:
    """Building the model allocates its Embedding table: refuse one bigger than a model file may be."""
    for layer in _layers(config):
        if layer["class_name"] != "Embedding":
            continue
        rows, cols = layer["config"].get("input_dim"), layer["config"].get("output_dim")
        if isinstance(rows, int) and isinstance(cols, int) and rows * cols * 4 > MAX_MODEL_BYTES:
            raise TooLarge(f"{what}: its Embedding of {rows:,} x {cols:,} weights", MAX_MODEL_BYTES)


def _sequence_length(config: dict[str, Any]) -> int | None:
    """The fixed length of the first layer that states one (an InputLayer's batch shape, or the
    input shape an Embedding was built for)."""
    for layer in _layers(config):
        if layer["class_name"] == "InputLayer":
            shape = layer["config"].get("batch_shape")
        elif layer["class_name"] == "Embedding" and isinstance(layer.get("build_config"), dict):
            shape = layer["build_config"].get("input_shape")
        else:
            continue
        if isinstance(shape, list) and len(shape) == 2 and isinstance(shape[1], int):
            return shape[1]
    return None
