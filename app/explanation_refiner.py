"""Refining a sampled explanation in the background while it is on display.

A sampled Shapley explanation's first answer comes within the interactive budget; more
permutations then shrink its standard errors (models.explain.explain_stages). Each round runs as
one background task (app/background.py), and the view is updated after each, so the panel
sharpens while the user reads it. Only one chain runs at a time: a new review (a keystroke, a
new row picked) stops the old chain before its next round, so typing never waits for it; the
round in flight (a fraction of a second) ends and its result is dropped.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

from PySide6.QtCore import QObject, Signal
from shiboken6 import isValid

from app.background import BackgroundTasks
from models.explain import TARGET_STANDARD_ERROR, Explanation


def needs_refining(explanation: Explanation | None) -> bool:
    """A sampled explanation whose largest standard error is above the target."""
    return explanation is not None and explanation.sampled and \
        explanation.max_standard_error() > TARGET_STANDARD_ERROR


class ExplanationRefiner(QObject):
    """Runs the rounds of one ``explain_stages`` iterator, one background task per round."""

    refined = Signal(object)  # the refined Explanation, after each round
    finished = Signal()  # the chain ended on its own (target reached or work spent), not stopped

    def __init__(self, tasks: BackgroundTasks, parent: QObject | None = None):
        super().__init__(parent)
        self.tasks = tasks
        self._generation = 0
        self._stop: threading.Event | None = None
        self._running = False

    def running(self) -> bool:
        return self._running

    def start(self, stages: Iterator[Explanation], stop: threading.Event,
              on_refined: Callable[[Explanation], None] | None = None) -> None:
        """Run the remaining rounds of ``stages`` (made with ``should_stop=stop.is_set``; its first
        answer already taken). ``on_refined`` is called on the GUI thread after each round."""
        self.stop()
        self._generation += 1
        self._stop = stop
        self._running = True
        self._next_round(self._generation, stages, on_refined)

    def stop(self) -> None:
        """Stop the chain: no further round starts, and the result of the one in flight is dropped."""
        if self._stop is not None:
            self._stop.set()
        self._generation += 1
        self._running = False

    def _next_round(self, generation: int, stages: Iterator[Explanation],
                    on_refined: Callable[[Explanation], None] | None) -> None:
        def done(result: Explanation | None) -> None:
            if not isValid(self) or generation != self._generation:
                return  # stopped meanwhile, or the owner is gone
            if result is None:
                self._running = False
                self.finished.emit()
                return
            if on_refined is not None:
                on_refined(result)
            if generation != self._generation:
                return  # the owner stopped the chain on seeing this round (its review is gone)
            self.refined.emit(result)
            self._next_round(generation, stages, on_refined)

        def failed(_message: str) -> None:
            if isValid(self) and generation == self._generation:
                self._running = False  # the first answer stays on display; nothing to add
                self.finished.emit()

        self.tasks.run(lambda: next(stages, None), on_success=done, on_failure=failed)
