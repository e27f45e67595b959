"""Starts the Qt application and the main window."""

from __future__ import annotations

import sys


def run_gui(argv: list[str] | None = None) -> int:
    from PySide6.QtWidgets import QApplication, QLabel, QMainWindow  # noqa: PLC0415

    app = QApplication.instance() or QApplication(argv or sys.argv[:1])
    app.setApplicationName("Sentiment Studio")
    window = QMainWindow()
    window.setWindowTitle("Sentiment Studio")
    window.setCentralWidget(QLabel("Sentiment Studio: the training and prediction tabs are coming."))
    window.resize(900, 600)
    window.show()
    return app.exec()
