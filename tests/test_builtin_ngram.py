"""The built-in n-gram model (resources/ngram_model): honest figures, small, scores as Keras, never the default."""

import numpy as np
import pytest

from models.paths import builtin_model_dirs
from models.prediction import NEGATIVE, POSITIVE, Predictor
from models.store import ModelStore


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return ModelStore(tmp_path_factory.mktemp("empty-store"), builtin=builtin_model_dirs())


@pytest.fixture(scope="module")
def info(store):
    (found,) = [i for i in store.list() if i.builtin and i.metadata and i.metadata.family == "ngram"]
    return found


def test_the_lstm_stays_the_default_and_the_ngram_model_is_listed_after_it(store, info):
    assert store.newest().name == "IMDB LSTM (built-in)"
    assert [i.name for i in store.list()] == ["IMDB LSTM (built-in)", "IMDB n-grams (built-in)"]
    assert info.damaged is None and info.name == "IMDB n-grams (built-in)"


def test_trained_on_the_training_split_with_held_out_validation(info):
    meta = info.metadata
    assert meta.preset == "ngram" and meta.validated_on == "split"
    assert meta.data["train"] == 25_000 and meta.data["test"] == 25_000
    assert meta.test_accuracy >= 0.90 and meta.validation_accuracy >= 0.90


def test_small_on_disk(info):
    size = sum(p.stat().st_size for p in info.path.iterdir())
    assert size < 3 * 1024 ** 2, size


def test_scores_sensibly_and_numpy_equals_keras(store, info):
    numpy_predictor = Predictor.from_store(store, info)
    assert numpy_predictor.engine == "numpy"
    texts = ["A wonderful film, the best I have seen this year.", "Boring, awful and a waste of time.",
             "It was not good at all.", "Not bad at all, I enjoyed it."]
    labels = [p.label for p in numpy_predictor.predict_many(texts)]
    assert labels == [POSITIVE, NEGATIVE, NEGATIVE, POSITIVE]
    keras_predictor = Predictor.from_store(store, info, engine="keras")
    rows = numpy_predictor.family.encode_chunk(numpy_predictor.vocabulary, texts, None, False).ids
    np.testing.assert_allclose(numpy_predictor.probabilities(rows), keras_predictor.probabilities(rows), atol=1e-5)
