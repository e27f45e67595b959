"""Does the fused LSTM train as well as Keras? 15 epochs of the specified preset, ours against the
tutorial's model with ``jit_compile=True``, over several seeds, on the shared IMDB archive.

    python -m tests.benchmarks.training_accuracy [--seeds 1337 1 2] [--epochs 15] [--limit N]

Both validate on the test split after every epoch, as the tutorial does, so each run gives a best
test accuracy (and its epoch) and a final one. Seeds alternate between the two paths (ours, Keras,
Keras, ours, ...). Printed: every run, then the mean over seeds of each figure and the differences.
Each run prints a JSON line to stderr as it ends, so a long run can be followed.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np

from models.config import TrainingConfig
from models.datasets import load_source
from models.training import prepare_arrays, train
from tests.benchmarks.reproduce_presets import ARCHIVE, machine
from tests.benchmarks.training_speed import keras_model


def keras_run(config: TrainingConfig, arrays) -> list[float]:
    (x_train, y_train), (x_test, y_test) = arrays
    model = keras_model(config, xla=True)
    history = model.fit(x_train, y_train, batch_size=config.batch_size, epochs=config.epochs,
                        validation_data=(x_test, y_test), validation_batch_size=256, verbose=0)
    return [float(v) for v in history.history["val_accuracy"]]


def ours_run(config: TrainingConfig, data) -> list[float]:
    return [float(v) for v in train(config, data).history["val_accuracy"]]


SEEDS = (1337, 1, 2)


def measure(seeds=SEEDS, epochs: int = 15, limit: int | None = None) -> dict[str, list[dict]]:
    """{"ours" | "keras-xla": [{"seed", "best", "best_epoch", "final", "seconds", "curve"}, ...]}."""
    data = load_source(str(ARCHIVE)).limited(limit)
    base = TrainingConfig(epochs=epochs, validation="test")
    runs: dict[str, list[dict]] = {"ours": [], "keras-xla": []}
    for i, seed in enumerate(seeds):
        config = base.with_changes(seed=seed)
        _, train_arrays, test_arrays = prepare_arrays(config, data)
        for name in (("ours", "keras-xla") if i % 2 == 0 else ("keras-xla", "ours")):
            started = time.perf_counter()
            curve = ours_run(config, data) if name == "ours" else keras_run(config, (train_arrays, test_arrays))
            run = {"path": name, "seed": seed, "best": max(curve), "best_epoch": int(np.argmax(curve)) + 1,
                   "final": curve[-1], "seconds": round(time.perf_counter() - started, 1), "curve": curve}
            runs[name].append(run)
            print(json.dumps(run), file=sys.stderr, flush=True)
    return runs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS))
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--limit", type=int, help="reviews per split (default: all 25,000)")
    args = parser.parse_args()
    runs = measure(args.seeds, args.epochs, args.limit)
    print(f"{args.epochs} epochs of the specified preset, validated on the test split after each, seeds "
          f"{', '.join(map(str, args.seeds))}; {machine()}.\n")
    print("| path | seed | best test accuracy (epoch) | final | seconds |")
    print("| --- | --- | --- | --- | --- |")
    for name, rs in runs.items():
        for r in rs:
            print(f"| {name} | {r['seed']} | {r['best']:.4f} ({r['best_epoch']}) | {r['final']:.4f} "
                  f"| {r['seconds']:.0f} |")
    mean = {name: {key: float(np.mean([r[key] for r in rs])) for key in ("best", "final", "seconds")}
            for name, rs in runs.items()}
    for name, m in mean.items():
        print(f"| {name} | mean | {m['best']:.4f} | {m['final']:.4f} | {m['seconds']:.0f} |")
    print(f"\nours - keras-xla, means: best {100 * (mean['ours']['best'] - mean['keras-xla']['best']):+.2f} points, "
          f"final {100 * (mean['ours']['final'] - mean['keras-xla']['final']):+.2f} points; time "
          f"{mean['keras-xla']['seconds'] / mean['ours']['seconds']:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
