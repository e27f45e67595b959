"""Start the real window, drive a short training and a prediction, and save a screenshot of each tab.

Run under a virtual X server so the screenshots are of a real window:

    xvfb-run -a -s "-screen 0 1400x900x24" .venv/bin/python -m tests.e2e.screenshots --out shots

Trains the default preset for a few epochs on a 2,000-review sample of the shared IMDB
archive (written to a temp folder, never into the project), in a temporary data dir.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ARCHIVE = ROOT.parent / "shared" / "data" / "aclImdb_v1_labeled.tar.gz"
REVIEW = ("I went in expecting very little, but this film was a wonderful surprise. The acting is superb, "
          "the story moving, and the ending perfect. One of the best movies I have seen this year.")


def wait_for(app, predicate, timeout: float, what: str) -> None:
    """Run the event loop until ``predicate()`` holds; exit with a message after ``timeout`` seconds."""
    end = time.perf_counter() + timeout
    while not predicate():
        if time.perf_counter() > end:
            raise SystemExit(f"timed out waiting for {what}")
        app.processEvents()
        time.sleep(0.01)


def save_screenshot(app, window, path: Path) -> None:
    """The screen as X shows it (under Xvfb), else the window's own rendering, saved as a PNG."""
    from PySide6.QtWidgets import QApplication

    for _ in range(20):
        app.processEvents()
    screen = QApplication.primaryScreen()
    pixmap = screen.grabWindow(0) if QApplication.platformName() == "xcb" else window.grab()
    pixmap.save(str(path))
    print(f"wrote {path}", flush=True)


def sample_csv(folder: Path, per_split: int) -> Path:
    from models.datasets import load_source

    data = load_source(str(ARCHIVE)).limited(per_split)
    path = folder / "imdb_sample.csv"
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["text", "label", "split"])
        for split_name, split in (("train", data.train), ("test", data.test)):
            for text, label in zip(split.texts, split.labels):
                w.writerow([text, int(label), split_name])
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("shots"))
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--reviews", type=int, default=2000, help="reviews per split from the archive")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="ss-e2e-"))
    os.environ.setdefault("SENTIMENT_STUDIO_HOME", str(tmp / "home"))

    from PySide6.QtCore import QCoreApplication, QSettings
    from PySide6.QtWidgets import QApplication

    from app.gui import create_application, create_window

    started = time.perf_counter()
    app = create_application()
    QCoreApplication.setOrganizationName("SentimentStudioE2E")  # keep the user's own settings untouched
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp / "settings"))
    window = create_window()
    window.setGeometry(QApplication.primaryScreen().availableGeometry())  # the whole (virtual) screen
    window.show()
    window.start_keras_import_soon()

    def wait_until(predicate, timeout: float, what: str) -> None:
        wait_for(app, predicate, timeout, what)

    def shot(name: str) -> None:
        window.train_tab.plots.flush()
        save_screenshot(app, window, args.out / f"{name}.png")

    wait_until(window.isVisible, 10, "the window")
    print(f"window shown after {time.perf_counter() - started:.2f} s", flush=True)
    csv_path = sample_csv(tmp, args.reviews)
    tab = window.train_tab
    tab.set_data_source(str(csv_path))
    tab.load_data_clicked()
    wait_until(lambda: tab.data is not None, 120, "the data set")
    tab.form.fields["epochs"].setValue(args.epochs)
    tab.name_edit.setText("IMDB sample, default preset")
    shot("1-train-loaded")
    saved: list[str] = []
    tab.model_saved.connect(saved.append)
    window.train_action.trigger()
    # Half-way through epoch 2: one epoch's points, and the batch curve well into the second.
    wait_until(lambda: len(tab.plots.history["loss"]) >= 1 and tab.plots.batch_x and tab.plots.batch_x[-1] > 1.5,
               900, "the middle of epoch 2")
    shot("2-train-running")
    wait_until(lambda: bool(saved), 900, "the end of training")
    shot("3-train-finished")

    from app.main_window import TAB_MODELS, TAB_PREDICT

    window.tabs.setCurrentIndex(TAB_PREDICT)
    predictions = []
    window.predict_tab.prediction_ready.connect(predictions.append)
    window.predict_tab.set_text(REVIEW)
    wait_until(lambda: bool(predictions), 60, "a prediction")
    shot("4-predict")
    window.tabs.setCurrentIndex(TAB_MODELS)
    shot("5-models")
    print(f"prediction: {predictions[-1].label} {predictions[-1].probability:.3f}")
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
