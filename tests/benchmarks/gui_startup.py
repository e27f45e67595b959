"""Time from launching ``python -m app`` to the window shown, to the first prediction, and to
TensorFlow ready (median of N launches, offscreen by default).

    python -m tests.benchmarks.gui_startup [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from tests.benchmarks.reproduce_presets import json_from_child


def launch_once(home: Path) -> dict:
    env = {**os.environ, "SENTIMENT_STUDIO_HOME": str(home), "QT_QPA_PLATFORM":
           os.environ.get("QT_QPA_PLATFORM", "offscreen")}
    env["SENTIMENT_STUDIO_STARTUP_PROBE"] = repr(time.time())
    return json_from_child([sys.executable, "-m", "app"], env, "launch", timeout=120)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        launch_once(Path(tmp))  # warm the OS file cache, as a second launch by a user would be
        runs = [launch_once(Path(tmp)) for _ in range(args.runs)]
    print("| from launch to | median (s) | min | max |")
    print("| --- | --- | --- | --- |")
    for key in ("window_shown", "first_prediction", "tensorflow_ready"):
        values = [r[key] for r in runs]
        print(f"| {key.replace('_', ' ')} | {statistics.median(values):.2f} | {min(values):.2f} | {max(values):.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
