"""The Train tab: pick data and hyperparameters, press Train, watch the curves, save the model."""

from __future__ import annotations

import html
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import (
    QGroupBox,
    QHBoxLayout,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from app.background import BackgroundTasks
from app.corrections_ui import corrections_sentence
from app.data_source_view import DataSourceView
from app.formatting import format_clock
from app.hyperparameter_form import HyperparameterForm
from app.training_run_view import TrainingRunView, run_sentence
from app.training_worker import TrainingRun
from app.wrapping import WrappingScrollArea
from models import training as t
from models.config import (
    DEFAULT_PRESET,
    TrainingConfig,
)
from models.datasets import Dataset
from models.errors import UserFacingError
from models.store import ModelStore
from models.training import TrainingResult, run_metadata

PROGRESS_TEXT_SECONDS = 0.2  # the progress bar's text is refreshed at most this often
DETACH_AFTER_MS = 500  # a stopped run still busy after this, with no epoch done, is let go (see below)


SAVE, DISCARD, CANCEL = "save", "discard", "cancel"


def ask_save_discard_cancel(parent: QWidget, title: str, text: str) -> str:
    """Save / Discard / Cancel, Save the default: SAVE, DISCARD or CANCEL (also for a closed dialog)."""
    buttons = QMessageBox.StandardButton
    answer = QMessageBox.question(parent, title, text, buttons.Save | buttons.Discard | buttons.Cancel, buttons.Save)
    return {buttons.Save: SAVE, buttons.Discard: DISCARD}.get(answer, CANCEL)


class TrainingTab(QWidget):
    status_message = Signal(str)
    model_saved = Signal(str)  # id of the new model in the store
    evaluate_requested = Signal(str)  # id of the model to open in the Evaluate tab
    running_changed = Signal(bool)
    run_progress = Signal(str)  # a short line on the running training, for the window's status bar
    data_source_changed = Signal(str)

    def __init__(self, store: ModelStore, tasks: BackgroundTasks, parent: QWidget | None = None):
        super().__init__(parent)
        self.store = store
        self.tasks = tasks
        self.last_saved_id: str | None = None  # the model this tab saved last (for "Evaluate this model")
        self.run: TrainingRun | None = None
        self.unsaved: TrainingResult | None = None
        self.unsaved_preset: str | None = None
        self.unsaved_corrections: dict | None = None  # the unsaved run's corrections (CorrectedTraining.summary)
        self._progress_shown = 0.0  # time.monotonic() of the last progress bar update
        self._epochs_done = 0  # of the current run
        self._result_in = False  # the current run's result (or failure) has reached the tab
        self._finishing: list[TrainingRun] = []  # stopped runs still leaving TensorFlow, see _detach_if_compiling
        self._pending_train = False
        self._run_preset = DEFAULT_PRESET  # the preset (or "custom (from ...)") of the current or last run
        self._after_result: Callable[[bool], None] | None = None  # save_then's callback, once a run stops
        self._saving: TrainingResult | None = None  # the result a background save is writing
        self._held = False  # the window is asking what to do with the run (see hold)
        self._held_success: TrainingResult | None = None  # a finished run's result that arrived meanwhile
        self._discarding = False  # the run was discarded: its result, when it comes, is not kept

        self._build_data_group()
        self._build_model_group()
        self._build_run_area()
        self._on_config_edited()

    # -- construction -------------------------------------------------------------------------
    def _build_data_group(self) -> None:
        self.data_view = DataSourceView(self.tasks)  # the source, its figures and length histogram, corrections
        self.data_view.status_message.connect(self.status_message)
        self.data_view.loading_changed.connect(lambda _: self._update_buttons())
        self.data_view.loaded.connect(self._on_data_loaded)
        self.data_view.load_failed.connect(self._on_data_failed)
        self.data_view.limit_changed.connect(self._update_buttons)
        box = QGroupBox("Data")
        QVBoxLayout(box).addWidget(self.data_view)
        self.data_group = box

    def _build_model_group(self) -> None:
        self.form = HyperparameterForm()  # the preset and its family's fields
        self.form.edited.connect(self._on_config_edited)
        self.name_edit = QLineEdit()
        self.name_edit.setPlaceholderText("Name for the saved model")
        self.form.model_form.addRow("Save as", self.name_edit)
        self.model_group = self.form

    def _build_run_area(self) -> None:
        self.train_button = QPushButton("Train")
        self.train_button.setToolTip("Start training (Ctrl+T)")
        self.train_button.clicked.connect(self.start_training)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("Stop after the current batch (Esc)")
        self.stop_button.clicked.connect(self.stop_training)
        self.save_button = QPushButton("Save model")
        self.save_button.clicked.connect(lambda: self.save_result())
        self.evaluate_button = QPushButton("Evaluate this model")
        self.evaluate_button.setToolTip("Open the Evaluate tab on the model just saved and its test split: "
                                        "where it is wrong, and why")
        self.evaluate_button.clicked.connect(lambda: self.last_saved_id and
                                             self.evaluate_requested.emit(self.last_saved_id))
        buttons = QHBoxLayout()
        for b in (self.train_button, self.stop_button, self.save_button, self.evaluate_button):
            buttons.addWidget(b)

        # The progress, the curves (and a stored run's beside them), the run's sentence and its log.
        self.run_view = TrainingRunView(self.store)
        self.run_view.status_message.connect(self.status_message)
        # Driven at every batch and epoch of a run: kept at hand.
        self.progress, self.plots, self.summary, self.log = (self.run_view.progress, self.run_view.plots,
                                                             self.run_view.summary, self.run_view.log)

        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.addWidget(self.data_group)
        left_layout.addWidget(self.model_group)
        left_layout.addStretch(1)
        # Scrolls down, never sideways: the column is as wide as its widest row at least (the n-gram
        # form's labels are longer than the LSTM's: the column was cut at its right edge at 1024 px).
        form_scroll = WrappingScrollArea(left, sideways=False)
        form_scroll.setFrameShape(QScrollArea.Shape.StyledPanel)
        # The form scrolls; Train / Stop / Save stay below it, always in view.
        scroll = QWidget()
        scroll_layout = QVBoxLayout(scroll)
        scroll_layout.setContentsMargins(0, 0, 0, 0)
        scroll_layout.addWidget(form_scroll, 1)
        scroll_layout.addLayout(buttons)

        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(scroll)
        splitter.addWidget(self.run_view)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([scroll.minimumSizeHint().width(), 900])
        layout = QVBoxLayout(self)
        layout.addWidget(splitter)

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self.data_view.refresh_corrections()  # verdicts given in the Evaluate tab since the data was read

    # -- configuration --------------------------------------------------------------------------
    def config(self) -> TrainingConfig:
        return self.form.config()

    def preset_name(self) -> str:
        """The chosen preset's name, or "custom (from NAME)" once a hyperparameter differs from it."""
        return self.form.preset_name()

    def form_problems(self) -> list[str]:
        """Everything that keeps Train disabled, first the hyperparameters', then the data's."""
        return self.form.problems() + [p for p in (self.data_view.limit_problem(),) if p]

    @Slot()
    def _on_config_edited(self, *_: object) -> None:
        self.data_view.show_reader(self.form.family(), self.config())  # where the model cuts reviews, if it does
        self._update_buttons()

    # -- data -------------------------------------------------------------------------------------
    @property
    def data(self) -> Dataset | None:
        return self.data_view.data

    @property
    def data_spec(self) -> str | None:
        return self.data_view.data_spec

    def set_data_source(self, spec: str) -> None:
        """Show ``spec`` (a path, 'imdb' or 'stanford') as the chosen source without loading it."""
        self.data_view.set_data_source(spec)

    def source_spec(self) -> str:
        return self.data_view.source_spec()

    @Slot()
    def browse_data(self) -> None:
        self.data_view.browse_data()

    @Slot()
    def load_data_clicked(self) -> None:
        self.data_view.load_data_clicked()

    def _on_data_loaded(self, spec: str) -> None:
        self.data_source_changed.emit(spec)
        self._update_buttons()
        if self._pending_train:
            self._pending_train = False
            self.start_training()
            self._update_buttons()  # Stop was on for the pending run: off again if it did not start

    def _on_data_failed(self, _message: str) -> None:
        self._pending_train = False
        self._update_buttons()

    # -- training ---------------------------------------------------------------------------------
    def is_training(self) -> bool:
        return self.run is not None

    def run_in_progress(self) -> bool:
        """A run is training: its thread is there and its result has not arrived yet."""
        return self.run is not None and not self._result_in

    @Slot()
    def start_training(self) -> None:
        if self.run is not None or self.data_view.loading and not self._pending_train:
            return
        problems = self.form_problems()
        if problems:
            self._refuse(problems[0])
            return
        if self.unsaved is not None:
            answer = ask_save_discard_cancel(
                self, "Unsaved model", "The last trained model has not been saved. Save it before training "
                "a new one?")
            if answer == CANCEL:
                return
            if answer == SAVE:
                self.save_then(lambda saved: self.start_training() if saved else None)
                return
            self.unsaved = None
        if self.data is None or self.data_spec != self.source_spec():
            spec = self.source_spec()
            if not spec:
                self.status_message.emit("Choose a data set first.")
                return
            self._pending_train = True
            self.data_view.load_data(spec)
            return
        config = self.config()
        try:
            data = self.data.limited(self.data_view.limit())
        except UserFacingError as exc:  # the form checks the limit first: this is a last guard
            self._refuse(str(exc))
            return
        book = self.data_view.corrections.book_to_apply()  # read again: verdicts may have come since the data was read
        self.unsaved = None
        self._discarding = False
        self._run_preset = self.preset_name()
        self.plots.reset()
        self.summary.setText("")
        self.log.clear()
        self._log(f"Training {self._run_preset} on {self.data_spec}: {config.epochs} epochs, "
                  f"batch {config.batch_size}, {len(data.train):,} training and {len(data.test):,} test reviews"
                  + (f", with your {book.changes():,} corrections." if book is not None else "."))
        self.progress.setValue(0)
        self.progress.setFormat("Preparing …")
        self.run = TrainingRun(config, data, self, book=book)
        self.run.worker.progress.connect(self._on_progress)
        self.run.worker.succeeded.connect(self._on_succeeded)
        self.run.worker.stopped.connect(self._on_stopped)
        self.run.worker.failed.connect(self._on_failed)
        self.run.finished.connect(lambda run=self.run: self._on_run_finished(run))
        self._epochs_done = 0
        self._result_in = False
        self.run.start()
        self.running_changed.emit(True)
        self.status_message.emit("Training …")
        self._update_buttons()

    @Slot()
    def stop_training(self) -> None:
        if self._pending_train:
            self._pending_train = False
            self._update_buttons()
        if self.run is not None and not self.run.worker.stop_requested:
            self.run.stop()
            self.progress.setFormat("Stopping after this batch …")
            self._log("Stop requested.")
            self._update_buttons()
            QTimer.singleShot(DETACH_AFTER_MS, lambda run=self.run: self._detach_if_compiling(run))

    def _detach_if_compiling(self, run: TrainingRun) -> None:
        """Go idle without waiting for a run that is still inside TensorFlow after a stop.

        Stop is checked after every batch, but TensorFlow cannot interrupt the compilation of
        the first training step (about 2 s without XLA and 4-5 s with it on 2 cores). A run
        that has not finished an epoch has nothing to save, so the tab lets it finish on its
        own: the window is idle at once and the thread ends when the compilation does
        (``shutdown`` still waits for it). Runs with a finished epoch are waited for: their
        best epoch can be saved.
        """
        if self.run is not run or not run.is_running() or self._epochs_done:
            return
        for signal, slot in ((run.worker.progress, self._on_progress), (run.worker.succeeded, self._on_succeeded),
                             (run.worker.stopped, self._on_stopped), (run.worker.failed, self._on_failed)):
            signal.disconnect(slot)
        self._finishing.append(run)
        run.finished.connect(lambda: self._finishing.remove(run) if run in self._finishing else None)
        self._show_stopped(None, "Stopped; TensorFlow finishes compiling in the background.")
        self._on_run_finished(run)

    def shutdown(self, msecs: int = 10_000) -> bool:
        """Stop any training and wait for its threads; True if nothing is left running."""
        runs = [r for r in (self.run, *self._finishing) if r is not None]
        for run in runs:
            run.stop()
        deadline = time.monotonic() + msecs / 1000
        return all(run.wait(max(0, int(1000 * (deadline - time.monotonic())))) for run in runs)

    def has_unsaved_work(self) -> bool:
        """A finished epoch not yet in the store: an unsaved result, or a running run past its first epoch."""
        saving = self.unsaved is not None and self.unsaved is self._saving  # closing waits for that save
        # A run whose result has arrived is over even before its thread's end reaches the tab: its
        # epochs are in self.unsaved (or being saved) by then.
        running = self.run is not None and self._epochs_done > 0 and not self._result_in
        return (self.unsaved is not None and not saving) or running

    def hold(self) -> None:
        """While the window asks Save / Discard / Cancel: the run pauses after its current batch, so it
        cannot finish and save itself behind the question, and a result that arrives meanwhile (a run
        that had just ended) waits for the answer. ``release`` says the answer."""
        self._held = True
        if self.run is not None and not self._result_in and not self.run.worker.stop_requested:
            self.run.worker.pause()
            self.progress.setFormat("Paused until you answer …")

    def release(self, answer: str) -> None:
        """The answer to the question ``hold`` was for: DISCARD drops the run and its result, CANCEL
        goes on as before, SAVE goes on to ``save_then`` (called next)."""
        self._held = False
        if answer == DISCARD:
            self._held_success = None
            self._discarding = True
            self.unsaved = None
            if self.run is not None:
                self.run.stop()  # also wakes the paused run, which then stops at once
            self._log("Discarded.")
            return
        if self.run is not None and self.run.worker.paused:
            self.run.worker.resume()
            self.progress.setFormat("Training …")
        held, self._held_success = self._held_success, None
        if answer == CANCEL and held is not None and held is self.unsaved:
            self.save_result(on_done=self._take_after_result())  # a finished run saves itself, as always

    def save_then(self, done: Callable[[bool], None]) -> None:
        """Keep the finished epochs, then call ``done(True)``; ``done(False)`` if the save failed.

        A running training is stopped first (within a batch) and its best epoch saved when it
        has stopped; with nothing to save, ``done(True)`` at once."""
        if self.run_in_progress():
            self._after_result = done
            self.stop_training()
        elif self.unsaved is not None:
            self.save_result(on_done=done)
        else:
            done(True)

    def _take_after_result(self) -> Callable[[bool], None] | None:
        done, self._after_result = self._after_result, None
        return done

    @Slot(object)
    def _on_progress(self, p: t.TrainingProgress) -> None:
        if self.run is None:
            return
        if p.phase == t.TRAINING:
            if "batch_loss" in p.logs and "batch_accuracy" in p.logs:
                self.plots.add_batch(p.epoch, p.batch, p.batches, p.logs["batch_loss"], p.logs["batch_accuracy"])
            # The bar's text at most 5 times a second: on 2 cores, every repaint is taken from training.
            now = time.monotonic()
            if now - self._progress_shown < PROGRESS_TEXT_SECONDS and p.batch not in (1, p.batches):
                return
            self._progress_shown = now
            total = max(1, p.epochs * p.batches)
            self.progress.setValue(int(1000 * ((p.epoch - 1) * p.batches + p.batch) / total))
            self.run_progress.emit(f"Training: epoch {p.epoch}/{p.epochs}, {self.progress.value() / 10:.0f}% · "
                                   f"ETA {format_clock(p.eta_seconds)}")
            if not self.run.worker.stop_requested:
                self.progress.setFormat(
                    f"Epoch {p.epoch}/{p.epochs} · batch {p.batch}/{p.batches} · "
                    f"{p.samples_per_second:,.0f} reviews/s · ETA {format_clock(p.eta_seconds)}")
        elif p.phase == t.VALIDATING and not self.run.worker.stop_requested:
            self.progress.setFormat(f"Epoch {p.epoch}/{p.epochs} · {p.message.lower()} · "
                                    f"ETA {format_clock(p.eta_seconds)}")
        elif p.phase == t.EPOCH_END:
            self._epochs_done += 1
            self.plots.add_epoch(p.logs)
            lg = p.logs
            self._log(f"Epoch {p.epoch}/{p.epochs}: loss {lg.get('loss', float('nan')):.4f}, "
                      f"accuracy {lg.get('accuracy', float('nan')):.4f}, "
                      f"val_loss {lg.get('val_loss', float('nan')):.4f}, "
                      f"val_accuracy {lg.get('val_accuracy', float('nan')):.4f}")
        elif p.phase in (t.PREPARING, t.EVALUATING):
            self.progress.setFormat(p.message + " …")
            self._log(p.message + " …")

    @Slot(object)
    def _on_succeeded(self, result: TrainingResult) -> None:
        self._result_in = True
        self.progress.setValue(1000)
        self.progress.setFormat("Finished")
        corrections = self.run.worker.corrections if self.run is not None else None
        self._log(run_sentence(result, rich=False) + corrections_sentence(corrections))
        if self._discarding:
            return
        self.unsaved, self.unsaved_preset, self.unsaved_corrections = result, self._run_preset, corrections
        if self._held:  # the window is asking whether to keep it: the answer decides (release)
            self._held_success = result
            return
        self.save_result(on_done=self._take_after_result())

    @Slot(object)
    def _on_stopped(self, result: TrainingResult) -> None:
        self._result_in = True
        self.unsaved_corrections = self.run.worker.corrections if self.run is not None else None
        self._show_stopped(result if result.epochs_completed else None)

    def _show_stopped(self, result: TrainingResult | None, log_line: str = "Stopped.") -> None:
        """The stopped state; ``result`` is a run with completed epochs to offer for saving, or None."""
        self.progress.setFormat("Stopped")
        done = self._take_after_result()
        if self._discarding:
            result = None
        if result is not None:
            self.unsaved, self.unsaved_preset = result, self._run_preset
            self.summary.setText(run_sentence(result, "unsaved") + corrections_sentence(self.unsaved_corrections))
        else:
            self.summary.setText("<b>Stopped</b> before the first epoch finished; there is nothing to save.")
        self._log(log_line)
        self.status_message.emit("Training stopped.")
        if done is not None:
            if result is not None:
                self.save_result(on_done=done)
            else:
                done(True)

    @Slot(str)
    def _on_failed(self, message: str) -> None:
        self._result_in = True
        self.progress.setFormat("Failed")
        self.summary.setText(f"<span style='color:#d62728'><b>Training failed</b>: {message}</span>")
        self._log(f"Failed: {message}")
        self.status_message.emit(f"Training failed: {message}")
        done = self._take_after_result()
        if done is not None:
            done(True)  # nothing was kept to save

    def _on_run_finished(self, run: TrainingRun) -> None:
        if self.run is not run:  # a run let go by _detach_if_compiling, or already handled
            return
        self.run = None
        self.running_changed.emit(False)
        self._update_buttons()

    def default_model_name(self) -> str:
        source = Path(self.data_spec).name if self.data_spec else "data"
        return f"{self.unsaved_preset or self.preset_name()} {source} {datetime.now():%Y-%m-%d %H:%M}"

    @Slot()
    def save_result(self, on_done: Callable[[bool], None] | None = None) -> None:
        """Save the unsaved result in the background; ``on_done(saved)`` afterwards."""
        result = self.unsaved
        if result is None:
            if on_done is not None:
                on_done(True)
            return
        name = self.name_edit.text().strip() or self.default_model_name()
        corrections = self.unsaved_corrections  # recorded as train --corrections records them
        metadata = run_metadata(result, self.unsaved_preset, source=self.data_spec, corrections=corrections)
        self.save_button.setEnabled(False)
        self._saving = result
        self.summary.setText(run_sentence(result, "saving") + corrections_sentence(corrections))
        self.status_message.emit("Saving the model …")

        def saved(info) -> None:
            self._saving = None
            if self.unsaved is result:
                self.unsaved = None
            self.last_saved_id = info.id
            self._log(f"Saved as {info.name!r}.")
            self.summary.setText(run_sentence(result, "saved", info.name) + corrections_sentence(corrections))
            self.status_message.emit(f"Saved the model as {info.name!r}.")
            self.model_saved.emit(info.id)
            self.refresh_compare_runs()
            self._update_buttons()
            if on_done is not None:
                on_done(True)

        def failed(message: str) -> None:
            self._saving = None
            self._log(f"Could not save: {message}")
            self.summary.setText(run_sentence(result, "unsaved") + corrections_sentence(corrections))
            self.status_message.emit(message)
            QMessageBox.warning(self, "Could not save the model", message)
            self._update_buttons()
            if on_done is not None:
                on_done(False)

        self.tasks.run(lambda: self.store.save(result.model, result.vocabulary, metadata, name), saved, failed)

    # -- comparison ------------------------------------------------------------------------------
    def refresh_compare_runs(self) -> None:
        infos = self.run_view.refresh_compare_runs()
        if self.last_saved_id is not None and not any(i.id == self.last_saved_id and i.damaged is None
                                                      for i in infos):
            self.last_saved_id = None  # deleted (or damaged) since: "Evaluate this model" has nothing to open
            self._update_buttons()

    # -- helpers ----------------------------------------------------------------------------------
    def _refuse(self, message: str) -> None:
        """A run that cannot start: said in the tab (summary and log) and the status bar, buttons reset."""
        self._pending_train = False
        self.summary.setText(f"<span style='color:#d62728'><b>Not started</b>: {html.escape(message)}</span>")
        self._log(f"Not started: {message}")
        self.status_message.emit(message)
        self._update_buttons()

    def _log(self, line: str) -> None:
        self.log.appendPlainText(f"{datetime.now():%H:%M:%S}  {line}")

    def _update_buttons(self) -> None:
        running = self.run is not None
        busy = running or self.data_view.loading
        valid = not self.form_problems()
        self.train_button.setEnabled(not busy and valid)
        self.stop_button.setEnabled((running and not self.run.worker.stop_requested) or self._pending_train)
        self.save_button.setEnabled(self.unsaved is not None and not running)
        self.evaluate_button.setEnabled(self.last_saved_id is not None and not running)
        self.model_group.setEnabled(not running)
        self.data_group.setEnabled(not busy)
