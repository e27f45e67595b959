"""Reviews per second of ``beam-predict`` on Beam's DirectRunner beside ``predict --file``, and of the exported
SavedModel called from plain TensorFlow (needs the beam extra: ``pip install -e '.[beam]'``).

    python -m tests.benchmarks.beam_throughput [--rounds 3] [--limit 10000] [--workers 2] [--model NAME]

The shared archive's first ``--limit`` test reviews are written one per line; the built-in model is exported
once with ``export --saved-model`` (not timed; ``--model`` picks another, e.g. "IMDB n-grams (built-in)").
Rounds alternate the order of the paths; each runs in a fresh
process, timed from its start to its exit (imports, loading and writing included):

- ``predict --file``: the app's own scoring (NumPy forward pass, tokenizing in a second process);
- ``beam direct``: ``beam-predict`` on the DirectRunner as it comes (one worker);
- ``beam direct xN``: the same with ``--direct_num_workers N --direct_running_mode multi_processing``;
- ``savedmodel``: a process importing only TensorFlow, calling the SavedModel's signature 256 reviews at a time;
  its rate after loading is printed apart.

Printed: median and range of reviews per second per path, and the largest |probability difference| between
the Beam output and predict --file.
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

import numpy as np

from models.datasets import load_source
from tests.benchmarks.reproduce_presets import ARCHIVE, machine

ROOT = Path(__file__).resolve().parents[2]
BUILTIN = "IMDB LSTM (built-in)"
SAVEDMODEL_CHILD = r"""
import json, sys, time
started = time.perf_counter()
import tensorflow as tf
serve = tf.saved_model.load(sys.argv[1]).signatures["serving_default"]
lines = open(sys.argv[2], encoding="utf-8").read().splitlines()
ready = time.perf_counter()
with open(sys.argv[3], "w", encoding="utf-8") as out:
    for i in range(0, len(lines), 256):
        probs = serve(text=tf.constant(lines[i:i + 256]))["probability"].numpy()
        out.write("".join(json.dumps({"probability": round(float(p), 6)}) + "\n" for p in probs))
print(json.dumps({"ready_s": ready - started, "scoring_s": time.perf_counter() - ready}), file=sys.stderr)
"""


def run(path: str, reviews: Path, model: Path, out: Path, workers: int, name: str) -> dict:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    app = [sys.executable, "-m", "app"]
    if path == "predict --file":
        command = [*app, "predict", "--model", name, "--file", str(reviews), "--output", str(out)]
    elif path.startswith("beam direct"):
        command = [*app, "beam-predict", "--saved-model", str(model), "--input", str(reviews), "--output", str(out)]
        if path != "beam direct":
            command += ["--direct_num_workers", str(workers), "--direct_running_mode", "multi_processing"]
    else:
        command = [sys.executable, "-c", SAVEDMODEL_CHILD, str(model), str(reviews), str(out)]
    started = time.perf_counter()
    proc = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"{path} failed: {proc.stderr[-2000:]}")
    result: dict = {"seconds": seconds}
    if path == "savedmodel":
        result.update(json.loads(proc.stderr.strip().splitlines()[-1]))
    return result


def probabilities(pattern_dir: Path, prefix: str) -> dict[int, float]:
    """line number -> probability, from beam-predict's shards."""
    out = {}
    for shard in pattern_dir.glob(f"{prefix}-[0-9]*-of-*.jsonl"):
        for line in shard.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            out[int(record["source"].rsplit(":", 1)[1])] = record["probability"]
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--limit", type=int, default=10_000, help="test reviews (default 10,000)")
    parser.add_argument("--workers", type=int, default=2, help="DirectRunner workers of 'beam direct xN'")
    parser.add_argument("--model", default=BUILTIN, help=f"the stored model to export and score (default {BUILTIN})")
    args = parser.parse_args()
    texts = load_source(str(ARCHIVE)).test.texts[:args.limit]
    n = len(texts)
    paths = ["predict --file", "beam direct", f"beam direct x{args.workers}", "savedmodel"]
    runs: dict[str, list[dict]] = {p: [] for p in paths}
    with tempfile.TemporaryDirectory(prefix="beam-throughput-") as tmp:
        tmp_dir = Path(tmp)
        reviews = tmp_dir / "reviews.txt"
        reviews.write_text("".join(" ".join(t.split()) + "\n" for t in texts), encoding="utf-8")
        model = tmp_dir / "model"
        subprocess.run([sys.executable, "-m", "app", "export", args.model, str(model), "--saved-model"], cwd=ROOT,
                       check=True, capture_output=True)
        worst = 0.0
        for r in range(args.rounds):
            for path in paths if r % 2 == 0 else paths[::-1]:
                out = tmp_dir / ("out-" + path.replace(" ", "_").replace("-", ""))
                res = run(path, reviews, model, out, args.workers, args.model)
                runs[path].append(res)
                print(f"round {r + 1} {path}: {res}", file=sys.stderr, flush=True)
                if path == "beam direct":
                    beam = probabilities(tmp_dir, out.name)
                    ours = [json.loads(line)["probability"] for line in
                            (tmp_dir / "out-predict_file").read_text(encoding="utf-8").splitlines()] \
                        if (tmp_dir / "out-predict_file").exists() else []
                    if ours:
                        assert len(beam) == n == len(ours)
                        worst = max(worst, max(abs(beam[i + 1] - p) for i, p in enumerate(ours)))
    print(f"{args.model}: {n:,} test reviews, one per line, {args.rounds} interleaved rounds, reviews/s end to end "
          f"(process start to exit), median (range); {machine()}.\n")
    print("| path | reviews/s end to end | seconds (median) |")
    print("| --- | --- | --- |")
    for path in paths:
        rates = np.array([n / x["seconds"] for x in runs[path]])
        print(f"| {path} | {np.median(rates):,.0f} ({rates.min():,.0f}-{rates.max():,.0f}) | "
              f"{np.median([x['seconds'] for x in runs[path]]):.1f} |")
    scoring = np.array([n / x["scoring_s"] for x in runs["savedmodel"]])
    print(f"\nsavedmodel after loading: {np.median(scoring):,.0f} reviews/s "
          f"({scoring.min():,.0f}-{scoring.max():,.0f}); max |p(beam) - p(predict --file)| = {worst:.2e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
