"""Starts the Qt application: the window first, TensorFlow in the background after it is shown."""

from __future__ import annotations

import os
import sys

from app.qt_platform import check_platform_libraries
from models.paths import builtin_model_dirs, resources_dir


def ensure_std_streams() -> None:
    """Give a process without stdout/stderr (a windowed Windows build, ``pythonw``) null writers:
    Keras' progress output and ``print`` would otherwise fail on ``None``."""
    for name in ("stdout", "stderr"):
        if getattr(sys, name) is None:
            setattr(sys, name, open(os.devnull, "w", encoding="utf-8"))  # noqa: SIM115 - lives as long as the app


def create_application(argv: list[str] | None = None):
    # pyqtgraph picks its Qt binding when first imported: make it PySide6, whatever else is installed.
    os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")
    from PySide6.QtCore import QCoreApplication
    from PySide6.QtGui import QIcon
    from PySide6.QtWidgets import QApplication

    QCoreApplication.setOrganizationName("SentimentStudio")
    QCoreApplication.setApplicationName("Sentiment Studio")
    app = QApplication.instance() or QApplication(argv or sys.argv[:1])
    icon = resources_dir() / "icon.png"
    if icon.exists():
        app.setWindowIcon(QIcon(str(icon)))
    return app


def create_window():
    """The main window over the user's model store (plus the built-in model, when shipped)."""
    from app.main_window import MainWindow
    from models.store import ModelStore

    return MainWindow(ModelStore(builtin=builtin_model_dirs()))


def run_gui(argv: list[str] | None = None) -> int:
    ensure_std_streams()
    problem = check_platform_libraries()  # before Qt, which would abort on a missing xcb library
    if problem is not None:
        print(problem, file=sys.stderr)
        return 2  # the CLI's status for a problem the user can fix
    app = create_application(argv)
    window = create_window()
    window.show()
    window.start_keras_import_soon()
    if os.environ.get("SENTIMENT_STUDIO_STARTUP_PROBE"):
        from app.startup_probe import attach

        attach(app, window)
    return app.exec()
