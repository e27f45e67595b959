"""The NumPy forward pass must score exactly like Keras (to 1e-5) and refuse what it cannot score."""

import subprocess
import sys

import numpy as np
import pytest

from models.architecture import build_model
from models.config import TrainingConfig
from models.metadata import ModelMetadata, utc_now
from models.numpy_lstm import NumpyLSTMClassifier, UnsupportedModel
from models.prediction import Predictor
from models.store import ModelStore
from models.vocabulary import Vocabulary


@pytest.mark.parametrize(
    "vocab, maxlen, emb, units, dropout, noise",
    # Noise on top of the initial weights makes gates saturate somewhere, so the test has teeth. For the
    # full-size model it stays at a trained model's scale: larger makes the 128-unit recurrence chaotic and
    # float32 rounding alone (Keras vs NumPy summation order) then differs by ~5e-5 after 80 steps.
    [(2000, 80, 128, 128, 0.2, 0.05), (50, 7, 3, 5, 0.0, 0.3), (300, 30, 16, 33, 0.5, 0.3)],
)
def test_matches_keras_on_random_weights(tmp_path, vocab, maxlen, emb, units, dropout, noise):
    config = TrainingConfig(vocab_size=vocab, maxlen=maxlen, embedding_dim=emb, lstm_units=units,
                            dropout=dropout, recurrent_dropout=dropout)
    model = build_model(config)
    rng = np.random.default_rng(0)
    model.set_weights([w + rng.normal(0, noise, w.shape).astype(w.dtype) for w in model.get_weights()])
    model.save(tmp_path / "m.keras")
    net = NumpyLSTMClassifier.from_keras_file(tmp_path / "m.keras")
    assert net.maxlen == maxlen and net.vocab_size == vocab
    ids = rng.integers(0, vocab, size=(300, maxlen)).astype(np.int32)  # 300: two full blocks and a part
    ids[:8, : maxlen // 2] = 0  # padded rows
    expected = model.predict(ids, verbose=0).reshape(-1)
    np.testing.assert_allclose(net(ids), expected, atol=1e-5, rtol=0)


def test_store_predictor_uses_numpy_and_agrees_with_keras(tmp_path):
    config = TrainingConfig(vocab_size=40, maxlen=12, embedding_dim=4, lstm_units=6)
    model = build_model(config)
    vocab = Vocabulary.build([["good", "bad", "film", "plot"]], num_words=40)
    store = ModelStore(tmp_path)
    store.save(model, vocab, ModelMetadata("m", utc_now(), config=config.to_dict()), "m")
    fast = Predictor.from_store(store)
    slow = Predictor.from_store(store, engine="keras")
    assert (fast.engine, slow.engine) == ("numpy", "keras")
    texts = ["good film", "bad plot " * 20, "unknown words only", "film"]
    np.testing.assert_allclose([p.probability for p in fast.predict_many(texts)],
                               [p.probability for p in slow.predict_many(texts)], atol=1e-5)


def test_scoring_does_not_import_tensorflow(tmp_path):
    config = TrainingConfig(vocab_size=40, maxlen=12, embedding_dim=4, lstm_units=6)
    store = ModelStore(tmp_path)
    store.save(build_model(config), Vocabulary.build([["good"]], num_words=40), ModelMetadata("m", utc_now()), "m")
    code = ("import sys; from models.store import ModelStore; from models.prediction import Predictor; "
            f"p = Predictor.from_store(ModelStore({str(tmp_path)!r})); p.predict('good'); "
            "print(p.engine, 'tensorflow' in sys.modules, 'keras' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["numpy", "False", "False"]


def test_other_architectures_fall_back_to_keras(tmp_path):
    import keras

    model = keras.Sequential([keras.Input((10,), dtype="int32"), keras.layers.Embedding(30, 4),
                              keras.layers.GRU(3), keras.layers.Dense(1, activation="sigmoid")])
    model.save(tmp_path / "gru.keras")
    with pytest.raises(UnsupportedModel, match="GRU"):
        NumpyLSTMClassifier.from_keras_file(tmp_path / "gru.keras")
    (tmp_path / "junk.keras").write_bytes(b"not a zip")
    with pytest.raises(UnsupportedModel):
        NumpyLSTMClassifier.from_keras_file(tmp_path / "junk.keras")


@pytest.fixture(scope="module")
def builtin():
    from models.paths import builtin_model_dirs

    return Predictor.from_store(ModelStore(builtin=builtin_model_dirs()))


def test_engine_tables_are_row_major_and_started_scores_equal_direct_ones(builtin):
    net = builtin.model
    # Each step gathers whole rows of the input table: a column-ordered copy made scoring 5x slower.
    assert net.projected.flags["C_CONTIGUOUS"] and net.recurrent.flags["C_CONTIGUOUS"]
    ids = np.random.default_rng(3).integers(0, net.vocab_size, size=(700, builtin.maxlen))
    wait = net.start(ids)  # several blocks on the pool
    # Not bit for bit: blocks of other sizes take other BLAS kernels, and OpenBLAS runs a call on fewer
    # threads while another thread's call holds it, so the summation order depends on the load (156 of
    # 700 scores differed by up to 6e-7 in a full run on a busy machine).
    np.testing.assert_allclose(wait(), np.concatenate([net(ids[i:i + 100]) for i in range(0, 700, 100)]),
                               rtol=0, atol=1e-6)
    assert net.start(ids[:0])().shape == (0,)


def test_chunks_are_scored_while_the_next_is_read_and_come_out_in_order(builtin):
    texts = [f"review {i} " + ("great fun " if i % 3 else "dull and bad ") * (i % 7 + 1) for i in range(1500)]
    chunks = list(builtin.predict_chunks(texts, batch_size=256))
    assert [len(c) for c in chunks] == [32, 64, 128, 256, 256, 256, 256, 252]
    flat = [p.probability for c in chunks for p in c]
    ids = builtin.vocabulary.encode_batch(texts, builtin.maxlen)
    np.testing.assert_allclose(flat, builtin.probabilities(ids), rtol=0, atol=1e-6)  # other chunks: not bit for bit


def test_a_review_without_words_stops_the_stream_after_the_chunks_before_it(builtin):
    from models.errors import EmptyReviewError

    texts = ["a fine film"] * 100 + ["?!"] + ["a fine film"] * 50
    out = []
    with pytest.raises(EmptyReviewError, match=r"review 101 \('\?!'\)"):
        for chunk in builtin.predict_chunks(texts, require_words=True):
            out += chunk
    assert len(out) == 96  # 32 + 64: the chunks before the one holding review 101
    assert len([p for c in builtin.predict_chunks(texts) for p in c]) == 151  # without the check: scored
