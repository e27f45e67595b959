"""Models trained outside the app come in; the app's models go back out to plain Keras.

Import: a Keras 3 ``.keras`` file or a legacy HDF5 ``.h5`` file (what the Keras IMDB
tutorial's ``model.save(...)`` writes) whose input is a sequence of integer word ids,
read by an Embedding layer, and whose output is one sigmoid probability. Its words
come from a word index in Keras' ``imdb_word_index.json`` format (word -> frequency
rank from 1; id = rank + 3) or from the app's own ``vocabulary.json``. The vocabulary
size is the Embedding's ``input_dim`` (higher ranks become out of vocabulary, as
``num_words`` did in training); the sequence length is the model's fixed input
length, else the one given (default 80, the tutorial's). The model is re-saved as
``model.keras`` through the store's atomic staging, so everything else (prediction,
evaluation, explanations, export) treats it like a model trained here.

Export: a folder with the stored ``model.keras``, ``word_index.json`` in Keras' IMDB
format and a ``README.txt`` holding the few lines of plain Keras that score a review
the way the app does.

Nothing here imports Qt; Keras is imported through :func:`models.keras_runtime.keras`,
and only when a model is opened.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import warnings
import zipfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from models import paths
from models.atomic_write import atomic_write
from models.bounded_io import (
    MAX_JSON_BYTES,
    MAX_MODEL_BYTES,
    InputPathError,
    TooLarge,
    UnreadableJson,
    checked_input_file,
    copy_at_most,
    parse_json,
    read_at_most,
)
from models.config import SPECIFIED_MAXLEN
from models.datasets import KERAS_DATASETS_URL, bounded_word_index, checked_word_index
from models.download import download
from models.errors import ConfigError, DataSourceError, ModelStoreError
from models.keras_file import KerasFileError, read_summary
from models.metadata import IMPORTED, ImportedFrom, ModelMetadata
from models.store import ARCHIVE_SUFFIX, MODEL_FILE, ModelInfo, ModelStore, model_sequence_length, utc_now
from models.training import library_versions
from models.vocabulary import START_ID, VOCAB_FORMAT, Vocabulary

KERAS_SUFFIXES = (".keras", ".h5", ".hdf5")
ARCHIVE_SUFFIXES = (ARCHIVE_SUFFIX, ".zip")
KERAS_WORD_INDEX = "imdb_word_index.json"
MAX_MAXLEN = 10_000  # as for training (models.config)
EXPORT_WORD_INDEX = "word_index.json"
EXPORT_README = "README.txt"
EXPORT_FILES = (MODEL_FILE, EXPORT_WORD_INDEX, EXPORT_README)

EXPECTED = ("a Keras model whose input is a sequence of integer word ids read by an Embedding layer "
            "and whose output is one sigmoid probability")
_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"


# -- what kind of file ------------------------------------------------------------------


def file_kind(path: Path) -> str | None:
    """'keras' (a .keras or .h5 model), 'archive' (our .ssmodel) or None: by extension, else by content."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in KERAS_SUFFIXES:
        return "keras"
    if suffix in ARCHIVE_SUFFIXES:
        return "archive"
    content = _sniff(path)
    return {"keras": "keras", "h5": "keras", "archive": "archive"}.get(content or "")


def _sniff(path: Path) -> str | None:
    """'keras', 'h5', 'archive', or None, from the file's bytes."""
    try:
        with open(path, "rb") as f:
            head = f.read(len(_HDF5_MAGIC))
        if head == _HDF5_MAGIC:
            return "h5"
        if not zipfile.is_zipfile(path):
            return None
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
    except (OSError, zipfile.BadZipFile):
        return None
    if "config.json" in names:
        return "keras"
    if "metadata.json" in names and "vocabulary.json" in names:
        return "archive"
    return None


