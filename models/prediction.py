"""Scoring reviews with a stored model: one text or many, with what the model saw."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from models.errors import EmptyReviewError
from models.numpy_lstm import ModelTooLarge, NumpyLSTMClassifier, UnsupportedModel
from models.store import MODEL_FILE, VOCAB_FILE, LoadedModel, ModelInfo, ModelStore
from models.vocabulary import Vocabulary

POSITIVE, NEGATIVE = "positive", "negative"
FIRST_CHUNK = 32  # reviews in the first chunk of a stream: its scores come within milliseconds


@dataclass(frozen=True)
class Prediction:
    probability: float  # of the review being positive
    label: str
    known_tokens: int
    oov_tokens: int
    truncated: bool
    tokens: list[str]  # the tokens the model saw, in order
    ids: list[int]  # their ids (2 = out of vocabulary)

    def to_json(self) -> dict[str, Any]:
        return {
            "probability": round(self.probability, 6),
            "label": self.label,
            "known_tokens": self.known_tokens,
            "oov_tokens": self.oov_tokens,
            "truncated": self.truncated,
        }


def label_of(probability: float) -> str:
    return POSITIVE if probability >= 0.5 else NEGATIVE


class Predictor:
    """Wraps a Keras model and its vocabulary; ``predict`` encodes exactly as training did."""

    def __init__(self, model: Any, vocabulary: Vocabulary, maxlen: int, name: str = ""):
        self.model = model
        self.vocabulary = vocabulary
        self.maxlen = maxlen
        self.name = name

    @classmethod
    def from_loaded(cls, loaded: LoadedModel) -> Predictor:
        return cls(loaded.model, loaded.vocabulary, loaded.maxlen, loaded.info.name)

    @classmethod
    def from_store(cls, store: ModelStore, ref: str | ModelInfo | None = None, engine: str = "auto") -> Predictor:
        """Open a stored model for scoring. ``engine="auto"`` uses the NumPy forward pass when the
        model is the plain Embedding -> LSTM -> Dense stack (no TensorFlow import needed), else Keras."""
        info = ref if isinstance(ref, ModelInfo) else (store.newest() if ref is None else store.find(ref))
        if engine in ("auto", "numpy") and info.damaged is None:
            try:
                return cls.from_numpy_folder(info)
            except UnsupportedModel:
                if engine == "numpy":
                    raise
        return cls.from_loaded(store.load(info))

    @classmethod
    def from_numpy_folder(cls, info: ModelInfo) -> Predictor:
        vocabulary = Vocabulary.load(info.path / VOCAB_FILE)
        try:
            net = NumpyLSTMClassifier.from_keras_file(info.path / MODEL_FILE)
        except ModelTooLarge as exc:
            raise ModelTooLarge(f"The model {info.name!r} cannot be used: {exc}.") from None
        if net.vocab_size != vocabulary.num_words:
            raise UnsupportedModel("vocabulary size differs from the embedding")  # Keras' loader reports it
        maxlen = net.maxlen or (info.metadata and info.metadata.maxlen) or 80
        return cls(net, vocabulary, maxlen, info.name)

    @property
    def engine(self) -> str:
        return "numpy" if isinstance(self.model, NumpyLSTMClassifier) else "keras"

    def probabilities(self, ids: np.ndarray, batch_size: int = 512) -> np.ndarray:
        """P(positive) for each row of padded ids."""
        out = np.empty(len(ids), dtype=np.float64)
        numpy_engine = isinstance(self.model, NumpyLSTMClassifier)
        for start in range(0, len(ids), batch_size):
            chunk = ids[start:start + batch_size]
            if numpy_engine:
                out[start:start + len(chunk)] = self.model(chunk)
            else:
                # Calling the model directly avoids predict()'s per-call dataset set-up.
                out[start:start + len(chunk)] = np.asarray(self.model(chunk, training=False)).reshape(-1)
        return out

    def predict(self, text: str) -> Prediction:
        return self.predict_many([text])[0]

    def predict_many(
        self,
        texts: Sequence[str],
        batch_size: int = 512,
        on_progress: Callable[[int, int], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> list[Prediction]:
        for text in texts:
            if not text or not text.strip():
                raise EmptyReviewError("The review is empty: type or paste some text to score.")
        results: list[Prediction] = []
        for chunk in self.predict_chunks(texts, batch_size, should_stop=should_stop):
            results += chunk
            if on_progress is not None:
                on_progress(len(results), len(texts))
        return results

    def start_probabilities(self, ids: np.ndarray, batch_size: int = 512) -> Callable[[], np.ndarray]:
        """``probabilities(ids)`` begun in the background where the engine allows (NumPy: on its pool),
        so the caller can prepare the next rows meanwhile; call the result to wait for them."""
        if isinstance(self.model, NumpyLSTMClassifier):
            wait = self.model.start(ids)
            return lambda: wait().astype(np.float64)
        probs = self.probabilities(ids, batch_size)
        return lambda: probs

    def predict_chunks(
        self,
        texts: Iterable[str],
        batch_size: int = 512,
        should_stop: Callable[[], bool] | None = None,
        require_words: bool = False,
    ) -> Iterator[list[Prediction]]:
        """Score any number of texts (a list, or a stream such as models.datasets.iter_review_texts)
        ``batch_size`` at a time: one list of predictions per chunk, so memory stays bounded and
        the first results come before the last texts are read. The first chunks are smaller (32, 64,
        ... up to ``batch_size``), so the first scores come at once. While one chunk is scored, the
        next is read and tokenized. An empty text raises EmptyReviewError; so does one without a
        single word when ``require_words`` (the model would score only its start mark)."""
        stream = iter(texts)
        size = min(FIRST_CHUNK, batch_size)
        pending = None  # the chunk being scored: (its encoded reviews, the wait for its scores)
        read = 0
        while True:
            started = problem = None
            if should_stop is not None and should_stop():
                return  # at once: a chunk being scored is dropped (as one not yet read)
            try:
                chunk = list(itertools.islice(stream, size))
                if chunk:
                    size = min(2 * size, batch_size)
                    if any(not t or not t.strip() for t in chunk):
                        raise EmptyReviewError("The review is empty: type or paste some text to score.")
                    encoded = [self.vocabulary.encode(t, self.maxlen) for t in chunk]
                    if require_words:
                        _check_words(chunk, encoded, read)
                    read += len(chunk)
                    started = (encoded, self.start_probabilities(np.stack([e.ids for e in encoded]), batch_size))
            except Exception as exc:  # noqa: BLE001 - raised again below, once the chunk before is out
                problem = exc
            if pending is not None:
                yield [Prediction(float(p), label_of(float(p)), e.known_tokens, e.oov_tokens, e.truncated,
                                  e.seen_tokens, e.seen_ids) for e, p in zip(pending[0], pending[1]())]
            if problem is not None:
                raise problem
            if started is None:
                return
            pending = started


def no_words_error(number: int, text: str) -> EmptyReviewError:
    """What to say about review ``number`` having no word at all (only punctuation or symbols)."""
    return EmptyReviewError(f"No words to score in review {number} ({text.strip()[:40]!r}): the model reads words, "
                            "and it has only punctuation or symbols.")


def _check_words(texts: Sequence[str], encoded: Sequence[Any], before: int) -> None:
    """no_words_error for the first of ``texts`` (numbered from ``before`` + 1) without a word."""
    for number, (text, e) in enumerate(zip(texts, encoded), before + 1):
        if not e.tokens:
            raise no_words_error(number, text)
