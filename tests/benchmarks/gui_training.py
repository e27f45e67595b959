"""Training through the GUI vs the CLI, and the GUI thread's longest stall while it trains.

    python -m tests.benchmarks.gui_training [--limit 5000] [--epochs 1] [--repeats 2]

Each run is a fresh process (so both pay the same XLA compilation), alternating GUI and CLI:

* CLI: ``models.training.train`` with the CLI's console progress printer, as
  ``python -m app train`` runs it.
* GUI: the real main window (offscreen unless ``QT_QPA_PLATFORM`` says otherwise), the Train
  tab's own Train button path: a QThread worker, live curves and progress bar. A
  ``StallProbe`` timer ticks every 5 ms on the GUI thread for the whole run.

Reported: the training's own wall time (tokenizing, compiling, epochs, validation; both
start with TensorFlow imported) and the epochs' time, median over repeats, and the GUI's
longest stall, over the whole run and from the first training batch on.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from tests.benchmarks.reproduce_presets import ARCHIVE, json_from_child, machine


def child_cli(args) -> dict:
    from app.cli import _ConsoleProgress
    from models.config import TrainingConfig
    from models.datasets import load_source
    from models.keras_runtime import keras
    from models.training import train

    keras()  # the GUI run starts with TensorFlow imported too
    data = load_source(str(ARCHIVE)).limited(args.limit)
    config = TrainingConfig(epochs=args.epochs)
    started = time.perf_counter()
    result = train(config, data, on_progress=_ConsoleProgress())
    return {"seconds": time.perf_counter() - started, "epoch_seconds": sum(result.history["seconds"]),
            "val_accuracy": result.history["val_accuracy"][-1]}


def child_gui(args) -> dict:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import Qt

    from app.gui import create_application
    from app.main_window import MainWindow
    from app.stall_probe import StallProbe
    from models.datasets import load_source
    from models.store import ModelStore

    app = create_application()
    window = MainWindow(ModelStore(Path(os.environ["SENTIMENT_STUDIO_HOME"]) / "models"))
    window.show()
    window.start_keras_import_soon()  # as run_gui does
    tab = window.train_tab
    tab.set_data_source(str(ARCHIVE))
    tab.data_view.data, tab.data_view.data_spec = load_source(str(ARCHIVE)).limited(args.limit), tab.source_spec()
    tab.form.fields["epochs"].setValue(args.epochs)
    window.tabs.setCurrentWidget(tab)  # the live curves are on screen
    results = []
    probe = StallProbe(args.probe_ms)
    out: dict = {}

    def finished(running: bool) -> None:
        if not running:
            probe.stop()
            out["seconds"] = time.perf_counter() - started
            app.quit()

    def succeeded(result) -> None:
        results.append(result)

    phases: list[tuple[float, str]] = []

    def phase(p) -> None:  # on the worker thread: when each phase really began
        if not phases or phases[-1][1] != p.phase:
            phases.append((time.perf_counter(), p.phase))

    tab.running_changed.connect(finished)
    # As a user would: press Train once the status bar says TensorFlow is ready (the window
    # imports it in the background at start; loading a C extension that size holds the GIL,
    # which stalls the window for up to ~0.8 s at start, training or not).
    deadline = time.perf_counter() + 120
    while not window.keras_ready and time.perf_counter() < deadline:
        app.processEvents()
        time.sleep(0.01)
    probe.start()
    started = time.perf_counter()
    tab.start_training()
    tab.run.worker.succeeded.connect(succeeded)
    tab.run.worker.progress.connect(phase, Qt.ConnectionType.DirectConnection)
    app.exec()
    result = results[0]
    first_batch = next((at for at, name in phases if name != "preparing"), float("inf"))
    epochs_stall = max((stall for _, stall in probe.stalls(since=first_batch)), default=0.0)
    out.update({"epoch_seconds": sum(result.history["seconds"]), "val_accuracy": result.history["val_accuracy"][-1],
                **probe.summary(), "epochs_longest_stall_ms": 1000 * epochs_stall,
                # each stall over 50 ms: when (s after Train), how long (ms), in which training phase
                "stalls": [(round(at - started, 2), round(1000 * stall), _phase_at(phases, at - stall))
                           for at, stall in probe.stalls(over=0.050)]})
    window.close()
    return out


def _phase_at(phases: list[tuple[float, str]], when: float) -> str:
    current = "before the first report"
    for at, name in phases:
        if at <= when:
            current = name
    return current


def run_child(kind: str, args, home: Path) -> dict:
    env = {**os.environ, "SENTIMENT_STUDIO_HOME": str(home)}
    cmd = [sys.executable, "-m", "tests.benchmarks.gui_training", "--child", kind,
           "--limit", str(args.limit), "--epochs", str(args.epochs), "--probe-ms", str(args.probe_ms)]
    return json_from_child(cmd, env, f"{kind} run", timeout=3600)


def measure(args) -> dict[str, list[dict]]:
    """Alternating CLI and GUI runs (``args``: limit, epochs, repeats, probe_ms): {"cli": [...], "gui": [...]}."""
    runs: dict[str, list[dict]] = {"cli": [], "gui": []}
    with tempfile.TemporaryDirectory() as tmp:
        for repeat in range(args.repeats):
            for kind in (("cli", "gui") if repeat % 2 == 0 else ("gui", "cli")):
                runs[kind].append(run_child(kind, args, Path(tmp)))
                print(f"{kind}: {runs[kind][-1]}", file=sys.stderr, flush=True)
    return runs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=5000, help="reviews per split")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--probe-ms", type=int, default=5, help="the stall probe's tick (GUI runs)")
    parser.add_argument("--child", choices=["cli", "gui"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child_cli(args) if args.child == "cli" else child_gui(args)), flush=True)
        return 0
    runs = measure(args)
    med = {kind: {key: statistics.median(r[key] for r in rs) for key in ("seconds", "epoch_seconds")}
           for kind, rs in runs.items()}
    stall = max(r["longest_stall_ms"] for r in runs["gui"])
    epochs_stall = max(r["epochs_longest_stall_ms"] for r in runs["gui"])
    print(f"Specified preset, {args.epochs} epoch(s) on {args.limit:,} reviews per split, {args.repeats} runs each, "
          f"alternating; {machine()}.\n")
    print("| path | training wall time (s) | epochs alone (s) | GUI longest stall: whole run (ms) | "
          "from the first batch on (ms) |")
    print("| --- | --- | --- | --- | --- |")
    print(f"| CLI | {med['cli']['seconds']:.1f} | {med['cli']['epoch_seconds']:.1f} | - | - |")
    print(f"| GUI | {med['gui']['seconds']:.1f} | {med['gui']['epoch_seconds']:.1f} | {stall:.0f} "
          f"(p99 {max(r['p99_stall_ms'] for r in runs['gui']):.0f}) | {epochs_stall:.0f} |")
    print(f"\nGUI vs CLI: {100 * (med['gui']['seconds'] / med['cli']['seconds'] - 1):+.1f}% wall time, "
          f"{100 * (med['gui']['epoch_seconds'] / med['cli']['epoch_seconds'] - 1):+.1f}% epoch time")
    return 0


if __name__ == "__main__":
    sys.exit(main())
