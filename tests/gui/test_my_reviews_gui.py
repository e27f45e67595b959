"""Correcting a prediction in the Predict tab: mark a scored review wrong (kept among my reviews, counted),
undo, then improve the model with them in the background and see before/after, the original untouched."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from app.background import BackgroundTasks
from app.model_cache import model_name_of
from app.my_reviews_panel import describe
from app.predict_tab import PredictTab
from models.fine_tuning import FineTuneSettings
from models.my_reviews import MyReviews
from models.prediction import NEGATIVE, POSITIVE
from models.store import ModelStore
from tests.conftest import save_trained

pytestmark = pytest.mark.gui
LOAD_TIMEOUT = 60_000  # the first load imports Keras
FINE_TUNE_TIMEOUT = 120_000
FAST = FineTuneSettings(epochs=2, min_rehearsal=40, batch_size=16)


@pytest.fixture
def setup(qtbot, tmp_path, tiny_training):
    store = ModelStore(tmp_path / "models")
    original = save_trained(store, tiny_training[1], "tiny")
    tasks = BackgroundTasks()
    tab = PredictTab(store, tasks)
    tab.my_reviews.settings = FAST

    def finish_tasks(_tab):
        qtbot.waitUntil(lambda: tasks.settled() and not _tab._debounce.isActive(), timeout=FINE_TUNE_TIMEOUT)

    qtbot.addWidget(tab, before_close_func=finish_tasks)
    qtbot.waitUntil(lambda: "vocabulary" in tab.model_status.text() and tasks.active() == 0, timeout=LOAD_TIMEOUT)
    return store, original, tab


def score(qtbot, tab, text):
    with qtbot.waitSignal(tab.prediction_ready, timeout=LOAD_TIMEOUT) as blocker:
        tab.set_text(text)
    return blocker.args[0]


def files_of(info) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(info.path.iterdir())}


def test_mark_wrong_count_undo_then_improve_shows_before_and_after(qtbot, setup):
    store, original, tab = setup
    panel = tab.my_reviews
    assert panel.count_label.text() == "My reviews: 0"
    assert not panel.improve_button.isEnabled() and not panel.wrong_positive.isEnabled()

    p = score(qtbot, tab, "a great film, wonderful acting, i loved it")
    assert p.label == POSITIVE
    # Only the other label can be "wrong"; the buttons act on the review on display.
    assert panel.wrong_negative.isEnabled() and not panel.wrong_positive.isEnabled()
    panel.wrong_negative.click()
    assert panel.count_label.text() == "My reviews: 1" and panel.improve_button.isEnabled()
    assert [(r.text, r.label_name) for r in MyReviews.load().reviews] == [
        ("a great film, wonderful acting, i loved it", NEGATIVE)]

    tab.editor.setPlainText("an awful film, terrible acting")  # typed on: the old score is not this text's
    assert not panel.wrong_negative.isEnabled() and not panel.wrong_positive.isEnabled()
    p = score(qtbot, tab, "an awful film, terrible acting, i hated it")
    assert p.label == NEGATIVE and panel.wrong_positive.isEnabled()
    panel.wrong_positive.click()
    p = score(qtbot, tab, "boring and dull, a stupid story")
    panel.wrong_positive.click()
    assert panel.count_label.text() == "My reviews: 3"
    panel.undo_button.click()
    assert panel.count_label.text() == "My reviews: 2" and MyReviews.load().count == 2

    before_files = files_of(original)
    with qtbot.waitSignal(panel.improved, timeout=FINE_TUNE_TIMEOUT) as blocker:
        assert panel.improve()
        assert not panel.improve_button.isEnabled() and not panel.stop_button.isHidden()  # never blocks the window
    result = blocker.args[0]
    qtbot.waitUntil(lambda: tab.tasks.settled(), timeout=LOAD_TIMEOUT)

    assert files_of(original) == before_files
    assert result.saved.name == "tiny + 2 of my reviews" and result.original.id == original.id
    shown = panel.message.text()
    assert "Saved 'tiny + 2 of my reviews'" in shown
    assert f"{result.before.validation:.1%} before, {result.after.validation:.1%} after" in shown
    assert f"{result.before.test:.1%} before, {result.after.test:.1%} after" in shown
    assert f"Test ({result.test_reviews:,} reviews)" in shown and "held-out validation reviews" in shown
    # A change of one review in 5,000 is written as it is, never as "+0.0 points"
    one = replace(result, before=replace(result.before, test=0.9), after=replace(result.after, test=0.9002))
    assert "90.0% before, 90.0% after (+0.02 points)" in describe(one)
    assert "90.0% before, 90.0% after (no change)" in describe(replace(one, after=replace(one.after, test=0.9)))
    # Both were marked wrong where the model had scored them: the original got none of them right.
    assert result.before.mine == 0.0 and "Your reviews (2, as you labelled them): 0.0% before" in shown
    stored = json.loads((result.saved.path / "metadata.json").read_text(encoding="utf-8"))["fine_tuned"]
    assert stored["before"] == result.before.to_json() and stored["after"] == result.after.to_json()

    names = [model_name_of(tab.model_combo.itemText(i)) for i in range(tab.model_combo.count())]
    assert sorted(names) == ["tiny", "tiny + 2 of my reviews"]
    chosen = model_name_of(tab.model_combo.currentText())
    if result.made_default:
        assert chosen == "tiny + 2 of my reviews" and "now the default model" in shown
    else:
        assert chosen == "tiny" and "not made the default" in shown and store.newest().id == original.id
    assert panel.stop_button.isHidden() and panel.improve_button.isEnabled()


def test_a_drop_in_test_accuracy_is_shown_and_the_original_stays_chosen(qtbot, setup):
    store, original, tab = setup
    panel = tab.my_reviews
    # Nothing rehearsed and a high learning rate on reviews labelled the wrong way round: it gets worse.
    panel.settings = FineTuneSettings(epochs=4, min_rehearsal=0, rehearsal_per_review=0, batch_size=4,
                                      learning_rate=0.05)
    for text in ("a great film, wonderful acting, i loved it", "brilliant and moving, a superb story",
                 "excellent cast, truly fun, i loved it"):
        assert score(qtbot, tab, text).label == POSITIVE
        panel.wrong_negative.click()
    for text in ("an awful film, terrible acting, i hated it", "boring and dull, a stupid story, truly bad"):
        assert score(qtbot, tab, text).label == NEGATIVE
        panel.wrong_positive.click()
    with qtbot.waitSignal(panel.improved, timeout=FINE_TUNE_TIMEOUT) as blocker:
        panel.improve_button.click()
    result = blocker.args[0]
    qtbot.waitUntil(lambda: tab.tasks.settled(), timeout=LOAD_TIMEOUT)
    assert result.dropped
    assert "dropped by" in panel.message.text() and "not made the default" in panel.message.text()
    assert "color:" in panel.message.styleSheet()
    assert model_name_of(tab.model_combo.currentText()) == "tiny"
    assert store.newest().id == original.id

    # A window opened afterwards (a new tab) opens on the original too, not on the newer copy.
    again = PredictTab(store, BackgroundTasks())
    qtbot.addWidget(again)
    assert model_name_of(again.model_combo.currentText()) == "tiny"
    qtbot.waitUntil(lambda: again.tasks.settled(), timeout=LOAD_TIMEOUT)


def test_a_damaged_file_of_my_reviews_is_said_and_marking_is_off(qtbot, tmp_path, tiny_training):
    from models import paths

    path = paths.data_dir() / "my_reviews.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("{broken", encoding="utf-8")
    store = ModelStore(tmp_path / "models")
    save_trained(store, tiny_training[1], "tiny")
    tab = PredictTab(store, BackgroundTasks())
    qtbot.addWidget(tab)
    panel = tab.my_reviews
    assert "not JSON" in panel.message.text() and panel.count_label.text() == "My reviews: unavailable"
    assert not panel.improve_button.isEnabled() and not panel.wrong_positive.isEnabled()
    assert path.read_text(encoding="utf-8") == "{broken"
    qtbot.waitUntil(lambda: tab.tasks.settled() and not tab._debounce.isActive(), timeout=LOAD_TIMEOUT)


def test_stop_ends_the_fine_tune_and_saves_nothing(qtbot, setup):
    store, original, tab = setup
    panel = tab.my_reviews
    assert score(qtbot, tab, "a great film, wonderful acting").label == POSITIVE
    panel.wrong_negative.click()
    with qtbot.waitSignal(panel.improve_failed, timeout=FINE_TUNE_TIMEOUT) as blocker:
        panel.improve_button.click()
        panel.stop_button.click()  # before its first step: it stops at the next look at the flag
    qtbot.waitUntil(lambda: tab.tasks.settled(), timeout=LOAD_TIMEOUT)
    assert "stopped; nothing was saved" in blocker.args[0] and "stopped" in panel.message.text()
    assert [i.id for i in store.list()] == [original.id]
    assert panel.stop_button.isHidden() and panel.improve_button.isEnabled() and panel.count == 1


def test_a_data_set_not_where_it_was_recorded_is_asked_for(qtbot, setup, monkeypatch):
    """The model's data set is not at its recorded path (a relative path, another computer): the user picks
    their copy (cancel: nothing runs), which is read and used."""
    from PySide6.QtWidgets import QFileDialog

    import app.my_reviews_panel as panel_module

    store, original, tab = setup
    panel = tab.my_reviews
    assert score(qtbot, tab, "a great film, wonderful acting, i loved it").label == POSITIVE
    panel.wrong_negative.click()
    monkeypatch.setattr(panel_module, "trained_on_at_hand", lambda source, builtin: None)
    asked: list[str] = []
    answer = {"path": ""}

    def ask(parent, title, *args, **kwargs):
        asked.append(title)
        return answer["path"], ""

    monkeypatch.setattr(QFileDialog, "getOpenFileName", ask)
    assert panel.improve() is False and not panel.running  # cancelled: nothing runs
    assert len(asked) == 1 and "'tiny'" in asked[0] and "not there on this computer" in panel.message.text()
    answer["path"] = original.metadata.source  # the user's copy
    with qtbot.waitSignal(panel.improved, timeout=FINE_TUNE_TIMEOUT) as blocker:
        assert panel.improve() is True
    assert len(asked) == 2 and blocker.args[0].saved.name == "tiny + 1 of my reviews"
    qtbot.waitUntil(lambda: tab.tasks.settled(), timeout=LOAD_TIMEOUT)
