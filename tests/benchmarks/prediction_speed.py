"""Scoring speed with the built-in model: one review (warm) and reviews per second in batch, our
Predictor (NumPy forward pass) against plain Keras by default and at its strongest, in one run.

    python -m tests.benchmarks.prediction_speed [--reviews 5000] [--rounds 5]

Every path includes tokenizing (our tokenizer and vocabulary: Keras has none for raw text).

- one review: ``Predictor.predict(text)``; Keras ``model.predict`` (its default); Keras' model called
  in a ``tf.function`` traced once with ``jit_compile=True`` (its strongest for one review).
- batch: ``Predictor.predict_many(texts)``; ``model.predict`` at its default batch of 32; and at
  batch 512 with ``jit_compile=True``.

Rounds run every path once each (one review: the median of 200 calls, 50 for ``model.predict``),
so drift in machine load hits all; printed: median and range over rounds.
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
from tests.benchmarks.reproduce_presets import ARCHIVE, machine, spread


def median_ms(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return 1000 * statistics.median(times)


def measure(reviews: int = 5000, rounds: int = 5) -> dict:
    import tensorflow as tf

    store = ModelStore(builtin=builtin_model_dirs())
    ours = Predictor.from_store(store)
    keras_default = store.load().model
    keras_xla = store.load().model
    keras_xla.compile(jit_compile=True)
    vocab, maxlen = ours.vocabulary, ours.maxlen
    texts = load_source(str(ARCHIVE)).test.texts[:reviews]
    one = texts[0]
    traced = tf.function(lambda ids: keras_xla(ids, training=False), jit_compile=True)

    single = {
        "ours": lambda: ours.predict(one),
        "keras predict": lambda: keras_default.predict(vocab.encode(one, maxlen).ids[None, :], verbose=0),
        "keras traced + XLA": lambda: traced(vocab.encode(one, maxlen).ids[None, :]).numpy(),
    }
    batch = {
        "ours": lambda: ours.predict_many(texts),
        "keras predict": lambda: keras_default.predict(vocab.encode_batch(texts, maxlen), verbose=0),
        "keras predict 512 + XLA": lambda: keras_xla.predict(vocab.encode_batch(texts, maxlen), batch_size=512,
                                                             verbose=0),
    }
    for fn in (*single.values(), *batch.values()):
        fn()  # warm: traced, compiled, cached
    one_ms: dict[str, list[float]] = {name: [] for name in single}
    per_s: dict[str, list[float]] = {name: [] for name in batch}
    for _ in range(rounds):
        for name, fn in single.items():
            one_ms[name].append(median_ms(fn, 50 if name == "keras predict" else 200))
        for name, fn in batch.items():
            started = time.perf_counter()
            fn()
            per_s[name].append(len(texts) / (time.perf_counter() - started))
    ids = vocab.encode_batch(texts[:500], maxlen)
    agree = float(np.max(np.abs(ours.probabilities(ids) - keras_default.predict(ids, verbose=0).ravel())))
    return {"one_review_ms": one_ms, "reviews_per_s": per_s, "reviews": len(texts), "max_difference": agree}



def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reviews", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    r = measure(args.reviews, args.rounds)
    print(f"Built-in model, {args.rounds} interleaved rounds, median (range); {machine()}.\n")
    print("| one review, warm, tokenizing included | ms |")
    print("| --- | --- |")
    for name, values in r["one_review_ms"].items():
        print(f"| {name} | {spread(values, '.2f')} |")
    print(f"\n| {r['reviews']:,} reviews, tokenizing included | reviews per second |")
    print("| --- | --- |")
    for name, values in r["reviews_per_s"].items():
        print(f"| {name} | {spread(values, ',.0f')} |")
    print(f"\nLargest probability difference, ours against Keras, on 500 reviews: {r['max_difference']:.1e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