def _describe_content(path: Path) -> str:
    """A few words on what a file that is not a Keras model holds."""
    try:
        size = path.stat().st_size
        if size == 0:
            return "an empty file"
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as zf:
                names = zf.namelist()
            if "metadata.json" in names and "vocabulary.json" in names:
                return "a Sentiment Studio model file (.ssmodel); import it under that extension"
            shown = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
            return f"a zip holding {shown or 'nothing'}, with no Keras config.json"
        with open(path, "rb") as f:
            head = f.read(512)
    except (OSError, zipfile.BadZipFile) as exc:
        return f"a file that cannot be read ({exc})"
    try:
        head.decode("utf-8")
        return f"a text file of {size:,} bytes"
    except UnicodeDecodeError:
        return f"{size:,} bytes that are neither a .keras zip nor an HDF5 file"


# -- the word index -----------------------------------------------------------------------


@dataclass
class WordIndex:
    """Where the words come from: a Keras word index (word -> rank) or the app's vocabulary."""

    source: str  # for the metadata and messages
    keras_index: dict[str, int] | None = None
    vocabulary: Vocabulary | None = None

    def vocabulary_for(self, num_words: int) -> Vocabulary:
        if self.keras_index is not None:
            return Vocabulary.from_keras_word_index(self.keras_index, num_words)
        assert self.vocabulary is not None
        return Vocabulary(self.vocabulary.word_ids, num_words)


def read_word_index_file(path: Path) -> WordIndex:
    """A word index in Keras' format (word -> rank from 1), or a Sentiment Studio vocabulary file."""
    try:
        path = checked_input_file(path, "JSON word index")
        with open(path, "rb") as f:
            data = parse_json(bounded_word_index(read_at_most(f, MAX_JSON_BYTES, path.name), path.name))
    except InputPathError as exc:
        raise DataSourceError(f"The word index: {exc}") from None
    except (OSError, ValueError) as exc:
        raise DataSourceError(f"{path.name} is not a readable JSON word index ({exc}).") from None
    if isinstance(data, dict) and data.get("format") == VOCAB_FORMAT:
        try:
            return WordIndex(path.name, vocabulary=Vocabulary.from_json(data))
        except ModelStoreError as exc:
            raise DataSourceError(f"{path.name}: {exc}") from None
    index = checked_word_index(data, path.name)  # the one definition of a Keras word index, and its message
    bad = [(w, r) for w, r in index.items() if r < 1]
    if bad:
        word, rank = bad[0]
        raise DataSourceError(
            f"{path.name} is not a Keras word index: ranks start at 1, but {word!r} has rank {rank}."
        )
    return WordIndex(path.name, keras_index=index)


def keras_word_index_locations() -> list[Path]:
    """Where Keras' ``imdb_word_index.json`` may already be: the Keras cache, then our downloads."""
    places = [Path.home() / ".keras" / "datasets"]
    if os.environ.get("KERAS_HOME"):
        places.append(Path(os.environ["KERAS_HOME"]) / "datasets")
    places += [paths.keras_home() / "datasets", paths.downloads_dir()]
    unique: list[Path] = []
    for place in places:
        candidate = place.expanduser() / KERAS_WORD_INDEX
        if candidate not in unique:
            unique.append(candidate)
    return unique


def find_keras_word_index(*, allow_download: bool = True) -> Path:
    """Keras' IMDB word index from the cache, else downloaded to our downloads folder."""
    places = keras_word_index_locations()
    for candidate in places:
        if candidate.is_file():
            return candidate
    reason = "downloading is switched off"
    if allow_download:
        try:
            return download(KERAS_DATASETS_URL + KERAS_WORD_INDEX, paths.downloads_dir() / KERAS_WORD_INDEX)
        except DataSourceError as exc:  # NetworkError included
            reason = str(exc).split(". ")[0].rstrip(".")
    looked = ", ".join(str(p.parent) for p in places)
    raise DataSourceError(
        f"No word index was given, and Keras' IMDB word index ({KERAS_WORD_INDEX}) is not on this computer "
        f"(looked in {looked}) and could not be downloaded ({reason}). Give the word index the model was "
        f"trained with: the {KERAS_WORD_INDEX} that keras.datasets.imdb.get_word_index() saves in "
        f"~/.keras/datasets, or your own JSON of word -> rank (--word-index FILE)."
    )


# -- checking the model -----------------------------------------------------------------


@dataclass
class ModelShape:
    vocab_size: int  # the Embedding's input_dim
    embedding_dim: int
    sequence_length: int | None  # fixed input length, or None when any length goes
    layers: list[str]


