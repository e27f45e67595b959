"""Your label corrections in the window: counted in the Train tab, trained with ("Apply my corrections"),
and the Evaluate tab's "Labels: original / corrected" switch; a changed data file gets none of them."""

from __future__ import annotations

import json

import numpy as np
import pytest

from app.background import BackgroundTasks
from app.cli_corrections import corrected_metrics
from app.evaluate_tab import EvaluateTab
from app.training_tab import TrainingTab
from models.corrections import EXCLUDE, FLIP, RIGHT, load_for
from models.datasets import load_csv
from models.evaluation import evaluate, metrics
from models.prediction import Predictor
from models.store import ModelStore
from tests.conftest import save_trained
from tests.gui.conftest import set_tiny_config
from tests.test_suspects import write_noisy_csv

pytestmark = pytest.mark.gui
TIMEOUT = 60_000


@pytest.fixture
def noisy(tmp_path):
    return write_noisy_csv(tmp_path / "noisy.csv", n=160)


@pytest.fixture
def tasks(qtbot):
    tasks = BackgroundTasks()
    yield tasks
    qtbot.waitUntil(tasks.settled, timeout=TIMEOUT)


@pytest.fixture
def train_tab(qtbot, tmp_path, tasks, no_dialogs):
    tab = TrainingTab(ModelStore(tmp_path / "models"), tasks)
    qtbot.addWidget(tab)
    tab.show()
    yield tab
    assert tab.shutdown(10_000)


def load(qtbot, tab, path):
    tab.set_data_source(str(path))
    with qtbot.waitSignal(tab.data_source_changed, timeout=TIMEOUT):
        tab.load_data_clicked()


def mark(path, verdicts):
    """Record ``verdicts`` [(split, index in the split, action)] as the Suspect labels window does."""
    data = load_csv(path)
    book, _ = load_for(str(path))
    rows = []
    for split, index, action in verdicts:
        part = data.test if split == "test" else data.train
        rows.append(book.mark(part, split, part.row_id(index), action).row)
    book.save()
    return data, rows


def train_once(qtbot, tab):
    set_tiny_config(tab, epochs=1)
    with qtbot.waitSignal(tab.model_saved, timeout=120_000) as saved:
        tab.train_button.click()
    return tab.store.find(saved.args[0])


def saved_metadata(info) -> dict:
    return json.loads((info.path / "metadata.json").read_text(encoding="utf-8"))


def test_train_tab_counts_the_corrections_and_trains_with_them(qtbot, train_tab, noisy):
    tab = train_tab
    load(qtbot, tab, noisy)
    assert "Corrections: none yet" in tab.data_view.corrections.note.text()
    check = tab.data_view.corrections.apply_check
    assert not check.isEnabled() and check.text() == "Apply my corrections (0)"

    data, _ = mark(noisy, [("train", 0, FLIP), ("train", 1, FLIP), ("test", 0, FLIP), ("test", 1, EXCLUDE),
                           ("test", 2, RIGHT)])
    tab.hide()
    tab.show()  # back to the tab after marking in the Evaluate tab: the count is read again
    assert "Corrections: 3 flipped, 1 excluded, 1 marked right." in tab.data_view.corrections.note.text()
    assert check.isEnabled() and check.text() == "Apply my corrections (4)"  # "right" changes nothing
    check.setChecked(True)
    info = train_once(qtbot, tab)

    c = saved_metadata(info)["corrections"]  # recorded as train --corrections records it
    book, _ = load_for(str(noisy))
    assert c["dataset_sha256"] == book.identity.sha256
    assert c["flipped"] == {"train": 2, "test": 1} and c["excluded"] == {"train": 0, "test": 1}
    assert c["not_applied"] == 0 and c["marked_right"] == {"train": 0, "test": 1}
    assert saved_metadata(info)["data"]["test"] == len(data.test) - 1  # tested on the corrected split
    # Both accuracies, checked against the saved model's own scores on the original test split.
    probabilities = evaluate(Predictor.from_store(tab.store, info.id), data).probabilities
    labels = data.test.labels.copy()
    labels[0] = 1 - labels[0]
    kept = np.arange(len(labels)) != 1
    assert c["test_accuracy_original_labels"] == pytest.approx(metrics(data.test.labels, probabilities).accuracy)
    assert c["test_accuracy_corrected_labels"] == pytest.approx(metrics(labels[kept], probabilities[kept]).accuracy)
    summary = tab.summary.text()
    assert "Trained with your corrections (3 labels flipped, 1 review excluded):" in summary
    assert (f"test accuracy {c['test_accuracy_original_labels']:.1%} on the file's labels, "
            f"{c['test_accuracy_corrected_labels']:.1%} on the corrected ones." in summary)
    assert "with your 4 corrections" in tab.log.toPlainText()

    check.setChecked(False)  # unticked: the file's labels, nothing recorded
    plain = train_once(qtbot, tab)
    assert "corrections" not in saved_metadata(plain)
    assert "Trained with your corrections" not in tab.summary.text()


