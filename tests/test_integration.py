"""End to end on the real IMDB archive in ../shared/data (skipped where it is absent)."""

import json

import pytest

from tests.test_cli import last_json, run_cli

pytestmark = pytest.mark.integration


def test_archive_has_the_documented_statistics(shared_archive):
    import numpy as np

    from models.datasets import load_source
    from models.vocabulary import tokenize

    data = load_source(str(shared_archive))
    assert data.summary()["train"] == 25_000 and data.summary()["test"] == 25_000
    assert data.summary()["train_positive"] == 12_500
    lengths = np.array([len(tokenize(t)) for t in data.train.texts[::10]])
    assert 220 < lengths.mean() < 250  # PRODUCT.md: mean 234.8 words


def test_train_predict_evaluate_on_the_real_archive(shared_archive, monkeypatch, tmp_path):
    monkeypatch.setenv("SENTIMENT_STUDIO_HOME", str(tmp_path / "home"))
    proc = run_cli("train", "--data", shared_archive, "--epochs", "1", "--limit", "400", "--name", "real",
                   timeout=600)
    assert proc.returncode == 0, proc.stderr
    summary = last_json(proc.stdout)
    assert summary["epochs_completed"] == 1 and 0.0 <= summary["test_accuracy"] <= 1.0

    proc = run_cli("predict", "--model", "real", "This movie was a masterpiece, I loved every minute.")
    assert proc.returncode == 0, proc.stderr
    row = json.loads(proc.stdout)
    assert row["known_tokens"] >= 8 and not row["truncated"]

    proc = run_cli("evaluate", "--model", "real", "--data", shared_archive, "--limit", "400")
    assert proc.returncode == 0, proc.stderr
    ev = json.loads(proc.stdout)
    assert ev["n"] == 400 and ev["accuracy"] == pytest.approx(summary["test_accuracy"], abs=1e-6)
