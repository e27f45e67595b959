"""The tokenizing process (models.encoding_worker): the same scores as tokenizing in this process,
in order, through errors and a worker that dies; and the CLI around it, interrupted."""

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from models import prediction
from models.encoding_worker import WORKER_ARG, EncodingWorker, encode_chunk
from models.errors import EmptyReviewError
from models.paths import builtin_model_dirs
from models.prediction import Predictor
from models.store import ModelStore

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def builtin() -> Predictor:
    return Predictor.from_store(ModelStore(builtin=builtin_model_dirs()))


def texts(n: int) -> list[str]:
    rng = np.random.default_rng(7)
    words = np.array(["a", "the", "film", "great", "awful", "boring", "superb", "plot", "it's", "don't", "<br />",
                      "actors", "&amp;", "10/10", "!", "été", "Ünïcode"])
    return [" ".join(rng.choice(words, size=rng.integers(1, 150))) + f" {i}" for i in range(n)]


class ReadyWorker(EncodingWorker):
    """A worker the stream is sure to use: made ready before the stream goes on, and counted."""

    made: list["ReadyWorker"] = []

    def __init__(self, *args):
        super().__init__(*args)
        ReadyWorker.made.append(self)
        self.results = 0
        deadline = time.monotonic() + 60
        while not self.ready:
            assert time.monotonic() < deadline, "the tokenizing process did not start"
            time.sleep(0.01)

    def next_result(self):
        self.results += 1
        return super().next_result()


@pytest.fixture
def ready_worker(monkeypatch):
    ReadyWorker.made = []
    monkeypatch.setattr(prediction, "EncodingWorker", ReadyWorker)
    monkeypatch.setattr(prediction, "WORKER_AFTER", 100)
    return ReadyWorker


def flat(chunks):
    return [(p.probability, p.label, p.known_tokens, p.oov_tokens, p.truncated) for c in chunks for p in c]


def assert_same_scores(got, expected):
    """Counts exactly; probabilities within float32 rounding, as two runs are not bit for bit the same
    under load (OpenBLAS splits a call differently while another thread's call holds it); labels
    exactly where that rounding cannot move a probability across 0.5."""
    assert [row[2:] for row in got] == [row[2:] for row in expected]
    np.testing.assert_allclose([row[0] for row in got], [row[0] for row in expected], rtol=0, atol=1e-6)
    assert all(a[1] == b[1] for a, b in zip(got, expected) if abs(b[0] - 0.5) > 1e-5)


def test_worker_encodes_exactly_as_this_process(builtin):
    batch = texts(300)
    worker = EncodingWorker(builtin.vocabulary, builtin.maxlen)
    try:
        worker.submit(batch[:200])
        worker.submit(batch[200:])
        got = [worker.next_result(), worker.next_result()]
    finally:
        worker.close()
    for part, chunk in zip((batch[:200], batch[200:]), got):
        here = encode_chunk(builtin.vocabulary, part, builtin.maxlen)
        np.testing.assert_array_equal(chunk.ids, here.ids)
        for name in ("known_tokens", "oov_tokens", "truncated"):
            np.testing.assert_array_equal(getattr(chunk, name), getattr(here, name))
        assert chunk.reviews is None and chunk.no_words == here.no_words
    assert not worker.is_alive()


def test_a_long_stream_tokenized_in_the_worker_scores_as_one_tokenized_here(builtin, ready_worker):
    batch = texts(3000)
    expected = flat(builtin.predict_chunks(batch))  # details: this process only
    assert ready_worker.made == []
    chunks = list(builtin.predict_chunks(iter(batch), details=False))
    assert_same_scores(flat(chunks), expected)
    [worker] = ready_worker.made
    assert worker.results >= 4 and not worker.is_alive()  # used, then ended
    assert all(p.tokens is None and p.ids is None for c in chunks for p in c)


def test_a_short_stream_starts_no_process(builtin, monkeypatch):
    monkeypatch.setattr(prediction, "EncodingWorker", None)  # would fail if called
    assert len(flat(builtin.predict_chunks(texts(prediction.WORKER_AFTER - 1), details=False))) == \
        prediction.WORKER_AFTER - 1


def test_a_stream_said_to_be_long_starts_its_process_at_once_for_ngrams(builtin, ready_worker, monkeypatch):
    """predict --file of a file of megabytes with the n-gram family (which encodes beside its worker): the
    worker starts before the first chunk, not after WORKER_AFTER reviews (its start-up overlaps this process's
    first chunks), and the scores are the same. The LSTM's worker still waits for WORKER_AFTER reviews."""
    monkeypatch.setattr(prediction, "WORKER_AFTER", 10**9)
    batch = texts(800)
    assert len(flat(builtin.predict_chunks(iter(batch), details=False, long=True))) == 800
    assert ready_worker.made == []
    ngrams = Predictor.from_store(ModelStore(builtin=builtin_model_dirs()), "IMDB n-grams (built-in)")
    chunks = list(ngrams.predict_chunks(iter(batch), details=False, long=True))
    [worker] = ready_worker.made
    assert worker.results >= 1 and len(flat(chunks)) == 800
    assert_same_scores(flat(chunks), flat(ngrams.predict_chunks(batch)))


