"""The Train tab driven like a user: load data, press Train, watch curves, Stop."""

from __future__ import annotations

import pytest

from app.background import BackgroundTasks
from app.training_tab import TrainingTab
from models import training as t
from models.store import ModelStore
from tests.gui.conftest import set_tiny_config

pytestmark = pytest.mark.gui


@pytest.fixture
def tab(qtbot, tmp_path, no_dialogs):
    store = ModelStore(tmp_path / "models")
    tasks = BackgroundTasks()
    widget = TrainingTab(store, tasks)
    qtbot.addWidget(widget)
    widget.show()
    yield widget
    assert widget.shutdown(10_000)
    qtbot.waitUntil(tasks.settled, timeout=10_000)


def load(qtbot, tab, path):
    tab.set_data_source(str(path))
    with qtbot.waitSignal(tab.data_source_changed, timeout=30_000):
        tab.load_data_clicked()


def test_load_shows_counts_histogram_and_truncation(qtbot, tab, tiny_csv):
    load(qtbot, tab, tiny_csv)
    assert "192 training reviews" in tab.data_view.data_summary.text()
    assert "48 test reviews" in tab.data_view.data_summary.text()
    xs, ys = tab.data_view.length_hist.getData()
    assert ys.sum() + int(sum(tab.data_view.lengths > xs[-1])) == 192
    tab.form.fields["maxlen"].setValue(5)
    assert tab.data_view.maxlen_line.value() == 5
    assert "100% of training reviews are longer than 5 words" in tab.data_view.truncation_note.text()


