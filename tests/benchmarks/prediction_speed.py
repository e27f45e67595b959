"""Scoring speed with the built-in model: one review (warm) and reviews per second in batch,
our Predictor (NumPy forward pass) vs plain Keras ``model.predict``, side by side in one run.

    python -m tests.benchmarks.prediction_speed [--reviews 5000]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import numpy as np

from models.datasets import load_source
from models.paths import builtin_model_dirs
from models.prediction import Predictor
from models.store import ModelStore
from tests.benchmarks.reproduce_presets import ARCHIVE, machine


def median_ms(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return 1000 * statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reviews", type=int, default=5000)
    args = parser.parse_args()
    store = ModelStore(builtin=builtin_model_dirs())
    ours = Predictor.from_store(store)
    keras_model = store.load().model
    texts = load_source(str(ARCHIVE)).test.texts[: args.reviews]
    one = texts[0]
    ids_one = ours.vocabulary.encode(one, ours.maxlen).ids[None, :]
    ids_all = ours.vocabulary.encode_batch(texts, ours.maxlen)

    ours.predict(one)
    keras_model.predict(ids_one, verbose=0)
    single = {
        "ours (encode + NumPy forward)": median_ms(lambda: ours.predict(one), 200),
        "plain Keras model.predict (ids only)": median_ms(lambda: keras_model.predict(ids_one, verbose=0), 50),
    }
    batch = {}
    started = time.perf_counter()
    ours.predict_many(texts)
    batch["ours (encode + NumPy forward)"] = len(texts) / (time.perf_counter() - started)
    started = time.perf_counter()
    keras_model.predict(ids_all, verbose=0)
    batch["plain Keras model.predict (ids only)"] = len(texts) / (time.perf_counter() - started)
    agree = np.max(np.abs(ours.probabilities(ids_all[:500]) - keras_model.predict(ids_all[:500], verbose=0).ravel()))

    print(f"Built-in model, {machine()}.\n")
    print("| path | one review, warm (median ms) | reviews per second in batch |")
    print("| --- | --- | --- |")
    for name in single:
        print(f"| {name} | {single[name]:.2f} | {batch[name]:,.0f} |")
    print(f"\nLargest probability difference on 500 reviews: {agree:.1e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
