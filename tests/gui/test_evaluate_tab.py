"""The Evaluate tab, driven offscreen: a tiny model on a tiny data set, checked against the CLI's JSON."""

from __future__ import annotations

import csv
import json
import threading

import numpy as np
import pytest
from PySide6.QtCore import Qt

from app.background import BackgroundTasks
from app.evaluate_tab import SHOW_DISAGREE, SHOW_FN, SHOW_FP, SHOW_WRONG, EvaluateTab
from models import evaluation as ev
from models.paths import builtin_model_dirs
from models.store import ModelStore
from tests.conftest import reviews, save_trained
from tests.test_cli import run_cli

pytestmark = pytest.mark.gui
TIMEOUT = 60_000


@pytest.fixture
def data_csv(tmp_path):
    path = tmp_path / "data.csv"
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["text", "label"])
        w.writerows([[text, label] for text, label in reviews(240)])
    return path


@pytest.fixture
def store(tiny_training):
    # The default store of this test's data directory, as the CLI (run below) opens it.
    store = ModelStore(builtin=builtin_model_dirs())
    save_trained(store, tiny_training[1], "tiny")
    return store


@pytest.fixture
def tab(qtbot, store):
    tasks = BackgroundTasks()
    tab = EvaluateTab(store, tasks)
    qtbot.addWidget(tab, before_close_func=lambda t: qtbot.waitUntil(tasks.settled, timeout=TIMEOUT))
    tab.resize(1400, 900)
    tab.show()
    return tab


def evaluate(qtbot, tab, data):
    tab.set_data_source(str(data))
    with qtbot.waitSignal(tab.evaluated, timeout=TIMEOUT):
        qtbot.mouseClick(tab.evaluate_button, Qt.MouseButton.LeftButton)
    assert not tab.is_running()


def cli_json(data, *args):
    proc = run_cli("evaluate", "--model", "tiny", "--data", data, *args)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def assert_same(shown: ev.Metrics, cli: dict):
    got = shown.to_json()
    assert got["n"] == cli["n"] and got["confusion"] == cli["confusion"] and got["threshold"] == cli["threshold"]
    for key in ("accuracy", "roc_auc", "log_loss"):
        assert got[key] == pytest.approx(cli[key], abs=1e-6)
    for name in ("negative", "positive"):
        for key, value in cli["per_class"][name].items():
            assert got["per_class"][name][key] == pytest.approx(value, abs=1e-9)


def cell_center(table, row, col):
    return table.visualItemRect(table.item(row, col)).center()


