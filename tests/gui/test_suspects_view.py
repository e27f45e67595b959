"""The Suspect labels window, driven offscreen: find, mark (flip, right), undo; opened from the Evaluate tab."""

from __future__ import annotations

import time

import pytest
from PySide6.QtCore import Qt

from app.background import BackgroundTasks
from app.evaluate_tab import EvaluateTab
from app.suspects_view import SuspectLabelsDialog
from models.corrections import FLIP, RIGHT, load_for
from models.datasets import load_csv
from models.paths import builtin_model_dirs
from models.store import ModelStore
from tests.test_suspects import FLIPPED_ROWS, write_noisy_csv

pytestmark = pytest.mark.gui
TIMEOUT = 60_000


@pytest.fixture
def noisy(tmp_path):
    return write_noisy_csv(tmp_path / "noisy.csv", split="test")


@pytest.fixture
def tasks(qtbot):
    tasks = BackgroundTasks()
    yield tasks
    qtbot.waitUntil(tasks.settled, timeout=TIMEOUT)


def test_find_mark_and_undo(qtbot, tasks, noisy):
    data = load_csv(noisy)
    dialog = SuspectLabelsDialog(ModelStore(builtin=builtin_model_dirs()), tasks, str(noisy), data)
    qtbot.addWidget(dialog)
    dialog.show()
    assert not dialog.flip_button.isEnabled() and not dialog.undo_button.isEnabled()
    progress = []
    dialog._progress.connect(progress.append)
    with qtbot.waitSignal(dialog.found, timeout=TIMEOUT):
        qtbot.mouseClick(dialog.find_button, Qt.MouseButton.LeftButton)
    assert progress[-1] == "Scoring: 240 of 240 reviews ..."  # reported from the search's thread
    count = dialog.table.rowCount()
    assert count == len(dialog.suspects) > 0
    assert "suspect labels among 240 test reviews" in dialog.status.text()
    assert len({s.row for s in dialog.suspects[:10]} & set(FLIPPED_ROWS)) >= 3
    first, second = dialog.suspects[0], dialog.suspects[1]
    assert dialog.selected() == first and first.text in dialog.text.toPlainText()

    dialog.flip_button.click()  # the first one is selected
    assert dialog.table.rowCount() == count - 1 and dialog.selected() == second
    dialog.right_button.click()
    book, _ = load_for(str(noisy))  # saved at once: what a restart would read
    assert [(c.row, c.action) for c in book.corrections] == [(first.row, FLIP), (second.row, RIGHT)]
    assert "1 flipped, 0 excluded, 1 marked right" in dialog.counts.text()

    dialog.undo_button.click()
    book, _ = load_for(str(noisy))
    assert [(c.row, c.action) for c in book.corrections] == [(first.row, FLIP)]
    assert "no longer marked right" in dialog.status.text()

    with qtbot.waitSignal(dialog.found, timeout=TIMEOUT):  # the flipped review now agrees with the model
        dialog.find_button.click()
    rows = [s.row for s in dialog.suspects]
    assert first.row not in rows and second.row in rows


def test_the_evaluate_tab_opens_it_for_the_data_set_it_evaluated(qtbot, tasks, noisy):
    tab = EvaluateTab(ModelStore(builtin=builtin_model_dirs()), tasks)
    qtbot.addWidget(tab)
    tab.show()
    assert not tab.suspects_button.isEnabled()  # nothing evaluated yet
    tab.set_data_source(str(noisy))
    with qtbot.waitSignal(tab.evaluated, timeout=TIMEOUT):
        tab.evaluate_button.click()
    assert tab.suspects_button.isEnabled()
    tab.suspects_button.click()
    dialog = tab.suspects_dialog
    assert dialog is not None and dialog.isVisible() and dialog.spec == str(noisy)
    assert len(dialog.data.test) == 240
    dialog.close()


def test_closing_the_window_stops_a_search_of_the_training_split(qtbot, tasks, tmp_path, monkeypatch):
    import app.suspects_view as view

    real = view.suspect_labels

    def held_until_stopped(*args, should_stop, **kwargs):  # so the close surely comes first
        deadline = time.monotonic() + 30
        while not should_stop() and time.monotonic() < deadline:
            time.sleep(0.01)
        return real(*args, should_stop=should_stop, **kwargs)

    monkeypatch.setattr(view, "suspect_labels", held_until_stopped)
    data = load_csv(write_noisy_csv(tmp_path / "train.csv", split="train"))
    dialog = SuspectLabelsDialog(ModelStore(builtin=builtin_model_dirs()), tasks, str(tmp_path / "train.csv"), data)
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.split_combo.setCurrentIndex(dialog.split_combo.findData("train"))
    with qtbot.waitSignal(dialog.found, timeout=TIMEOUT):
        dialog.find_button.click()
        dialog.close()
    assert "cancelled" in dialog.status.text()
    assert dialog.suspects == []
