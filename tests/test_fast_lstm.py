"""The fused training LSTM computes keras.layers.LSTM's outputs and gradients with the same weights,
with Keras' dropout semantics, and what training returns is a plain keras.layers.LSTM network."""

from __future__ import annotations

import numpy as np
import pytest

from models.architecture import build_model, stored_model
from models.config import TrainingConfig
from models.keras_runtime import keras

B, T, D, H = 5, 7, 6, 4  # features != units, so the two kinds of mask cannot be mixed up


@pytest.fixture(scope="module")
def tf():
    keras()
    import tensorflow

    return tensorflow


def make_layers(tf, dropout=0.3, recurrent_dropout=0.4):
    """A keras.layers.LSTM and the fused layer holding the same (non-trivial) weights, and an input."""
    from models.fast_lstm import fast_lstm_layer

    rng = np.random.default_rng(0)
    ref = keras().layers.LSTM(H, dropout=dropout, recurrent_dropout=recurrent_dropout)
    ref.build((B, T, D))
    kernel, recurrent, bias = ref.get_weights()
    weights = [kernel, recurrent, bias + rng.normal(size=bias.shape).astype("float32") * 0.3]
    ref.set_weights(weights)
    fast = fast_lstm_layer(H, dropout, recurrent_dropout)
    fast.build((B, T, D))
    fast.set_weights(weights)
    x = tf.constant(rng.normal(size=(B, T, D)).astype("float32"))
    return ref, fast, x


@pytest.fixture
def layers(tf):
    return make_layers(tf)


def gradients(tf, layer, x, training):
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x, training=training)
        loss = tf.reduce_sum(tf.sin(y) * tf.range(1.0, H + 1))  # every unit weighted differently
    return [y, *tape.gradient(loss, [x, *layer.trainable_variables])]


def fixed_masks(seed: int):
    rng = np.random.default_rng(seed)
    return ((rng.random((4, B, D)) > 0.3) / 0.7).astype("float32"), \
        ((rng.random((4, B, H)) > 0.4) / 0.6).astype("float32")


def test_same_initial_weights_as_keras(tf):
    from models.fast_lstm import fast_lstm_layer

    fast = fast_lstm_layer(H)
    fast.build((B, T, D))
    ref = keras().layers.LSTM(H)
    ref.build((B, T, D))
    assert [w.shape for w in fast.get_weights()] == [w.shape for w in ref.get_weights()]
    bias = fast.get_weights()[2]
    np.testing.assert_array_equal(bias, np.r_[np.zeros(H), np.ones(H), np.zeros(2 * H)])  # unit_forget_bias


def test_without_dropout_outputs_and_gradients_equal_keras(tf):
    ref, fast, x = make_layers(tf, 0.0, 0.0)
    for training in (True, False):  # the written-out gradient (training) and the inference path
        for ours, theirs in zip(gradients(tf, fast, x, training), gradients(tf, ref, x, training)):
            np.testing.assert_allclose(ours.numpy(), theirs.numpy(), atol=1e-5, rtol=1e-5)


def test_with_the_same_dropout_masks_outputs_and_gradients_equal_keras(tf, layers, monkeypatch):
    """Keras' LSTM (implementation 1) given the very masks the fused layer uses: one per gate and
    review, the same at every step."""
    ref, fast, x = layers
    input_masks, recurrent_masks = fixed_masks(1)
    monkeypatch.setattr(ref.cell, "_create_dropout_mask",
                        lambda step, rate: list(input_masks if step.shape[-1] == D else recurrent_masks))
    monkeypatch.setattr(fast, "dropout_masks", lambda batch, size, rate: input_masks if size == D else recurrent_masks)
    ours, theirs = gradients(tf, fast, x, True), gradients(tf, ref, x, True)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-5, rtol=1e-5)
    assert np.abs(ours[0].numpy() - fast(x, training=False).numpy()).max() > 1e-3  # dropout did act


def test_dropout_masks_follow_keras(tf):
    from models.fast_lstm import fast_lstm_layer

    layer = fast_lstm_layer(H, 0.25, 0.5)
    masks = layer.dropout_masks(4000, 16, 0.25).numpy()
    assert masks.shape == (4, 4000, 16)
    np.testing.assert_allclose(np.unique(masks), [0.0, 1 / 0.75], rtol=1e-6)  # kept values scaled up
    assert abs((masks == 0).mean() - 0.25) < 0.01
    assert not np.array_equal(masks[0], masks[1])  # a mask of its own for each gate
    assert (layer.dropout_masks(3, 5, 0.0).numpy() == 1).all()


def test_training_returns_a_plain_keras_lstm_with_the_trained_weights(tf):
    config = TrainingConfig(vocab_size=50, maxlen=9, embedding_dim=6, lstm_units=5, batch_size=4, epochs=1)
    trained = build_model(config, for_training=True)
    assert type(trained.get_layer("lstm")).__name__ == "FastLSTM"
    x = np.random.default_rng(2).integers(0, 50, size=(12, 9)).astype("int32")
    trained.fit(x, (x[:, 0] % 2).astype("float32"), batch_size=4, epochs=1, verbose=0)
    plain = stored_model(trained, config)
    assert type(plain.get_layer("lstm")) is keras().layers.LSTM
    np.testing.assert_allclose(plain.predict(x, verbose=0), trained.predict(x, verbose=0), atol=1e-6)
    assert stored_model(plain, config) is plain
    unfused = build_model(config.with_changes(fused_lstm=False), for_training=True)
    assert type(unfused.get_layer("lstm")) is keras().layers.LSTM