def test_evaluate_click_a_cell_move_the_threshold_and_match_the_cli(qtbot, tab, data_csv, tmp_path):
    assert tab.current_model().name == "tiny"
    evaluate(qtbot, tab, data_csv)
    (shown,) = tab.metrics()
    assert_same(shown, cli_json(data_csv))
    assert tab.metrics_table.item(0, 0).text() == f"{shown.accuracy:.3f}"
    assert tab.metrics_table.horizontalHeaderItem(0).text() == "Value" and "tiny" in tab.models_legend.text()
    (tn, fp), (fn, tp) = shown.confusion
    assert f"{fp:,} (" in tab.confusion_table.item(0, 1).text()

    # A click on the false-positive cell lists exactly those reviews, the surest first.
    qtbot.mouseClick(tab.confusion_table.viewport(), Qt.MouseButton.LeftButton,
                     pos=cell_center(tab.confusion_table, 0, 1))
    assert tab.show_combo.currentData() == SHOW_FP
    first = tab.evaluations[0]
    rows = tab.panel.model.rows()
    assert len(rows) == fp
    assert all(first.labels[i] == 0 and first.probabilities[i] >= 0.5 for i in rows)
    qtbot.mouseClick(tab.confusion_table.viewport(), Qt.MouseButton.LeftButton,
                     pos=cell_center(tab.confusion_table, 1, 0))
    assert tab.show_combo.currentData() == SHOW_FN and len(tab.panel.model.rows()) == fn

    # Moving the threshold updates the figures at once, without scoring again.
    with qtbot.assertNotEmitted(tab.evaluated):
        tab.threshold_slider.setValue(700)
    assert tab.threshold_label.text() == "0.700"
    (moved,) = tab.metrics()
    assert_same(moved, cli_json(data_csv, "--threshold", "0.7"))
    assert len(tab.panel.model.rows()) == moved.confusion[1][0]  # the false negatives at 0.7
    tab.show_combo.setCurrentIndex(tab.show_combo.findData(SHOW_WRONG))
    assert len(tab.panel.model.rows()) == moved.confusion[0][1] + moved.confusion[1][0]

    # Selecting a review explains its score, with its true label.
    if tab.panel.model.rowCount():
        tab.panel.select_row(0)
        qtbot.waitUntil(lambda: tab.explanation.shown() is not None, timeout=TIMEOUT)
        assert "True label" in tab.explanation.note_label.text()
        assert tab.explanation.tokens_view.toPlainText().strip()
        why = tab.explanation.shown().explanation  # the same method as the Predict tab: Shapley values
        assert why.method.startswith("shapley-") and why.adds_up
        assert "add up to the difference" in tab.explanation.adds_up_label.text()

    # The listed reviews export as CSV (the true positives: a cell the tiny model is sure to fill).
    qtbot.mouseClick(tab.confusion_table.viewport(), Qt.MouseButton.LeftButton,
                     pos=cell_center(tab.confusion_table, 1, 1))
    out = tmp_path / "positives.csv"
    assert tab.export_csv(out)
    with open(out, newline="", encoding="utf-8") as f:
        exported = list(csv.DictReader(f))
    assert len(exported) == tab.panel.model.rowCount() == moved.confusion[1][1] > 0
    assert all(r["true_label"] == r["predicted_label"] == "positive" for r in exported)
    assert all(float(r["probability"]) >= 0.7 for r in exported)
    # The columns of evaluate --misclassified (one writer), with each review's id and the threshold.
    from models.reports import evaluation_header

    with open(out, newline="", encoding="utf-8") as f:
        assert tuple(next(csv.reader(f))) == evaluation_header()
    assert all(r["threshold"] == "0.7" for r in exported)
    assert [int(r["review_id"]) for r in exported] == [int(i) for i in tab.panel.model.rows()]

    # Accuracy by length: the buckets add up to every review.
    assert sum(int(tab.length_table.item(r, 1).text().replace(",", "")) for r in range(tab.length_table.rowCount())) \
        == shown.n


def test_two_models_side_by_side_and_where_they_disagree(qtbot, tab, data_csv):
    tab.compare_combo.select(next(i.id for i in tab.compare_combo.models() if i.builtin))
    evaluate(qtbot, tab, data_csv)
    a, b = tab.evaluations
    assert tab.metrics_table.columnCount() == 2
    # Short headers, whole names above the table (automatic names differ only at their end).
    assert [tab.metrics_table.horizontalHeaderItem(c).text() for c in range(2)] == ["1st model", "2nd model"]
    assert [tab.metrics_table.horizontalHeaderItem(c).toolTip() for c in range(2)] == ["tiny", "IMDB LSTM (built-in)"]
    legend = tab.models_legend.text()
    assert "1st model: tiny" in legend and "2nd model: IMDB LSTM (built-in)" in legend
    np.testing.assert_array_equal(a.labels, b.labels)
    tab.show_combo.setCurrentIndex(tab.show_combo.findData(SHOW_DISAGREE))
    expected = int(np.sum((a.probabilities >= 0.5) != (b.probabilities >= 0.5)))
    assert len(tab.panel.model.rows()) == expected
    tab.select_cell(1, 1)  # the true positives: never empty for these models
    assert tab.panel.model.rowCount() > 0
    assert float(tab.panel.model.index(0, 2).data()) >= 0  # the second model's probability is shown
    assert tab.panel.model.index(0, 5).data() in ("positive", "negative")  # and its prediction
    assert not tab.panel.table.isColumnHidden(2) and not tab.panel.table.isColumnHidden(5)
    # By length: both models' accuracy on the same buckets, the better one in bold.
    from models.evaluation import accuracy_by_length

    table = tab.length_table
    headers = [table.horizontalHeaderItem(c).text() for c in range(table.columnCount())]
    assert [h.replace("\n", " ") for h in headers] == ["Length (tokens)", "Reviews", "Accuracy 1st", "Accuracy 2nd",
                                                        "Words cut 1st", "Words cut 2nd"]
    for model, column in ((a, 2), (b, 3)):
        buckets = accuracy_by_length(model, 0.5, a.maxlen)
        assert [table.item(r, column).text() for r in range(table.rowCount())] == \
            ["-" if x.accuracy is None else f"{x.accuracy:.3f}" for x in buckets]
    for r in range(table.rowCount()):
        first, second = (table.item(r, c) for c in (2, 3))
        if first.text() not in ("-", second.text()):
            assert first.font().bold() == (float(first.text()) > float(second.text())) != second.font().bold()
    assert "'tiny' reads" in tab.length_note.text() and "'IMDB LSTM (built-in)' reads" in tab.length_note.text()


