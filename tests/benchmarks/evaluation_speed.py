"""Evaluation speed: the built-in model on the 25,000 test reviews of the shared archive, ours against
plain Keras, in interleaved rounds, and how long a move of the Evaluate tab's threshold takes.

    python -m tests.benchmarks.evaluation_speed [--rounds 3] [--reviews 25000]

Ours: ``models.evaluation.evaluate`` (tokenize, NumPy forward pass, in chunks with progress) and
every figure the tab shows (metrics, ROC, precision-recall, calibration, accuracy by length).
The peer: the same tokenizing, then Keras ``model.predict`` at batch 512 with XLA
(``jit_compile=True``, its strongest setting here), and the same figures. Each round runs A then B;
the median and the range over the rounds are printed. The archive is read once, before the rounds
(the goal counts from there). The threshold move is the tab's own update (figures, confusion
matrix, curves' markers, the length table and the reviews table) on the real widget, offscreen.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np

from models import evaluation as ev
from models.datasets import load_source
from models.encoding import encode_split_with_lengths
from models.paths import builtin_model_dirs
from models.prediction import Predictor
from models.store import ModelStore
from tests.benchmarks.reproduce_presets import ARCHIVE, machine


def figures(e: ev.Evaluation) -> ev.Metrics:
    """Everything the tab computes from one pass."""
    m = ev.metrics(e.labels, e.probabilities)
    ev.roc_curve(e.labels, e.probabilities)
    ev.precision_recall_curve(e.labels, e.probabilities)
    ev.calibration(e.labels, e.probabilities)
    ev.accuracy_by_length(e)
    return m


def summary(times: list[float]) -> str:
    return f"{statistics.median(times):.2f} s (range {min(times):.2f}-{max(times):.2f})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--reviews", type=int, default=25_000)
    parser.add_argument("--moves", type=int, default=40, help="threshold moves to time")
    args = parser.parse_args()

    store = ModelStore(builtin=builtin_model_dirs())
    started = time.perf_counter()
    data = load_source(str(ARCHIVE))
    read_seconds = time.perf_counter() - started
    if args.reviews < len(data.test):
        data = data.limited(args.reviews)
    ours = Predictor.from_store(store)
    keras_model = store.load().model
    keras_model.compile(jit_compile=True)  # predict() compiles with XLA
    print(f"Built-in model, {len(data.test):,} test reviews, {machine()}. Archive read in {read_seconds:.1f} s.\n")

    def run_ours() -> ev.Metrics:
        return figures(ev.evaluate(ours, data, on_progress=lambda done, total: None))

    def run_keras() -> ev.Metrics:
        ids, lengths = encode_split_with_lengths(data.test, ours.vocabulary, ours.maxlen)
        probabilities = keras_model.predict(ids, batch_size=512, verbose=0).reshape(-1).astype(np.float64)
        e = ev.Evaluation("keras", data.source, ours.maxlen, data.test.texts, probabilities, data.test.labels,
                          lengths, lengths + 1 > ours.maxlen)
        return figures(e)

    run_keras()  # compile and warm up outside the timed rounds
    times: dict[str, list[float]] = {"ours": [], "keras": []}
    results = {}
    for _ in range(args.rounds):
        for name, fn in (("ours", run_ours), ("keras", run_keras)):
            t = time.perf_counter()
            results[name] = fn()
            times[name].append(time.perf_counter() - t)

    a, b = results["ours"], results["keras"]
    print("| path | evaluate 25,000 reviews, all figures (median, range) | accuracy | ROC AUC | log loss |")
    print("| --- | --- | --- | --- | --- |")
    print(f"| ours (`models.evaluation`, NumPy engine) | {summary(times['ours'])} | {a.accuracy:.4f} | "
          f"{a.roc_auc:.4f} | {a.log_loss:.4f} |")
    print(f"| plain Keras `predict(batch_size=512)`, XLA | {summary(times['keras'])} | {b.accuracy:.4f} | "
          f"{b.roc_auc:.4f} | {b.log_loss:.4f} |")

    # The threshold slider, on the real tab with this evaluation in it.
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    from app.background import BackgroundTasks
    from app.evaluate_tab import EvaluateTab

    app = QApplication.instance() or QApplication([])
    tab = EvaluateTab(store, BackgroundTasks())
    tab.resize(1400, 900)
    tab.show()
    evaluation = ev.evaluate(ours, data)
    tab.evaluations, tab._predictors = [evaluation], [ours]
    tab._aucs = [ev.roc_auc_score(evaluation.labels, evaluation.probabilities)]
    tab.plots.show_evaluations(tab.evaluations, tab._aucs)
    moves = []
    for k in range(args.moves):
        value = 300 + (k * 37) % 400  # thresholds 0.300-0.699
        t = time.perf_counter()
        tab.threshold_slider.setValue(value)
        app.processEvents()  # the repaint the move causes
        moves.append(1000 * (time.perf_counter() - t))
    print(f"\nThreshold move (figures, matrix, markers, length table, reviews table; {args.moves} moves): "
          f"median {statistics.median(moves):.1f} ms, range {min(moves):.1f}-{max(moves):.1f} ms")
    tab.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
