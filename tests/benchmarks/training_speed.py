"""One epoch of the specified preset: the tutorial's plain Keras, Keras at its strongest setting, and
our training path, in interleaved rounds on the shared IMDB archive.

    python -m tests.benchmarks.training_speed [--limit N] [--rounds 3] [--paths ...]

Paths (all train the same Embedding -> LSTM(128, dropout 0.2, recurrent dropout 0.2) -> Dense
network on the same encoded data, validating on the test split, as the tutorial does):

- ``keras``: the tutorial's ``model.fit(x, y, batch_size=32, validation_data=test)``, defaults.
- ``keras-xla``: the same with ``jit_compile=True`` and validation in batches of 256 (its strongest
  reasonable setting: the flag a user would flip, and a validation batch that changes nothing but speed).
- ``ours``: ``models.training.train`` (the fused LSTM of ``models.fast_lstm``, XLA, validation in 256s).
- ``ours-keras-lstm``: ``train`` with ``fused_lstm=False``: our harness around Keras' own LSTM loop.

Each round runs every path once, in a rotated order (A B C, B C A, ...), so that drift in machine
load hits all of them. Printed: the median and the range over rounds of the epoch's wall-clock time
(compilation included), of the steady training step (median time between batches after the first
20), and of the validation pass, and the test accuracy after the epoch.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from models.config import TrainingConfig
from models.datasets import load_source
from models.keras_runtime import keras
from models.training import TRAINING, VALIDATING, prepare_arrays, train
from tests.benchmarks.reproduce_presets import ARCHIVE, machine

PATHS = ("keras", "keras-xla", "ours", "ours-keras-lstm")
WARM_BATCHES = 20  # the first batches include tracing and compilation


def steady_step(times: list[float]) -> float:
    """Median seconds between consecutive batch ends after the first ``WARM_BATCHES``."""
    steps = np.diff(np.asarray(times[WARM_BATCHES:]))
    return float(np.median(steps)) if steps.size else float("nan")


def keras_model(config: TrainingConfig, xla: bool):
    """The tutorial's network, seeded with ``config.seed``, compiled with or without XLA."""
    k = keras()
    k.utils.set_random_seed(config.seed)
    model = k.Sequential([
        k.Input(shape=(config.maxlen,), dtype="int32"),
        k.layers.Embedding(config.vocab_size, config.embedding_dim),
        k.layers.LSTM(config.lstm_units, dropout=config.dropout, recurrent_dropout=config.recurrent_dropout),
        k.layers.Dense(1, activation="sigmoid"),
    ])
    model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"], jit_compile=xla)
    return model


def keras_epoch(config: TrainingConfig, arrays, xla: bool) -> dict:
    k = keras()
    (x_train, y_train), (x_test, y_test) = arrays
    model = keras_model(config, xla)
    marks: dict = {"batches": []}

    class Clock(k.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            marks["batches"].append(time.perf_counter())

        def on_test_begin(self, logs=None):
            marks["val_start"] = time.perf_counter()

        def on_test_end(self, logs=None):
            marks["val_end"] = time.perf_counter()

    started = time.perf_counter()
    history = model.fit(x_train, y_train, batch_size=config.batch_size, epochs=1, validation_data=(x_test, y_test),
                        validation_batch_size=256 if xla else None, callbacks=[Clock()], verbose=0)
    return {"epoch": time.perf_counter() - started, "step": steady_step(marks["batches"]),
            "validation": marks["val_end"] - marks["val_start"], "accuracy": history.history["val_accuracy"][-1]}


def ours_epoch(config: TrainingConfig, data) -> dict:
    marks: dict = {"batches": [], "val": []}

    def progress(p):
        if p.phase == TRAINING:
            marks["batches"].append(time.perf_counter())
        elif p.phase == VALIDATING:
            marks["val"].append(time.perf_counter())

    started = time.perf_counter()
    result = train(config, data, on_progress=progress)
    # Validation runs from the last training batch to the last validation batch.
    return {"epoch": time.perf_counter() - started, "step": steady_step(marks["batches"]),
            "validation": marks["val"][-1] - marks["batches"][-1], "accuracy": result.history["val_accuracy"][-1]}


def summary(values: list[float], scale: float = 1.0, digits: int = 1) -> str:
    v = np.asarray(values) * scale
    return f"{np.median(v):.{digits}f} ({v.min():.{digits}f}-{v.max():.{digits}f})"


def measure(limit: int | None = None, rounds: int = 3, paths: list[str] | None = None) -> dict:
    """{"runs": {path: [{"epoch", "step", "validation", "accuracy"}, ...]}, "train": n, "test": n, "steps": n}."""
    paths = list(paths or PATHS)
    data = load_source(str(ARCHIVE)).limited(limit)
    config = TrainingConfig(epochs=1, validation="test")  # as the tutorial runs it: validation_data=test
    _, train_arrays, test_arrays = prepare_arrays(config, data)
    runs: dict[str, list[dict]] = {name: [] for name in paths}
    for r in range(rounds):
        order = paths[r % len(paths):] + paths[:r % len(paths)]
        for name in order:
            if name.startswith("keras"):
                result = keras_epoch(config, (train_arrays, test_arrays), xla=name == "keras-xla")
            else:
                result = ours_epoch(config.with_changes(fused_lstm=name == "ours"), data)
            runs[name].append(result)
            print(f"round {r + 1} {name}: " + ", ".join(f"{k} {v:.4g}" for k, v in result.items()),
                  file=sys.stderr, flush=True)
    return {"runs": runs, "train": len(train_arrays[0]), "test": len(test_arrays[0]),
            "steps": -(-len(train_arrays[0]) // config.batch_size)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, help="reviews per split (default: all 25,000)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--paths", nargs="+", choices=PATHS, default=list(PATHS))
    args = parser.parse_args()
    measured = measure(args.limit, args.rounds, args.paths)
    runs, steps = measured["runs"], measured["steps"]
    print(f"One epoch of the specified preset: {measured['train']:,} train / {measured['test']:,} test reviews, "
          f"{steps} training steps of 32; {args.rounds} interleaved rounds, median (range); {machine()}.\n")
    print("| path | epoch, s (train + validation, compiling included) | training step, ms | validation, s "
          "| test accuracy |")
    print("| --- | --- | --- | --- | --- |")
    for name, results in runs.items():
        print(f"| {name} | {summary([x['epoch'] for x in results])} | "
              f"{summary([x['step'] for x in results], 1000)} | {summary([x['validation'] for x in results])} | "
              f"{summary([x['accuracy'] for x in results], digits=4)} |")
    base = {name: float(np.median([x["epoch"] for x in results])) for name, results in runs.items()}
    step = {name: float(np.median([x["step"] for x in results])) for name, results in runs.items()}
    if "ours" in runs:
        for peer in ("keras", "keras-xla"):
            if peer in runs:
                print(f"\nours against {peer}: epoch {base[peer] / base['ours']:.2f}x, "
                      f"training step {step[peer] / step['ours']:.2f}x faster")
    return 0


if __name__ == "__main__":
    sys.exit(main())
