"""The whole window: tabs, menus, shortcuts, background TensorFlow import, saved state, clean close."""

from __future__ import annotations

import threading
import time

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from app.main_window import TAB_MODELS, TAB_PREDICT, TAB_TRAIN, MainWindow
from models import training as t
from models.store import ModelStore
from tests.gui.conftest import set_tiny_config

pytestmark = pytest.mark.gui


@pytest.fixture
def window(qtbot, tmp_path, no_dialogs):
    win = MainWindow(ModelStore(tmp_path / "models"))
    qtbot.addWidget(win, before_close_func=lambda w: w.train_tab.shutdown())
    win.show()
    qtbot.waitExposed(win)
    return win


def test_tabs_menus_and_status(qtbot, window):
    assert [window.tabs.tabText(i) for i in range(4)] == ["&Train", "&Predict", "&Evaluate", "&Models"]
    menus = [a.text() for a in window.menuBar().actions()]
    assert menus == ["&File", "T&raining", "&Help"]
    file_actions = [a.text() for a in window.menuBar().actions()[0].menu().actions() if a.text()]
    expected = {"&Open data set…", "&Import model…", "&Export model…", "Open the &data folder", "&Quit"}
    assert expected <= set(file_actions)
    window.start_keras_import()
    qtbot.waitUntil(lambda: window.keras_ready, timeout=60_000)
    assert window.keras_label.text() == "TensorFlow ready"


def test_train_from_the_menu_then_predict_and_manage(qtbot, window, tiny_csv):
    window.train_tab.set_data_source(str(tiny_csv))
    set_tiny_config(window.train_tab, epochs=3)
    window.train_tab.name_edit.setText("from window")
    with qtbot.waitSignal(window.train_tab.model_saved, timeout=120_000):
        window.train_action.trigger()  # loads the data, then trains
    assert window.tabs.currentIndex() == TAB_TRAIN
    # The new model shows in Predict and Models
    qtbot.waitUntil(lambda: window.predict_tab.current_model() is not None, timeout=10_000)
    assert window.predict_tab.current_model().name == "from window"
    assert window.models_tab.selected_model() is not None or window.models_tab.table.model().rowCount() == 1
    window.predict_tab.set_text("a great film, wonderful acting, i loved it")
    with qtbot.waitSignal(window.predict_tab.prediction_ready, timeout=30_000) as got:
        qtbot.keyClick(window, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert window.tabs.currentIndex() == TAB_PREDICT
    assert got.args[0].label == "positive"


def test_escape_stops_training(qtbot, window, tiny_csv):
    window.train_tab.set_data_source(str(tiny_csv))
    set_tiny_config(window.train_tab, epochs=50)
    with qtbot.waitSignal(window.train_tab.running_changed, timeout=30_000):
        window.train_action.trigger()
    batches = threading.Event()
    # Past epoch 1, whose first batches compile the steps (a stop during one goes idle, but its
    # thread finishes later).
    window.train_tab.run.worker.progress.connect(
        lambda p: batches.set() if p.phase == t.TRAINING and p.epoch >= 2 else None)
    qtbot.waitUntil(batches.is_set, timeout=60_000)
    with qtbot.waitSignal(window.train_tab.running_changed, timeout=1_000):
        qtbot.keyClick(window, Qt.Key.Key_Escape)
    assert not window.train_tab.is_training()


def _train_past_epoch_1(qtbot, window, tiny_csv):
    """Start a long tiny run and return once epoch 2 trains (epoch 1 finished, the steps compiled)."""
    window.train_tab.set_data_source(str(tiny_csv))
    set_tiny_config(window.train_tab, epochs=50)
    with qtbot.waitSignal(window.train_tab.running_changed, timeout=30_000):
        window.train_tab.start_training()
    batches = threading.Event()
    window.train_tab.run.worker.progress.connect(
        lambda p: batches.set() if p.phase == t.TRAINING and p.epoch >= 2 else None)
    qtbot.waitUntil(batches.is_set, timeout=60_000)


def answer(monkeypatch, button):
    asked = []
    monkeypatch.setattr(QMessageBox, "question", lambda parent, title, text, *a, **k: asked.append(text) or button)
    return asked


def test_close_during_training_asks_save_discard_cancel(qtbot, window, tiny_csv, monkeypatch):
    _train_past_epoch_1(qtbot, window, tiny_csv)
    thread = window.train_tab.run.thread
    assert window.tabs.tabText(TAB_TRAIN) == "&Train (running)"  # seen from every tab
    qtbot.waitUntil(lambda: window.training_label.text().startswith("Training: epoch 2/50"), timeout=10_000)

    asked = answer(monkeypatch, QMessageBox.StandardButton.Cancel)
    window.close()
    assert "has not been saved" in asked[0]
    assert window.isVisible() and window.train_tab.is_training()  # Cancel: keeps training

    answer(monkeypatch, QMessageBox.StandardButton.Discard)
    started = time.monotonic()
    window.close()
    closed_in = time.monotonic() - started
    assert not window.isVisible()
    assert thread.isFinished()
    assert closed_in < 1.0, f"closing during training took {closed_in:.2f} s (goal: within a second)"
    assert window.tasks.active() == 0
    assert window.store.list() == []  # discarded, as asked


def test_close_with_a_finished_epoch_saves_it_when_asked(qtbot, window, tiny_csv, monkeypatch):
    """Train, let epoch 1 finish, press Esc, then quit: Save keeps the best epoch, then the window closes."""
    _train_past_epoch_1(qtbot, window, tiny_csv)
    with qtbot.waitSignal(window.train_tab.running_changed, timeout=5_000):
        qtbot.keyClick(window, Qt.Key.Key_Escape)
    assert window.tabs.tabText(TAB_TRAIN) == "&Train" and window.training_label.text() == ""
    answer(monkeypatch, QMessageBox.StandardButton.Save)
    with qtbot.waitSignal(window.train_tab.model_saved, timeout=30_000):
        window.close()
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=10_000)
    (info,) = window.store.list()
    assert info.metadata.results["epochs_completed"] >= 1


