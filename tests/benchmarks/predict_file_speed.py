"""``predict --file`` on the 25,000 test reviews, end to end, against Keras at its strongest, on a quiet
machine and while another process keeps one core busy.

    python -m tests.benchmarks.predict_file_speed [--rounds 3] [--limit N] [--no-busy]

The shared archive's test reviews are written one per line to a temporary file. Each path runs in
a fresh process with stdout to a file, and is timed from its start to its exit:

- ``ours``: ``python -m app predict --file REVIEWS`` (the built-in model): reading, tokenizing,
  scoring and one JSON line per review.
- ``keras-xla``: the same work as a user would write it with Keras: our tokenizer and vocabulary,
  the built-in model's ``model.keras`` loaded by Keras, ``jit_compile=True``, ``predict`` at batch
  512, the same JSON lines. Its time to the first score (TensorFlow's import, loading, the first
  compilation) is reported apart, and its rate is also given from then on.

Rounds alternate the order (ours first, then Keras first, ...). "busy": a child process spinning
on one core for the whole round. Printed: median and range of reviews per second per path.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from models.datasets import load_source
from tests.benchmarks.reproduce_presets import ARCHIVE, machine

ROOT = Path(__file__).resolve().parents[2]
KERAS_CHILD = r"""
import json, sys, time
started = time.perf_counter()
from models.keras_runtime import keras
from models.paths import builtin_model_dirs
from models.store import ModelStore
from models.vocabulary import Vocabulary
k = keras()
info = ModelStore(builtin=builtin_model_dirs()).newest()
vocab = Vocabulary.load(info.path / "vocabulary.json")
model = k.saving.load_model(info.path / "model.keras", compile=False)
model.compile(jit_compile=True)
texts = [line.rstrip("\n") for line in open(sys.argv[1], encoding="utf-8") if line.strip()]
model.predict(vocab.encode_batch(texts[:512], 80), batch_size=512, verbose=0)  # compile once
ready = time.perf_counter()
out = open(sys.argv[2], "w", encoding="utf-8")
for i in range(0, len(texts), 4096):
    part = texts[i:i + 4096]
    probs = model.predict(vocab.encode_batch(part, 80), batch_size=512, verbose=0).reshape(-1)
    out.write("".join(json.dumps({"probability": round(float(p), 6)}) + "\n" for p in probs))
out.close()
print(json.dumps({"ready_s": ready - started, "scoring_s": time.perf_counter() - ready}), file=sys.stderr)
"""


@contextlib.contextmanager
def busy_core(on: bool):
    """A child process spinning on one core while the block runs (nothing when ``on`` is false)."""
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if on else None
    try:
        yield
    finally:
        if spinner is not None:
            spinner.kill()
            spinner.wait()


def run(path: str, reviews: Path, out: Path) -> dict:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    command = [sys.executable, "-m", "app", "predict", "--file", str(reviews)] if path == "ours" else \
        [sys.executable, "-c", KERAS_CHILD, str(reviews), str(out)]
    started = time.perf_counter()
    with open(out if path == "ours" else os.devnull, "w") as stdout:
        proc = subprocess.run(command, cwd=ROOT, env=env, stdout=stdout, stderr=subprocess.PIPE, text=True)
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"{path} failed: {proc.stderr[-2000:]}")
    with open(out, encoding="utf-8") as f:
        lines = sum(1 for _ in f)
    result = {"seconds": seconds, "lines": lines}
    if path != "ours":
        result.update(json.loads(proc.stderr.strip().splitlines()[-1]))
    return result


def measure(rounds: int = 3, limit: int | None = None, busy: bool = True) -> dict:
    """{"quiet" | "busy": {"ours" | "keras-xla": [run, ...]}, "reviews": n}."""
    texts = load_source(str(ARCHIVE)).limited(limit).test.texts
    results: dict = {"reviews": len(texts)}
    with tempfile.TemporaryDirectory(prefix="predict-file-") as tmp:
        reviews = Path(tmp) / "reviews.txt"
        reviews.write_text("".join(" ".join(t.split()) + "\n" for t in texts), encoding="utf-8")
        for load in ("quiet", "busy") if busy else ("quiet",):
            results[load] = {"ours": [], "keras-xla": []}
            for r in range(rounds):
                for path in ("ours", "keras-xla") if r % 2 == 0 else ("keras-xla", "ours"):
                    with busy_core(load == "busy"):
                        res = run(path, reviews, Path(tmp) / f"{path}.jsonl")
                    assert res["lines"] == len(texts), res
                    results[load][path].append(res)
                    print(f"{load} round {r + 1} {path}: {res}", file=sys.stderr, flush=True)
    return results


def rate_summary(n: int, runs: list[dict], key: str = "seconds") -> str:
    rates = np.array([n / r[key] for r in runs])
    return f"{np.median(rates):,.0f}/s ({rates.min():,.0f}-{rates.max():,.0f})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--limit", type=int, help="test reviews (default: all 25,000)")
    parser.add_argument("--no-busy", action="store_true", help="skip the rounds with one core kept busy")
    args = parser.parse_args()
    results = measure(args.rounds, args.limit, not args.no_busy)
    n = results["reviews"]
    print(f"predict --file on {n:,} test reviews, {args.rounds} interleaved rounds, median (range); {machine()}.\n")
    print("| machine | ours, end to end | Keras + XLA, end to end | Keras + XLA after its import and compile "
          "| Keras' time to its first score |")
    print("| --- | --- | --- | --- | --- |")
    for load in ("quiet", "busy"):
        if load in results:
            ours, peer = results[load]["ours"], results[load]["keras-xla"]
            ready = np.median([r["ready_s"] for r in peer])
            print(f"| {load} | {rate_summary(n, ours)} | {rate_summary(n, peer)} | "
                  f"{rate_summary(n, peer, 'scoring_s')} | {ready:.1f} s |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