def _refuse(file_name: str, found: str) -> ModelStoreError:
    return ModelStoreError(f"{file_name} cannot be used: expected {EXPECTED}; found {found}. Nothing was imported.")


def _shape_text(shape: Any) -> str:
    return "(" + ", ".join("None" if d is None else str(d) for d in tuple(shape)) + ")"


def _reads(layer: Any, tensor: Any) -> bool:
    try:
        inputs = layer.input
    except (AttributeError, ValueError, RuntimeError):  # never called, or called more than once
        return False
    if isinstance(inputs, (list, tuple)):
        return any(t is tensor for t in inputs)
    return inputs is tensor


def _makes(layer: Any, tensor: Any) -> bool:
    try:
        return layer.output is tensor
    except (AttributeError, ValueError, RuntimeError):
        return False


def _activation_name(layer: Any) -> str | None:
    activation = getattr(layer, "activation", None)
    if activation is None:
        return None
    return getattr(activation, "__name__", None) or str(activation)


def inspect_model(model: Any, file_name: str) -> ModelShape:
    """Check that ``model`` takes word ids and gives one sigmoid probability; its sizes if so."""
    k = _keras()
    if not isinstance(model, k.Model):
        raise _refuse(file_name, f"a single {type(model).__name__} object, not a model")
    inputs, outputs = list(model.inputs or []), list(model.outputs or [])
    if len(inputs) != 1:
        raise _refuse(file_name, f"{len(inputs)} inputs")
    if len(outputs) != 1:
        shapes = ", ".join(_shape_text(o.shape) for o in outputs)
        raise _refuse(file_name, f"{len(outputs)} outputs ({shapes})")
    x, y = inputs[0], outputs[0]
    layers = [layer for layer in model.layers if not isinstance(layer, k.layers.InputLayer)]
    readers = [layer for layer in layers if _reads(layer, x)]
    embeddings = [layer for layer in readers if isinstance(layer, k.layers.Embedding)]
    if len(tuple(x.shape)) != 2 or len(embeddings) != 1 or len(readers) != 1:
        found = f"a {x.dtype} input of shape {_shape_text(x.shape)}"
        if readers:
            kinds = ", ".join(type(r).__name__ for r in readers)
            found += f" that goes to a layer of type {kinds}" + ("" if embeddings else ", not Embedding")
        raise _refuse(file_name, found)
    emb = embeddings[0]

    out_shape = tuple(y.shape)
    makers = [layer for layer in layers if _makes(layer, y)]
    activation = _activation_name(makers[0]) if makers else None
    if len(out_shape) != 2 or out_shape[1] != 1:
        found = f"an output of shape {_shape_text(out_shape)}"
        if len(out_shape) == 2 and isinstance(out_shape[1], int):
            found = f"an output of {out_shape[1]} values" + (f" ({activation})" if activation else "")
        raise _refuse(file_name, found)
    if activation != "sigmoid":
        if activation:
            what = f"a {activation} activation"
        elif makers:
            what = f"no activation (it is made by a {type(makers[0]).__name__} layer)"
        else:
            what = "no sigmoid activation"
        raise _refuse(file_name, f"one output with {what}, so its values are not probabilities")
    return ModelShape(
        vocab_size=int(emb.input_dim),
        embedding_dim=int(emb.output_dim),
        sequence_length=model_sequence_length(model),
        layers=[type(layer).__name__ for layer in layers],
    )


def _keras():
    from models.keras_runtime import keras

    return keras()