def test_close_while_running_saves_the_finished_epochs(qtbot, window, tiny_csv, monkeypatch):
    _train_past_epoch_1(qtbot, window, tiny_csv)
    answer(monkeypatch, QMessageBox.StandardButton.Save)
    with qtbot.waitSignal(window.train_tab.model_saved, timeout=30_000):
        window.close()  # stops the run within a batch, saves its best epoch, then closes
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=10_000)
    assert not window.train_tab.is_training() and len(window.store.list()) == 1


def test_settings_live_under_the_app_home(isolated_home):
    from app.main_window import app_settings

    assert app_settings().fileName() == str(isolated_home / "settings.ini")


def test_window_state_is_remembered(qtbot, tmp_path, no_dialogs, tiny_csv):
    store = ModelStore(tmp_path / "models")
    first = MainWindow(store)
    qtbot.addWidget(first)
    first.resize(640, 480)  # within the offscreen screen (800x600), which restoreGeometry clamps to
    first.tabs.setCurrentIndex(TAB_MODELS)
    first.settings.setValue("data/source", str(tiny_csv))
    first.close()
    second = MainWindow(store)
    qtbot.addWidget(second)
    assert second.tabs.currentIndex() == TAB_MODELS
    assert (second.size().width(), second.size().height()) == (640, 480)
    assert second.train_tab.source_spec() == str(tiny_csv)


def test_discard_during_the_last_epoch_keeps_nothing(qtbot, window, tiny_csv, monkeypatch):
    """Ctrl+Q in the last epoch: the run is held while the question is open (it cannot finish and save
    itself behind it), and Discard then leaves nothing in the store."""
    window.train_tab.set_data_source(str(tiny_csv))
    set_tiny_config(window.train_tab, epochs=2)
    with qtbot.waitSignal(window.train_tab.running_changed, timeout=30_000):
        window.train_tab.start_training()
    last_epoch = threading.Event()
    worker = window.train_tab.run.worker
    worker.progress.connect(lambda p: last_epoch.set() if p.phase == t.TRAINING and p.epoch == 2 else None)
    qtbot.waitUntil(last_epoch.is_set, timeout=60_000)
    saved = []
    window.train_tab.model_saved.connect(saved.append)
    seen = []

    def discard_once_held(parent, title, text, *args, **kwargs):
        seen.append((text, worker.paused, window.train_tab.progress.format()))
        assert worker.holding.wait(30), "the run went on behind the question"
        return QMessageBox.StandardButton.Discard

    monkeypatch.setattr(QMessageBox, "question", discard_once_held)
    window.close()
    text, paused, shown = seen[0]
    assert "has not been saved" in text and "paused" in text and paused and shown.startswith("Paused")
    assert not window.isVisible() and window.tasks.active() == 0
    assert saved == [] and window.store.list() == []


def test_cancel_goes_on_training_after_the_held_question(qtbot, window, tiny_csv, monkeypatch):
    _train_past_epoch_1(qtbot, window, tiny_csv)
    worker = window.train_tab.run.worker

    def cancel_once_held(parent, title, text, *args, **kwargs):
        assert worker.holding.wait(30)
        return QMessageBox.StandardButton.Cancel

    monkeypatch.setattr(QMessageBox, "question", cancel_once_held)
    window.close()
    assert window.isVisible() and not worker.paused and window.train_tab.is_training()
    batches = threading.Event()
    worker.progress.connect(lambda p: batches.set() if p.phase == t.TRAINING else None)
    qtbot.waitUntil(batches.is_set, timeout=30_000)  # it trains again
    answer(monkeypatch, QMessageBox.StandardButton.Discard)  # for the close after the test
    with qtbot.waitSignal(window.train_tab.running_changed, timeout=10_000):
        window.train_tab.stop_training()


def test_a_result_that_arrives_during_the_question_waits_for_the_answer(qtbot, window, tiny_training):
    """A run that ended just before the question: its result is not saved behind it; Discard drops it,
    and after Cancel it saves itself as a finished run always does."""
    import dataclasses

    tab = window.train_tab
    result = dataclasses.replace(tiny_training[1], data_summary=dict(tiny_training[1].data_summary))  # shared
    saved = []
    tab.model_saved.connect(saved.append)
    tab.hold()
    tab._on_succeeded(result)
    assert tab.unsaved is result and tab.tasks.active() == 0 and saved == []
    tab.release("discard")
    assert tab.unsaved is None and not tab.has_unsaved_work()

    tab._discarding = False  # a new run
    tab.hold()
    tab._on_succeeded(result)
    with qtbot.waitSignal(tab.model_saved, timeout=30_000):
        tab.release("cancel")
    assert len(window.store.list()) == 1
