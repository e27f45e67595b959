"""Shared fixtures: every test gets its own data directory; small data sets made on the fly."""

from __future__ import annotations

import csv
import io
import os
import random
import tarfile
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

SHARED_ARCHIVE = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "aclImdb_v1_labeled.tar.gz"

POSITIVE_PHRASES = ["a great film", "wonderful acting", "i loved it", "brilliant and moving", "superb story",
                    "excellent cast", "truly fun"]
NEGATIVE_PHRASES = ["an awful film", "terrible acting", "i hated it", "boring and dull", "stupid story",
                    "dreadful cast", "truly bad"]
FILLER = ["the", "movie", "was", "and", "this", "plot", "of", "with", "scene"]


@pytest.fixture(autouse=True)
def isolated_home(tmp_path_factory, monkeypatch):
    """Point the app's data directory (and Keras' home) at a fresh temp folder."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("SENTIMENT_STUDIO_HOME", str(home))
    monkeypatch.setenv("KERAS_HOME", str(home / "keras"))
    return home


def make_review(label: int, rng: random.Random, words: int = 12) -> str:
    phrases = POSITIVE_PHRASES if label else NEGATIVE_PHRASES
    parts = [rng.choice(FILLER) for _ in range(words)]
    for _ in range(2):
        parts.insert(rng.randrange(len(parts) + 1), rng.choice(phrases))
    return " ".join(parts).capitalize() + ".<br /><br />" + rng.choice(FILLER)


def reviews(n: int, seed: int = 0) -> list[tuple[str, int]]:
    rng = random.Random(seed)
    return [(make_review(i % 2, rng), i % 2) for i in range(n)]


@pytest.fixture
def tiny_csv(tmp_path) -> Path:
    path = tmp_path / "tiny.csv"
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["review", "sentiment"])
        for text, label in reviews(240):
            w.writerow([text, "positive" if label else "negative"])
    return path


def write_aclimdb_tree(root: Path, per_class: int = 6, seed: int = 1) -> Path:
    rng = random.Random(seed)
    base = root / "aclImdb"
    for split in ("train", "test"):
        for label, folder in ((1, "pos"), (0, "neg")):
            d = base / split / folder
            d.mkdir(parents=True)
            for i in range(per_class):
                (d / f"{i}_{8 if label else 2}.txt").write_text(make_review(label, rng), encoding="utf-8")
    (base / "train" / "unsup").mkdir()
    (base / "train" / "unsup" / "0_0.txt").write_text("unlabelled", encoding="utf-8")
    (base / "imdb.vocab").write_text("the\nmovie\n", encoding="utf-8")
    return base


@pytest.fixture
def aclimdb_folder(tmp_path) -> Path:
    return write_aclimdb_tree(tmp_path / "unpacked")


@pytest.fixture
def aclimdb_archive(tmp_path, aclimdb_folder) -> Path:
    path = tmp_path / "aclImdb_small.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        tar.add(aclimdb_folder, arcname="aclImdb")
    return path


@pytest.fixture
def shared_archive() -> Path:
    if not SHARED_ARCHIVE.exists():
        pytest.skip(f"the shared IMDB archive is not at {SHARED_ARCHIVE}")
    return SHARED_ARCHIVE


TINY_CONFIG = dict(vocab_size=64, maxlen=24, embedding_dim=8, lstm_units=8, batch_size=16, epochs=2,
                   dropout=0.0, recurrent_dropout=0.0, learning_rate=0.01)


@pytest.fixture(scope="session")
def tiny_training(tmp_path_factory):
    """(data, result): a tiny model trained once for the whole run, 4 epochs on reviews(240).
    Shared by many tests: save it, score with it, never change it."""
    from models.config import TrainingConfig
    from models.datasets import load_csv
    from models.training import train

    path = tmp_path_factory.mktemp("tiny-training") / "tiny.csv"
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["text", "label"])
        w.writerows([[text, label] for text, label in reviews(240)])
    data = load_csv(path)
    return data, train(TrainingConfig(**{**TINY_CONFIG, "epochs": 4}), data)


def save_trained(store, result, name: str = "my model"):
    """Save a TrainingResult to ``store`` as the app would (default preset metadata)."""
    from models.training import run_metadata

    return store.save(result.model, result.vocabulary, run_metadata(result, "imdb-lstm"), name)


@pytest.fixture
def tiny_config():
    from models.config import TrainingConfig

    return TrainingConfig(**TINY_CONFIG)


def string_io_csv(rows: list[list[str]]) -> str:
    buf = io.StringIO()
    csv.writer(buf).writerows(rows)
    return buf.getvalue()
