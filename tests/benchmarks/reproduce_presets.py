"""Train each preset on the shared IMDB archive with the project's CLI and tabulate the results
next to what the source tutorials reported.

    python -m tests.benchmarks.reproduce_presets                       # every preset (hours on 2 cores)
    python -m tests.benchmarks.reproduce_presets --presets imdb-lstm   # one preset
    python -m tests.benchmarks.reproduce_presets --reuse PATH ...      # add a finished run's model folder

Writes a Markdown table to stdout (and --out), with the machine it ran on. "Test accuracy"
is on the 25,000-review test split; for presets that validate on the test split it is the
validation accuracy of each epoch, as the tutorials report it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from models.config import PRESETS

ROOT = Path(__file__).resolve().parents[2]
ARCHIVE = ROOT.parent / "shared" / "data" / "aclImdb_v1_labeled.tar.gz"


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}"


def spread(values, fmt: str = ".0f") -> str:
    """The median of ``values`` and their range, each as ``fmt`` formats it: "12,345 (11,020-13,002)"."""
    values = list(values)
    return f"{format(statistics.median(values), fmt)} ({format(min(values), fmt)}-{format(max(values), fmt)})"


def json_from_child(cmd: list[str], env: dict, what: str, timeout: float) -> dict:
    """Run a benchmark's child process from the repository root; the last JSON object it printed."""
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise SystemExit(f"{what} failed ({proc.returncode}): {proc.stderr[-3000:]}")
    return json.loads(lines[-1])


def train_preset(name: str, archive: Path, home: Path, epochs: int | None, limit: int | None) -> Path:
    args = [sys.executable, "-m", "app", "train", "--data", str(archive), "--preset", name, "--name", name,
            "--validation", PRESETS[name].tutorial_validation]  # as the tutorial chose its figure
    if epochs:
        args += ["--epochs", str(epochs)]
    if limit:
        args += ["--limit", str(limit)]
    env = {**os.environ, "SENTIMENT_STUDIO_HOME": str(home), "PYTHONUNBUFFERED": "1"}
    print(f"$ {' '.join(args[1:])}", file=sys.stderr, flush=True)
    proc = subprocess.run(args, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"training {name} failed (exit {proc.returncode})")
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    return home / "models" / summary["id"]


def row(folder: Path) -> dict:
    meta = json.loads((folder / "metadata.json").read_text())
    preset = meta.get("preset") or "?"
    history, results = meta["history"], meta["results"]
    val_on_test = meta["config"]["validation"] == "test"
    return {
        "preset": preset,
        "epochs": len(history["loss"]),
        "best_epoch": results["best_epoch"],
        "best_test_accuracy": results["test_accuracy"],
        "final_test_accuracy": history["val_accuracy"][-1] if val_on_test else None,
        "final_test_loss": history["val_loss"][-1] if val_on_test else None,
        "seconds_per_epoch": results["seconds_per_epoch"],
        "reported": PRESETS[preset].reference if preset in PRESETS else "",
        "history": history["val_accuracy"],
    }


def table(rows: list[dict]) -> str:
    def f(x, spec=".4f"):
        return "—" if x is None else format(x, spec)

    lines = [
        "| preset | epochs | best epoch | test acc. at best | final-epoch test acc. (loss) | s/epoch "
        "| tutorial reported |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        final = f"{f(r['final_test_accuracy'])} ({f(r['final_test_loss'], '.3f')})" if r["final_test_accuracy"] else "—"
        lines.append(f"| `{r['preset']}` | {r['epochs']} | {r['best_epoch']} | {f(r['best_test_accuracy'])} | "
                     f"{final} | {f(r['seconds_per_epoch'], '.0f')} | {r['reported']} |")
    lines.append("")
    lines.append(f"Measured on {machine()}, TensorFlow CPU.")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", default=",".join(PRESETS), help="comma-separated preset names")
    parser.add_argument("--archive", type=Path, default=ARCHIVE)
    parser.add_argument("--epochs", type=int, help="override every preset's epochs (quick runs)")
    parser.add_argument("--limit", type=int, help="reviews per split (quick runs)")
    parser.add_argument("--reuse", type=Path, action="append", default=[],
                        help="a stored model folder from an earlier run, added to the table instead of retraining")
    parser.add_argument("--out", type=Path, help="also write the Markdown table here")
    args = parser.parse_args()
    if not args.archive.exists():
        raise SystemExit(f"The IMDB archive is not at {args.archive}")
    rows = [row(folder) for folder in args.reuse]
    done = {r["preset"] for r in rows}
    with tempfile.TemporaryDirectory(prefix="ss-bench-") as tmp:
        for name in [p for p in args.presets.split(",") if p and p not in done]:
            rows.append(row(train_preset(name, args.archive, Path(tmp), args.epochs, args.limit)))
            print(table(rows), file=sys.stderr, flush=True)
    text = table(rows)
    for r in rows:
        what = "test accuracy" if r["final_test_accuracy"] is not None else "validation accuracy (held-out train)"
        text += f"\n\n`{r['preset']}` {what} by epoch: " + ", ".join(f"{a:.4f}" for a in r["history"])
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