def _load_keras_file(path: Path) -> tuple[Any, str]:
    """The model in ``path`` (compile=False, Keras' safe mode on) and its format ('.keras' or '.h5').

    Files written by Keras 2 (tf.keras, TensorFlow up to 2.15, or tf_keras) carry a few
    config keys Keras 3 no longer takes (``time_major`` on recurrent layers,
    ``input_length`` on Embedding, ``batch_input_shape`` in a ``.keras`` config); a
    temporary copy without them is read instead, and the weights are used as they are.
    """
    kind = _sniff(path)
    if kind not in ("keras", "h5"):
        raise _refuse(path.name, _describe_content(path))
    _check_bounds(path, kind)
    suffix = ".keras" if kind == "keras" else ".h5"
    k = _keras()
    with tempfile.TemporaryDirectory(prefix="sentiment-studio-import-") as tmp:
        source = path
        if path.suffix.lower() not in ((".keras",) if kind == "keras" else (".h5", ".hdf5")):
            source = Path(tmp) / f"model{suffix}"  # Keras picks the reader by the file name
            shutil.copyfile(path, source)
        source = _without_keras2_leftovers(source, Path(tmp), kind, path.name)
        try:
            with warnings.catch_warnings():  # Keras' notes on legacy arguments are not the user's business
                warnings.simplefilter("ignore")
                model = k.saving.load_model(str(source), compile=False)
        except Exception as exc:  # Keras raises many types for a file it cannot read  # noqa: BLE001
            detail = " ".join(str(exc).split())[:300] or type(exc).__name__
            raise ModelStoreError(
                f"{path.name} cannot be opened by Keras ({type(exc).__name__}: {detail}). Expected {EXPECTED}, "
                "saved with model.save(...) as .keras or .h5. Nothing was imported."
            ) from None
    return model, suffix


def _check_bounds(path: Path, kind: str) -> None:
    """Refuse, before Keras (or anything else) reads it, a file past models.bounded_io's limits:
    a .keras zip by its members' sizes and its Embedding's, an .h5 by its size and the sizes of
    its arrays (an HDF5 dataset may be stored compressed, so the file's size says nothing)."""
    try:
        if kind == "keras":
            read_summary(path)
            return
        import h5py

        if path.stat().st_size > MAX_MODEL_BYTES:
            raise TooLarge(path.name, MAX_MODEL_BYTES)
        sizes: list[int] = []
        with h5py.File(path, "r") as f:
            f.visititems(lambda _name, obj: sizes.append(int(obj.size) * obj.dtype.itemsize)
                         if isinstance(obj, h5py.Dataset) else None)
            config = f.attrs.get_id("model_config") if "model_config" in f.attrs else None
            if config is not None and config.get_storage_size() > MAX_JSON_BYTES:
                raise TooLarge(f"{path.name}: its model_config", MAX_JSON_BYTES)
            if config is not None:
                raw = f.attrs["model_config"]
                parse_json(raw if isinstance(raw, bytes) else str(raw))  # depth and text, before Keras reads it
        if sum(sizes) > MAX_MODEL_BYTES:
            raise TooLarge(f"{path.name}: its weights ({sum(sizes) / 1024**2:,.0f} MB as arrays)", MAX_MODEL_BYTES)
    except TooLarge as exc:
        raise ModelStoreError(f"{path.name} cannot be used: {exc}. Nothing was imported.") from None
    except UnreadableJson as exc:
        raise ModelStoreError(f"{path.name} cannot be used: its model configuration {exc.detail}. "
                              "Nothing was imported.") from None
    except (KerasFileError, OSError, ValueError, TypeError):
        return  # unreadable here: Keras' own message says what is wrong with it


def _without_keras2_leftovers(source: Path, tmp: Path, kind: str, file_name: str) -> Path:
    """``source``, or a copy in ``tmp`` whose model config has no Keras 2-only keys."""
    try:
        if kind == "h5":
            import h5py

            with h5py.File(source, "r") as f:
                raw = f.attrs.get("model_config")
            if raw is None:
                return source  # weights only: Keras' own message says so
            config = parse_json(raw if isinstance(raw, bytes) else str(raw))
            if not _drop_keras2_keys(config, file_name, input_shapes=False):
                return source
            fixed = tmp / "keras2-model.h5"
            shutil.copyfile(source, fixed)
            with h5py.File(fixed, "r+") as f:
                f.attrs["model_config"] = json.dumps(config)
            return fixed
        summary = read_summary(source)  # bounded: sizes checked, config.json read with a cap
        if not (summary.keras_version or "3").startswith("2."):
            return source
        config = summary.config
        if not _drop_keras2_keys(config, file_name, input_shapes=True):
            return source
        fixed = tmp / "keras2-model.keras"
        with zipfile.ZipFile(source) as zf, zipfile.ZipFile(fixed, "w") as out:
            for info in zf.infolist():
                if info.filename == "config.json":
                    out.writestr("config.json", json.dumps(config).encode("utf-8"))
                    continue
                with zf.open(info) as src, out.open(info.filename, "w") as dst:  # streamed, never whole
                    copy_at_most(src, dst, info.file_size, f"{file_name}: {info.filename}")
        return fixed
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, KerasFileError, TooLarge):
        return source  # unreadable here: let Keras report it (the bounds were checked before)


