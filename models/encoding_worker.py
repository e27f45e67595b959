"""Tokenizing in a second process, beside the NumPy engine's scoring.

In one process the two take turns rather than run together: the tokenizer holds Python's GIL
for most of its time (regular expressions, dictionary look-ups) and the engine's threads need it
between their NumPy calls, so scoring a file took tokenizing + scoring (25,000 test reviews: 1.7 s
of tokenizing beside 2.7 s of scoring, 4.4 s end to end). A worker process tokenizes the next
chunks while this one scores, with nothing shared but the chunks' texts going out and their id
matrices coming back (tests/benchmarks/predict_file_speed.py measures the whole command).

The worker is started only for long streams (models.prediction decides), is used only once it
says it is ready (until then this process tokenizes, so the first scores never wait for it), is
started with Ctrl+C ignored (the command's own process reports an interrupt, not the worker), and
a worker that dies is replaced by tokenizing here again: it can make a stream slower, never wrong.
"""

from __future__ import annotations

import contextlib
import functools
import multiprocessing
import queue
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from models.vocabulary import EncodedReview, Vocabulary

READY = "ready"
POLL_SECONDS = 0.5  # how often a wait for the worker checks that it is still alive


@dataclass(frozen=True)
class EncodedChunk:
    """A chunk of reviews as the model sees them."""

    ids: Any  # the family's rows: (n, maxlen) int32 padded ids (LSTM), sparse n-gram rows (ngram)
    known_tokens: np.ndarray  # (n,) int32: seen tokens in the vocabulary
    oov_tokens: np.ndarray  # (n,) int32: seen tokens that became the out-of-vocabulary id
    truncated: np.ndarray  # (n,) bool
    no_words: int | None  # index of the first review without a single word, if any
    reviews: list[EncodedReview] | None  # each review's tokens and ids (None: encoded by the worker)


def encode_chunk(vocabulary: Vocabulary, texts: list[str], maxlen: int, keep_reviews: bool = True) -> EncodedChunk:
    """Encode ``texts`` (Vocabulary.encode, from each review's end); ``keep_reviews=False`` keeps only
    the arrays (what the worker sends back: tokens would cost more to send than to make)."""
    encoded = [vocabulary.encode(t, maxlen, whole=False) for t in texts]
    no_words = next((i for i, e in enumerate(encoded) if not e.seen_tokens), None)
    return EncodedChunk(
        ids=np.stack([e.ids for e in encoded]) if encoded else np.zeros((0, maxlen), np.int32),
        known_tokens=np.array([e.known_tokens for e in encoded], dtype=np.int32),
        oov_tokens=np.array([e.oov_tokens for e in encoded], dtype=np.int32),
        truncated=np.array([e.truncated for e in encoded], dtype=bool),
        no_words=no_words,
        reviews=encoded if keep_reviews else None,
    )


class WorkerGone(Exception):
    """The worker process ended (killed, out of memory) or sent something it should not."""


def _serve(word_ids: dict[str, int], num_words: int, maxlen: int, requests, results,
           encode: Callable[[list[str]], EncodedChunk] | None = None) -> None:
    """The worker's loop: a list of texts in, its EncodedChunk out, in order; None ends it."""
    if encode is None:
        encode = functools.partial(encode_chunk, Vocabulary(word_ids, num_words), maxlen=maxlen, keep_reviews=False)
    results.put(READY)
    while (texts := requests.get()) is not None:
        results.put(encode(texts))


class EncodingWorker:
    """One worker process encoding chunks for one vocabulary and maxlen, results in submission order.
    ``encode`` (picklable: a module-level function or a partial of one) replaces the LSTM encoding, for
    another model family (models.families: ``worker_encoder``)."""

    def __init__(self, vocabulary: Vocabulary | None, maxlen: int | None,
                 encode: Callable[[list[str]], EncodedChunk] | None = None):
        context = multiprocessing.get_context("spawn")  # no fork: this process has threads (the engine's pool)
        self._requests = context.Queue()
        self._results = context.Queue()
        args = (vocabulary.word_ids, vocabulary.num_words, maxlen) if encode is None and vocabulary is not None \
            else ({}, 0, 0)
        self._process = context.Process(
            target=_serve, args=(*args, self._requests, self._results, encode),
            name="sentiment-studio-tokenizer", daemon=True)
        self._ready = False
        self._gone: str | None = None  # why the worker cannot be used any more
        self._in_flight = 0
        with _sigint_ignored():  # inherited by the new interpreter, which then leaves SIGINT ignored
            self._process.start()

    @property
    def ready(self) -> bool:
        """True once the worker has started and while it works (checked without waiting)."""
        if self._gone is not None:
            return False
        if not self._ready:
            # Not yet, or the worker is gone (which next_result reports): the chunks are encoded here.
            with contextlib.suppress(queue.Empty, OSError, EOFError, ValueError):
                self._ready = self._results.get_nowait() == READY
        return self._ready

    def submit(self, texts: list[str]) -> None:
        self._requests.put(texts)
        self._in_flight += 1

    def next_result(self) -> EncodedChunk:
        """The next submitted chunk's encoding; WorkerGone if the worker ended first (and from then on)."""
        self._in_flight -= 1
        if self._gone is not None:
            raise WorkerGone(self._gone)
        try:
            return self._next_chunk()
        except WorkerGone as exc:
            self._gone = str(exc)
            raise

    def _next_chunk(self) -> EncodedChunk:
        while True:
            try:
                result = self._results.get(timeout=POLL_SECONDS)
            except queue.Empty:
                if not self._process.is_alive():
                    raise WorkerGone(f"the tokenizing process ended (exit code {self._process.exitcode})") from None
                continue
            except (OSError, EOFError, ValueError) as exc:
                raise WorkerGone(f"the tokenizing process cannot be read ({exc})") from None
            if result == READY and not self._ready:
                self._ready = True
                continue
            if not isinstance(result, EncodedChunk):
                raise WorkerGone("the tokenizing process sent something else than a chunk")
            return result

    def close(self) -> None:
        """End the worker (what it was still encoding is dropped) without waiting for it long."""
        with contextlib.suppress(OSError, ValueError):
            self._requests.put(None)
        self._process.join(timeout=1.0 if self._in_flight == 0 else 0.1)
        if self._process.is_alive():
            self._process.terminate()
            self._process.join(timeout=1.0)
        for q in (self._requests, self._results):
            q.cancel_join_thread()  # never wait at exit on data the worker will not read
            q.close()


@contextlib.contextmanager
def _sigint_ignored():
    """SIGINT ignored while a child process is started from the main thread (elsewhere: nothing)."""
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if threading.current_thread() is threading.main_thread() \
        else None
    try:
        yield
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
