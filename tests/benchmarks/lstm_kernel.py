"""The LSTM layer alone, forward and backward, batch 32: ``models.fast_lstm`` against
``keras.layers.LSTM``, both compiled with XLA, in interleaved rounds.

    python -m tests.benchmarks.lstm_kernel [--rounds 8] [--steps 30]

The specified preset's layer (80 steps of 128 features, 128 units, dropout and recurrent dropout
0.2, training mode): each path is one ``tf.function(jit_compile=True)`` returning the gradients of
a loss on the last state with respect to the input and the three weights. Rounds alternate the
order (ours first, then Keras first, ...); printed: the median and range of milliseconds per
forward + backward pass. This is the part of a training step that the fused layer replaces; the
rest (embedding, Adam's update of the 20,000 x 128 embedding, the dense layer) is the same for both.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from tests.benchmarks.reproduce_presets import machine

BATCH, STEPS, FEATURES, UNITS, DROPOUT = 32, 80, 128, 128, 0.2


def measure(rounds: int = 8, steps: int = 30) -> dict[str, list[float]]:
    """{"ours" | "keras": [ms per forward + backward, one per round]}."""
    import tensorflow as tf

    from models.fast_lstm import fast_lstm_layer
    from models.keras_runtime import keras

    k = keras()
    rng = np.random.default_rng(0)
    x = tf.constant(rng.standard_normal((BATCH, STEPS, FEATURES)).astype(np.float32))
    layers = {"ours": fast_lstm_layer(UNITS, DROPOUT, DROPOUT),
              "keras": k.layers.LSTM(UNITS, dropout=DROPOUT, recurrent_dropout=DROPOUT)}
    functions = {}
    for name, layer in layers.items():
        layer.build(x.shape)

        def make(layer):
            @tf.function(jit_compile=True)
            def forward_backward(x):
                with tf.GradientTape() as tape:
                    tape.watch(x)
                    loss = tf.reduce_sum(tf.square(layer(x, training=True)))
                return tape.gradient(loss, [x, *layer.trainable_variables])
            return forward_backward

        functions[name] = make(layer)
        functions[name](x)  # trace and compile
    times: dict[str, list[float]] = {name: [] for name in functions}
    for r in range(rounds):
        for name in (list(functions) if r % 2 == 0 else list(reversed(functions))):
            started = time.perf_counter()
            for _ in range(steps):
                grads = functions[name](x)
            grads[0].numpy()
            times[name].append((time.perf_counter() - started) / steps * 1e3)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--steps", type=int, default=30, help="passes per round and path")
    args = parser.parse_args()
    times = measure(args.rounds, args.steps)
    print(f"LSTM layer forward + backward, batch {BATCH}, {STEPS} steps, XLA; {args.rounds} interleaved rounds "
          f"of {args.steps}, median (range); {machine()}.\n")
    for name, ms in times.items():
        print(f"{name:6s} {np.median(ms):6.2f} ms ({min(ms):.2f}-{max(ms):.2f})")
    print(f"\nours against keras.layers.LSTM: {np.median(times['keras']) / np.median(times['ours']):.2f}x faster")
    return 0


if __name__ == "__main__":
    sys.exit(main())