def _drop_keras2_keys(node: Any, file_name: str, *, input_shapes: bool) -> bool:
    """Remove, in place, the layer config keys Keras 3 refuses or warns about; True if any were there."""
    changed = False
    if isinstance(node, dict):
        cfg = node.get("config")
        if isinstance(node.get("class_name"), str) and isinstance(cfg, dict):
            if "time_major" in cfg:
                if cfg["time_major"]:
                    raise _refuse(file_name, f"a time-major {node['class_name']} layer (inputs as time, batch)")
                del cfg["time_major"]
                changed = True
            if node["class_name"] == "Embedding" and "input_length" in cfg:
                del cfg["input_length"]  # the input shape says it; Keras 3 warns about it
                changed = True
            if input_shapes and "batch_input_shape" in cfg:
                shape = cfg.pop("batch_input_shape")
                if node["class_name"] == "InputLayer":
                    cfg.setdefault("batch_shape", shape)
                changed = True
            if input_shapes and node["class_name"] == "Sequential":
                changed |= _sequential_input(cfg)
        for value in node.values():
            changed |= _drop_keras2_keys(value, file_name, input_shapes=input_shapes)
    elif isinstance(node, list):
        for value in node:
            changed |= _drop_keras2_keys(value, file_name, input_shapes=input_shapes)
    return changed


def _sequential_input(cfg: dict) -> bool:
    """A Keras 2 Sequential without an InputLayer keeps its input shape on the first layer: make it one."""
    layers = cfg.get("layers")
    if not isinstance(layers, list) or not layers or not isinstance(layers[0], dict):
        return False
    first = layers[0]
    first_cfg = first.get("config") if isinstance(first.get("config"), dict) else {}
    if first.get("class_name") == "InputLayer" or "batch_input_shape" not in first_cfg:
        return False
    dtype = first_cfg.get("dtype") if isinstance(first_cfg.get("dtype"), str) else "float32"
    layers.insert(0, {"module": "keras.layers", "class_name": "InputLayer", "registered_name": None,
                      "config": {"batch_shape": first_cfg["batch_input_shape"], "dtype": dtype,
                                 "name": f"{first_cfg.get('name', 'layer')}_input"}})
    return True


def _probe(model: Any, length: int, file_name: str) -> None:
    """Run the model once on padding ids: it must give one probability per review."""
    import numpy as np

    ids = np.zeros((2, length), dtype=np.int32)
    ids[:, -1] = START_ID
    try:
        out = np.asarray(model(ids, training=False))
    except Exception as exc:  # noqa: BLE001 - any failure means the model cannot score word ids
        raise _refuse(file_name, f"a model that fails on a batch of word ids ({type(exc).__name__})") from None
    if out.shape != (2, 1) or not np.all(np.isfinite(out)) or out.min() < 0 or out.max() > 1:
        raise _refuse(file_name, f"a model whose output on word ids has shape {out.shape}")


# -- import -------------------------------------------------------------------------------


def _check_maxlen(maxlen: int | None) -> None:
    if maxlen is not None and not 1 <= int(maxlen) <= MAX_MAXLEN:
        raise ConfigError(f"The sequence length must be between 1 and {MAX_MAXLEN:,} tokens (got {maxlen}).")


