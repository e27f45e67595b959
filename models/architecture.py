"""The Keras network: Embedding -> LSTM -> Dense(sigmoid), sized by a TrainingConfig."""

from __future__ import annotations

from typing import Any

from models.config import TrainingConfig
from models.keras_runtime import keras


def build_model(config: TrainingConfig, for_training: bool = False) -> Any:
    """The specified architecture; for the default preset exactly
    ``Embedding(2000, 128) -> LSTM(128, dropout=0.2, recurrent_dropout=0.2) -> Dense(1, sigmoid)``.

    ``for_training`` with ``config.fused_lstm``: the LSTM is ``models.fast_lstm``'s layer (same
    weights, faster steps); ``stored_model`` turns the trained network into the plain one."""
    k = keras()
    if for_training and config.fused_lstm:
        from models.fast_lstm import fast_lstm_layer

        lstm = fast_lstm_layer(config.lstm_units, config.dropout, config.recurrent_dropout, name="lstm")
    else:
        lstm = k.layers.LSTM(config.lstm_units, dropout=config.dropout, recurrent_dropout=config.recurrent_dropout,
                             name="lstm")
    model = k.Sequential(
        [
            k.Input(shape=(config.maxlen,), dtype="int32", name="word_ids"),
            k.layers.Embedding(config.vocab_size, config.embedding_dim, name="embedding"),
            lstm,
            k.layers.Dense(1, activation="sigmoid", name="sentiment"),
        ],
        name="imdb_lstm",
    )
    model.compile(
        loss="binary_crossentropy",
        optimizer=k.optimizers.Adam(learning_rate=config.learning_rate),
        metrics=["accuracy"],
        jit_compile=config.jit_compile,
    )
    return model


def stored_model(trained: Any, config: TrainingConfig) -> Any:
    """The plain Keras network (``keras.layers.LSTM``) holding ``trained``'s weights: what is saved,
    exported and scored. ``trained`` itself when it already is one."""
    if type(trained.get_layer("lstm")) is keras().layers.LSTM:
        return trained
    model = build_model(config)
    model.set_weights(trained.get_weights())
    return model
