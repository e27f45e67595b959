"""The real window at a given size, every tab with content: a short training, an evaluation comparing
it with the built-in model, and the Models tab; one screenshot per tab.

Run under a virtual X server whose screen is the size to check (the window fills it):

    xvfb-run -a -s "-screen 0 1024x700x24" .venv/bin/python -m tests.e2e.layout_screenshots --out shots-1024
    xvfb-run -a -s "-screen 0 1400x900x24" .venv/bin/python -m tests.e2e.layout_screenshots --out shots-1400

Trains a small configuration for 2 epochs on a 1,000-review sample of the shared IMDB archive
(written to a temp folder, never into the project), in a temporary data dir.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from tests.e2e.screenshots import sample_csv, save_screenshot, wait_for


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("shots"))
    parser.add_argument("--reviews", type=int, default=1000, help="reviews per split from the archive")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="ss-e2e-"))
    os.environ["SENTIMENT_STUDIO_HOME"] = str(tmp / "home")

    from PySide6.QtCore import QCoreApplication, QSettings
    from PySide6.QtWidgets import QApplication

    from app.gui import create_application, create_window
    from app.main_window import TAB_EVALUATE, TAB_MODELS, TAB_TRAIN

    app = create_application()
    QCoreApplication.setOrganizationName("SentimentStudioE2E")
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp / "settings"))
    window = create_window()
    window.setGeometry(QApplication.primaryScreen().availableGeometry())
    window.show()

    def wait_until(predicate, timeout: float, what: str) -> None:
        wait_for(app, predicate, timeout, what)

    def shot(name: str) -> None:
        window.train_tab.plots.flush()
        save_screenshot(app, window, args.out / f"{name}.png")

    wait_until(window.isVisible, 10, "the window")
    size = window.size()
    print(f"window {size.width()}x{size.height()}", flush=True)
    csv_path = sample_csv(tmp, args.reviews)
    tab = window.train_tab
    window.tabs.setCurrentIndex(TAB_TRAIN)
    tab.set_data_source(str(csv_path))
    tab.load_data_clicked()
    wait_until(lambda: tab.data is not None, 120, "the data set")
    for field, value in dict(vocab_size=2000, maxlen=80, embedding_dim=16, lstm_units=16, epochs=3,
                             batch_size=64).items():
        tab.form.fields[field].setValue(value)
    saved: list[str] = []
    tab.model_saved.connect(saved.append)
    started = time.perf_counter()
    window.train_action.trigger()
    wait_until(lambda: bool(saved), 900, "the end of training")
    print(f"trained in {time.perf_counter() - started:.1f} s", flush=True)
    shot("train")

    ev_tab = window.evaluate_tab
    done: list[bool] = []
    ev_tab.evaluated.connect(lambda: done.append(True))
    window.evaluate_model(saved[0])
    wait_until(lambda: bool(done) or not ev_tab.is_running(), 600, "the evaluation")
    ev_tab.select_cell(1, 0)
    ev_tab.panel.select_row(0)
    wait_until(lambda: ev_tab.explanation.shown() is not None, 60, "the explanation")
    shot("evaluate")
    builtin = next(i.id for i in ev_tab.model_combo.models() if i.builtin)
    ev_tab.compare_combo.select(builtin)
    done.clear()
    ev_tab.start()
    wait_until(lambda: bool(done) or not ev_tab.is_running(), 600, "the comparison")
    ev_tab.select_cell(1, 0)
    ev_tab.panel.select_row(0)
    wait_until(lambda: ev_tab.explanation.shown() is not None, 60, "the explanation")
    shot("evaluate-compare")
    ev_tab.plots.setCurrentIndex(2)
    shot("evaluate-calibration")
    window.tabs.setCurrentIndex(TAB_MODELS)
    shot("models")
    window.tabs.setCurrentIndex(TAB_EVALUATE)
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
