"""The n-gram family: one sigmoid unit over a review's n-grams, the whole review read.

Network (Keras): ``Input(features) -> Dropout -> Dense(1, sigmoid)``, trained with Adam on
sparse rows (models.families.ngram_features) made dense one batch at a time. With NBSVM
scaling (Wang and Manning 2012) each feature is multiplied by its log-count ratio
r = log((p / |p|_1) / (q / |q|_1)), p and q one plus the feature's document counts in the
positive and negative training reviews (never the held-out ones); the stored network has r
folded into its kernel, so what is saved, scored and exported is one Dense layer on the raw
features.

NumPy engine: the logit of a review is the bias plus the sum of (value x weight) over the
features present, one ``bincount`` for a whole chunk; the same numbers as Keras' Dense to
float32 rounding (tests/test_ngram_family.py).

Explanations are exact. The model is linear in its features, so a feature's weight can be
shared out among the words that make it: each word gets its unigram weight, half of each
bigram weight it is part of and a third of each trigram's. These are the words' Shapley
values for the game "the logit with only these words known" (a word left out breaks every
n-gram it is in), relative to the baseline of no known n-gram (the bias alone), so the
contributions add up to logit(P) - logit(P_baseline). For tf_idf every occurrence counts and
the split is exactly that. For multi_hot a feature counts once however often it occurs; when
its occurrences share no word, symmetry gives each of the k x m words w / (k m), and when they
overlap (a repeated word: "very very very") the Shapley values are computed by enumerating the
coalitions of the words involved (up to 16 words; beyond that, a run of 17 or more repeated
words, the weight is split equally among them: still adding up exactly, but not then the
Shapley values).
"""

from __future__ import annotations

import functools
import math
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from models.config import MULTI_HOT, NBSVM, NGRAM
from models.families import ModelFamily, PreparedData
from models.families.ngram_features import NgramFeatures, SparseRows
from models.vocabulary import OOV_ID, tokenize

LINEAR_EXACT = "linear-exact"
NGRAM_METHOD = (f"{LINEAR_EXACT}: each word's Shapley value in log-odds, its unigram weight plus 1/2 of each "
                "bigram and 1/3 of each trigram it is part of, relative to the bias alone (no known n-gram)")
MAX_EXACT_WORDS = 16
INPUT_NAME = "ngram_features"


