"""Fine-tuning a copy of a stored model on the user's reviews: the original's files stay as they were, the
copy is stored as "<name> + N of my reviews", before/after are true figures on the held-out validation
reviews and the test split, and a copy that loses more than half a point of test accuracy says so and is
not made the default."""

from __future__ import annotations

import json
import random
import shutil
from dataclasses import replace

import numpy as np
import pytest

from models.datasets import Split, load_csv, load_source
from models.errors import DataSourceError
from models.fine_tuning import (
    FineTuneError,
    FineTuneSettings,
    drops_too_much,
    fine_tune,
    fine_tuned_name,
    training_data_for,
)
from models.my_reviews import MyReviews
from models.prediction import Predictor
from models.store import MODEL_FILE, ModelStore
from models.training import held_out_indices, run_metadata
from tests.conftest import make_review, save_trained

FAST = FineTuneSettings(epochs=2, min_rehearsal=40, rehearsal_per_review=10, batch_size=16)


def files_of(info) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(info.path.iterdir())}


def accuracy(predictor: Predictor, split: Split) -> float:
    probabilities = np.array([p.probability for p in predictor.predict_many(split.texts)])
    return float(np.mean((probabilities >= 0.5) == (split.labels == 1)))


def my_reviews(n: int, *, wrong: bool = False, seed: int = 7) -> Split:
    rng = random.Random(seed)
    labels = [i % 2 for i in range(n)]
    texts = [make_review(label, rng) + f" number {i}" for i, label in enumerate(labels)]
    return Split(labels=np.array([1 - y if wrong else y for y in labels], dtype=np.int8), texts=texts)


@pytest.fixture
def stored(tiny_training, tmp_path):
    data, result = tiny_training
    store = ModelStore(tmp_path / "store")
    return store, save_trained(store, result, "tiny model"), data


def test_the_copy_is_stored_under_its_name_with_true_figures_and_the_original_untouched(stored):
    store, original, data = stored
    before_files = files_of(original)
    mine = MyReviews.load()
    for text, label in zip(my_reviews(3).texts, my_reviews(3).labels):
        mine.add(text, int(label))
    messages: list[str] = []
    result = fine_tune(store, original, mine.split(), settings=FAST, on_progress=messages.append)

    assert files_of(original) == before_files  # not one byte of the original changed
    assert result.saved.name == "tiny model + 3 of my reviews" and result.saved.id != original.id
    assert store.find("tiny model + 3 of my reviews").id == result.saved.id
    assert {i.id for i in store.list()} == {original.id, result.saved.id}
    assert (result.my_reviews, result.rehearsal, result.epochs) == (3, 40, 2)
    assert any("epoch 2 of 2" in m for m in messages) and any("Saving" in m for m in messages)

    # The figures, measured again here with the NumPy engine on the stored files.
    config = original.metadata.config
    from models.config import TrainingConfig

    val_idx, _ = held_out_indices(TrainingConfig.from_dict(config), len(data.train))
    validation = data.train.subset(val_idx)
    assert result.validation_held_out and result.validation_reviews == len(validation)
    assert result.test_reviews == len(data.test)
    tolerance = 1.0 / len(validation) / 2
    for info, figures in ((original, result.before), (result.saved, result.after)):
        predictor = Predictor.from_store(store, info)
        assert predictor.engine == "numpy"
        assert figures.validation == pytest.approx(accuracy(predictor, validation), abs=tolerance)
        assert figures.test == pytest.approx(accuracy(predictor, data.test), abs=1.0 / len(data.test) / 2)
        assert figures.mine == pytest.approx(accuracy(predictor, mine.split()), abs=0.1)
    assert result.before.test == pytest.approx(original.metadata.test_accuracy, abs=1e-6)

    record = json.loads((result.saved.path / "metadata.json").read_text(encoding="utf-8"))
    tuned = record["fine_tuned"]
    assert tuned["from"]["id"] == original.id and tuned["my_reviews"] == 3 and tuned["made_default"] is True
    assert tuned["before"]["test_accuracy"] == result.before.test
    assert tuned["after"]["test_accuracy"] == result.after.test
    assert record["results"]["test_accuracy"] == result.after.test
    assert record["data"]["source"] == original.metadata.source and record["config"] == config
    assert result.made_default and result.warning() is None
    assert store.newest().id == result.saved.id  # not worse: the new default
    assert result.summary()["saved"] == result.saved.name


def test_a_copy_that_loses_test_accuracy_says_so_and_is_not_the_default(stored):
    store, original, _ = stored
    # Forty reviews labelled the wrong way round, nothing rehearsed, a high learning rate: it must get worse.
    settings = FineTuneSettings(epochs=4, min_rehearsal=0, rehearsal_per_review=0, batch_size=8, learning_rate=0.05)
    result = fine_tune(store, original, my_reviews(40, wrong=True), settings=settings)
    assert result.before.test - result.after.test > 0.005
    assert result.dropped and not result.made_default
    assert result.test_change_points == pytest.approx((result.after.test - result.before.test) * 100)
    warning = result.warning()
    assert "dropped by" in warning and "not made the default" in warning and "tiny model + 40 of my reviews" in warning
    saved = store.find(result.saved.id)
    assert saved.kept_from_default and saved.metadata.extra["fine_tuned"]["made_default"] is False
    assert store.newest().id == original.id  # the newer copy is passed over
    assert saved.name in [i.name for i in store.list()]  # still listed, usable by name