def test_a_changed_file_shows_why_and_applies_nothing(qtbot, train_tab, tasks, noisy, tiny_training):
    mark(noisy, [("test", 0, FLIP), ("train", 0, EXCLUDE)])
    noisy.write_text(noisy.read_text(encoding="utf-8") + "one more great film,1\n", encoding="utf-8")
    tab = train_tab
    load(qtbot, tab, noisy)
    note = tab.data_view.corrections.note.text()
    assert "noisy.csv has changed since 2 corrections were made on it" in note and "not applied" in note
    assert "none yet" not in note  # it read "Corrections: none yet" above "2 corrections were made"
    check = tab.data_view.corrections.apply_check
    assert not check.isEnabled() and check.text() == "Apply my corrections (0)"
    check.setChecked(True)  # even forced, the run gets no book
    assert tab.data_view.corrections.book_to_apply() is None and not check.isChecked()
    info = train_once(qtbot, tab)
    assert "corrections" not in saved_metadata(info)

    save_trained(tab.store, tiny_training[1], "tiny")
    evaluate_tab = EvaluateTab(tab.store, tasks)
    qtbot.addWidget(evaluate_tab)
    evaluate_tab.set_data_source(str(noisy))
    with qtbot.waitSignal(evaluate_tab.evaluated, timeout=TIMEOUT):
        evaluate_tab.evaluate_button.click()
    switch = evaluate_tab.labels_switch
    assert not switch.combo.isEnabled() and "has changed since 2 corrections" in switch.note.text()


def test_evaluate_switch_shows_the_figures_on_either_labelling(qtbot, tmp_path, tasks, noisy, tiny_training):
    store = ModelStore(tmp_path / "models")
    save_trained(store, tiny_training[1], "tiny")
    tab = EvaluateTab(store, tasks)
    qtbot.addWidget(tab)
    tab.show()
    tab.set_data_source(str(noisy))
    with qtbot.waitSignal(tab.evaluated, timeout=TIMEOUT):
        tab.evaluate_button.click()
    switch = tab.labels_switch
    assert not switch.combo.isEnabled() and "No corrections of this data set" in switch.note.text()
    original = tab.metrics()[0]
    scored = tab.evaluations[0]
    n = scored.n

    data, _ = mark(noisy, [("test", 0, FLIP), ("test", 1, FLIP), ("test", 2, EXCLUDE), ("train", 0, FLIP)])
    tab.suspects_button.click()  # the verdicts are given there; closing it shows them here
    tab.suspects_dialog.close()
    assert switch.combo.isEnabled() and "2 flipped and 1 excluded among these test reviews" in switch.note.text()
    assert tab.metrics()[0].accuracy == original.accuracy and tab.metrics()[0].n == n  # until switched

    switch.show_corrected(True)
    fixed = tab.metrics()[0]
    assert fixed.n == n - 1 and tab.evaluations[0].n == n - 1
    labels = data.test.labels.copy()
    labels[:2] = 1 - labels[:2]
    assert fixed.accuracy == pytest.approx(metrics(np.delete(labels, 2),
                                                   np.delete(scored.probabilities, 2)).accuracy)
    assert abs(fixed.accuracy - original.accuracy) > 0  # two flips of 159 move it
    # The same figures as evaluate --corrections gives, at another threshold too.
    tab.set_threshold(0.3)
    cli = corrected_metrics(str(noisy), data, scored, 0.3)
    assert (cli["flipped"], cli["excluded"]) == (2, 1)
    assert tab.metrics()[0].accuracy == pytest.approx(cli["accuracy"]) and cli["n"] == n - 1
    assert tab.shown_indices().max() < n - 1  # the reviews listed are those of the corrected view

    switch.show_corrected(False)
    tab.set_threshold(0.5)
    assert tab.metrics()[0].accuracy == original.accuracy and tab.evaluations[0] is scored