class NgramFamily(ModelFamily):
    name = NGRAM
    title = "n-grams (linear)"
    reads = ("the whole review: every word and every run of up to n words (n-grams) that is among the "
             "model's features, whatever the review's length")

    def describe(self, vocabulary: Any, maxlen: int | None) -> str:
        n = getattr(vocabulary, "ngrams", 2)
        kinds = {1: "words", 2: "words and word pairs", 3: "words, pairs and triples"}[n]
        return (f"n-grams: {vocabulary.n_features:,} {kinds} as features ({vocabulary.weighting}); "
                "reads the whole review.")

    # -- training --------------------------------------------------------------------------
    def prepare(self, config, data, should_stop) -> PreparedData:
        from models.errors import DataSourceError
        from models.training import StopRequested, check_both_classes

        check_both_classes(data)
        train_tokens = _tokenized(data.train, data.keras_word_index, should_stop)
        test_tokens = _tokenized(data.test, data.keras_word_index, should_stop)
        if should_stop is not None and should_stop():
            raise StopRequested
        features = NgramFeatures.build(train_tokens, config.ngrams, config.max_features, MULTI_HOT)
        if not features.n_features:
            raise DataSourceError("The training reviews have no words to make n-gram features of.")
        x_train = features.encode_tokens(train_tokens)
        if config.weighting != MULTI_HOT:
            features = features.with_idf(x_train)
            x_train = features.encode_tokens(train_tokens)
        x_test = features.encode_tokens(test_tokens)
        words = sum(map(len, train_tokens))
        oov = 1.0 - _known_words(features, train_tokens) / words if words else 0.0
        return PreparedData(features, x_train, data.train.labels.astype(np.float32), x_test,
                            data.test.labels.astype(np.float32), oov)

    def fit_inputs(self, config, prepared, x_train, y_train, x_val, x_test):
        if config.scaling != NBSVM:
            return x_train, x_val, x_test
        ratio = log_count_ratio(x_train, y_train)
        prepared.extra["scale"] = ratio
        return x_train.scaled(ratio), x_val.scaled(ratio), x_test.scaled(ratio)

    def network(self, config, prepared, for_training: bool = False):
        return build_network(prepared.vocabulary.n_features, config.dropout, config.learning_rate)

    def input_pipeline(self, x, y, batch_size: int, shuffle: bool = False, seed: int = 0):
        return sparse_pipeline(x, y, batch_size, shuffle, seed)

    def stored_model(self, trained, config, prepared):
        """The trained network with NBSVM's ratios folded into its kernel: Dense on the raw features."""
        scale = prepared.extra.get("scale")
        if scale is None:
            return trained
        model = build_network(prepared.vocabulary.n_features, config.dropout, config.learning_rate)
        kernel, bias = trained.get_layer("sentiment").get_weights()
        model.get_layer("sentiment").set_weights([(kernel * scale[:, None]).astype(np.float32), bias])
        return model

    # -- the store -------------------------------------------------------------------------
    def load_vocabulary(self, path):
        return NgramFeatures.load(path)

    def vocabulary_from_json(self, data):
        return NgramFeatures.from_json(data)

    def check_loaded(self, model, vocabulary, name: str) -> int | None:
        from models.errors import ModelStoreError

        shape = getattr(model, "input_shape", None)
        width = shape[-1] if isinstance(shape, tuple) and len(shape) == 2 else None
        if width != vocabulary.n_features:
            raise ModelStoreError(f"The model {name!r} does not match its feature table: the model takes "
                                  f"{width} features, the table has {vocabulary.n_features:,}.")
        return None

    # -- scoring ---------------------------------------------------------------------------
    def numpy_engine(self, info):
        from models.store import MODEL_FILE, VOCAB_FILE

        features = NgramFeatures.load(info.path / VOCAB_FILE)
        net = NumpyNgramClassifier.from_keras_file(info.path / MODEL_FILE)
        if len(net.kernel) != features.n_features:
            from models.numpy_lstm import UnsupportedModel

            raise UnsupportedModel("the feature table differs from the model's input")  # Keras' loader reports it
        return net, features, None

    def is_numpy_engine(self, model) -> bool:
        return isinstance(model, NumpyNgramClassifier)

    def encode_chunk(self, vocabulary, texts, maxlen, keep_reviews):
        return encode_chunk(vocabulary, texts, keep_reviews)

    def uses_worker(self) -> bool:
        return True

    def encodes_beside_worker(self) -> bool:
        return True  # scoring a chunk is a sparse dot product: a few ms beside tokenizing it

    def worker_encoder(self, vocabulary, maxlen):
        return functools.partial(encode_chunk, vocabulary, keep_reviews=False)

    def probabilities(self, model, x, batch_size: int = 512):
        if isinstance(model, NumpyNgramClassifier):
            return model(x)
        out = np.empty(len(x), dtype=np.float64)
        for start in range(0, len(x), batch_size):
            chunk = x[start:start + batch_size]
            out[start:start + len(chunk)] = np.asarray(model(chunk.dense(), training=False)).reshape(-1)
        return out

    def evaluation_inputs(self, split, vocabulary, maxlen, keras_word_index):
        tokens = _tokenized(split, keras_word_index, None)
        lengths = np.fromiter(map(len, tokens), dtype=np.int32, count=len(tokens))
        return vocabulary.encode_tokens(tokens), lengths, np.zeros(len(tokens), dtype=bool)

    def explain(self, predictor, texts, method):
        # Linear in its features: the exact Shapley values, whichever method is asked (occlusion included).
        return [explain_review(predictor, text) for text in texts]


NGRAM_FAMILY = NgramFamily()


# -- training pieces --------------------------------------------------------------------------


def _tokenized(split, keras_word_index, should_stop) -> list[list[str]]:
    from models.training import StopRequested

    if split.texts is not None:
        out = []
        for i, text in enumerate(split.texts):
            if should_stop is not None and i % 1000 == 0 and should_stop():
                raise StopRequested
            out.append(tokenize(text))
        return out
    from models.vocabulary import INDEX_FROM, START_ID

    words = {rank + INDEX_FROM: word for word, rank in (keras_word_index or {}).items()}
    return [[words[i] for i in seq if i != START_ID and i in words] for seq in (split.sequences or [])]


