"""Running a plain function off the GUI thread: a worker QObject moved to its own QThread.

Every task ends with exactly one of ``succeeded`` / ``failed`` and then ``finished``,
on every path. Signals cross to the GUI thread as queued connections, so the
callbacks always run on the GUI thread. ``BackgroundTasks.wait_all`` lets the window
wait for every running task on close, so no thread outlives the app.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot

from models.errors import UserFacingError

log = logging.getLogger(__name__)


def describe_error(exc: BaseException) -> str:
    """A message fit for a dialog: the user's own words for user errors, a short line for bugs."""
    if isinstance(exc, UserFacingError):
        return str(exc)
    if isinstance(exc, MemoryError):
        return "Out of memory. Close other programs or choose smaller settings, then try again."
    if isinstance(exc, OSError):
        return f"A file operation failed: {exc.strerror or exc}."
    return f"Something went wrong ({type(exc).__name__}: {exc}). Details are in the log."


class FunctionWorker(QObject):
    succeeded = Signal(object)
    failed = Signal(str)
    finished = Signal()

    def __init__(self, fn: Callable[[], Any]):
        super().__init__()
        self._fn = fn

    @Slot()
    def run(self) -> None:
        try:
            result = self._fn()
        except BaseException as exc:  # noqa: BLE001 - every failure must reach the GUI as a message
            if not isinstance(exc, UserFacingError):
                log.error("Background task failed:\n%s", traceback.format_exc())
            self.failed.emit(describe_error(exc))
        else:
            self.succeeded.emit(result)
        finally:
            self.finished.emit()


class _Relay(QObject):
    def __init__(self, on_success: Callable[[Any], None] | None, on_failure: Callable[[str], None] | None):
        super().__init__()
        self._on_success = on_success
        self._on_failure = on_failure

    @Slot(object)
    def succeeded(self, result: Any) -> None:
        if self._on_success is not None:
            self._on_success(result)

    @Slot(str)
    def failed(self, message: str) -> None:
        if self._on_failure is not None:
            self._on_failure(message)

    def detach(self) -> None:
        self._on_success = self._on_failure = None

    @Slot()
    def done(self) -> None:
        self.cleanup()


class BackgroundTasks(QObject):
    """Owns the threads of short background jobs (loading a model, a data set, scoring a file)."""

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._running: set[tuple[QThread, FunctionWorker, QObject]] = set()

    def run(
        self,
        fn: Callable[[], Any],
        on_success: Callable[[Any], None] | None = None,
        on_failure: Callable[[str], None] | None = None,
    ) -> FunctionWorker:
        thread = QThread()
        worker = FunctionWorker(fn)
        worker.moveToThread(thread)
        # The relay lives on this (the GUI) thread, so the worker's signals reach it queued
        # and the callbacks run here, never on the worker's thread.
        relay = _Relay(on_success, on_failure)
        worker.succeeded.connect(relay.succeeded)
        worker.failed.connect(relay.failed)
        entry = (thread, worker, relay)
        self._running.add(entry)
        thread.started.connect(worker.run)
        # Direct: QThread.quit is thread-safe, and a queued call could not run while the GUI
        # thread is blocked in wait_all().
        worker.finished.connect(thread.quit, Qt.ConnectionType.DirectConnection)

        def cleanup() -> None:
            self._running.discard(entry)
            worker.deleteLater()
            thread.deleteLater()

        relay.cleanup = cleanup
        thread.finished.connect(relay.done)
        thread.start()
        return worker

    def active(self) -> int:
        """Tasks whose thread is still running."""
        return sum(1 for thread, _, _ in self._running if thread.isRunning())

    def settled(self) -> bool:
        """No task left whose callbacks have yet to run: a thread can end with its result still
        queued for the GUI thread, so ``active() == 0`` alone does not mean the callbacks ran."""
        return not self._running

    def wait_all(self, msecs: int = 5000) -> bool:
        """On close: wait for every task (a save in progress finishes), then drop their callbacks,
        which would otherwise reach widgets that are being torn down."""
        ok = True
        for thread, _, relay in list(self._running):
            thread.quit()
            ok = thread.wait(msecs) and ok
            relay.detach()
        return ok
