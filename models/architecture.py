"""The Keras network: Embedding -> LSTM -> Dense(sigmoid), sized by a TrainingConfig."""

from __future__ import annotations

from typing import Any

from models.config import TrainingConfig
from models.keras_runtime import keras


def build_model(config: TrainingConfig) -> Any:
    """The specified architecture; for the default preset exactly
    ``Embedding(2000, 128) -> LSTM(128, dropout=0.2, recurrent_dropout=0.2) -> Dense(1, sigmoid)``."""
    k = keras()
    model = k.Sequential(
        [
            k.Input(shape=(config.maxlen,), dtype="int32", name="word_ids"),
            k.layers.Embedding(config.vocab_size, config.embedding_dim, name="embedding"),
            k.layers.LSTM(
                config.lstm_units,
                dropout=config.dropout,
                recurrent_dropout=config.recurrent_dropout,
                name="lstm",
            ),
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
