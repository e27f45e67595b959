"""Scoring reviews with a stored model: one text or many, with what the model saw."""

from __future__ import annotations

import contextlib
import itertools
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from models.config import DEFAULT_THRESHOLD
from models.encoding_worker import EncodedChunk, EncodingWorker, WorkerGone
from models.errors import EmptyReviewError, NoWordsError
from models.families import ModelFamily, family_named, family_of_info
from models.numpy_lstm import UnsupportedModel
from models.store import LoadedModel, ModelInfo, ModelStore

POSITIVE, NEGATIVE = "positive", "negative"
FIRST_CHUNK = 32  # reviews in the first chunk of a stream: its scores come within milliseconds
# Characters of review text in one chunk of a stream, besides its count of reviews: a chunk ends at the
# review that reaches it. Up to 3 chunks are held at once (read ahead, in the worker, being scored), so a
# stream holds at most about 3 x (this + one review of up to 16 MB) of text, whatever its lines hold: 512
# lines of 15 MB were one chunk of 7.5 GB (100 of them peaked at 1.56 GB). IMDB's 512 reviews are ~0.7 MB.
MAX_CHUNK_CHARS = 4 * 1024 * 1024
EMPTY_REVIEW = "The review is empty: type or paste some text to score."


@dataclass(frozen=True)
class Prediction:
    probability: float  # of the review being positive
    label: str
    known_tokens: int
    oov_tokens: int
    truncated: bool
    tokens: list[str] | None  # the tokens the model saw, in order (None: not kept, predict_chunks(details=False))
    ids: list[int] | None  # their ids (2 = out of vocabulary)

    def to_json(self) -> dict[str, Any]:
        return {
            "probability": round(self.probability, 6),
            "label": self.label,
            "known_tokens": self.known_tokens,
            "oov_tokens": self.oov_tokens,
            "truncated": self.truncated,
        }


def label_of(probability: float) -> str:
    return POSITIVE if probability >= DEFAULT_THRESHOLD else NEGATIVE


