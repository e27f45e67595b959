"""``predict --file`` on a long file: time to the first score, total time and peak memory.

    python -m tests.benchmarks.predict_stream [--lines 1000000] [--model NAME]

Writes a file of ``--lines`` short reviews (tests/conftest.py's generator) to a temporary
folder, runs the CLI on it in a child process with stdout to a pipe, and reports when the
first JSON line arrived, when the last did, and the child's peak resident memory (VmHWM,
read by the child itself just before it exits) and, sampled every 20 ms, the peak of its resident
memory together with its own children's (the tokenizing process of models.encoding_worker). The
default model is the built-in one.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from tests.conftest import reviews

ROOT = Path(__file__).resolve().parents[2]
CHILD = """
import re, sys
from app.cli import main
rc = main(sys.argv[1:])
peak = re.search(r"VmHWM:\\s+(\\d+) kB", open("/proc/self/status").read()).group(1)
print(f"peak_kb={peak}", file=sys.stderr)
sys.exit(rc)
"""


def tree_rss_kb(pid: int) -> int:
    """Resident memory of a process and its descendants (Linux /proc), 0 for what has already ended."""
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            total += int(status.split("VmRSS:")[1].split()[0]) if "VmRSS:" in status else 0
            for task in Path(f"/proc/{current}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, ValueError, IndexError):
            continue
    return total


class PeakSampler(threading.Thread):
    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid, self.peak_kb, self.done = pid, 0, threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.02):
            self.peak_kb = max(self.peak_kb, tree_rss_kb(self.pid))


def measure(lines: int, model: str | None = None) -> dict:
    """One run on a file of ``lines`` reviews: lines, scored, exit, first_line_s, total_s, reviews_per_s, peak_mb."""
    with tempfile.TemporaryDirectory(prefix="predict-stream-") as tmp:
        path = Path(tmp) / "reviews.txt"
        sample = [text.replace("<br />", " ") for text, _ in reviews(1000)]
        with open(path, "w", encoding="utf-8") as f:
            for i in range(lines):
                f.write(sample[i % len(sample)] + "\n")
        command = [sys.executable, "-c", CHILD, "predict", "--file", str(path)]
        if model:
            command += ["--model", model]
        env = {**os.environ, "OPENBLAS_NUM_THREADS": os.environ.get("OPENBLAS_NUM_THREADS", "1")}
        started = time.perf_counter()
        with subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) as proc:
            sampler = PeakSampler(proc.pid)
            sampler.start()
            first = proc.stdout.readline()
            first_at = time.perf_counter() - started
            count = 1 if first else 0
            for _ in proc.stdout:
                count += 1
            stderr = proc.stderr.read()
            rc = proc.wait()
            sampler.done.set()
        total = time.perf_counter() - started
    peak_kb = next((int(part.split("=")[1]) for part in stderr.split() if part.startswith("peak_kb=")), None)
    return {"lines": lines, "scored": count, "exit": rc, "first_line_s": round(first_at, 3),
            "total_s": round(total, 1), "reviews_per_s": round(count / total), "peak_mb":
            round(peak_kb / 1024) if peak_kb else None, "peak_mb_with_children": round(sampler.peak_kb / 1024)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--model", help="stored model name (default: the newest, else the built-in one)")
    args = parser.parse_args()
    result = measure(args.lines, args.model)
    print(json.dumps(result))
    return 0 if result["exit"] == 0 and result["scored"] == args.lines else 1


if __name__ == "__main__":
    raise SystemExit(main())