def import_keras_model(
    store: ModelStore,
    path: Path,
    *,
    word_index: Path | None = None,
    maxlen: int | None = None,
    name: str | None = None,
    allow_download: bool = True,
) -> ModelInfo:
    """Add a model trained with plain Keras to the store; returns its new entry.

    Everything is checked (file, word index, architecture, one trial run) before the
    store is touched; the model is then saved like any other, atomically.
    """
    try:
        path = checked_input_file(path, "Keras model file (.keras or .h5)")
    except InputPathError as exc:
        raise ModelStoreError(str(exc)) from None
    _check_maxlen(maxlen)
    given = read_word_index_file(word_index) if word_index is not None else None  # cheap mistakes first

    model, file_format = _load_keras_file(path)
    shape = inspect_model(model, path.name)
    if shape.sequence_length is not None:
        if maxlen is not None and int(maxlen) != shape.sequence_length:
            raise ConfigError(
                f"A sequence length of {maxlen} does not fit {path.name}: the model reads exactly "
                f"{shape.sequence_length} word ids per review. Leave the length out to use {shape.sequence_length}."
            )
        length = shape.sequence_length
    else:
        length = int(maxlen) if maxlen is not None else SPECIFIED_MAXLEN
    _check_maxlen(length)
    _probe(model, length, path.name)

    if given is None:
        index_path = find_keras_word_index(allow_download=allow_download)
        given = read_word_index_file(index_path)
        given.source = f"Keras IMDB word index ({index_path})"
    vocabulary = given.vocabulary_for(shape.vocab_size)
    if len(vocabulary) == 0:
        raise DataSourceError(
            f"{given.source} gives no word an id below the model's vocabulary size ({shape.vocab_size}), so "
            "every word would be out of vocabulary. Give the word index the model was trained with."
        )

    chosen = (name or "").strip() or path.stem or "imported model"
    now = utc_now()
    metadata = ModelMetadata(
        name=chosen,
        created=now,  # the store dates it again as it saves it
        kind=IMPORTED,
        imported=ImportedFrom(path.name, now),
        preset=None,
        config={"vocab_size": shape.vocab_size, "maxlen": length, "embedding_dim": shape.embedding_dim},
        source_model={
            "file": path.name,
            "format": file_format,
            "class": type(model).__name__,
            "layers": shape.layers,
            "fixed_length": shape.sequence_length is not None,
        },
        word_index={"from": given.source, "words": len(vocabulary),
                    "format": "keras" if given.keras_index is not None else VOCAB_FORMAT},
        versions=library_versions(),
    )
    return store.save_imported(model, vocabulary, metadata, chosen)


def import_model_file(
    store: ModelStore,
    path: Path,
    *,
    word_index: Path | None = None,
    maxlen: int | None = None,
    name: str | None = None,
    allow_download: bool = True,
) -> ModelInfo:
    """Import any model file the app takes: a Keras .keras/.h5 model, or a Sentiment Studio .ssmodel."""
    try:
        path = checked_input_file(path, "model file (.keras, .h5 or .ssmodel)")
    except InputPathError as exc:
        raise ModelStoreError(str(exc)) from None
    kind = file_kind(path)
    if kind == "archive":
        if word_index is not None or maxlen is not None:
            raise ModelStoreError(
                f"{path.name} is a Sentiment Studio model file: it carries its own vocabulary and length, "
                "so a word index or sequence length cannot be given for it."
            )
        return store.import_archive(path, name=name)
    if kind is None:
        raise ModelStoreError(
            f"{path.name} is not a model file: expected a Keras model (.keras or .h5) or a Sentiment Studio "
            f"model ({ARCHIVE_SUFFIX}); found {_describe_content(path)}."
        )
    return import_keras_model(store, path, word_index=word_index, maxlen=maxlen, name=name,
                              allow_download=allow_download)


# -- export -------------------------------------------------------------------------------

# The lines a plain Keras user runs; tests run exactly these (with ``review`` set).
README_CODE = """\
import json, re, keras
model = keras.saving.load_model("model.keras")
index = json.load(open("word_index.json", encoding="utf-8"))
words = re.findall(r"[^\\W_]+(?:'[^\\W_]+)*", review.lower().replace("<br />", " "))
ids = [1] + [index[w] + 3 if w in index else 2 for w in words]
print(float(model.predict(keras.utils.pad_sequences([ids], maxlen={maxlen}), verbose=0)[0, 0]))"""