def test_the_drop_rule_and_the_name():
    assert not drops_too_much(0.900, 0.895)  # exactly half a point: allowed
    assert drops_too_much(0.900, 0.8949)
    assert not drops_too_much(0.85, 0.90)
    assert fine_tuned_name("IMDB LSTM (built-in)", 12) == "IMDB LSTM + 12 of my reviews"
    assert fine_tuned_name("mine", 1) == "mine + 1 of my reviews"
    long = fine_tuned_name("x" * 200, 5)
    assert len(long) <= 120 and long.endswith("... + 5 of my reviews")


def test_a_model_whose_data_set_is_gone_changed_or_unknown_is_refused_with_the_reason(tiny_training, tmp_path):
    data, result = tiny_training
    store = ModelStore(tmp_path / "store")
    csv_copy = tmp_path / "copy.csv"
    shutil.copy(data.source, csv_copy)
    info = store.save(result.model, result.vocabulary,
                      run_metadata(result, "imdb-lstm", source=str(csv_copy)),
                      "moved")
    assert training_data_for(info).summary() == {**data.summary(), "source": str(csv_copy)}

    with open(csv_copy, "a", encoding="utf-8") as f:
        f.write("one more review of a great film,positive\n")
    with pytest.raises(DataSourceError, match="not the data set 'moved' was trained on any more"):
        training_data_for(info)
    picked = load_source(str(csv_copy))  # another copy the user picked: the message names it, and the record's
    picked = replace(picked, source=str(tmp_path / "picked.csv"))
    with pytest.raises(DataSourceError, match=r"picked.csv is not the data set 'moved' was trained on \(.*copy.csv\)"):
        training_data_for(info, picked)
    csv_copy.unlink()
    with pytest.raises(DataSourceError, match="not on this computer"):
        fine_tune(store, info, my_reviews(2), settings=FAST)

    unknown = store.save(result.model, result.vocabulary,
                         replace(run_metadata(result, "imdb-lstm"), data={}), "no source")
    with pytest.raises(DataSourceError, match="does not say which data set"):
        fine_tune(store, unknown, my_reviews(2), settings=FAST)
    with pytest.raises(FineTuneError, match="none of your reviews"):
        fine_tune(store, info, Split(labels=np.zeros(0, dtype=np.int8), texts=[]), settings=FAST)
    for bad in ({"seed": -1}, {"validation_split": 5.0}, {"learning_rate": 0.0}):
        meta = run_metadata(result, "imdb-lstm")
        odd = store.save(result.model, result.vocabulary, replace(meta, config={**meta.config, **bad}), "odd")
        with pytest.raises(FineTuneError, match=f"'odd' cannot be fine-tuned: its details say {next(iter(bad))}"):
            fine_tune(store, odd, my_reviews(2), settings=FAST)
        store.delete(odd.id)
    assert [i.name for i in store.list()] == ["no source", "moved"]  # nothing was added by the refusals


def test_a_run_on_a_limited_subset_finds_the_same_subset(tiny_training, tmp_path):
    data, result = tiny_training
    limited = load_csv(data.source, limit=60)
    store = ModelStore(tmp_path / "store")
    info = store.save(result.model, result.vocabulary,
                      replace(run_metadata(result, "imdb-lstm"), data=limited.summary()), "limited")
    again = training_data_for(info)
    assert again.summary() == limited.summary() and again.train.texts == limited.train.texts
    assert len(again.train) < len(data.train)


def test_a_stop_saves_nothing(stored):
    store, original, _ = stored
    asked = []

    def stop() -> bool:
        asked.append(1)
        return len(asked) > 3  # after the data is read and the model measured

    with pytest.raises(FineTuneError, match="stopped; nothing was saved"):
        fine_tune(store, original, my_reviews(4), settings=FAST, should_stop=stop)
    assert [i.id for i in store.list()] == [original.id]


def test_an_ngram_model_is_fine_tuned_the_same_way(tiny_training, tmp_path):
    from models.config import TrainingConfig
    from models.training import train

    data, _ = tiny_training
    config = TrainingConfig(family="ngram", max_features=400, epochs=3, batch_size=16, dropout=0.0,
                            learning_rate=0.01, jit_compile=False)
    trained = train(config, data)
    store = ModelStore(tmp_path / "store")
    original = store.save(trained.model, trained.vocabulary, run_metadata(trained, "ngram"), "ngram tiny")
    before_files = files_of(original)
    result = fine_tune(store, original, my_reviews(5), settings=FAST)
    assert files_of(original) == before_files
    saved = store.find("ngram tiny + 5 of my reviews")
    assert saved.metadata.family == "ngram" and (saved.path / MODEL_FILE).is_file()
    predictor = Predictor.from_store(store, saved)
    assert predictor.engine == "numpy"
    assert result.after.test == pytest.approx(accuracy(predictor, data.test), abs=1.0 / len(data.test) / 2)


def test_the_same_fine_tune_twice_gives_the_same_copy(tiny_training, tmp_path):
    """With dropout (the built-in LSTM has 0.2 and 0.2), the seed must be set before the network is made."""
    from models.config import TrainingConfig
    from models.training import train
    from tests.conftest import TINY_CONFIG

    data, _ = tiny_training
    trained = train(TrainingConfig(**{**TINY_CONFIG, "epochs": 1, "dropout": 0.3, "recurrent_dropout": 0.3}), data)
    store = ModelStore(tmp_path / "store")
    original = store.save(trained.model, trained.vocabulary, run_metadata(trained, "imdb-lstm"), "dropout")
    settings = FineTuneSettings(epochs=2, min_rehearsal=40, batch_size=8, learning_rate=0.02)
    first, second = (fine_tune(store, original, my_reviews(4), settings=settings) for _ in range(2))
    assert first.after == second.after and first.saved.id != second.saved.id
    weights = [store.load(r.saved).model.get_weights() for r in (first, second)]
    assert all(np.array_equal(a, b) for a, b in zip(*weights))
