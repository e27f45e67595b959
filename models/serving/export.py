"""A stored model as a TensorFlow SavedModel that takes raw text: for TensorFlow Serving, Beam, or plain TensorFlow.

The SavedModel's ``serving_default`` signature takes ``text`` (string [batch]) and returns ``probability``
(float32 [batch], P(positive)), ``label`` ("positive" / "negative" at 0.5, as the app) and ``words`` (int64
[batch], the review's words: 0 means the model saw only its start mark, a review the app refuses to score).
Tokenizing runs inside the graph (models.serving.text_graph), so the folder needs nothing of ours.

Model families plug in here: the tokenizer is shared, and ``FAMILY_SCORERS[family]`` builds the part that
turns the tokens (a RaggedTensor of words) into probabilities, as a ``tf.Module`` so its tables and weights
are saved with it. A stored model's family is its metadata's ``family`` (absent: "lstm").
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import sys
import tempfile
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from models.config import DEFAULT_THRESHOLD, LSTM
from models.errors import ModelStoreError
from models.store import LoadedModel, ModelInfo, ModelStore
from models.vocabulary import OOV_ID, START_ID, TOKENIZER_VERSION

SIGNATURE = "serving_default"
INPUT_NAME = "text"
EXPORT_INFO = "sentiment_studio.json"  # in assets.extra/, TensorFlow Serving's folder for files of ours
EXPORT_INFO_FORMAT = "sentiment-studio-saved-model"
DEFAULT_FAMILY = LSTM  # every model saved before families is one


def model_family(info: ModelInfo) -> str:
    """The stored model's family: its metadata's ``family`` field, "lstm" for every model before families."""
    return info.metadata.family if info.metadata is not None else DEFAULT_FAMILY


def _lstm_scorer(store: ModelStore, info: ModelInfo, tf: Any) -> Any:
    """Embedding -> LSTM -> Dense: the vocabulary look-up, the start mark, the last maxlen ids, front padding
    (models.vocabulary.Vocabulary.encode_batch), then the Keras network itself."""
    return _lstm_scorer_class(tf)(store.load(info))


def _lstm_scorer_class(tf: Any) -> type:
    class LstmScorer(tf.Module):
        def __init__(self, loaded: LoadedModel):
            super().__init__(name="lstm_scorer")
            self.network = loaded.model
            # Keras 3 keeps some variables (the LSTM's dropout seed) where tf.Module does not look: listed here,
            # as keras.export.ExportArchive.track does, so the SavedModel holds every one the network reads.
            self.network_variables = list(loaded.model.variables)
            self.maxlen = int(loaded.maxlen)
            words = list(loaded.vocabulary.word_ids)
            ids = [loaded.vocabulary.word_ids[w] for w in words]
            self.word_ids = tf.lookup.StaticHashTable(
                tf.lookup.KeyValueTensorInitializer(tf.constant(words, tf.string), tf.constant(ids, tf.int64)),
                OOV_ID)

        def probabilities(self, tokens):
            ids = self.word_ids.lookup(tokens)
            start = tf.RaggedTensor.from_row_lengths(
                tf.fill([ids.nrows()], tf.constant(START_ID, tf.int64)), tf.ones([ids.nrows()], tf.int64))
            seen = tf.concat([start, ids], axis=1)[:, -self.maxlen:]  # pad_sequences keeps the end
            right_padded = seen.to_tensor(0, shape=[None, self.maxlen])
            shift = self.maxlen - seen.row_lengths()
            source = tf.range(self.maxlen, dtype=tf.int64)[None, :] - shift[:, None]
            padded = tf.where(source >= 0, tf.gather(right_padded, tf.maximum(source, 0), batch_dims=1), 0)
            out = self.network(tf.cast(padded, tf.int32), training=False)
            return tf.reshape(tf.cast(out, tf.float32), [-1])

    return LstmScorer


def _ngram_scorer(store: ModelStore, info: ModelInfo, tf: Any) -> Any:
    """A linear model over the review's n-grams (models.families.ngram): every n-gram of 1..n words of the whole
    review (no cut), looked up in the feature table, counted once (multi-hot) or times its IDF (TF-IDF), then
    the Dense layer's weights (NBSVM's ratios folded in) and bias, as NumpyNgramClassifier scores."""
    from models.families.ngram import _kernel_and_bias

    loaded = store.load(info)
    kernel, bias = _kernel_and_bias(loaded.model)
    return _ngram_scorer_class(tf)(loaded.vocabulary, kernel, bias)


def _ngram_scorer_class(tf: Any) -> type:
    from models.config import MULTI_HOT

    class NgramScorer(tf.Module):
        def __init__(self, features, kernel, bias: float):
            super().__init__(name="ngram_scorer")
            self.widths = list(range(1, int(features.ngrams) + 1))
            self.n_features = max(1, int(features.n_features))
            self.multi_hot = features.weighting == MULTI_HOT
            idf = features.idf if features.idf is not None else np.ones(features.n_features, np.float32)
            self.idf = tf.Variable(np.asarray(idf, np.float32), trainable=False, name="idf")
            self.kernel = tf.Variable(np.asarray(kernel, np.float64), trainable=False, name="kernel")
            self.bias = tf.Variable(float(bias), dtype=tf.float64, trainable=False, name="bias")
            self.feature_ids = tf.lookup.StaticHashTable(
                tf.lookup.KeyValueTensorInitializer(tf.constant(list(features.features), tf.string),
                                                    tf.range(len(features.features), dtype=tf.int64)), -1)

        def probabilities(self, tokens):
            grams = tf.strings.ngrams(tokens, ngram_width=self.widths, separator=" ")
            feature = self.feature_ids.lookup(grams.values)
            row = grams.value_rowids()
            hit = feature >= 0
            keys = tf.boolean_mask(row, hit) * self.n_features + tf.boolean_mask(feature, hit)
            unique, _, counts = tf.unique_with_counts(keys)
            row, feature = unique // self.n_features, unique % self.n_features
            if self.multi_hot:
                values = tf.ones_like(feature, dtype=tf.float32)
            else:  # float32 counts x IDF, as NgramFeatures.encode_tokens gives them
                values = tf.cast(counts, tf.float32) * tf.gather(self.idf, feature)
            pushes = tf.cast(values, tf.float64) * tf.gather(self.kernel, feature)
            logits = self.bias + tf.math.unsorted_segment_sum(pushes, row, tokens.nrows())
            return tf.cast(0.5 * (1.0 + tf.tanh(0.5 * logits)), tf.float32)

    return NgramScorer


# family -> (store, model, tensorflow) -> a tf.Module with ``probabilities(tokens) -> float32 [batch]``, where
# ``tokens`` is the shared tokenizer's RaggedTensor of words [batch, (words)]. A new family (metadata "family")
# adds its entry here; everything it holds (tables, variables) must be attributes of that module to be saved.
FAMILY_SCORERS: dict[str, Callable[[ModelStore, ModelInfo, Any], Any]] = {DEFAULT_FAMILY: _lstm_scorer,
                                                                         "ngram": _ngram_scorer}


@dataclass(frozen=True)
class SavedModelExport:
    folder: Path
    name: str
    family: str

    def serve_hint(self) -> str:
        """One line: how to serve the folder with TensorFlow Serving's container (REST on port 8501)."""
        served = served_name(self.name)
        return (f"Serve it with: docker run --rm -p 8501:8501 -v \"{self.folder.resolve()}:/models/{served}/1\" "
                f"-e MODEL_NAME={served} tensorflow/serving, then POST {{\"instances\": [\"a review\"]}} to "
                f"http://localhost:8501/v1/models/{served}:predict")


