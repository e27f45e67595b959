"""Measures how long the GUI thread goes without running its event loop.

A ``QTimer`` on the GUI thread asks to fire every ``interval_ms``; whenever the thread is
busy (painting, handling a signal, holding the GIL), the next tick comes late. The longest
late tick is the longest the window could not respond to the user. Used by
``tests/benchmarks/gui_training.py`` to check that training never freezes the window.
"""

from __future__ import annotations

import time

import numpy as np
from PySide6.QtCore import QObject, Qt, QTimer, Slot


class StallProbe(QObject):
    def __init__(self, interval_ms: int = 5, parent: QObject | None = None):
        super().__init__(parent)
        self.interval = interval_ms / 1000
        self._timer = QTimer(self)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._tick)
        self._last: float | None = None
        self.gaps: list[float] = []  # seconds between consecutive ticks
        self.tick_times: list[float] = []  # perf_counter at the end of each gap

    def start(self) -> None:
        self.gaps.clear()
        self.tick_times.clear()
        self._last = time.perf_counter()
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()
        self._tick()

    @Slot()
    def _tick(self) -> None:
        now = time.perf_counter()
        if self._last is not None:
            self.gaps.append(now - self._last)
            self.tick_times.append(now)
        self._last = now

    def stalls(self, over: float = 0.0, since: float | None = None) -> list[tuple[float, float]]:
        """(perf_counter of the late tick, seconds unresponsive) for each gap longer than one interval
        by more than ``over`` seconds; with ``since`` (a perf_counter), only gaps that began after it."""
        return [(at, gap - self.interval) for at, gap in zip(self.tick_times, self.gaps)
                if gap - self.interval > over and (since is None or at - gap > since)]

    def longest_stall(self) -> float:
        """Seconds the GUI thread was unresponsive at worst: the longest gap beyond one interval."""
        return max((stall for _, stall in self.stalls()), default=0.0)

    def summary(self) -> dict[str, float]:
        stalls = np.maximum(np.asarray(self.gaps or [0.0]) - self.interval, 0.0)
        return {
            "longest_stall_ms": 1000 * float(stalls.max()),
            "p99_stall_ms": 1000 * float(np.percentile(stalls, 99)),
            "ticks": len(self.gaps),
            "stalls_over_50ms": len(self.stalls(over=0.050)),
        }
