"""Help > About: the version, which TensorFlow build runs and on what device, and where models are kept."""

from __future__ import annotations

import re

import pytest
from PySide6.QtWidgets import QMessageBox

from app.main_window import MainWindow
from models.store import ModelStore

pytestmark = pytest.mark.gui


def test_about_names_the_tensorflow_build_and_device(qtbot, tmp_path, no_dialogs, monkeypatch):
    shown = []
    monkeypatch.setattr(QMessageBox, "about", lambda parent, title, text: shown.append(text))
    window = MainWindow(ModelStore(tmp_path / "models"))
    qtbot.addWidget(window, before_close_func=lambda w: w.train_tab.shutdown())
    window.start_keras_import()
    qtbot.waitUntil(lambda: window.keras_ready, timeout=60_000)
    window.about()
    assert len(shown) == 1
    assert re.search(r"TensorFlow \d+\.\d+\.\d+, (CPU build|GPU build \(CUDA [^)]*\)), running on ", shown[0]), shown
