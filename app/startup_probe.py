"""Startup timing probe, enabled by SENTIMENT_STUDIO_STARTUP_PROBE=<launch time.time()>.

Prints one JSON line with seconds since launch to: the window shown, the first
prediction in the Predict tab, and TensorFlow ready, then quits. Used by
tests/benchmarks/gui_startup.py; inert otherwise.
"""

from __future__ import annotations

import json
import os
import sys
import time

from PySide6.QtCore import QTimer

ENV = "SENTIMENT_STUDIO_STARTUP_PROBE"
SAMPLE = "A wonderful, moving film with a superb cast."


def attach(app, window) -> None:
    launched = float(os.environ[ENV])
    marks: dict[str, float] = {}

    def mark(name: str) -> None:
        marks.setdefault(name, round(time.time() - launched, 3))
        if {"window_shown", "first_prediction", "tensorflow_ready"} <= set(marks):
            print(json.dumps(marks), flush=True)
            window.close()
            app.quit()

    QTimer.singleShot(0, lambda: mark("window_shown"))  # runs once the event loop has painted the window
    window.predict_tab.prediction_ready.connect(lambda _: mark("first_prediction"))
    window.predict_tab.set_text(SAMPLE)
    window.predict_tab.predict_now()

    def poll_keras() -> None:
        if window.keras_ready:
            mark("tensorflow_ready")
        else:
            QTimer.singleShot(20, poll_keras)

    poll_keras()
    QTimer.singleShot(60_000, lambda: (print(json.dumps({**marks, "timed_out": True}), file=sys.stderr),
                                        app.exit(1)))
