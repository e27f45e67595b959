"""The whole window at the sizes people use (1024x700, a small laptop; 1400x900): every label shows all of
its text, nothing is drawn over anything else, and the Evaluate tab's tables are whole. Real screenshots
of the same window come from ``tests/e2e/layout_screenshots.py`` under Xvfb."""

from __future__ import annotations

import contextlib
import csv

import pytest
from PySide6.QtCore import QPoint, QRect
from PySide6.QtWidgets import QAbstractScrollArea, QLabel, QTableWidget, QWidget

from app.main_window import TAB_EVALUATE, TAB_MODELS, TAB_PREDICT, TAB_TRAIN, MainWindow
from app.my_reviews_panel import describe
from models.fine_tuning import Accuracy, FineTuneResult
from models.paths import builtin_model_dirs
from models.store import ModelStore
from tests.conftest import reviews, save_trained

pytestmark = pytest.mark.gui
TIMEOUT = 60_000
SIZES = [(1024, 700), (1400, 900)]


@pytest.fixture
def window(qtbot, tiny_training, tmp_path, no_dialogs):
    store = ModelStore(builtin=builtin_model_dirs())
    # An automatic name, long and differing from the next only at its end, as the window makes them.
    save_trained(store, tiny_training[1], "custom (from imdb-lstm) imdb_sample.csv 2026-12-04 17:51")
    win = MainWindow(store)
    qtbot.addWidget(win, before_close_func=lambda w: (w.train_tab.shutdown(), w.tasks.wait_all(30_000)))
    win.show()
    qtbot.waitExposed(win)
    return win


def _data(tmp_path):
    path = tmp_path / "data.csv"
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["text", "label"])
        w.writerows([[text, label] for text, label in reviews(240)])
    return path


def _in_view(widget: QWidget) -> bool:
    """Shown, and not scrolled out of a scroll area's view (there it may be cut: it is not drawn)."""
    return widget.isVisible() and widget.width() > 0


def _window_rect(widget: QWidget) -> QRect:
    return QRect(widget.mapTo(widget.window(), QPoint(0, 0)), widget.size())


def cut_labels(root: QWidget) -> list[str]:
    """Visible labels too small for their text: height for a wrapped one, width for one line."""
    problems = []
    for label in root.findChildren(QLabel):
        if not _in_view(label) or not label.text() or isinstance(label.parent(), QAbstractScrollArea):
            continue
        if label.wordWrap():
            needed = label.heightForWidth(label.width())
            if needed > label.height() + 1:
                problems.append(f"{label.text()[:50]!r}: {label.height()} px high, needs {needed}")
        elif label.minimumSizeHint().width() > label.width() + 1:
            problems.append(f"{label.text()[:50]!r}: {label.width()} px wide, needs {label.sizeHint().width()}")
    return problems


def cut_sideways(root: QWidget) -> list[str]:
    """Visible widgets reaching past their parent's left or right edge (a scroll area's page wider than
    its view with no scroll bar to reach the rest: "Load" shown as "Lo")."""
    problems = []
    for widget in root.findChildren(QWidget):
        parent = widget.parentWidget()
        if not _in_view(widget) or widget.isWindow() or parent is None:
            continue
        area = parent.parentWidget()
        if isinstance(area, QAbstractScrollArea) and parent is area.viewport() and \
                area.horizontalScrollBar().isVisible():
            continue  # a page that scrolls sideways, on purpose
        geometry = widget.geometry()
        if geometry.left() < 0 or geometry.right() > parent.rect().right():
            problems.append(f"{type(widget).__name__} {geometry.left()}..{geometry.right()} in "
                            f"{type(parent).__name__} 0..{parent.rect().right()}")
    return problems


def cut_headers(table: QTableWidget) -> list[str]:
    """Column headers narrower than their text needs (each line, with the style's margins)."""
    header = table.horizontalHeader()
    return [f"{table.horizontalHeaderItem(c).text()!r}: {header.sectionSize(c)} px, needs "
            f"{header.sectionSizeFromContents(c).width()}" for c in range(table.columnCount())
            if header.sectionSize(c) < header.sectionSizeFromContents(c).width()]