def test_bad_data_source_shows_message(qtbot, tab, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("body,stars\nhello,5\n")
    tab.set_data_source(str(bad))
    with qtbot.waitSignal(tab.status_message, timeout=10_000, check_params_cb=lambda m: "no text column" in m):
        tab.load_data_clicked()
    assert "no text column" in tab.data_view.data_summary.text()
    assert tab.train_button.isEnabled()


def test_form_refuses_out_of_range_values_and_says_the_range(qtbot, tab):
    epochs = tab.form.fields["epochs"]
    epochs.selectAll()
    qtbot.keyClicks(epochs, "0")
    epochs.interpretText()
    assert epochs.value() >= 1 and "from 1 to 1,000" in epochs.toolTip()
    tab.form.fields["batch_size"].setValue(-5)
    assert tab.form.fields["batch_size"].value() == 1
    tab.form.fields["dropout"].setValue(1.5)  # training takes dropout below 1: 0.99 at two decimals
    assert tab.form.fields["dropout"].value() == 0.99 and "to 0.99" in tab.form.fields["dropout"].toolTip()
    assert tab.config().validated() and tab.train_button.isEnabled()
    assert tab.form.fields["validation_split"].isEnabled()  # by default: held-out training reviews
    tab.form.validation_combo.setCurrentIndex(tab.form.validation_combo.findData("test"))
    assert not tab.form.fields["validation_split"].isEnabled()
    assert "tutorials' way" in tab.form.validation_combo.currentText()


def test_presets_fill_the_form(tab):
    assert tab.config().maxlen == 80 and tab.config().lstm_units == 128
    tab.form.preset_combo.setCurrentIndex(tab.form.preset_combo.findData("lstm100-5k-dropout"))
    c = tab.config()
    assert (c.vocab_size, c.maxlen, c.lstm_units, c.epochs, c.batch_size) == (5000, 500, 100, 3, 64)


def test_train_two_epochs_through_the_button(qtbot, tab, tiny_csv):
    load(qtbot, tab, tiny_csv)
    set_tiny_config(tab, epochs=2)
    tab.name_edit.setText("gui model")
    with qtbot.waitSignal(tab.model_saved, timeout=120_000) as saved:
        qtbot.mouseClick(tab.train_button, pytest.importorskip("PySide6.QtCore").Qt.MouseButton.LeftButton)
    info = tab.store.find(saved.args[0])
    assert info.name == "gui model" and info.damaged is None
    tab.plots.flush()
    for curve in (tab.plots.loss_curve, tab.plots.val_loss_curve, tab.plots.acc_curve, tab.plots.val_acc_curve):
        xs, ys = curve.getData()
        assert list(xs) == [1, 2] and len(ys) == 2
    assert len(tab.plots.batch_x) == 2 * 10  # 192 reviews less 38 held out, batch 16, every batch plotted
    assert tab.plots.best_epoch in (1, 2) and tab.plots.best_lines[0].isVisible()
    # One sentence, true after the save: what ran, what was kept and why, its scores, where it went.
    summary = tab.summary.text()
    results = info.metadata.results
    assert summary.startswith("<b>Finished</b> 2 epochs in ") and summary.count("<b>") == 2  # finished, the name
    assert f"kept epoch {results['best_epoch']}, chosen on held-out training reviews" in summary
    assert f"test accuracy {results['test_accuracy']:.1%}" in summary
    assert summary.endswith("saved as <b>gui model</b>.") and "Save model" not in summary
    assert "Finished 2 epochs in " in tab.log.toPlainText() and "<b>" not in tab.log.toPlainText()
    assert info.metadata.preset == "custom (from imdb-lstm)"  # the tiny form is not the preset
    assert tab.progress.value() == 1000
    assert not tab.is_training() and tab.train_button.isEnabled()
    assert tab.run_view.compare_combo.findData(info.id) >= 0


def test_stop_ends_training_within_a_second_and_saves_nothing(qtbot, tab, tiny_csv):
    load(qtbot, tab, tiny_csv)
    set_tiny_config(tab, epochs=50)
    batches = []

    def first_batches(p):
        if p.phase == t.TRAINING:
            batches.append(p)
        return len(batches) >= 3

    with qtbot.waitSignal(tab.running_changed, timeout=10_000):
        tab.start_training()
    run = tab.run
    run.worker.progress.connect(first_batches)
    qtbot.waitUntil(lambda: len(batches) >= 3, timeout=60_000)
    with qtbot.waitSignal(tab.running_changed, timeout=1_000):
        tab.stop_training()
    assert not tab.is_training()
    assert tab.store.list() == []
    assert "Stopped" in tab.summary.text()


def test_stop_after_an_epoch_offers_to_save(qtbot, tab, tiny_csv):
    load(qtbot, tab, tiny_csv)
    set_tiny_config(tab, epochs=50)
    epochs = []
    with qtbot.waitSignal(tab.running_changed, timeout=10_000):
        tab.start_training()
    tab.run.worker.progress.connect(lambda p: epochs.append(p) if p.phase == t.EPOCH_END else None)
    qtbot.waitUntil(lambda: len(epochs) >= 1, timeout=60_000)
    with qtbot.waitSignal(tab.running_changed, timeout=1_000):
        tab.stop_training()
    assert tab.save_button.isEnabled() and "Save model" in tab.summary.text()
    with qtbot.waitSignal(tab.model_saved, timeout=30_000):
        tab.save_button.click()
    assert len(tab.store.list()) == 1


def test_export_png_and_csv(qtbot, tab, tmp_path):
    tab.plots.add_epoch({"loss": 0.5, "accuracy": 0.7, "val_loss": 0.6, "val_accuracy": 0.65})
    tab.plots.export_png(tmp_path / "p.png")
    tab.plots.export_csv(tmp_path / "h.csv")
    assert (tmp_path / "p.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "h.csv").read_text().splitlines()[1].startswith('"1","0.5","0.7","0.6","0.65"')


def test_the_action_buttons_stay_in_view_at_the_default_size(qtbot, tab, tiny_csv):
    tab.resize(1280, 760)  # the Train tab's share of the default 1280x820 window
    load(qtbot, tab, tiny_csv)
    qtbot.wait(50)
    for button in (tab.train_button, tab.stop_button, tab.save_button):
        assert button.isVisible() and not button.visibleRegion().isEmpty(), button.text()


def test_a_failed_load_clears_the_previous_data(qtbot, tab, tiny_csv, tmp_path):
    load(qtbot, tab, tiny_csv)
    assert tab.data_view.length_plot.isVisible() and tab.data_view.truncation_note.text()
    bad = tmp_path / "bad.csv"
    bad.write_text("body,stars\nhello,5\n")
    tab.set_data_source(str(bad))
    with qtbot.waitSignal(tab.status_message, timeout=10_000, check_params_cb=lambda m: "no text column" in m):
        tab.load_data_clicked()
    assert not tab.data_view.length_plot.isVisible() and tab.data_view.truncation_note.text() == "" and tab.data is None
    assert "192" not in tab.data_view.data_summary.text()


def test_the_remembered_data_path_is_absolute(qtbot, tab, tiny_csv, monkeypatch):
    monkeypatch.chdir(tiny_csv.parent.parent)
    relative = f"{tiny_csv.parent.name}/{tiny_csv.name}"
    tab.set_data_source(relative)
    with qtbot.waitSignal(tab.data_source_changed, timeout=30_000) as changed:
        tab.load_data_clicked()
    assert changed.args[0] == str(tiny_csv) and tab.source_spec() == str(tiny_csv)


def test_an_edited_preset_is_recorded_as_custom(tab):
    assert tab.preset_name() == "imdb-lstm"
    tab.form.xla_check.setChecked(False)  # how it runs, not what it trains
    assert tab.preset_name() == "imdb-lstm"
    tab.form.fields["epochs"].setValue(3)
    assert tab.preset_name() == "custom (from imdb-lstm)"
    tab.form.fields["epochs"].setValue(15)
    assert tab.preset_name() == "imdb-lstm"


def test_reviews_to_use_limits_the_run(qtbot, tab, tiny_csv):
    load(qtbot, tab, tiny_csv)
    set_tiny_config(tab, epochs=1)
    tab.data_view.limit_box.setValue(40)  # as --limit: 40 per split, balanced
    events = []
    with qtbot.waitSignal(tab.model_saved, timeout=120_000) as saved:
        tab.start_training()
        tab.run.worker.progress.connect(events.append)
    data = tab.store.find(saved.args[0]).metadata.data
    assert (data["train"], data["test"], data["train_positive"]) == (40, 40, 20)
    assert tab.data_view.limit_box.specialValueText() == "all" and tab.data_view.limit_box.minimum() == 0


def test_a_new_run_with_an_unsaved_result_asks_save_discard_cancel(qtbot, tab, tiny_csv, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    load(qtbot, tab, tiny_csv)
    set_tiny_config(tab, epochs=50)
    epochs = []
    with qtbot.waitSignal(tab.running_changed, timeout=10_000):
        tab.start_training()
    tab.run.worker.progress.connect(lambda p: epochs.append(p) if p.phase == t.EPOCH_END else None)
    qtbot.waitUntil(lambda: len(epochs) >= 1, timeout=60_000)
    with qtbot.waitSignal(tab.running_changed, timeout=5_000):
        tab.stop_training()
    unsaved = tab.unsaved
    asked = []

    def answer(button):
        monkeypatch.setattr(QMessageBox, "question", lambda parent, title, text, *a, **k: asked.append(text) or button)

    answer(QMessageBox.StandardButton.Cancel)
    tab.start_training()
    assert "has not been saved" in asked[-1] and not tab.is_training() and tab.unsaved is unsaved

    answer(QMessageBox.StandardButton.Save)  # saves, then starts the new run
    with qtbot.waitSignal(tab.running_changed, timeout=30_000):
        tab.start_training()
    assert len(tab.store.list()) == 1 and tab.is_training()
    with qtbot.waitSignal(tab.running_changed, timeout=5_000):
        tab.stop_training()


def test_the_progress_text_is_never_split_by_the_bar_fill(tab):
    tab.progress.setValue(500)
    tab.progress.setFormat("Epoch 2/10 · batch 250/500")
    assert not tab.progress.isTextVisible()  # nothing painted across the fill's edge
    assert tab.progress.label.text() == tab.progress.format() == "Epoch 2/10 · batch 250/500"
    assert tab.progress.label.isVisible()


def test_a_bad_reviews_to_use_is_said_in_the_form_and_leaves_no_button_on(qtbot, tab, tiny_csv):
    tab.set_data_source(str(tiny_csv))
    tab.data_view.limit_box.setValue(1)
    note = tab.data_view.limit_note
    assert note.isVisible() and "at least 2 per split" in note.text() and "--limit" not in note.text()
    assert not tab.train_button.isEnabled()
    tab.start_training()  # Ctrl+T still reaches it: refused, in the tab
    assert not tab.is_training() and not tab.stop_button.isEnabled() and not tab.data_view.loading
    assert "Not started" in tab.summary.text() and "Not started: Reviews to use" in tab.log.toPlainText()
    tab.data_view.limit_box.setValue(2)
    assert not note.isVisible() and tab.train_button.isEnabled()


def test_a_run_refused_after_loading_turns_stop_off(qtbot, tab, tiny_csv, monkeypatch):
    """Train pressed before the data is loaded: Stop is on while it loads; if the run then cannot
    start, the tab says why and Stop goes off again (never on while idle)."""
    from models.datasets import Dataset, DataSourceError

    def refuse(self, limit, seed=0):
        raise DataSourceError("the data set has too few reviews")

    monkeypatch.setattr(Dataset, "limited", refuse)
    tab.set_data_source(str(tiny_csv))
    set_tiny_config(tab, epochs=1)
    with qtbot.waitSignal(tab.data_source_changed, timeout=30_000):
        tab.start_training()
        assert tab.stop_button.isEnabled()  # the pending run can be called off while loading
    assert not tab.is_training() and not tab.stop_button.isEnabled() and tab.train_button.isEnabled()
    assert "too few reviews" in tab.summary.text() and "too few reviews" in tab.log.toPlainText()


def test_the_longest_reviews_are_counted_beside_the_histogram_not_lumped_into_its_last_bin(qtbot, tab, tmp_path):
    import csv

    path = tmp_path / "lengths.csv"
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["text", "label", "split"])
        for i in range(400):
            words = 3000 if i < 3 else 20 + i % 50  # three reviews far past the 99th percentile
            w.writerow([" ".join(["word"] * words), i % 2, "train"])
        w.writerows([["a test review", i % 2, "test"] for i in range(4)])
    load(qtbot, tab, path)
    xs, ys = tab.data_view.length_hist.getData()
    top = xs[-1]
    assert top < 3000 and ys.sum() == 397 and ys[-1] <= ys[:-1].max()  # no spike at the right edge
    assert tab.data_view.length_overflow.toPlainText() == f"not shown: 3 longer than {int(top):,}\n(up to 3,000 words)"