def test_the_window_tokenizing_in_this_process_starts_no_process(builtin, ready_worker):
    list(builtin.predict_chunks(texts(1000)))  # details=True: the Predict tab, which shows the tokens
    assert ready_worker.made == []


def test_a_killed_worker_costs_speed_not_scores(builtin, ready_worker, monkeypatch):
    batch = texts(4000)
    expected = flat(builtin.predict_chunks(batch))

    class KilledWorker(ReadyWorker):
        def next_result(self):
            if self.is_alive():  # killed (out of memory, by hand) with chunks still in it
                os.kill(self.pid, signal.SIGKILL)
                self._process.wait(5)
            return super().next_result()

    monkeypatch.setattr(prediction, "EncodingWorker", KilledWorker)
    started = time.monotonic()
    assert_same_scores(flat(builtin.predict_chunks(batch, details=False)), expected)
    assert time.monotonic() - started < 20  # each chunk after the death is not a new wait for it
    assert ReadyWorker.made[0].results >= 2


def test_errors_in_the_worker_part_of_a_stream_come_after_the_chunks_before_them(builtin, ready_worker):
    batch = texts(2600)
    batch[2500] = "?!"
    out = []
    with pytest.raises(EmptyReviewError, match=r"review 2,501 \('\?!'\)"):
        for chunk in builtin.predict_chunks(batch, require_words=True, details=False):
            out += chunk
    assert len(out) == 32 + 64 + 128 + 256 + 512 * 3  # every chunk before the one holding review 2501
    assert ready_worker.made[0].results >= 1
    batch[2500] = "   "
    out = []
    with pytest.raises(EmptyReviewError, match="empty"):
        for chunk in builtin.predict_chunks(batch, details=False):
            out += chunk
    assert len(out) == 32 + 64 + 128 + 256 + 512 * 3


def test_stopping_a_stream_ends_its_worker(builtin, ready_worker):
    calls = []
    stream = builtin.predict_chunks(texts(5000), details=False, should_stop=lambda: len(calls) > 6)
    for chunk in stream:
        calls.append(len(chunk))
    assert ready_worker.made and not ready_worker.made[0].is_alive()
    stream = builtin.predict_chunks(texts(5000), details=False)
    for _ in range(7):
        next(stream)
    stream.close()  # the reader went away (a closed pipe, an exception above)
    assert not ready_worker.made[1].is_alive()


def spawned_children() -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if WORKER_ARG.encode() in (entry / "cmdline").read_bytes():
                    found.add(int(entry.name))
            except OSError:
                pass
    return found


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc and sends SIGINT")
def test_ctrl_c_during_a_long_predict_says_interrupted_and_leaves_no_process(tmp_path):
    reviews = tmp_path / "reviews.txt"
    reviews.write_text("\n".join(texts(60_000)) + "\n", encoding="utf-8")
    before = spawned_children()
    proc = subprocess.Popen([sys.executable, "-m", "app", "predict", "--file", str(reviews)], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.monotonic() + 60
    while not spawned_children() - before:  # the worker has started
        assert proc.poll() is None and time.monotonic() < deadline, "no tokenizing process was started"
        time.sleep(0.05)
    time.sleep(0.5)
    os.killpg(proc.pid, signal.SIGINT)  # as Ctrl+C in a terminal: to the whole process group
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130 and err.strip().splitlines()[-1] == "Interrupted.", err
    assert "Traceback" not in err, err
    deadline = time.monotonic() + 10
    while spawned_children() - before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not spawned_children() - before


def session_members(session: int) -> dict[int, bytes]:
    """Processes of a session (/proc/PID/stat's sixth field) other than its leader, with their command lines."""
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != session:
            try:
                stat = (entry / "stat").read_text()
                if int(stat[stat.rindex(")") + 2:].split()[3]) == session:
                    found[int(entry.name)] = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
            except (OSError, ValueError, IndexError):
                pass  # ended meanwhile
    return found


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize(("sig", "whole_group"), [(signal.SIGTERM, False), (signal.SIGHUP, False),
                                                  (signal.SIGKILL, False), (signal.SIGTERM, True)])
def test_the_worker_and_resource_tracker_end_with_a_killed_predict_and_print_nothing(tmp_path, sig, whole_group):
    reviews = tmp_path / "reviews.txt"
    reviews.write_text("\n".join(texts(60_000)) + "\n", encoding="utf-8")
    proc = subprocess.Popen([sys.executable, "-m", "app", "predict", "--file", str(reviews)], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not any(WORKER_ARG.encode() in cmd for cmd in session_members(proc.pid).values()):
            assert proc.poll() is None and time.monotonic() < deadline, "no tokenizing process was started"
            time.sleep(0.05)
        (os.killpg if whole_group else os.kill)(proc.pid, sig)
        proc.wait(timeout=30)
        deadline = time.monotonic() + 30  # a bound, not a wait that must pass: they end as soon as they see EOF
        while (left := session_members(proc.pid)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not left, left
        _, err = proc.communicate(timeout=10)  # stderr ends once no process holds it
        assert err == "", err
    finally:
        for pid in session_members(proc.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