def _known_words(features: NgramFeatures, tokenized) -> int:
    flat, _ = features.tokens_word_ids(tokenized)
    return int(np.count_nonzero(features.unigram[flat] >= 0))


def log_count_ratio(x: SparseRows, y: np.ndarray, alpha: float = 1.0) -> np.ndarray:
    """NBSVM's r: log of the ratio of the feature's share among positive and among negative reviews
    (binarized counts, smoothed by ``alpha``)."""
    rows = x.rows
    positive = np.asarray(y)[rows] > 0.5
    p = alpha + np.bincount(x.indices[positive], minlength=x.n_features)
    q = alpha + np.bincount(x.indices[~positive], minlength=x.n_features)
    return (np.log(p / p.sum()) - np.log(q / q.sum())).astype(np.float32)


def build_network(n_features: int, dropout: float, learning_rate: float):
    """``Input(features) -> Dropout -> Dense(1, sigmoid)``, compiled without XLA: on CPU, XLA made an epoch
    about 50x slower (117 s against 2.1 s for 5,000 reviews; its Adam step over 20,000 weights)."""
    from models.keras_runtime import keras

    k = keras()
    model = k.Sequential(
        [
            k.Input(shape=(n_features,), dtype="float32", name=INPUT_NAME),
            k.layers.Dropout(dropout, name="dropout"),
            k.layers.Dense(1, activation="sigmoid", name="sentiment"),
        ],
        name="ngram_linear",
    )
    model.compile(loss="binary_crossentropy", optimizer=k.optimizers.Adam(learning_rate=learning_rate),
                  metrics=["accuracy"], jit_compile=False)
    return model


