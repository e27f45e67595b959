"""The real window's Evaluate tab on the built-in model and the shared archive's 25,000 test reviews:
times the pass (archive read included), opens the false negatives, explains the surest one, and saves
a screenshot; then the Predict tab on issue 21's clearly negative review, whose explanation adds up
(the README's two screenshots). ``--predict-only`` takes only the second. ``--compare`` evaluates the built-in
LSTM beside the built-in n-gram model and shows accuracy by review length (the README's third screenshot,
``evaluate-compare.png``).

    xvfb-run -a -s "-screen 0 1400x900x24" .venv/bin/python -m tests.e2e.evaluate_screenshot --out shots
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from tests.e2e.screenshots import ARCHIVE, save_screenshot, wait_for

CONFIDENT_NEGATIVE = "This was a terrible waste of time. Boring plot, awful acting."


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("shots"))
    parser.add_argument("--threshold", type=float, default=0.5)
    parser.add_argument("--data", type=Path, default=ARCHIVE, help="the aclImdb archive (default: ../shared's)")
    parser.add_argument("--predict-only", action="store_true", help="only the Predict tab's screenshot")
    parser.add_argument("--compare", action="store_true",
                        help="only the Evaluate tab comparing the built-in LSTM and n-gram models, by length")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="ss-e2e-"))
    os.environ["SENTIMENT_STUDIO_HOME"] = str(tmp / "home")  # a fresh store: the built-in model only

    from PySide6.QtCore import QCoreApplication, QSettings

    from app.gui import create_application, create_window
    from app.main_window import TAB_EVALUATE, TAB_PREDICT

    app = create_application()
    QCoreApplication.setOrganizationName("SentimentStudioE2E")  # keep the user's own settings untouched
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp / "settings"))
    window = create_window()
    window.resize(1400, 900)
    window.show()

    def wait_until(predicate, timeout: float, what: str) -> None:
        wait_for(app, predicate, timeout, what)

    def shot(name: str) -> None:
        save_screenshot(app, window, args.out / f"{name}.png")

    wait_until(window.isVisible, 10, "the window")
    if args.compare:
        compare(args, window, tab_index=TAB_EVALUATE, wait_until=wait_until, shot=shot)
        window.close()
        return 0
    if not args.predict_only:
        evaluate(args, window, tab_index=TAB_EVALUATE, wait_until=wait_until, shot=shot)
    window.tabs.setCurrentIndex(TAB_PREDICT)
    tab = window.predict_tab
    predictions = []
    tab.prediction_ready.connect(predictions.append)
    tab.set_text(CONFIDENT_NEGATIVE)
    wait_until(lambda: bool(predictions) and not tab.refiner.running(), 60, "a prediction and its explanation")
    print(f"prediction: {predictions[-1].label} {predictions[-1].probability:.4f}")
    print(tab.explanation.adds_up_label.text())
    shot("predict")
    window.close()
    return 0


def evaluate(args, window, tab_index, wait_until, shot) -> None:
    """The Evaluate tab's screenshot: the false negatives, the surest one explained."""
    window.tabs.setCurrentIndex(tab_index)
    tab = window.evaluate_tab
    tab.model_combo.select(next(i.id for i in tab.model_combo.models() if i.builtin))
    tab.set_data_source(str(args.data))
    done: list[bool] = []
    tab.evaluated.connect(lambda: done.append(True))
    started = time.perf_counter()
    tab.start()
    wait_until(lambda: bool(done) or not tab.is_running(), 600, "the evaluation")
    if not done:
        raise SystemExit(f"the evaluation failed: {tab.panel.message.text()}")
    print(f"evaluated {tab.evaluations[0].n:,} reviews in {time.perf_counter() - started:.1f} s (archive read "
          "included)", flush=True)
    tab.set_threshold(args.threshold)
    tab.select_cell(1, 0)
    tab.panel.select_row(0)
    wait_until(lambda: tab.explanation.shown() is not None, 60, "the explanation")
    m = tab.metrics()[0]
    print(f"accuracy {m.accuracy:.4f}, ROC AUC {m.roc_auc:.4f}, log loss {m.log_loss:.4f}, confusion {m.confusion}")
    shot("evaluate")


def compare(args, window, tab_index, wait_until, shot) -> None:
    """The built-in LSTM (reads the last 80 tokens) beside the built-in n-gram model (reads everything)."""
    window.tabs.setCurrentIndex(tab_index)
    tab = window.evaluate_tab
    built_in = {i.metadata.family: i.id for i in tab.model_combo.models() if i.builtin}
    tab.model_combo.select(built_in["lstm"])
    tab.compare_combo.select(built_in["ngram"])
    tab.set_data_source(str(args.data))
    done: list[bool] = []
    tab.evaluated.connect(lambda: done.append(True))
    started = time.perf_counter()
    tab.start()
    wait_until(lambda: bool(done) or not tab.is_running(), 900, "the evaluation")
    if not done:
        raise SystemExit(f"the evaluation failed: {tab.panel.message.text()}")
    print(f"evaluated {tab.evaluations[0].n:,} reviews with two models in {time.perf_counter() - started:.1f} s",
          flush=True)
    for e, m in zip(tab.evaluations, tab.metrics()):
        print(f"{e.model_name}: accuracy {m.accuracy:.4f}, ROC AUC {m.roc_auc:.4f}, log loss {m.log_loss:.4f}")
    tab.plots.setCurrentIndex(next(i for i in range(tab.plots.count()) if tab.plots.tabText(i) == "By length"))
    shot("evaluate-compare")


if __name__ == "__main__":
    sys.exit(main())
