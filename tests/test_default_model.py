"""The pretrained model shipped in resources/default_model: loads, is the specified network, scores sensibly."""

import json

import numpy as np
import pytest

from models.config import TrainingConfig
from models.paths import builtin_model_dirs
from models.prediction import Predictor
from models.store import ModelStore

POSITIVE = ("One of the best films I have seen in years. The acting is brilliant, the story is moving and "
            "beautifully told, and I loved every minute of it. A wonderful, funny and touching movie.")
NEGATIVE = ("This was the worst movie I have ever seen. The plot made no sense, the acting was awful and "
            "the dialogue was terrible. A boring waste of time and money; avoid it.")


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    dirs = builtin_model_dirs()
    assert dirs, "resources/default_model is missing"
    return ModelStore(tmp_path_factory.mktemp("empty-store"), builtin=dirs)


def test_listed_as_builtin_and_used_when_the_store_is_empty(store):
    info = store.list()[0]  # the specified LSTM first; the built-in n-gram model (tests/test_builtin_ngram.py) next
    assert info.builtin and info.name == "IMDB LSTM (built-in)" and info.damaged is None
    assert info.metadata.family == "lstm"  # saved before families: read as the LSTM family
    assert store.newest().id == info.id
    meta = info.metadata.to_json()
    assert meta["results"]["test_accuracy"] >= 0.83 and meta["results"]["best_epoch"] >= 1
    # The specified hyperparameters (jit_compile is how the steps ran, not what was trained), validated
    # the tutorial's way: its best epoch was chosen on the test split, and it says so.
    how = ("jit_compile", "fused_lstm")
    specified = {k: v for k, v in TrainingConfig(validation="test").to_dict().items()
                 if k not in how and k != "family"}
    assert {k: v for k, v in meta["config"].items() if k not in how} == json.loads(json.dumps(specified))
    summary = info.summary()
    assert summary["validated_on"] == "test" and summary["validation_accuracy"] == summary["test_accuracy"]
    assert {"keras", "tensorflow", "numpy", "python", "app"} <= set(meta["versions"])


def test_is_read_only(store):
    from models.errors import ModelStoreError

    with pytest.raises(ModelStoreError, match="built in"):
        store.rename("IMDB LSTM (built-in)", "mine")
    with pytest.raises(ModelStoreError, match="built in"):
        store.delete("IMDB LSTM (built-in)")


def test_has_the_specified_architecture(store):
    loaded = store.load()
    kinds = [type(layer).__name__ for layer in loaded.model.layers]
    assert kinds == ["Embedding", "LSTM", "Dense"]
    emb, lstm, dense = loaded.model.layers
    assert (emb.input_dim, emb.output_dim, lstm.units, lstm.dropout, lstm.recurrent_dropout) == (2000, 128, 128,
                                                                                                 0.2, 0.2)
    assert loaded.maxlen == 80 and loaded.vocabulary.num_words == 2000


def test_scores_clear_reviews_correctly_with_both_engines(store):
    fast = Predictor.from_store(store)
    slow = Predictor.from_store(store, engine="keras")
    assert fast.engine == "numpy"
    for engine in (fast, slow):
        pos, neg = engine.predict_many([POSITIVE, NEGATIVE])
        assert pos.label == "positive" and pos.probability > 0.8
        assert neg.label == "negative" and neg.probability < 0.2
    np.testing.assert_allclose([p.probability for p in fast.predict_many([POSITIVE, NEGATIVE, "meh"])],
                               [p.probability for p in slow.predict_many([POSITIVE, NEGATIVE, "meh"])], atol=1e-5)