def test_the_second_model_has_its_own_matrix_reviews_and_why(qtbot, tab, data_csv, tmp_path):
    from app.evaluate_tab import SHOW_FN, SHOW_TP

    tab.compare_combo.select(next(i.id for i in tab.compare_combo.models() if i.builtin))
    evaluate(qtbot, tab, data_csv)
    assert tab.focus_combo.isVisible() and tab.focus_combo.count() == 2
    first, second = tab.metrics()
    tab.set_focus(1)
    (tn, fp), (fn, tp) = second.confusion
    assert f"{tp:,} (" in tab.confusion_table.item(1, 1).text() and "of the" in tab.confusion_label.text()
    tab.select_cell(1, 0)
    assert tab.show_combo.currentData() == SHOW_FN and len(tab.panel.model.rows()) == fn
    b = tab.evaluations[1]
    assert all(b.labels[i] == 1 and b.probabilities[i] < 0.5 for i in tab.panel.model.rows())
    assert "2nd model" in tab.panel.message.text()
    tab.select_cell(1, 1)
    assert tab.show_combo.currentData() == SHOW_TP
    tab.panel.select_row(0)
    qtbot.waitUntil(lambda: tab.explanation.shown() is not None, timeout=TIMEOUT)
    assert tab.explanation.shown().model_name == "IMDB LSTM (built-in)"  # explained with the 2nd model
    # The export keeps the one column set: the first model's columns, then the second's.
    out = tmp_path / "second.csv"
    assert tab.export_csv(out)
    with open(out, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == tp and all(r["predicted_label_second_model"] == "positive" for r in rows)
    tab.set_focus(0)
    assert f"{first.confusion[1][1]:,} (" in tab.confusion_table.item(1, 1).text()


def test_a_new_pass_shows_nothing_of_the_last_one(qtbot, tab, data_csv, gated):
    """After Cancel, no header, legend or explained review of the evaluation before stays."""
    started, released = gated
    released.set()
    tab.compare_combo.select(next(i.id for i in tab.compare_combo.models() if i.builtin))
    evaluate(qtbot, tab, data_csv)
    tab.panel.select_row(0)
    released.clear()
    started.clear()
    tab.start()  # the explanation of the last pass may still be on its way
    qtbot.waitUntil(started.is_set, timeout=TIMEOUT)
    tab.cancel()
    released.set()
    qtbot.waitUntil(lambda: not tab.is_running(), timeout=TIMEOUT)
    qtbot.waitUntil(tab.tasks.settled, timeout=TIMEOUT)
    assert tab.metrics_table.columnCount() == 0 and tab.models_legend.isHidden() and tab.focus_combo.isHidden()
    assert tab.explanation.shown() is None and tab.panel.model.rowCount() == 0
    assert all(not legend.text() for legend in tab.plots.legends)


def test_the_threshold_is_not_carried_over_to_other_models_silently(qtbot, tab, data_csv):
    reset = tab.reset_threshold_button
    assert reset.text() == "Reset to 0.5" and not reset.isEnabled()  # a button, off at the default
    evaluate(qtbot, tab, data_csv)
    tab.set_threshold(0.745)
    assert reset.isEnabled() and tab.threshold_label.text() == "0.745"
    messages = []
    tab.status_message.connect(messages.append)
    evaluate(qtbot, tab, data_csv)  # the same model again: kept, and said
    assert tab.threshold() == 0.745 and "Threshold kept at 0.745" in messages[-1]
    tab.model_combo.select(next(i.id for i in tab.model_combo.models() if i.builtin))
    evaluate(qtbot, tab, data_csv)  # another model: back to the default, and said
    assert tab.threshold() == 0.5 and "Threshold back to 0.5 (it was 0.745" in messages[-1]
    assert tab.metrics()[0].threshold == 0.5 and not reset.isEnabled()
    reset_to = []
    tab.set_threshold(0.3)
    reset.click()
    reset_to.append(tab.threshold())
    assert reset_to == [0.5]


def test_a_data_set_of_one_class_says_auc_is_undefined(qtbot, tab, tmp_path):
    path = tmp_path / "positive.csv"
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["text", "label", "split"])
        w.writerows([[text, 1, split] for (text, _), split in zip(reviews(40), ["train", "test"] * 20)])
    evaluate(qtbot, tab, path)
    assert tab.metrics()[0].roc_auc is None
    assert tab.metrics_table.item(1, 0).text() == "undefined"
    assert "only positive" in tab.metrics_note.text() and not tab.metrics_note.isHidden()


