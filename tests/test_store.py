import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from models.errors import EmptyReviewError, ModelStoreError
from models.evaluation import confusion, evaluate, log_loss, metrics
from models.metadata import ModelMetadata, utc_now
from models.prediction import Predictor
from models.store import ModelStore
from models.training import run_metadata

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def trained(tiny_training):
    return tiny_training


def save(store, trained, name="my model"):
    _, result = trained
    return store.save(result.model, result.vocabulary, run_metadata(result, "imdb-lstm"), name)


def test_save_list_load_rename_delete(tmp_path, trained):
    store = ModelStore(tmp_path / "models")
    info = save(store, trained)
    assert [i.name for i in store.list()] == ["my model"] and info.damaged is None
    assert sorted(p.name for p in info.path.iterdir()) == ["metadata.json", "model.keras", "vocabulary.json"]
    second = save(store, trained)
    assert second.name == "my model (2)"
    assert store.list()[0].id == second.id  # newest first

    loaded = store.load("my model (2)")
    assert loaded.maxlen == 24 and loaded.vocabulary == trained[1].vocabulary

    renamed = store.rename(info.id, "renamed")
    assert renamed.name == "renamed" and store.find("RENAMED").id == info.id
    store.delete("renamed")
    assert [i.name for i in store.list()] == ["my model (2)"]
    with pytest.raises(ModelStoreError, match="No model called"):
        store.find("renamed")


def test_loaded_model_scores_like_the_trained_one(tmp_path, trained):
    data, result = trained
    store = ModelStore(tmp_path)
    save(store, trained)
    predictor = Predictor.from_store(store)
    fresh = Predictor(result.model, result.vocabulary, result.config.maxlen)
    texts = data.test.texts[:20]
    np.testing.assert_allclose([p.probability for p in predictor.predict_many(texts)],
                               [p.probability for p in fresh.predict_many(texts)], atol=1e-6)


def test_interrupted_save_leaves_no_half_model(tmp_path, trained, monkeypatch):
    store = ModelStore(tmp_path)
    save(store, trained, "kept")
    _, result = trained

    def boom(path):
        raise KeyboardInterrupt  # as if the user killed the save midway

    monkeypatch.setattr(result.vocabulary, "save", boom)
    with pytest.raises(KeyboardInterrupt):
        store.save(result.model, result.vocabulary, ModelMetadata("half", utc_now()), "half")
    assert [i.name for i in store.list()] == ["kept"]
    assert [p.name for p in tmp_path.iterdir()] == [store.list()[0].id]


def test_full_disk_is_a_readable_error_and_keeps_nothing(tmp_path, trained, monkeypatch):
    store = ModelStore(tmp_path)
    _, result = trained

    def full(path):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(result.vocabulary, "save", full)
    with pytest.raises(ModelStoreError, match="No space left on device.*still open"):
        store.save(result.model, result.vocabulary, ModelMetadata("x", utc_now()), "x")
    assert list(tmp_path.iterdir()) == []


def test_leftovers_of_a_killed_save_are_cleaned_on_next_open(tmp_path, trained):
    store = ModelStore(tmp_path)
    save(store, trained, "kept")
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    leftover = tmp_path / f".staging-{dead.stdout.strip()}-abc"
    (leftover).mkdir()
    (leftover / "model.keras").write_bytes(b"half")
    live = tmp_path / f".staging-{os.getpid()}-def"  # a save in progress in a live process is left alone
    live.mkdir()
    assert [i.name for i in ModelStore(tmp_path).list()] == ["kept"]
    assert not leftover.exists() and live.exists()


CORRECTIONS = {"flipped": {"train": 2, "test": 1}, "excluded": {"train": 1, "test": 0}, "not_found": 0,
               "test_accuracy_original_labels": 0.75, "test_accuracy_corrected_labels": 0.8}


