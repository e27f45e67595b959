"""The Train tab's run area: the progress of a run, its curves (with a stored model's run beside them to
compare), the sentence on the finished run and the log; the plots' export to PNG and CSV.

The Train tab drives it (app/training_tab.py: progress at every batch, curves at every epoch, the
sentence when the run ends); this module draws and exports, and never starts or stops a run.
"""

from __future__ import annotations

import html
from pathlib import Path

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QTextDocumentFragment
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from app.formatting import format_clock
from app.plots import TrainingPlots
from app.wrapping import WrappedLabel
from models.config import VALIDATE_ON_SPLIT, VALIDATE_ON_TEST
from models.errors import UserFacingError
from models.store import ModelInfo, ModelStore
from models.training import TrainingResult

VALIDATED_ON_WORDS = {VALIDATE_ON_SPLIT: "held-out training reviews", VALIDATE_ON_TEST: "the test split"}


def run_sentence(r: TrainingResult, saving: str | None = None, saved_name: str | None = None,
                 rich: bool = True) -> str:
    """The run summary: one sentence saying what ran, which epoch was kept and why, and what it scored.
    ``saving`` is None (not offered yet), "unsaved", "saving" or "saved" (as ``saved_name``); ``rich``
    False gives plain text (the log)."""
    if not rich:
        return QTextDocumentFragment.fromHtml(run_sentence(r, saving, saved_name)).toPlainText()
    epochs = f"{r.epochs_completed} epoch{'s' if r.epochs_completed != 1 else ''}"
    head = (f"<b>Stopped</b> after {epochs}" if r.stopped else f"<b>Finished</b> {epochs}") + \
        f" in {format_clock(r.total_seconds)}"
    if r.best_epoch is None:
        return head + "."
    on = VALIDATED_ON_WORDS.get(r.validated_on, r.validated_on)
    kept = f"; kept epoch {r.best_epoch}, chosen on {on} (validation accuracy {r.validation_accuracy:.1%})"
    if r.test_accuracy is None:
        test = ", no test accuracy (stopped before the test split was scored)"
    elif r.validated_on == VALIDATE_ON_TEST:
        test = ", which is also its test accuracy (optimistic: the test split chose the epoch)"
    else:
        test = f", test accuracy {r.test_accuracy:.1%} (loss {r.test_loss:.3f})"
    tail = {"unsaved": "; press <i>Save model</i> to keep it", "saving": "; saving …",
            "saved": f"; saved as <b>{html.escape(saved_name or '')}</b>"}.get(saving or "", "")
    return head + kept + test + tail + ("" if saving == "saving" else ".")


class LabelledProgressBar(QProgressBar):
    """A progress bar whose text is a label above it, not painted on the bar, where the fill's edge
    would split it into two colours. ``format()`` / ``setFormat()`` work as on a QProgressBar."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setTextVisible(False)
        self.setMaximumHeight(10)
        self.label = QLabel()

    def setFormat(self, text: str) -> None:
        super().setFormat(text)
        self.label.setText(text)


class TrainingRunView(QWidget):
    """Progress, curves, comparison, the run's sentence and log; ``status_message`` for the window."""

    status_message = Signal(str)

    def __init__(self, store: ModelStore, parent: QWidget | None = None):
        super().__init__(parent)
        self.store = store
        self.progress = LabelledProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setValue(0)
        self.progress.setFormat("Idle")
        self.plots = TrainingPlots()

        self.compare_combo = QComboBox()
        # Long automatic names (with the family and accuracy) are elided, never widening the window.
        self.compare_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.compare_combo.setMinimumContentsLength(12)
        self.compare_combo.setToolTip("Overlay a stored model's training run: its training curves dotted, its "
                                      "validation curves dashed")
        self.compare_combo.activated.connect(self._on_compare)
        self.export_png_button = QPushButton("Export PNG…")
        self.export_png_button.clicked.connect(self.export_png)
        self.export_csv_button = QPushButton("Export CSV…")
        self.export_csv_button.clicked.connect(self.export_csv)
        tools = QHBoxLayout()
        tools.addWidget(QLabel("Compare with"))
        tools.addWidget(self.compare_combo, 1)
        tools.addWidget(self.export_png_button)
        tools.addWidget(self.export_csv_button)

        self.summary = WrappedLabel("")
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.log = QPlainTextEdit()
        self.log.setReadOnly(True)
        self.log.setMaximumBlockCount(5000)
        self.log.setPlaceholderText("Training log")

        layout = QVBoxLayout(self)
        layout.addWidget(self.progress.label)
        layout.addWidget(self.progress)
        layout.addLayout(tools)
        bottom = QSplitter(Qt.Orientation.Vertical)
        bottom.addWidget(self.plots)
        log_box = QWidget()
        log_layout = QVBoxLayout(log_box)
        log_layout.setContentsMargins(0, 0, 0, 0)
        log_layout.addWidget(self.summary)
        log_layout.addWidget(self.log, 1)
        # The log scrolls, the run's sentence must not be cut: at 1024x700 the log gives way to it.
        self.log.setMinimumHeight(2 * self.fontMetrics().lineSpacing() + 10)
        bottom.addWidget(log_box)
        bottom.setStretchFactor(0, 3)
        bottom.setStretchFactor(1, 1)
        layout.addWidget(bottom, 1)

    # -- comparison and export --------------------------------------------------------------------
    def refresh_compare_runs(self) -> list[ModelInfo]:
        """List the stored models with a training history to compare with; returns every stored model."""
        current = self.compare_combo.currentData()
        self.compare_combo.clear()
        self.compare_combo.addItem("(none)", None)
        infos = self.store.list()
        for info in infos:
            if info.damaged is None and info.metadata and info.metadata.history.get("val_accuracy"):
                self.compare_combo.addItem(info.name, info.id)
        index = self.compare_combo.findData(current)
        self.compare_combo.setCurrentIndex(max(0, index))
        return infos

    def _on_compare(self, _: int) -> None:
        ref = self.compare_combo.currentData()
        if ref is None:
            self.plots.set_overlays([])
            return
        try:
            info = self.store.find(ref)
        except UserFacingError as exc:
            self.status_message.emit(str(exc))
            return
        self.plots.set_overlays([(info.name, info.metadata.history if info.metadata else {})])

    @Slot()
    def export_png(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export the plots", "training.png", "PNG image (*.png)")
        if path:
            self._export(lambda: self.plots.export_png(Path(path)), path)

    @Slot()
    def export_csv(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export the history", "history.csv", "CSV (*.csv)")
        if path:
            self._export(lambda: self.plots.export_csv(Path(path)), path)

    def _export(self, action, path: str) -> None:
        try:
            self.store.check_output(path)  # never a stored model's file
            action()
        except UserFacingError as exc:
            QMessageBox.warning(self, "Export failed", str(exc))
        else:
            self.status_message.emit(f"Wrote {path}")
