"""One epoch of the specified preset: plain Keras (the tutorials' way) vs our training path,
side by side in one run, on the shared IMDB archive.

    python -m tests.benchmarks.training_speed [--limit N] [--repeats 1]

Plain Keras: the same Embedding -> LSTM -> Dense network, ``model.fit(x, y, batch_size=32,
validation_data=test)`` with default settings. Ours: ``models.training.train`` (XLA-compiled
steps, validation in batches of 256). Both see the same encoded data; the order of the two
runs alternates between repeats so that drift in machine load hits both.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from models.config import TrainingConfig
from models.datasets import load_source
from models.keras_runtime import keras
from models.training import prepare_arrays, train
from tests.benchmarks.reproduce_presets import ARCHIVE, machine


def plain_keras_epoch(config: TrainingConfig, x_train, y_train, x_test, y_test) -> dict:
    k = keras()
    k.utils.set_random_seed(config.seed)
    model = k.Sequential([
        k.Input(shape=(config.maxlen,), dtype="int32"),
        k.layers.Embedding(config.vocab_size, config.embedding_dim),
        k.layers.LSTM(config.lstm_units, dropout=config.dropout, recurrent_dropout=config.recurrent_dropout),
        k.layers.Dense(1, activation="sigmoid"),
    ])
    model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])
    started = time.perf_counter()
    history = model.fit(x_train, y_train, batch_size=config.batch_size, epochs=1,
                        validation_data=(x_test, y_test), verbose=0)
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "val_accuracy": history.history["val_accuracy"][-1]}


def ours_epoch(config: TrainingConfig, data) -> dict:
    started = time.perf_counter()
    result = train(config, data)
    return {"seconds": time.perf_counter() - started, "val_accuracy": result.history["val_accuracy"][-1],
            "fit_seconds": result.history["seconds"][-1]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, help="reviews per split (default: all 25,000)")
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    data = load_source(str(ARCHIVE)).limited(args.limit)
    config = TrainingConfig(epochs=1, validation="test")  # as plain Keras runs it: validation_data=test
    _, (x_train, y_train), (x_test, y_test) = prepare_arrays(config, data)
    steps = -(-len(x_train) // config.batch_size)
    rows = {"plain Keras": [], "ours": []}
    for repeat in range(args.repeats):
        order = ["plain Keras", "ours"] if repeat % 2 == 0 else ["ours", "plain Keras"]
        for name in order:
            r = plain_keras_epoch(config, x_train, y_train, x_test, y_test) if name == "plain Keras" else \
                ours_epoch(config, data)
            rows[name].append(r)
            print(f"{name}: {r}", file=sys.stderr, flush=True)
    print(f"One epoch of the specified preset, {len(x_train):,} train / {len(x_test):,} test reviews, "
          f"{steps} training steps; {machine()}.\n")
    print("| path | seconds per epoch (train + validation) | ms per training step* | test accuracy |")
    print("| --- | --- | --- | --- |")
    med = {}
    for name, runs in rows.items():
        secs = float(np.median([r["seconds"] for r in runs]))
        acc = float(np.median([r["val_accuracy"] for r in runs]))
        med[name] = secs
        print(f"| {name} | {secs:.1f} | {1000 * secs / steps:.0f} | {acc:.4f} |")
    print(f"\nSpeed-up: {med['plain Keras'] / med['ours']:.2f}x  (*whole epoch time / training steps)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
