"""The n-gram family's goals, side by side in one run, on the shared archive.

    python -m tests.benchmarks.ngram_family [--rounds 3] [--limit N] [--skip-lstm] [--model NAME_OR_FOLDER]

1. Training: ``train --preset ngram`` (the whole run, from reading the archive to the saved
   model) beside ``train --preset imdb-lstm --epochs 2`` (the goal: no slower than two epochs of
   the specified LSTM), each as the CLI runs it, in a fresh process, timed from start to exit;
   test accuracy from each run's JSON.
2. ``predict --file`` on the 25,000 test reviews (one per line), the n-gram model against the
   built-in LSTM, ``--rounds`` interleaved rounds (A, B, B, A, ...): reviews per second, end to end.
3. One review: ``Predictor.predict`` on a 230-word review with the NumPy engine, median of 300 calls.

Goals (issue 25): test accuracy >= 0.90; training no slower than two LSTM epochs; predict --file
>= 20,000 reviews/s; one review <= 0.3 ms. Printed: median and range per figure.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from models.datasets import load_source
from tests.benchmarks.reproduce_presets import ARCHIVE, machine, spread

ROOT = Path(__file__).resolve().parents[2]


def cli(args: list[str], home: Path, stdout_path: Path | None = None) -> tuple[float, str]:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "SENTIMENT_STUDIO_HOME": str(home)}
    started = time.perf_counter()
    with open(stdout_path, "w") if stdout_path else tempfile.TemporaryFile("w+") as out:
        proc = subprocess.run([sys.executable, "-m", "app", *args], cwd=ROOT, env=env, stdout=out,
                              stderr=subprocess.PIPE, text=True)
        seconds = time.perf_counter() - started
        if proc.returncode != 0:
            raise SystemExit(f"{args[0]} failed: {proc.stderr[-2000:]}")
        if stdout_path is None:
            out.seek(0)
            return seconds, out.read()
    return seconds, ""


def train_side_by_side(data: str, home: Path, limit: int | None, skip_lstm: bool) -> dict:
    extra = ["--limit", str(limit)] if limit else []
    out = {}
    runs = [("ngram", ["--preset", "ngram", "--name", "ngram-bench"])]
    if not skip_lstm:
        runs.append(("lstm-2-epochs", ["--preset", "imdb-lstm", "--epochs", "2", "--name", "lstm-bench"]))
    for name, args in runs:
        seconds, stdout = cli(["train", "--data", data, *args, *extra], home)
        summary = json.loads(stdout.strip().splitlines()[-1])
        out[name] = {"seconds": seconds, "test_accuracy": summary["test_accuracy"],
                     "best_epoch": summary["best_epoch"], "epochs": summary["epochs_completed"]}
        print(f"train {name}: {out[name]}", file=sys.stderr, flush=True)
    return out


def predict_file(home: Path, texts: list[str], model: str, rounds: int) -> dict:
    results: dict[str, list[float]] = {model: [], "builtin-lstm": []}
    with tempfile.TemporaryDirectory(prefix="ngram-bench-") as tmp:
        reviews = Path(tmp) / "reviews.txt"
        reviews.write_text("".join(" ".join(t.split()) + "\n" for t in texts), encoding="utf-8")
        for r in range(rounds):
            order = (model, "builtin-lstm") if r % 2 == 0 else ("builtin-lstm", model)
            for which in order:
                ref = "IMDB LSTM (built-in)" if which == "builtin-lstm" else which
                seconds, _ = cli(["predict", "--model", ref, "--file", str(reviews)], home, Path(tmp) / "out.jsonl")
                lines = len((Path(tmp) / "out.jsonl").read_text(encoding="utf-8").splitlines())
                assert lines == len(texts), (lines, len(texts))
                results[which].append(len(texts) / seconds)
                print(f"predict --file round {r + 1} {which}: {len(texts) / seconds:,.0f}/s", file=sys.stderr,
                      flush=True)
    return results


def one_review(home: Path, model: str, text: str, calls: int = 300) -> list[float]:
    os.environ["SENTIMENT_STUDIO_HOME"] = str(home)
    from models.paths import builtin_model_dirs
    from models.prediction import Predictor
    from models.store import ModelStore

    predictor = Predictor.from_store(ModelStore(builtin=builtin_model_dirs()), model)
    assert predictor.engine == "numpy"
    predictor.predict(text)
    times = []
    for _ in range(calls):
        started = time.perf_counter()
        predictor.predict(text)
        times.append((time.perf_counter() - started) * 1000)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--limit", type=int, help="reviews per split (default: all)")
    parser.add_argument("--skip-lstm", action="store_true", help="do not train the LSTM for two epochs")
    parser.add_argument("--model", help="score with this n-gram model (name or folder) instead of training one")
    args = parser.parse_args()
    data = load_source(str(ARCHIVE)).limited(args.limit)
    texts = data.test.texts
    with tempfile.TemporaryDirectory(prefix="ngram-bench-home-") as home_dir:
        home = Path(home_dir)
        trained = {} if args.model else train_side_by_side(str(ARCHIVE), home, args.limit, args.skip_lstm)
        model = args.model or "ngram-bench"
        rates = predict_file(home, texts, model, args.rounds)
        typical = min(texts, key=lambda t: abs(len(t.split()) - 230))
        latency = one_review(home, model, typical)
    print(f"\nn-gram family on the shared archive ({len(data.train):,} train / {len(texts):,} test reviews); "
          f"{machine()}.\n")
    if trained:
        print("| run | whole run (s) | test accuracy | epochs (best) |")
        print("| --- | --- | --- | --- |")
        for name, t in trained.items():
            print(f"| {name} | {t['seconds']:.0f} | {t['test_accuracy']:.4f} | {t['epochs']} ({t['best_epoch']}) |")
    print(f"\npredict --file, reviews/s, median (range) of {args.rounds} interleaved rounds: "
          + "; ".join(f"{k} {spread(v, ',.4g')}" for k, v in rates.items()))
    print(f"one 230-word review, NumPy engine: {spread(latency, ',.4g')} ms (median (range) of {len(latency)} calls)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
