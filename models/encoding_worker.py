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

The worker ends with its parent, however the parent ends (SIGTERM, SIGHUP, SIGKILL), and prints
nothing: it is a plain child process (subprocess, not multiprocessing) whose stdin and stdout are
its only link, so the parent's end is an end-of-file on stdin or a broken pipe on stdout. It was a
multiprocessing "spawn" process: a killed parent left it waiting for good (a multiprocessing.Queue
gives the child both ends of its pipe) beside multiprocessing's resource tracker, which printed
"There appear to be 6 leaked semaphore objects" (the queues' locks), and a parent killed while the
worker started left it a traceback ("Ran out of input"). Its stderr is discarded: what goes wrong in
it is the parent's to report (WorkerGone), and the parent then tokenizes itself.
"""

from __future__ import annotations

import contextlib
import functools
import os
import pickle
import queue
import signal
import struct
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

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


# Messages are pickles, each after its length (8 bytes, little-endian), both ways. Only this
# process's own child is read, so unpickling here trusts no one new.
_LENGTH = struct.Struct("<Q")
_GONE = object()  # the reader thread's last item: the worker's stdout has ended
WORKER_ARG = "--sentiment-studio-tokenizer"  # in the worker's command line (app/__main__.py runs it in a bundle)


def _write(stream: IO[bytes], message: Any) -> None:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_LENGTH.pack(len(data)) + data)
    stream.flush()


def _read(stream: IO[bytes]) -> Any:
    """The next message; EOFError at the end of the stream (also in the middle of a message)."""
    head = stream.read(_LENGTH.size)
    if len(head) < _LENGTH.size:
        raise EOFError
    (size,) = _LENGTH.unpack(head)
    data = stream.read(size)
    if len(data) < size:
        raise EOFError
    return pickle.loads(data)


def worker_main() -> int:
    """The worker process: the vocabulary, maxlen and the family's encoder (or None) first, then texts in,
    their EncodedChunk out,
    in order; None (or the end of stdin: the parent has gone) ends it, quietly."""
    with contextlib.suppress(ValueError, OSError):  # no SIGINT on this platform
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C is for the parent, which reports it
    requests = sys.stdin.buffer
    # The results go to a copy of stdout; stdout itself becomes the null device, so that nothing
    # printed by accident can corrupt the messages.
    results = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, sys.stdout.fileno())
    os.close(null)
    with contextlib.suppress(EOFError, OSError):
        word_ids, num_words, maxlen, encode = _read(requests)
        if encode is None:  # the LSTM families' encoding; another family sends its own (worker_encoder)
            encode = functools.partial(encode_chunk, Vocabulary(word_ids, num_words), maxlen=maxlen,
                                       keep_reviews=False)
        _write(results, READY)
        while (texts := _read(requests)) is not None:
            _write(results, encode(texts))
    with contextlib.suppress(OSError):
        results.close()
    return 0


def worker_command() -> list[str]:
    """How to start a worker: this interpreter running worker_main, or the bundle's own executable
    with WORKER_ARG (a frozen app has no ``-c``)."""
    if getattr(sys, "frozen", False):
        return [sys.executable, WORKER_ARG]
    root = str(Path(__file__).resolve().parents[1])
    code = f"import sys; sys.path.insert(0, {root!r}); from models.encoding_worker import worker_main; " \
           "sys.exit(worker_main())"
    return [sys.executable, "-c", code, WORKER_ARG]


class EncodingWorker:
    """One worker process encoding chunks for one vocabulary and maxlen, results in submission order.

    Two threads keep the pipes moving: one sends the chunks (submit never waits, while the worker is
    busy sending a result back), one reads the results as they come (so ``ready`` never waits).

    ``encode`` (picklable: a module-level function or a partial of one) replaces the LSTM encoding, for
    another model family (models.families: ``worker_encoder``)."""

    def __init__(self, vocabulary: Vocabulary | None, maxlen: int | None,
                 encode: Callable[[list[str]], EncodedChunk] | None = None):
        self._process = subprocess.Popen(worker_command(), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=subprocess.DEVNULL, close_fds=True)
        self._ready = False
        self._gone: str | None = None  # why the worker cannot be used any more
        self._outbox: queue.SimpleQueue = queue.SimpleQueue()
        self._inbox: queue.SimpleQueue = queue.SimpleQueue()
        if encode is None and vocabulary is not None:
            self._outbox.put((vocabulary.word_ids, vocabulary.num_words, maxlen, None))
        else:
            self._outbox.put(({}, 0, 0, encode))
        self._threads = [threading.Thread(target=self._send_requests, name="tokenizer-requests", daemon=True),
                         threading.Thread(target=self._read_results, name="tokenizer-results", daemon=True)]
        for thread in self._threads:
            thread.start()

    @property
    def pid(self) -> int:
        return self._process.pid

    def is_alive(self) -> bool:
        return self._process.poll() is None

    def _send_requests(self) -> None:
        stdin = self._process.stdin
        try:
            while True:
                message = self._outbox.get()
                _write(stdin, message)
                if message is None:
                    break
        except (OSError, ValueError):
            pass  # the worker is gone (next_result says so)
        with contextlib.suppress(OSError, ValueError):
            stdin.close()

    def _read_results(self) -> None:
        try:
            while True:
                self._inbox.put(_read(self._process.stdout))
        except Exception:  # noqa: BLE001 - the end of the stream, or something that is not a message
            self._inbox.put(_GONE)

    @property
    def ready(self) -> bool:
        """True once the worker has started and while it works (checked without waiting)."""
        if self._gone is not None:
            return False
        if not self._ready:
            # Not yet, or the worker is gone (which next_result reports): the chunks are encoded here.
            with contextlib.suppress(queue.Empty):
                message = self._inbox.get_nowait()
                if message is _GONE:
                    self._inbox.put(_GONE)  # for next_result to report
                else:
                    self._ready = message == READY
        return self._ready

    def submit(self, texts: list[str]) -> None:
        self._outbox.put(texts)

    def next_result(self) -> EncodedChunk:
        """The next submitted chunk's encoding; WorkerGone if the worker ended first (and from then on)."""
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
                result = self._inbox.get(timeout=POLL_SECONDS)
            except queue.Empty:
                if self._process.poll() is not None and self._inbox.empty():
                    raise WorkerGone(f"the tokenizing process ended (exit code {self._process.returncode})") \
                        from None
                continue
            if result is _GONE:
                self._inbox.put(_GONE)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self._process.wait(timeout=POLL_SECONDS)
                raise WorkerGone(f"the tokenizing process ended (exit code {self._process.returncode})")
            if result == READY and not self._ready:
                self._ready = True
                continue
            if not isinstance(result, EncodedChunk):
                raise WorkerGone("the tokenizing process sent something else than a chunk")
            return result

    def close(self) -> None:
        """End the worker (what it was still encoding is dropped) without waiting for it long."""
        self._outbox.put(None)
        try:
            self._process.wait(timeout=1.0)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait(timeout=5.0)
        for thread in self._threads:  # both end now: their pipes' other ends are closed
            thread.join(timeout=1.0)
        with contextlib.suppress(OSError):
            self._process.stdout.close()
