"""GUI test fixtures: QSettings in a temp folder, a store in the test's data dir, no real dialogs."""

from __future__ import annotations

import gc

import pytest
from PySide6.QtCore import QCoreApplication, QSettings

from tests.conftest import TINY_CONFIG


@pytest.fixture(autouse=True)
def collect_widgets_on_the_gui_thread():
    """After each test, collect its garbage here, on the GUI thread. A widget left in a reference
    cycle would otherwise be collected whenever the next allocation triggers it, possibly on a
    later test's training thread: destroying a QWidget there deadlocks with the GUI thread
    (seen: the GIL held by the GUI thread, Qt's mutex by the training thread's ~QObject)."""
    yield
    gc.collect()


@pytest.fixture(autouse=True)
def temp_settings(tmp_path, qapp):
    QCoreApplication.setOrganizationName("SentimentStudioTests")
    QCoreApplication.setApplicationName("Sentiment Studio Tests")
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path / "settings"))
    yield


@pytest.fixture
def no_dialogs(monkeypatch):
    """Record message boxes instead of blocking on them; questions answer Yes/Discard."""
    from PySide6.QtWidgets import QMessageBox

    shown: list[tuple[str, str]] = []

    def record(kind, answer=None):
        def show(parent, title, text, *args, **kwargs):
            shown.append((kind, text))
            return answer

        return show

    monkeypatch.setattr(QMessageBox, "warning", record("warning", QMessageBox.StandardButton.Ok))
    monkeypatch.setattr(QMessageBox, "critical", record("critical", QMessageBox.StandardButton.Ok))
    monkeypatch.setattr(QMessageBox, "information", record("information", QMessageBox.StandardButton.Ok))
    monkeypatch.setattr(QMessageBox, "question", record("question", QMessageBox.StandardButton.Yes))
    return shown


def set_tiny_config(tab, **changes):
    """Fill a TrainingTab's form with the tiny test configuration."""
    for name, value in {**TINY_CONFIG, **changes}.items():
        tab.form.fields[name].setValue(value)
