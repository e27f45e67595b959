"""``predict --file`` of one model from two checkouts of the project (before and after a change), interleaved.

    python -m tests.benchmarks.predict_file_checkouts --before DIR --after DIR [--model NAME] [--rounds 6]
        [--limit N] [--repeat K]

Each checkout runs with its own ``.venv`` (DIR/.venv/bin/python -m app, from DIR) on the shared archive's test
reviews, one per line, in a fresh data directory; rounds alternate the order (before, after, after, before...).
Printed: reviews per second end to end (process start to exit), median and range, and whether the two wrote
the same output.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.benchmarks.reproduce_presets import ARCHIVE, machine, spread


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, required=True)
    parser.add_argument("--after", type=Path, required=True)
    parser.add_argument("--model", default="IMDB n-grams (built-in)")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--limit", type=int, default=25_000)
    parser.add_argument("--repeat", type=int, default=1,
                        help="the reviews this many times over (a longer file: start-up counts for less)")
    args = parser.parse_args()
    from models.datasets import load_source

    texts = load_source(str(ARCHIVE)).test.texts[:args.limit] * max(1, args.repeat)
    rates: dict[str, list[float]] = {"before": [], "after": []}
    with tempfile.TemporaryDirectory(prefix="predict-checkouts-") as tmp:
        tmp_dir = Path(tmp)
        reviews = tmp_dir / "reviews.txt"
        reviews.write_text("".join(" ".join(t.split()) + "\n" for t in texts), encoding="utf-8")
        env = {**os.environ, "SENTIMENT_STUDIO_HOME": str(tmp_dir / "home"), "TF_CPP_MIN_LOG_LEVEL": "3"}
        env.pop("PYTHONPATH", None)
        for r in range(args.rounds):
            for which in ("before", "after") if r % 2 == 0 else ("after", "before"):
                root = getattr(args, which).resolve()
                started = time.perf_counter()
                proc = subprocess.run([str(root / ".venv" / "bin" / "python"), "-m", "app", "predict", "--model",
                                       args.model, "--file", str(reviews), "--output", str(tmp_dir / f"{which}.jsonl")],
                                      cwd=root, env=env, capture_output=True, text=True)
                if proc.returncode != 0:
                    raise SystemExit(f"{which} failed: {proc.stderr[-2000:]}")
                rates[which].append(len(texts) / (time.perf_counter() - started))
                print(f"round {r + 1} {which}: {rates[which][-1]:,.0f}/s", file=sys.stderr, flush=True)
        same = (tmp_dir / "before.jsonl").read_bytes() == (tmp_dir / "after.jsonl").read_bytes()
    print(f"{args.model}, {len(texts):,} reviews, {args.rounds} interleaved rounds; {machine()}")
    for which, values in rates.items():
        print(f"{which} ({getattr(args, which)}): {spread(values, ',.0f')} reviews/s")
    print(f"after / before (medians): {statistics.median(rates['after']) / statistics.median(rates['before']):.2f}; "
          f"same output: {same}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
