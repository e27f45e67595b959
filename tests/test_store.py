import json
import os
import subprocess
import sys

import numpy as np
import pytest

from models.errors import EmptyReviewError, ModelStoreError
from models.evaluation import confusion, evaluate, log_loss, metrics
from models.prediction import Predictor
from models.store import ModelStore
from models.training import training_metadata


@pytest.fixture(scope="module")
def trained(tiny_training):
    return tiny_training


def save(store, trained, name="my model"):
    _, result = trained
    return store.save(result.model, result.vocabulary, training_metadata(result, "imdb-lstm"), name)


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
        store.save(result.model, result.vocabulary, {}, "half")
    assert [i.name for i in store.list()] == ["kept"]
    assert [p.name for p in tmp_path.iterdir()] == [store.list()[0].id]


def test_full_disk_is_a_readable_error_and_keeps_nothing(tmp_path, trained, monkeypatch):
    store = ModelStore(tmp_path)
    _, result = trained

    def full(path):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(result.vocabulary, "save", full)
    with pytest.raises(ModelStoreError, match="No space left on device.*still open"):
        store.save(result.model, result.vocabulary, {}, "x")
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