@pytest.mark.parametrize(("content", "message"), [(None, "does not exist"), ("id,stars\n1,5\n", "no text column")])
def test_a_data_set_that_fails_to_load_gives_a_message(qtbot, tab, tmp_path, content, message):
    path = tmp_path / "bad.csv"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    tab.set_data_source(str(path))
    tab.start()
    qtbot.waitUntil(lambda: not tab.is_running(), timeout=TIMEOUT)
    assert message in tab.panel.message.text()
    assert tab.evaluate_button.isEnabled() and tab.evaluations == []


def test_no_data_set_chosen_says_what_to_choose(tab):
    tab.data_view.source_path.clear()
    tab.start()
    assert not tab.is_running() and "Choose a data set" in tab.panel.message.text()


@pytest.fixture
def gated(monkeypatch):
    """(started, released): the scoring pass waits in its first chunk until ``released`` is set."""
    started, released = threading.Event(), threading.Event()
    from models.families.lstm import LSTM_FAMILY

    original = LSTM_FAMILY.evaluation_inputs  # what models.evaluation asks the model's family for, per chunk

    def wait_then_encode(*args, **kwargs):
        started.set()
        assert released.wait(30)
        return original(*args, **kwargs)

    monkeypatch.setattr(LSTM_FAMILY, "evaluation_inputs", wait_then_encode)
    return started, released


def test_cancel_stops_the_pass_and_nothing_is_left_running(qtbot, tab, data_csv, gated):
    started, released = gated
    tab.set_data_source(str(data_csv))
    tab.start()
    assert tab.is_running() and not tab.evaluate_button.isEnabled()
    qtbot.waitUntil(started.is_set, timeout=TIMEOUT)
    qtbot.mouseClick(tab.panel.cancel_button, Qt.MouseButton.LeftButton)
    released.set()
    qtbot.waitUntil(lambda: not tab.is_running(), timeout=TIMEOUT)
    assert "cancelled" in tab.panel.message.text().lower()
    # The callback can run a moment before the thread has returned: wait for it, do not race it.
    qtbot.waitUntil(lambda: tab.tasks.active() == 0, timeout=TIMEOUT)
    assert tab.evaluate_button.isEnabled() and tab.evaluations == []


def test_shutdown_while_scoring_ends_the_pass(qtbot, tab, data_csv, gated):
    started, released = gated
    tab.set_data_source(str(data_csv))
    tab.start()
    qtbot.waitUntil(started.is_set, timeout=TIMEOUT)
    tab.shutdown()
    released.set()
    assert tab.tasks.wait_all(10_000) and tab.tasks.active() == 0