def test_a_metadata_record_round_trips_through_save_and_load(tmp_path, trained):
    _, result = trained
    before = dict(result.data_summary)
    record = replace(run_metadata(result, "custom (from imdb-lstm)", source="reviews/tiny.csv",
                                  corrections=CORRECTIONS),
                     extra={"future_field": {"kept": [1, "two", None]}})
    store = ModelStore(tmp_path)
    info = store.save(result.model, result.vocabulary, record, "round trip")
    expected = replace(record, name="round trip", created=info.created)
    assert info.metadata == expected and store.find(info.id).metadata == expected
    assert store.load(info.id).info.metadata == expected
    assert json.loads((info.path / "metadata.json").read_text(encoding="utf-8")) == expected.to_json()
    assert expected.source == "reviews/tiny.csv" and expected.corrections == CORRECTIONS
    assert expected.train_reviews == before["train"] and expected.test_reviews == before["test"]
    assert result.data_summary == before  # the record holds copies: the shared result is as it was
    assert store.rename(info.id, "renamed").metadata == replace(expected, name="renamed")


def test_only_a_typed_record_is_saved(tmp_path, trained):
    _, result = trained
    store = ModelStore(tmp_path)
    for untyped in (run_metadata(result, "imdb-lstm").to_json(), [("kind", "trained")]):
        with pytest.raises(TypeError, match="must be a ModelMetadata"):
            store.save(result.model, result.vocabulary, untyped, "c")


def test_a_record_that_would_not_read_back_is_not_saved(tmp_path, trained):
    _, result = trained
    store = ModelStore(tmp_path)
    for bad, reason in [({"test_accuracy": 7.0}, "results.test_accuracy must be between 0 and 1"),
                        ({"best_epoch": "first"}, "results.best_epoch must be a whole number from 1")]:
        record = replace(run_metadata(result, "imdb-lstm"), results=bad)
        with pytest.raises(ModelStoreError, match=f"details cannot be saved: {reason}"):
            store.save(result.model, result.vocabulary, record, "bad")
    with pytest.raises(ModelStoreError, match="config: maxlen must be at least 1"):
        store.save(result.model, result.vocabulary, replace(run_metadata(result, None), config={"maxlen": 0}), "x")
    assert list(tmp_path.iterdir()) == []


OLD_FORMAT = {  # as train --corrections wrote it before families and typed writes: no family, no format_version
    "kind": "trained", "preset": "imdb-lstm", "config": {"vocab_size": 2000, "maxlen": 80, "dropout": 0.2},
    "data": {"source": "/data/reviews.csv", "train": 200, "test": 40, "train_positive": 100, "test_positive": 20},
    "history": {"val_accuracy": [0.5, 0.75]}, "results": {"test_accuracy": 0.7, "best_epoch": 2},
    "versions": {"app": "0.9"}, "corrections": CORRECTIONS, "name": "old", "created": "2026-11-01T10:00:00+00:00",
    "something_newer": [1, 2, 3],
}


@pytest.mark.parametrize("raw", [
    OLD_FORMAT,
    {**OLD_FORMAT, "corrections": ["not", "an", "object"]},  # kept as it is, as any field it does not know
    *[json.loads((ROOT / "resources" / folder / "metadata.json").read_text(encoding="utf-8"))
      for folder in ("default_model", "ngram_model")],
], ids=["old-format", "odd-corrections", "builtin-lstm", "builtin-ngram"])
def test_metadata_written_by_earlier_versions_reads_and_writes_back_as_before(raw):
    meta = ModelMetadata.from_json(raw)
    created = raw["created"].replace("+00:00", "") + ("" if "." in raw["created"] else ".000000")
    assert meta.created == created + "+00:00"
    assert meta.to_json() == {"family": "lstm", "format_version": 1, **raw, "created": meta.created}
    assert meta.family == raw.get("family", "lstm") and meta.name == raw["name"]
    if isinstance(raw.get("corrections"), dict):
        assert meta.corrections == raw["corrections"] and "corrections" not in meta.extra
    else:
        assert meta.corrections is None and meta.extra.get("corrections") == raw.get("corrections")
    assert ModelMetadata.from_json(meta.to_json()) == meta


