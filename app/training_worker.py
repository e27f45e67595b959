"""The worker that runs ``models.training.train`` on its own QThread and reports back by signals.

Stop is a ``threading.Event`` the GUI thread sets directly (``request_stop``): a queued
slot could not run while ``fit`` blocks the worker's thread. The Keras callback checks
it after every batch, and waits there while the run is paused (``pause``/``resume``).
Every run ends with exactly one of ``succeeded``, ``stopped`` or ``failed``, and then
``finished``. With a corrections book, the run is ``train --corrections``'s
(models.corrected_training.train_with_corrections), and ``corrections`` holds its summary (both test
accuracies) before the result is signalled.
"""

from __future__ import annotations

import logging
import threading
import traceback

from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot

from app.background import describe_error
from models.config import TrainingConfig
from models.corrected_training import train_with_corrections
from models.corrections import CorrectionBook
from models.datasets import Dataset
from models.training import TrainingProgress, TrainingResult, train

log = logging.getLogger(__name__)


class TrainingWorker(QObject):
    progress = Signal(object)  # TrainingProgress, from the worker thread (queued to the GUI)
    succeeded = Signal(object)  # TrainingResult of a run that went through all its epochs
    stopped = Signal(object)  # TrainingResult of a run stopped by the user (may have 0 epochs)
    failed = Signal(str)  # a message for the user
    finished = Signal()  # always, last

    def __init__(self, config: TrainingConfig, data: Dataset, book: CorrectionBook | None = None):
        super().__init__()
        self.config = config
        self.data = data
        self.book = book
        self.corrections: dict | None = None  # with a book: what was applied, and the test accuracy both ways
        self._stop = threading.Event()
        self._going = threading.Event()  # cleared to hold the run at its next batch (pause)
        self._going.set()
        self.holding = threading.Event()  # set while the run waits, paused, after a batch

    def request_stop(self) -> None:
        """Thread-safe; takes effect after the current batch (a held run stops at once)."""
        self._stop.set()
        self._going.set()

    def pause(self) -> None:
        """Hold the run after its current batch until ``resume`` or ``request_stop``: while the window
        asks whether to keep a model, the run must not finish (and save itself) behind the question."""
        self._going.clear()

    def resume(self) -> None:
        self._going.set()

    @property
    def paused(self) -> bool:
        return not self._going.is_set()

    def _should_stop(self) -> bool:
        """Checked by training after every batch: waits here while paused."""
        if not self._going.is_set():
            self.holding.set()
            self._going.wait()
            self.holding.clear()
        return self._stop.is_set()

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    def _report(self, progress: TrainingProgress) -> None:
        self.progress.emit(progress)

    @Slot()
    def run(self) -> None:
        try:
            if self.book is not None:
                outcome = train_with_corrections(self.config, self.data, self.book, self._report, self._should_stop)
                result: TrainingResult = outcome.result
                self.corrections = outcome.summary(self.book)
            else:
                result = train(self.config, self.data, self._report, self._should_stop)
        except BaseException as exc:  # noqa: BLE001 - the GUI must hear of every failure
            log.error("Training failed:\n%s", traceback.format_exc())
            self.failed.emit(describe_error(exc))
        else:
            (self.stopped if result.stopped else self.succeeded).emit(result)
        finally:
            self.finished.emit()


class TrainingRun(QObject):
    """One training run: owns the QThread and the worker, and cleans both up when done."""

    finished = Signal()

    def __init__(self, config: TrainingConfig, data: Dataset, parent: QObject | None = None,
                 book: CorrectionBook | None = None):
        super().__init__(parent)
        self.thread = QThread()
        self.thread.setObjectName("training")
        self.worker = TrainingWorker(config, data, book)
        self.worker.moveToThread(self.thread)
        self.thread.started.connect(self.worker.run)
        # Direct: QThread.quit is thread-safe, and a queued call could not run while the GUI
        # thread is blocked in wait() on close.
        self.worker.finished.connect(self.thread.quit, Qt.ConnectionType.DirectConnection)
        self.thread.finished.connect(self._on_thread_finished)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.worker.request_stop()

    def is_running(self) -> bool:
        return self.thread.isRunning()

    def wait(self, msecs: int) -> bool:
        return self.thread.wait(msecs)

    @Slot()
    def _on_thread_finished(self) -> None:
        self.worker.deleteLater()
        self.finished.emit()