def test_evaluate_this_model_from_the_train_tab(qtbot, store, data_csv, no_dialogs):
    from app.main_window import TAB_EVALUATE, MainWindow

    window = MainWindow(store)
    qtbot.addWidget(window, before_close_func=lambda w: (w.train_tab.shutdown(), w.tasks.wait_all(30_000)))
    window.show()
    train = window.train_tab
    assert not train.evaluate_button.isEnabled()  # nothing saved by this tab yet
    train.set_data_source(str(data_csv))
    train.load_data_clicked()
    qtbot.waitUntil(lambda: train.data is not None, timeout=TIMEOUT)
    tiny = store.find("tiny")
    train.last_saved_id = tiny.id  # as a finished run's save leaves it
    train._update_buttons()
    assert train.evaluate_button.isEnabled()
    with qtbot.waitSignal(window.evaluate_tab.evaluated, timeout=TIMEOUT):
        qtbot.mouseClick(train.evaluate_button, Qt.MouseButton.LeftButton)
    assert window.tabs.currentIndex() == TAB_EVALUATE
    tab = window.evaluate_tab
    assert tab.current_model().id == tiny.id and tab.evaluations[0].n == len(train.data.test)
    assert tab.data_view.source_path.text() == train.data_spec


def test_evaluate_this_model_never_opens_another_once_it_is_renamed_and_deleted(qtbot, store, data_csv,
                                                                                no_dialogs):
    from app.main_window import MainWindow

    window = MainWindow(store)
    qtbot.addWidget(window, before_close_func=lambda w: (w.train_tab.shutdown(), w.tasks.wait_all(30_000)))
    window.show()
    train = window.train_tab
    tiny = store.find("tiny")
    train.last_saved_id = tiny.id
    train._update_buttons()
    store.rename(tiny.id, "renamed")
    store.delete(tiny.id)
    tab = window.evaluate_tab
    with qtbot.assertNotEmitted(tab.evaluated):
        window.evaluate_model(tiny.id)  # as the button would, before the tabs heard of the delete
    assert not tab.is_running() and "no longer in the store" in tab.panel.message.text()
    assert train.last_saved_id is None and not train.evaluate_button.isEnabled()


def test_a_model_that_cannot_be_opened_gives_a_message(qtbot, tab, data_csv):
    info = tab.current_model()
    (info.path / "model.keras").write_bytes(b"not a zip at all")  # broken after the list was read
    tab.set_data_source(str(data_csv))
    tab.start()
    qtbot.waitUntil(lambda: not tab.is_running(), timeout=TIMEOUT)
    assert tab.panel.message.text() and "Traceback" not in tab.panel.message.text()
    assert "model" in tab.panel.message.text().lower() and tab.evaluations == []
    assert tab.evaluate_button.isEnabled()


def test_a_changed_file_is_read_again_and_a_failed_pass_shows_no_old_figures(qtbot, tab, data_csv, tmp_path):
    import os

    evaluate(qtbot, tab, data_csv)
    assert tab.evaluations[0].n == 48
    with open(data_csv, "w", newline="", encoding="utf-8") as f:  # the same path, other reviews
        w = csv.writer(f)
        w.writerow(["text", "label", "split"])
        w.writerows([[text, label, "test"] for text, label in reviews(30, seed=4)])
    os.utime(data_csv, ns=(1, 1))  # a different time even on a coarse clock
    evaluate(qtbot, tab, data_csv)
    assert tab.evaluations[0].n == 30  # read again: every row is a test review

    bad = tmp_path / "bad.csv"
    bad.write_text("id,stars\n1,5\n", encoding="utf-8")
    tab.set_data_source(str(bad))
    tab.start()
    qtbot.waitUntil(lambda: not tab.is_running(), timeout=TIMEOUT)
    assert "no text column" in tab.panel.message.text()
    assert tab.evaluations == [] and tab.metrics_table.rowCount() == 0 and tab.panel.model.rowCount() == 0
    assert tab.confusion_table.item(0, 0).text() == ""