README_TEMPLATE = """\
{name}
{underline}
A sentiment model exported from Sentiment Studio {version} on {date}. It gives the
probability that a movie review is positive.

  model.keras      the Keras 3 model: {maxlen} word ids in, P(positive) out
  word_index.json  word -> frequency rank (from 1), as in Keras' imdb_word_index.json

The vocabulary has {num_words:,} ids ({words:,} words). Ids follow Keras' IMDB conventions:
0 pads, 1 starts a review, 2 is a word out of the vocabulary, and a word of rank r has id r + 3.
Reviews are padded and cut at the front (keras.utils.pad_sequences' defaults), so the model reads
the last {maxlen} ids.

Score a review with plain Keras (put your text in `review` first), in this folder:

{code}

The app tokenizes the same way: lower-case, <br /> line breaks removed, words are runs
of letters and digits with inner apostrophes kept ("didn't"). The app also decodes HTML
entities (&amp;), removes other HTML tags and reads curly apostrophes as straight ones;
for ordinary text the regular expression above gives the same words, and so the same
probability.
"""


@dataclass
class KerasExport:
    folder: Path
    files: list[Path]
    maxlen: int | None  # None: an n-gram model, which reads whole reviews
    num_words: int  # an n-gram model: its number of features


def readme_code(maxlen: int) -> str:
    return README_CODE.format(maxlen=maxlen)


def export_keras(store: ModelStore, ref: str, folder: Path, *, overwrite: bool = False) -> KerasExport:
    """Write a stored model for plain Keras: model.keras, word_index.json and README.txt in ``folder``.

    All three are written under temporary names first and then renamed into place, so a
    failure leaves the folder as it was. Existing files of those names are replaced only
    with ``overwrite``.
    """
    info = store.find(ref)
    if info.damaged:
        raise ModelStoreError(f"The model {info.name!r} cannot be exported: {info.damaged}.")
    loaded = store.load(info)  # checks that it opens and matches its vocabulary; gives the length
    if loaded.family.name == "ngram":  # a model on raw strings (models.families.ngram_keras)
        from models.families.ngram_keras import export_ngram_keras

        return export_ngram_keras(info, loaded, folder, overwrite)
    folder = Path(folder).expanduser()
    store.check_output(folder)  # never into the store: an export over a model's own files damaged it
    if folder.exists() and not folder.is_dir():
        raise ModelStoreError(f"{folder} is a file; give a folder to export the model into.")
    taken = [name for name in EXPORT_FILES if (folder / name).exists()]
    if taken and not overwrite:
        raise ModelStoreError(
            f"{folder} already holds {', '.join(taken)}. Choose another folder, or replace them (--force)."
        )
    vocabulary = loaded.vocabulary
    word_index = dict(sorted(vocabulary.to_keras_word_index().items(), key=lambda kv: kv[1]))
    import models

    readme = README_TEMPLATE.format(
        name=info.name, underline="=" * len(info.name), version=models.__version__,
        date=datetime.now(timezone.utc).strftime("%Y-%m-%d"), maxlen=loaded.maxlen,
        words=len(word_index), num_words=vocabulary.num_words,
        code="\n".join("    " + line for line in readme_code(loaded.maxlen).splitlines()),
    )
    try:
        folder.mkdir(parents=True, exist_ok=True)
        # All three are renamed into place only once all three are written (the exit order of the stack).
        with contextlib.ExitStack() as stack:
            model_out, index_out, readme_out = (
                stack.enter_context(atomic_write(folder / name, mode, encoding=encoding, newline=newline))
                for name, mode, encoding, newline in ((MODEL_FILE, "wb", None, None),
                                                      (EXPORT_WORD_INDEX, "w", "utf-8", None),
                                                      (EXPORT_README, "w", "utf-8", "\n")))
            with open(info.path / MODEL_FILE, "rb") as src:
                shutil.copyfileobj(src, model_out)
            json.dump(word_index, index_out, ensure_ascii=False)
            readme_out.write(readme)
    except OSError as exc:
        raise ModelStoreError(f"Could not export the model to {folder} ({exc.strerror or exc}).") from None
    return KerasExport(folder, [folder / name for name in EXPORT_FILES], loaded.maxlen, vocabulary.num_words)