def sparse_pipeline(x: SparseRows, y: np.ndarray, batch_size: int, shuffle: bool, seed: int):
    """A tf.data pipeline of dense (batch, features) rows made from the sparse rows one batch at a time
    (the whole matrix dense would be 25,000 x 20,000 floats), shuffled each epoch when asked."""
    from models.keras_runtime import keras

    keras()
    import tensorflow as tf

    labels = np.asarray(y, dtype=np.float32)
    coords = np.stack([x.rows, x.indices.astype(np.int64)], axis=1)
    rows = tf.SparseTensor(coords, x.values, [len(x), x.n_features])
    dataset = tf.data.Dataset.from_tensor_slices((rows, labels))
    if shuffle:
        dataset = dataset.shuffle(len(labels), seed=seed, reshuffle_each_iteration=True)
    # Sparse slices batched, then made dense: 8x faster than ragged batches scattered (0.18 s vs 1.4 s for
    # 5,000 reviews, 20,000 features).
    dataset = dataset.batch(batch_size).map(lambda a, b: (tf.sparse.to_dense(a), b)).prefetch(2)
    dataset = dataset.apply(tf.data.experimental.assert_cardinality(-(-len(labels) // batch_size)))
    options = tf.data.Options()
    options.autotune.enabled = False  # see models.training.input_pipeline: Stop would wait on its thread
    return dataset.with_options(options)


# -- the NumPy engine ---------------------------------------------------------------------------


@dataclass
class NumpyNgramClassifier:
    kernel: np.ndarray  # (features,) float64: the Dense layer's weights (NBSVM's ratios folded in)
    bias: float

    def logits(self, x: SparseRows) -> np.ndarray:
        contributions = x.values.astype(np.float64) * self.kernel[x.indices]
        return self.bias + np.bincount(x.rows, weights=contributions, minlength=len(x))

    def __call__(self, x: SparseRows) -> np.ndarray:
        return _sigmoid(self.logits(x))

    @classmethod
    def from_keras_file(cls, path: Path) -> NumpyNgramClassifier:
        """The Dense layer of an n-gram network's ``.keras`` file, read without Keras and bounded."""
        import h5py

        from models.bounded_io import MAX_MODEL_BYTES, TooLarge
        from models.keras_file import KerasFileError, copy_weights, read_summary
        from models.numpy_lstm import ModelTooLarge, UnsupportedModel

        try:
            summary = read_summary(path)
        except TooLarge as exc:
            raise ModelTooLarge(str(exc)) from None
        except KerasFileError as exc:
            raise UnsupportedModel(str(exc)) from None
        config = summary.config
        if config.get("class_name") != "Sequential":
            raise UnsupportedModel("not a Sequential model")
        layers = [la for la in config.get("config", {}).get("layers", []) if la.get("class_name") != "InputLayer"]
        kinds = [la.get("class_name") for la in layers]
        if kinds not in (["Dense"], ["Dropout", "Dense"]):
            raise UnsupportedModel(f"layers are {kinds}, not Dropout, Dense")
        dense = layers[-1].get("config", {})
        if dense.get("units") != 1 or dense.get("activation") != "sigmoid" or not dense.get("use_bias", True):
            raise UnsupportedModel("the output is not one sigmoid unit")
        try:
            with tempfile.TemporaryDirectory(prefix="sentiment-studio-weights-") as tmp:
                weights = Path(tmp) / "model.weights.h5"
                with open(weights, "wb") as out:
                    copy_weights(path, out)
                with h5py.File(weights, "r") as f:
                    group = f["layers"]["dense"]["vars"]  # Keras 3 names weight groups by class, in snake case
                    kernel_ds, bias_ds = group["0"], group["1"]
                    if int(np.prod(kernel_ds.shape, dtype=np.float64)) * 8 > MAX_MODEL_BYTES:
                        raise ModelTooLarge(f"{Path(path).name}: its weights are too large")
                    kernel = np.asarray(kernel_ds, dtype=np.float64)
                    bias = np.asarray(bias_ds, dtype=np.float64)
        except (KeyError, OSError, ValueError, TypeError, KerasFileError) as exc:
            raise UnsupportedModel(f"unexpected weight layout ({exc})") from None
        if kernel.ndim != 2 or kernel.shape[1] != 1 or bias.shape != (1,):
            raise UnsupportedModel("weight shapes do not fit together")
        return cls(kernel[:, 0].copy(), float(bias[0]))


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(z, dtype=np.float64)))


def encode_chunk(features: NgramFeatures, texts: list[str], keep_reviews: bool):
    """An EncodedChunk whose rows are sparse n-gram rows; known tokens are words that are a unigram feature."""
    from models.encoding_worker import EncodedChunk
    from models.vocabulary import EncodedReview

    if keep_reviews:  # the tokens are shown
        tokens = [tokenize(t) for t in texts]
        flat, lengths = features.tokens_word_ids(tokens)
    else:
        flat, lengths = features.texts_word_ids(texts)
    rows = features.encode_ids(flat, lengths)
    known_flags = features.unigram[flat] >= 0
    bounds = np.r_[0, np.cumsum(lengths)]
    running = np.r_[0, np.cumsum(known_flags, dtype=np.int64)]  # (reduceat fails where the last review is empty)
    known = (running[bounds[1:]] - running[bounds[:-1]]).astype(np.int32)
    reviews = None
    if keep_reviews:
        reviews = []
        for i, toks in enumerate(tokens):
            ids = _display_ids(flat[bounds[i]:bounds[i + 1]])
            reviews.append(EncodedReview(np.zeros(0, np.int32), toks, toks, ids, int(known[i]),
                                         len(toks) - int(known[i]), False))
    empty = np.flatnonzero(lengths == 0)
    no_words = int(empty[0]) if len(empty) else None
    return EncodedChunk(ids=rows, known_tokens=known, oov_tokens=(lengths - known).astype(np.int32),
                        truncated=np.zeros(len(texts), dtype=bool), no_words=no_words, reviews=reviews)


def _display_ids(word_ids: np.ndarray) -> list[int]:
    """Ids for the tokens' display: OOV_ID for a word in no feature, else its place in the word list + 4."""
    return [OOV_ID if w < 0 else int(w) + 4 for w in word_ids]


# -- exact explanations ---------------------------------------------------------------------------


def word_shares(features: NgramFeatures, kernel: np.ndarray, tokens: list[str]) -> tuple[np.ndarray, list]:
    """Each token's Shapley value in log-odds (see the module's docstring), and the review's
    n-gram features as (feature index, token positions, weight in log-odds) for phrases."""
    shares = np.zeros(len(tokens), dtype=np.float64)
    groups: dict[int, list[tuple[int, ...]]] = {}
    for occ in features.occurrences(tokens):
        groups.setdefault(occ.feature, []).append(tuple(range(occ.start, occ.start + occ.length)))
    present = []
    for feature, spans in groups.items():
        weight = float(kernel[feature])
        if features.weighting != MULTI_HOT:
            # The engine's value: count x idf rounded to float32, as in the sparse rows.
            idf = features.idf[feature] if features.idf is not None else np.float32(1.0)
            total = weight * float(np.float32(len(spans) * idf))
            for span in spans:  # a sum over occurrences: each occurrence's weight shared by its words
                for pos in span:
                    shares[pos] += total / len(spans) / len(span)
            present.append((feature, spans, total))
            continue
        present.append((feature, spans, weight))
        positions = [p for span in spans for p in span]
        if len(set(positions)) == len(positions):  # disjoint occurrences: symmetric, w / (k m) each
            for pos in positions:
                shares[pos] += weight / len(positions)
        else:
            for pos, value in _or_of_ands_shapley(spans).items():
                shares[pos] += weight * value
    return shares, present


def _or_of_ands_shapley(spans: list[tuple[int, ...]]) -> dict[int, float]:
    """Shapley values of the game "1 if some span is wholly present" over the spans' positions."""
    players = sorted({p for span in spans for p in span})
    n = len(players)
    if n > MAX_EXACT_WORDS:
        return {p: 1.0 / n for p in players}
    index = {p: i for i, p in enumerate(players)}
    masks = [sum(1 << index[p] for p in span) for span in spans]
    subsets = np.arange(1 << n, dtype=np.int64)
    won = np.zeros(1 << n, dtype=bool)
    for mask in masks:
        won |= (subsets & mask) == mask
    sizes = np.array([bin(s).count("1") for s in range(1 << n)], dtype=np.int64)
    weights = np.array([math.factorial(s) * math.factorial(n - s - 1) / math.factorial(n) if s < n else 0.0
                        for s in range(n + 1)])
    out = {}
    for p, i in index.items():
        bit = 1 << i
        without = subsets[(subsets & bit) == 0]
        gain = won[without | bit].astype(np.float64) - won[without]
        out[p] = float(np.sum(gain * weights[sizes[without]]))
    return out


def explain_review(predictor, text: str):
    """One review's exact explanation (models.explain's record, method ``linear-exact``)."""
    from models.explain import Explanation, TokenContribution
    from models.prediction import Prediction, label_of

    features: NgramFeatures = predictor.vocabulary
    kernel, bias = _kernel_and_bias(predictor.model)
    tokens = tokenize(text)
    shares, present = word_shares(features, kernel, tokens)
    flat = features.word_ids(tokens)
    ids = _display_ids(flat)
    logit = bias + float(np.sum([w for _f, _s, w in present])) if present else bias
    probability = float(_sigmoid(np.float64(logit)))
    known = int(np.count_nonzero(features.unigram[flat] >= 0)) if len(flat) else 0
    prediction = Prediction(probability, label_of(probability), known, len(tokens) - known, False, tokens, ids)
    contributions = [TokenContribution(tok, i, float(s)) for tok, i, s in zip(tokens, ids, shares)]
    phrases = [Phrase(features.features[f], spans[0][0], len(spans[0]), w)
               for f, spans, w in sorted(present, key=lambda fsw: -abs(fsw[2])) if len(spans[0]) > 1][:10]
    return Explanation(prediction, contributions, words_cut=0, method=LINEAR_EXACT,
                       baseline_probability=float(_sigmoid(np.float64(bias))), phrases=phrases)


@dataclass(frozen=True)
class Phrase:
    """An n-gram of two or more words present in the review, with its whole weight in log-odds (where it
    carries the push: "not good" pushing down while "good" alone pushes up)."""

    text: str
    start: int  # the token position of its first occurrence
    length: int
    weight: float

    def to_json(self) -> dict[str, Any]:
        return {"phrase": self.text, "start": self.start, "weight": round(self.weight, 6)}


def _kernel_and_bias(model) -> tuple[np.ndarray, float]:
    if isinstance(model, NumpyNgramClassifier):
        return model.kernel, model.bias
    kernel, bias = model.get_layer("sentiment").get_weights()
    return np.asarray(kernel, dtype=np.float64)[:, 0], float(bias[0])