def served_name(name: str) -> str:
    """The model's name as TensorFlow Serving's MODEL_NAME and URL path take it: ASCII letters, digits, - and _."""
    return re.sub(r"[^A-Za-z0-9_]+", "-", name).strip("-") or "model"


def serving_module(store: ModelStore, info: ModelInfo) -> Any:
    """The ``tf.Module`` a SavedModel is written from: the shared tokenizer and the family's scorer."""
    from models.keras_runtime import keras
    from models.serving.text_graph import TextGraph

    keras()  # TensorFlow imported the app's way (backend, quiet start)
    import tensorflow as tf

    family = model_family(info)
    make_scorer = FAMILY_SCORERS.get(family)
    if make_scorer is None:
        raise ModelStoreError(f"The model {info.name!r} is of the family {family!r}, which this version cannot "
                              f"export as a SavedModel (it knows {', '.join(sorted(FAMILY_SCORERS))}).")

    class ServingModule(tf.Module):
        def __init__(self):
            super().__init__(name="sentiment_studio")
            self.text_graph = TextGraph(tf)
            self.tables = self.text_graph.resources()  # tracked, so the SavedModel keeps them
            self.scorer = make_scorer(store, info, tf)

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name=INPUT_NAME)])
        def serve(self, text):
            tokens = self.text_graph.tokens(text)
            probability = self.scorer.probabilities(tokens)
            label = tf.where(probability >= DEFAULT_THRESHOLD, "positive", "negative")
            return {"probability": probability, "label": label, "words": tokens.row_lengths()}

    return ServingModule()