def test_hostile_metadata_is_still_refused_with_its_reason():
    from models.metadata import MetadataError

    for bad, reason in [({**OLD_FORMAT, "results": {"test_accuracy": "high"}}, "results.test_accuracy"),
                        ({**OLD_FORMAT, "family": "transformer"}, "not one this version knows"),
                        ({**OLD_FORMAT, "created": "2999-01-01T00:00:00"}, "created is in the future"),
                        ({**OLD_FORMAT, "config": {"maxlen": 10**9}}, "maxlen must be at most")]:
        with pytest.raises(MetadataError, match=reason):
            ModelMetadata.from_json(bad)


def test_damaged_folders_are_listed_with_reason(tmp_path, trained):
    store = ModelStore(tmp_path)
    good = save(store, trained, "good")
    (tmp_path / "no-meta").mkdir()
    bad_json = tmp_path / "bad-json"
    bad_json.mkdir()
    (bad_json / "metadata.json").write_text("{nope")
    newer = tmp_path / "newer"
    newer.mkdir()
    (newer / "metadata.json").write_text(json.dumps({"name": "newer", "format_version": 99}))
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    for f in good.path.iterdir():
        (corrupt / f.name).write_bytes(f.read_bytes())
    (corrupt / "model.keras").write_bytes(b"this is not a zip")
    meta = json.loads((corrupt / "metadata.json").read_text())
    (corrupt / "metadata.json").write_text(json.dumps({**meta, "name": "corrupt"}))

    listing = {i.name: i.damaged for i in store.list()}
    assert listing["good"] is None and listing["corrupt"] is None  # looks whole until opened
    assert "missing" in listing["no-meta"] and "cannot be read" in listing["bad-json"]
    assert "newer version" in listing["newer"]
    with pytest.raises(ModelStoreError, match="damaged: model.keras cannot be read"):
        store.load("corrupt")
    with pytest.raises(ModelStoreError, match="newer version"):
        store.load("newer")
    assert store.newest().name in ("good", "corrupt")


def test_vocabulary_that_does_not_match_the_model(tmp_path, trained):
    store = ModelStore(tmp_path)
    info = save(store, trained)
    vocab = json.loads((info.path / "vocabulary.json").read_text())
    vocab["num_words"] = 5000
    (info.path / "vocabulary.json").write_text(json.dumps(vocab))
    with pytest.raises(ModelStoreError, match="does not match its vocabulary"):
        store.load(info.id)


def test_empty_store_says_how_to_get_a_model(tmp_path):
    with pytest.raises(ModelStoreError, match="no trained model yet"):
        ModelStore(tmp_path).newest()


def test_prediction_details_and_empty_review(tmp_path, trained):
    store = ModelStore(tmp_path)
    save(store, trained)
    predictor = Predictor.from_store(store)
    p = predictor.predict("A great film, wonderful acting. Xyzzy!")
    assert p.label == "positive" and p.probability > 0.5
    assert (p.known_tokens, p.oov_tokens, p.truncated) == (5, 1, False)
    assert predictor.predict("An awful film, terrible acting").label == "negative"
    long = predictor.predict("great " * 100)
    assert long.truncated and len(long.tokens) == 24
    for empty in ["", "   \n\t"]:
        with pytest.raises(EmptyReviewError):
            predictor.predict(empty)


def test_evaluate_confusion_matrix(tmp_path, trained):
    data, _ = trained
    store = ModelStore(tmp_path)
    save(store, trained)
    evaluation = evaluate(Predictor.from_store(store), data)
    result = metrics(evaluation.labels, evaluation.probabilities)
    (tn, fp), (fn, tp) = result.confusion
    assert tn + fp + fn + tp == result.n == len(data.test)
    assert result.accuracy == pytest.approx((tn + tp) / result.n)


def test_score_matches_keras_loss():
    import keras

    y = np.array([1, 0, 1, 0, 1])
    p = np.array([0.9, 0.2, 0.4, 0.0, 1.0])
    keras_loss = float(keras.losses.binary_crossentropy(y.astype("float32"), p.astype("float32")))
    assert log_loss(y, p) == pytest.approx(keras_loss, rel=1e-4)
    assert confusion(y, p) == [[2, 0], [1, 2]]