def overlapping_siblings(root: QWidget) -> list[str]:
    """Visible widgets drawn over a visible sibling (a layout squeezed below its minimum does that)."""
    problems = []
    for parent in [root, *root.findChildren(QWidget)]:
        if not parent.isVisible():
            continue
        children = [c for c in parent.findChildren(QWidget, options=pytest.importorskip(
            "PySide6.QtCore").Qt.FindChildOption.FindDirectChildrenOnly) if c.isVisible() and not c.isWindow()]
        for i, a in enumerate(children):
            for b in children[i + 1:]:
                if a.geometry().intersected(b.geometry()).height() > 2 and \
                        a.geometry().intersected(b.geometry()).width() > 2:
                    problems.append(f"{type(a).__name__} {a.objectName()!r} over {type(b).__name__} in "
                                    f"{type(parent).__name__}")
    return problems


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_every_tab_holds_at_this_size(qtbot, window, tmp_path, size):
    window.resize(*size)
    data = _data(tmp_path)
    tab = window.evaluate_tab
    window.tabs.setCurrentIndex(TAB_EVALUATE)
    tab.compare_combo.select(next(i.id for i in tab.compare_combo.models() if i.builtin))
    tab.set_data_source(str(data))
    with qtbot.waitSignal(tab.evaluated, timeout=TIMEOUT):
        tab.start()
    tab.select_cell(1, 1)
    tab.panel.select_row(0)
    qtbot.waitUntil(lambda: tab.explanation.shown() is not None, timeout=TIMEOUT)
    # The Train tab as a finished run leaves it: its longest sentence under the plots.
    window.train_tab.summary.setText(
        "<b>Finished</b> 15 epochs in 12:34; kept epoch 3, chosen on held-out training reviews (validation "
        "accuracy 84.1%), test accuracy 83.2% (loss 0.383); saved as <b>custom (from imdb-lstm) "
        "aclImdb_v1_labeled.tar.gz 2026-12-04 17:51</b>.")
    # The Train tab with a data set read and the n-gram preset, whose form is wider than the LSTM's (the
    # column was cut at its right edge: "Load" read "Lo", the figures and the preset were cut).
    train = window.train_tab
    train.form.apply_preset("ngram")
    train.set_data_source(str(data))
    with qtbot.waitSignal(train.data_view.loaded, timeout=TIMEOUT):
        train.load_data_clicked()
    # The Predict tab with the n-gram model's explanation (its line of phrases wraps: the paragraph under
    # it was drawn over its second line) and a fine-tune's six-line result (its end was cut).
    predict = window.predict_tab
    window.tabs.setCurrentIndex(TAB_PREDICT)
    assert predict.model_combo.select("ngram_model")
    with qtbot.waitSignal(predict.prediction_ready, timeout=TIMEOUT):
        predict.set_text("This is not a good movie. Not bad acting, but the plot is boring and I would not "
                         "recommend it to anyone.")
    assert "not recommend" in predict.explanation.top_words_label.text()
    info = predict.current_model()
    predict.my_reviews.show_message(describe(FineTuneResult(
        original=info, saved=info, my_reviews=3, rehearsal=100, epochs=3, before=Accuracy(0.921, 0.911, 0.667),
        after=Accuracy(0.916, 0.910, 0.667), validation_reviews=2_500, test_reviews=25_000,
        validation_held_out=True, source="data.csv")))
    for index in (TAB_EVALUATE, TAB_TRAIN, TAB_PREDICT, TAB_MODELS):
        window.tabs.setCurrentIndex(index)
        page = window.tabs.currentWidget()
        with contextlib.suppress(qtbot.TimeoutError):  # laying out a shown tab takes a few passes of events
            qtbot.waitUntil(lambda page=page: not cut_labels(page) and not cut_sideways(page), timeout=3_000)
        assert window.width() <= size[0] and window.height() <= size[1], "the window grew past the screen"
        assert cut_labels(page) == [], window.tabs.tabText(index)
        assert overlapping_siblings(page) == [], window.tabs.tabText(index)
        assert cut_sideways(page) == [], window.tabs.tabText(index)

    # Every column of the Models tab in view at 1400 px (the last was cut): the name gives way, to a point.
    table = window.models_tab.table
    from app.models_tab import NAME, NAME_WIDTH

    assert table.horizontalHeader().sectionSize(NAME) >= NAME_WIDTH
    if size[0] >= 1400:
        assert table.horizontalScrollBar().maximum() == 0
    window.tabs.setCurrentIndex(TAB_EVALUATE)
    # The metric headers are whole (they were "IMD...in)"), and the by-length table's ("Accuracy 2nd
    # model" was cut), with no scroll bar; each row of the metrics and confusion tables is whole.
    tab.plots.setCurrentIndex(tab.plots.indexOf(tab.length_table.parentWidget()))
    assert cut_headers(tab.metrics_table) == [] and cut_headers(tab.length_table) == []
    assert tab.length_table.columnCount() == 6 and tab.length_table.horizontalScrollBar().maximum() == 0
    for table in (tab.metrics_table, tab.confusion_table):
        viewport = table.viewport().rect()
        for r in range(table.rowCount()):
            rect = table.visualItemRect(table.item(r, 0))
            assert viewport.contains(rect), f"row {r} of a table is cut: {rect} in {viewport}"
    # The plots' legends are lines above them, never drawn inside over the points.
    for plot in (tab.plots.roc_plot, tab.plots.pr_plot, tab.plots.calibration_plot):
        assert plot.getPlotItem().legend is None
    # The Why panel's wrapped text fits its width: it scrolls down, never sideways (a line cut at its right).
    from PySide6.QtWidgets import QScrollArea

    why = tab.explanation.parentWidget()
    while why is not None and not isinstance(why, QScrollArea):
        why = why.parentWidget()
    assert why is not None and why.horizontalScrollBar().maximum() == 0