class Predictor:
    """Wraps a model (Keras, or its family's NumPy engine) and its vocabulary; ``predict`` encodes
    exactly as training did. Everything that depends on the kind of model is asked of ``family``."""

    def __init__(self, model: Any, vocabulary: Any, maxlen: int | None, name: str = "",
                 family: ModelFamily | None = None):
        self.model = model
        self.vocabulary = vocabulary
        self.maxlen = maxlen  # None: the family reads the whole review
        self.name = name
        self.family = family or family_named(None)

    @classmethod
    def from_loaded(cls, loaded: LoadedModel) -> Predictor:
        return cls(loaded.model, loaded.vocabulary, loaded.maxlen, loaded.info.name, loaded.family)

    @classmethod
    def from_store(cls, store: ModelStore, ref: str | ModelInfo | None = None, engine: str = "auto") -> Predictor:
        """Open a stored model for scoring. ``engine="auto"`` uses its family's NumPy engine when the
        model is the family's plain stack (no TensorFlow import needed), else Keras."""
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
        family = family_of_info(info)
        net, vocabulary, maxlen = family.numpy_engine(info)
        return cls(net, vocabulary, maxlen, info.name, family)

    @property
    def engine(self) -> str:
        return "numpy" if self.family.is_numpy_engine(self.model) else "keras"

    def describe(self) -> str:
        """What this model reads, in one line (its family says)."""
        return self.family.describe(self.vocabulary, self.maxlen)

    def probabilities(self, ids: Any, batch_size: int = 512) -> np.ndarray:
        """P(positive) for each row of the family's inputs (padded ids; sparse n-gram rows)."""
        return self.family.probabilities(self.model, ids, batch_size)

    def predict(self, text: str) -> Prediction:
        return self.predict_many([text])[0]

    def predict_many(
        self,
        texts: Sequence[str],
        batch_size: int = 512,
        on_progress: Callable[[int, int], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> list[Prediction]:
        require_text(texts)
        results: list[Prediction] = []
        for chunk in self.predict_chunks(texts, batch_size, should_stop=should_stop):
            results += chunk
            if on_progress is not None:
                on_progress(len(results), len(texts))
        return results

    def start_probabilities(self, ids: np.ndarray, batch_size: int = 512) -> Callable[[], np.ndarray]:
        """``probabilities(ids)`` begun in the background where the engine allows (NumPy: on its pool),
        so the caller can prepare the next rows meanwhile; call the result to wait for them."""
        return self.family.start(self.model, ids, batch_size)

    def predict_chunks(
        self,
        texts: Iterable[str],
        batch_size: int = 512,
        should_stop: Callable[[], bool] | None = None,
        require_words: bool = False,
        details: bool = True,
        long: bool = False,
    ) -> Iterator[list[Prediction]]:
        """Score any number of texts (a list, or a stream such as models.datasets.iter_review_texts)
        ``batch_size`` at a time: one list of predictions per chunk, so memory stays bounded and
        the first results come before the last texts are read. The first chunks are smaller (32, 64,
        ... up to ``batch_size``), so the first scores come at once. While one chunk is scored, the
        next is read and tokenized. An empty text raises EmptyReviewError; so does one without a
        single word when ``require_words`` (the model would score only its start mark), after the
        chunks before it.

        ``details=False`` (the CLI): the predictions carry no tokens or ids, and past the first
        WORKER_AFTER reviews the chunks are tokenized in a second process (models.encoding_worker),
        so that tokenizing runs beside the scoring instead of taking turns with it (for a family whose scoring
        is cheap, ``encodes_beside_worker``, every other chunk is tokenized here, beside the worker). ``long``:
        the caller knows the stream is long (a file of megabytes): for a family that encodes beside the worker,
        the worker is started at once and starts up while this process reads and encodes the first chunks,
        instead of after WORKER_AFTER reviews (measured: n-grams 1.09x on 25,000 reviews; the LSTM, whose
        worker takes every chunk, 0.98x, so not for it)."""
        stream = iter(texts)
        size = min(FIRST_CHUNK, batch_size)
        # Chunks read and being encoded, in order: (number of the first review - 1, texts, encoding), where
        # the encoding is an EncodedChunk, WORKER (the worker's next result) or the error to raise at its turn.
        chunks: deque[tuple[int, list[str], Any]] = deque()
        worker: EncodingWorker | None = None
        pending = None  # the chunk being scored: (its EncodedChunk, the wait for its scores)
        read, ended, worker_tried = 0, False, False
        # With a family whose scoring is cheap, this process encodes every other chunk beside the worker.
        beside, sent = self.family.encodes_beside_worker(), 0
        try:
            while True:
                started = problem = None
                if should_stop is not None and should_stop():
                    return  # at once: a chunk being scored is dropped (as one not yet read)
                if worker is None and not details and ((long and beside) or read >= WORKER_AFTER) and not ended \
                        and not worker_tried and self.family.uses_worker():
                    worker_tried = True
                    # Where no process can be started, everything is tokenized in this one.
                    with contextlib.suppress(OSError, RuntimeError, ValueError):
                        worker = EncodingWorker(self.vocabulary, self.maxlen,
                                                self.family.worker_encoder(self.vocabulary, self.maxlen))
                while not ended and len(chunks) < (2 if worker is not None and worker.ready else 1):
                    try:
                        chunk, ended = _take_chunk(stream, size, MAX_CHUNK_CHARS)
                    except Exception as exc:  # noqa: BLE001 - a file that cannot be read further: raised at its turn
                        chunks.append((read, [], exc))
                        ended = True
                        break
                    if not chunk:
                        break
                    size = min(2 * size, batch_size)
                    if any(_blank(t) for t in chunk):
                        chunks.append((read, chunk, EmptyReviewError(EMPTY_REVIEW)))
                        ended = True
                    elif worker is not None and worker.ready and not (beside and sent % 2):
                        worker.submit(chunk)
                        chunks.append((read, chunk, WORKER))
                        sent += 1
                    else:
                        sent += worker is not None
                        chunks.append((read, chunk, None))  # encoded here, when its turn comes
                    read += len(chunk)
                try:
                    if chunks:
                        before, chunk, encoding = chunks.popleft()
                        if isinstance(encoding, Exception):
                            raise encoding
                        encoded = self._encoded(chunk, encoding, worker, details)
                        if require_words and encoded.no_words is not None:
                            raise no_words_error(before + encoded.no_words + 1, chunk[encoded.no_words])
                        if ended and not chunks:  # the last chunk: nothing to prepare meanwhile, so no hand-over
                            started = (encoded, _already(self.probabilities(encoded.ids, batch_size)))
                        else:
                            started = (encoded, self.start_probabilities(encoded.ids, batch_size))
                except Exception as exc:  # noqa: BLE001 - raised again below, once the chunk before is out
                    problem = exc
                if pending is not None:
                    yield _predictions(*pending)
                if problem is not None:
                    raise problem
                if started is None:
                    return
                pending = started
        finally:
            if worker is not None:
                worker.close()

    def _encoded(self, chunk: list[str], encoding: Any, worker: EncodingWorker | None, details: bool) -> EncodedChunk:
        """The chunk's encoding: from the worker if it was sent there (here again if the worker is gone)."""
        if encoding is WORKER and worker is not None:
            try:
                return worker.next_result()
            except WorkerGone:
                pass  # slower, never wrong: the chunks still in the worker are encoded here as their turn comes
        return self.family.encode_chunk(self.vocabulary, chunk, self.maxlen, details)


WORKER = "worker"  # a chunk's encoding is the worker's next result
# Reviews read before a stream is given a tokenizing process: shorter streams are scored before it would
# have started (a new interpreter and NumPy: about 0.15 s).
WORKER_AFTER = 2_000


def _take_chunk(stream: Iterator[str], size: int, max_chars: int) -> tuple[list[str], bool]:
    """The next texts of ``stream``: ``size`` of them, or fewer once they hold ``max_chars`` characters
    (always at least one); and whether the stream has ended."""
    chunk: list[str] = []
    chars = 0
    for text in stream:
        chunk.append(text)
        chars += len(text)
        if len(chunk) >= size or chars >= max_chars:
            return chunk, False
    return chunk, True


def _blank(text: str) -> bool:
    return not text or not text.strip()


def require_text(texts: Iterable[str]) -> None:
    """EmptyReviewError if any of ``texts`` is empty or only white space (before anything is scored)."""
    if any(_blank(t) for t in texts):
        raise EmptyReviewError(EMPTY_REVIEW)


def _already(values: np.ndarray) -> Callable[[], np.ndarray]:
    return lambda: values


def _predictions(encoded: EncodedChunk, wait: Callable[[], np.ndarray]) -> list[Prediction]:
    probabilities = wait().tolist()
    known, oov, truncated = encoded.known_tokens.tolist(), encoded.oov_tokens.tolist(), encoded.truncated.tolist()
    reviews = encoded.reviews if encoded.reviews is not None else itertools.repeat(None)
    return [Prediction(p, label_of(p), k, o, t, e and e.seen_tokens, e and e.seen_ids)
            for p, k, o, t, e in zip(probabilities, known, oov, truncated, reviews)]


def no_words_error(number: int, text: str, where: str | None = None) -> NoWordsError:
    """What to say about review ``number`` having no word at all (only punctuation or symbols); ``where``
    names its place when the caller knows better ("on line 3 of reviews.txt")."""
    return NoWordsError(f"No words to score {where or f'in review {number:,}'} ({text.strip()[:40]!r}): the model "
                        "reads words, and it has only punctuation or symbols.", number, text)