def export_saved_model(store: ModelStore, ref: str, folder: Path, *, overwrite: bool = False) -> SavedModelExport:
    """Write the SavedModel to ``folder`` (written beside it, then renamed into place: a failure leaves no
    half folder). An existing non-empty folder is replaced only with ``overwrite``."""
    info = store.find(ref)
    if info.damaged:
        raise ModelStoreError(f"The model {info.name!r} cannot be exported: {info.damaged}.")
    folder = Path(folder).expanduser()
    if folder.exists() and not folder.is_dir():
        raise ModelStoreError(f"{folder} is a file; give a folder to write the SavedModel into.")
    if folder.is_dir() and any(folder.iterdir()) and not overwrite:
        raise ModelStoreError(f"{folder} is not empty. Choose another folder, or replace it (--force).")
    module = serving_module(store, info)
    import tensorflow as tf

    family = model_family(info)
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.partial-", dir=folder.parent))
    except OSError as exc:
        raise ModelStoreError(f"Could not write to {folder.parent} ({exc.strerror or exc}).") from None
    try:
        tf.saved_model.save(module, str(staging), signatures={SIGNATURE: module.serve})
        extra = staging / "assets.extra"
        extra.mkdir()
        (extra / EXPORT_INFO).write_text(json.dumps({
            "format": EXPORT_INFO_FORMAT, "version": 1, "name": info.name, "id": info.id, "family": family,
            "tokenizer": TOKENIZER_VERSION, "python": sys.version.split()[0],
            "unicode": unicodedata.unidata_version, "signature": SIGNATURE, "input": INPUT_NAME,
            "outputs": ["probability", "label", "words"],
        }, indent=2), encoding="utf-8")
        if folder.exists():
            old = folder.with_name(f".{folder.name}.old-{staging.name[-8:]}")
            folder.rename(old)
            staging.rename(folder)
            shutil.rmtree(old, ignore_errors=True)
        else:
            staging.rename(folder)
    except OSError as exc:
        raise ModelStoreError(f"Could not write the SavedModel to {folder} ({exc.strerror or exc}).") from None
    finally:
        with contextlib.suppress(OSError):
            if staging.exists():
                shutil.rmtree(staging)
    return SavedModelExport(folder, info.name, family)


def read_export_info(folder: Path) -> dict[str, Any]:
    """The export's ``assets.extra/sentiment_studio.json`` (name, family), read bounded; {} if absent or not ours."""
    from models.bounded_io import MAX_JSON_BYTES, parse_json, read_own_file

    try:
        data = parse_json(read_own_file(Path(folder) / "assets.extra" / EXPORT_INFO, MAX_JSON_BYTES))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("format") != EXPORT_INFO_FORMAT:
        return {}
    return {k: v for k, v in data.items() if isinstance(v, (str, int, list))}
