"""Faults and hostile input in the core: a killed save, odd reviews, and stores shared by processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from models.architecture import build_model
from models.config import TrainingConfig
from models.metadata import ModelMetadata, utc_now
from models.prediction import Predictor
from models.store import ModelStore
from models.vocabulary import Vocabulary, tokenize

ROOT = Path(__file__).resolve().parents[1]
SMALL = TrainingConfig(vocab_size=40, maxlen=12, embedding_dim=4, lstm_units=6)


def small_store(tmp_path: Path, name: str = "kept") -> ModelStore:
    store = ModelStore(tmp_path)
    store.save(build_model(SMALL), Vocabulary.build([["good", "bad", "film"]], num_words=40),
               ModelMetadata(name, utc_now(), config=SMALL.to_dict()), name)
    return store


def test_sigkill_during_save_leaves_earlier_models_intact(tmp_path):
    small_store(tmp_path, "kept")
    script = textwrap.dedent(f"""
        import sys, time
        from models.architecture import build_model
        from models.config import TrainingConfig
        from models.metadata import ModelMetadata, utc_now
        from models.store import ModelStore
        from models.vocabulary import Vocabulary
        vocab = Vocabulary.build([["x"]], num_words=40)
        def slow_save(path):
            Vocabulary.save(vocab, path)
            print("saving", flush=True)
            time.sleep(60)   # killed here: model.keras and vocabulary.json written, metadata not
        vocab.save = slow_save
        config = TrainingConfig(**{SMALL.to_dict()!r})
        ModelStore({str(tmp_path)!r}).save(build_model(config), vocab, ModelMetadata("half", utc_now()), "half")
    """)
    with subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE, text=True) as proc:
        try:
            assert proc.stdout.readline().strip() == "saving"
            assert any(p.name.startswith(".staging-") for p in tmp_path.iterdir())
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
    store = ModelStore(tmp_path)  # the next start cleans up the dead process's staging folder
    assert [(i.name, i.damaged) for i in store.list()] == [("kept", None)]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    assert Predictor.from_store(store, "kept").predict("good film").label in ("positive", "negative")


def test_two_processes_saving_at_once_both_land_whole(tmp_path):
    ModelStore(tmp_path)
    script = textwrap.dedent(f"""
        from models.architecture import build_model
        from models.config import TrainingConfig
        from models.metadata import ModelMetadata, utc_now
        from models.store import ModelStore
        from models.vocabulary import Vocabulary
        config = TrainingConfig(**{SMALL.to_dict()!r})
        store = ModelStore({str(tmp_path)!r})
        for i in range(3):
            store.save(build_model(config), Vocabulary.build([["x"]], num_words=40),
                       ModelMetadata("same name", utc_now()), "same name")
    """)
    procs = [subprocess.Popen([sys.executable, "-c", script], cwd=ROOT) for _ in range(2)]
    assert [p.wait(180) for p in procs] == [0, 0]
    infos = ModelStore(tmp_path).list()
    assert len(infos) == 6 and all(i.damaged is None for i in infos)
    assert len({i.id for i in infos}) == 6


def test_read_only_store_is_a_clear_error(tmp_path, monkeypatch):
    store = small_store(tmp_path)
    real_rename = os.rename

    def read_only(src, dst):
        if Path(dst).parent == tmp_path and not Path(dst).name.startswith("."):
            raise OSError(30, "Read-only file system")
        return real_rename(src, dst)

    monkeypatch.setattr(os, "rename", read_only)
    from models.errors import ModelStoreError

    with pytest.raises(ModelStoreError, match="Read-only file system"):
        store.save(build_model(SMALL), Vocabulary.build([["x"]], num_words=40), ModelMetadata("new", utc_now()),
                   "new")
    assert [i.name for i in store.list()] == ["kept"]


ODD_REVIEWS = {
    "single character": "a",
    "one megabyte": "good film " * 100_000,
    "one 100,000-character word": "x" * 100_000,
    "only emoji": "😀🎬🍿👍" * 10,
    "only punctuation": "!!! ??? ... ,,, ;;;",
    "html and entities": "<p>Great&nbsp;film&hellip;<br /><br />&lt;3 &amp; more</p>",
    "right-to-left and mixed scripts": "فيلم رائع good מצוין film 素晴らしい",
    "control characters and NUL": "good\x00film\x07\x1b[31m bad\r\n\t",
    "no known word": "zxqv plorf wibble",
}


@pytest.mark.parametrize("kind", list(ODD_REVIEWS))
def test_odd_reviews_score_without_error(tmp_path, kind):
    predictor = Predictor.from_store(small_store(tmp_path))
    p = predictor.predict(ODD_REVIEWS[kind])
    assert 0.0 <= p.probability <= 1.0 and p.label in ("positive", "negative")
    assert p.known_tokens + p.oov_tokens == len(p.tokens) <= 12
    if kind == "one megabyte":
        assert p.truncated and p.known_tokens == 12  # the start mark is cut: all 12 slots are words
    if kind == "no known word":
        assert p.known_tokens == 0 and p.oov_tokens == 3


def test_tokenizer_handles_invalid_surrogates():
    assert tokenize("bad \udcff surrogate") == ["bad", "surrogate"]
    ids = Vocabulary.build([["bad"]], num_words=10).encode("\udcff" * 50, 8).ids
    assert ids.shape == (8,) and np.all(ids >= 0)


def test_fewer_reviews_than_one_batch_still_trains(tmp_path):
    from models.datasets import load_csv
    from models.training import train
    from tests.conftest import TINY_CONFIG, string_io_csv

    path = tmp_path / "five.csv"
    path.write_text(string_io_csv([["text", "label", "split"], ["good film", "1", "train"], ["bad film", "0", "train"],
                                   ["great", "1", "train"], ["good", "1", "test"], ["awful", "0", "test"]]))
    result = train(TrainingConfig(**{**TINY_CONFIG, "epochs": 1, "batch_size": 32}), load_csv(path))
    assert result.epochs_completed == 1 and result.test_accuracy is not None


@pytest.mark.parametrize("name", ["huge.tar.gz", "huge.csv"])
def test_a_2gb_file_is_refused_quickly_without_reading_it_into_memory(tmp_path, name):
    import time
    import tracemalloc

    from models.datasets import load_source
    from models.errors import DataSourceError

    path = tmp_path / name
    with open(path, "wb") as f:  # sparse: 2 GB on paper, no disk used
        f.truncate(2 * 1024**3)
    tracemalloc.start()
    started = time.perf_counter()
    try:
        with pytest.raises(DataSourceError):
            load_source(str(path))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 50 * 1024**2
    assert time.perf_counter() - started < 30
