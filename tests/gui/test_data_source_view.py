"""The data view the Train and Evaluate tabs share (app/data_source_view.py): the Train tab's reads, counts
and plots, with the marker where the chosen model cuts reviews; the Evaluate tab's is the compact one."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QFileDialog

from app.background import BackgroundTasks
from app.data_source_view import DataSourceView
from app.evaluate_tab import EvaluateTab
from app.training_tab import TrainingTab
from models.store import ModelStore

pytestmark = pytest.mark.gui
TIMEOUT = 30_000


@pytest.fixture
def tabs(qtbot, tmp_path, no_dialogs):
    tasks = BackgroundTasks()
    store = ModelStore(tmp_path / "models")
    train, evaluate = TrainingTab(store, tasks), EvaluateTab(store, tasks)
    for tab in (train, evaluate):
        qtbot.addWidget(tab)
        tab.show()
    yield train, evaluate
    assert train.shutdown(10_000)
    qtbot.waitUntil(tasks.settled, timeout=10_000)


def test_both_tabs_pick_their_data_with_the_same_view(qtbot, tabs, tiny_csv, monkeypatch):
    train, evaluate = tabs
    assert type(train.data_view) is DataSourceView and type(evaluate.data_view) is DataSourceView
    assert not train.data_view.compact and train.data_view.length_plot is not None
    assert evaluate.data_view.compact and evaluate.data_view.source_kind is None
    assert not hasattr(evaluate.data_view, "length_plot")  # compact: no histogram, no Load
    for tab in (train, evaluate):
        tab.set_data_source(str(tiny_csv))
        assert tab.data_view.source_spec() == str(tiny_csv)
    train.set_data_source("imdb")  # a download: the Train view's kind of source says so
    assert train.data_view.source_kind.currentData() == "imdb" and train.source_spec() == "imdb"
    evaluate.set_data_source("stanford")
    assert evaluate.data_view.source_spec() == "stanford"
    # Browse fills the field; the compact view leaves the reading to the tab's evaluation pass.
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(tiny_csv), ""))
    evaluate.data_view.browse_button.click()
    assert evaluate.data_view.source_spec() == str(tiny_csv) and not evaluate.data_view.loading
    # The full view reads what is browsed, in the background, and shows its figures.
    train.data_view.source_kind.setCurrentIndex(train.data_view.source_kind.findData("csv"))
    with qtbot.waitSignal(train.data_view.loaded, timeout=TIMEOUT):
        train.data_view.browse_button.click()
    assert train.data is not None and train.data_spec == str(tiny_csv)
    assert "training reviews" in train.data_view.data_summary.text()


def test_the_cut_marker_shows_only_for_a_family_that_cuts_reviews(qtbot, tabs, tiny_csv):
    train, _ = tabs
    train.set_data_source(str(tiny_csv))
    with qtbot.waitSignal(train.data_source_changed, timeout=TIMEOUT):
        train.load_data_clicked()
    view, form = train.data_view, train.form
    assert view.maxlen_line.isVisible() and view.maxlen_line.value() == 80
    assert "longer than 80 words; the model sees only their last 80 tokens" in view.truncation_note.text()
    form.preset_combo.setCurrentIndex(form.preset_combo.findData("ngram"))
    assert not view.maxlen_line.isVisible()  # the n-gram family reads every review whole
    note = view.truncation_note.text()
    assert "None is cut" in note and "the whole review" in note and "longer than" not in note
    form.preset_combo.setCurrentIndex(form.preset_combo.findData("keras-small-10k"))
    assert view.maxlen_line.isVisible() and view.maxlen_line.value() == 200
    assert "last 200 tokens" in view.truncation_note.text()
