"""The "Suspect labels" window of the Evaluate tab: the reviews whose label looks wrong, and your verdicts.

Finding them runs in the background (models.analysis.suspects: the test split scored by the most accurate
stored model, the training split by cross-validation); each verdict (the label is wrong, not a review, the
label is right) is saved at once in the corrections store (models.corrections), tied to the data set's
file, never written into it; Undo takes back the last one. Train with them ("Apply my corrections" in
the Train tab, ``train --corrections``) and see the figures on either labelling (the Evaluate tab's
"Labels" switch, ``evaluate --corrections``): app/corrections_ui.py.
"""

from __future__ import annotations

import threading

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.background import BackgroundTasks
from models.analysis.suspects import Suspect, SuspectReport, suspect_labels
from models.corrections import EXCLUDE, FLIP, RIGHT, CorrectionBook, CorrectionsError, load_for
from models.datasets import Dataset
from models.store import ModelStore

COLUMNS = ("Row", "Label", "P(positive)", "Suspicion", "Review")
SPLIT_NAMES = {"test": "Test split (scored by the most accurate stored model)",
               "train": "Training split (cross-validation, about a minute for 25,000 reviews)"}
VERDICTS = {FLIP: "flipped", EXCLUDE: "excluded", RIGHT: "marked right"}


class SuspectLabelsDialog(QDialog):
    """Lists the suspects of one data set's split, most suspect first, and records verdicts on them."""

    found = Signal()  # a search finished and the list shows its result
    _progress = Signal(str)  # from the search's thread, delivered queued

    def __init__(self, store: ModelStore, tasks: BackgroundTasks, spec: str, data: Dataset,
                 parent: QWidget | None = None):
        super().__init__(parent)
        self.store, self.tasks, self.spec, self.data = store, tasks, spec, data
        self.book: CorrectionBook | None = None
        self.report: SuspectReport | None = None
        self.suspects: list[Suspect] = []
        self.setWindowTitle(f"Suspect labels: {data.source}")
        self.resize(1100, 700)

        self.split_combo = QComboBox()
        for key, text in SPLIT_NAMES.items():
            self.split_combo.addItem(text, key)
        self.find_button = QPushButton("&Find suspects")
        self.find_button.clicked.connect(self.find)
        self.status = QLabel("Press Find to rank the split's labels by how much a model doubts them.")
        self.status.setWordWrap(True)
        top = QHBoxLayout()
        top.addWidget(QLabel("&Split:"))
        top.itemAt(0).widget().setBuddy(self.split_combo)
        top.addWidget(self.split_combo, 1)
        top.addWidget(self.find_button)

        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(len(COLUMNS) - 1, QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().setVisible(False)
        self.table.itemSelectionChanged.connect(self._on_selection)
        self.text = QPlainTextEdit()
        self.text.setReadOnly(True)
        self.text.setPlaceholderText("Select a review to read it whole.")
        middle = QSplitter(Qt.Orientation.Horizontal)
        middle.addWidget(self.table)
        middle.addWidget(self.text)
        middle.setSizes([700, 400])

        self.flip_button = QPushButton("Label is &wrong")
        self.flip_button.setToolTip("Flip this review's label in your corrections (the file is not changed)")
        self.exclude_button = QPushButton("&Not a review")
        self.exclude_button.setToolTip("Leave this text out when training and testing with your corrections")
        self.right_button = QPushButton("Label is &right")
        self.right_button.setToolTip("Keep the label and never suggest this review again")
        self.undo_button = QPushButton("&Undo")
        self.undo_button.setToolTip("Take back your last verdict on this data set")
        self.flip_button.clicked.connect(lambda: self.mark(FLIP))
        self.exclude_button.clicked.connect(lambda: self.mark(EXCLUDE))
        self.right_button.clicked.connect(lambda: self.mark(RIGHT))
        self.undo_button.clicked.connect(self.undo)
        self.counts = QLabel()
        buttons = QHBoxLayout()
        for button in (self.flip_button, self.exclude_button, self.right_button, self.undo_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        buttons.addWidget(self.counts)

        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.status)
        layout.addWidget(middle, 1)
        layout.addLayout(buttons)
        self._busy = False
        self._stop = threading.Event()  # set when the window closes: a search stops within a chunk or a fold
        self._progress.connect(self.status.setText)
        self._update_buttons()

    def closeEvent(self, event) -> None:
        self._stop.set()
        super().closeEvent(event)

    # -- finding ------------------------------------------------------------------------------
    def split(self) -> str:
        return self.split_combo.currentData()

    def find(self) -> None:
        if self._busy:
            return
        self._busy = True
        split, spec, data, store, stop, progress = (self.split(), self.spec, self.data, self.store, self._stop,
                                                    self._progress)
        stop.clear()

        def report_progress(what: str, done: int, total: int) -> None:
            progress.emit(what if what.startswith("Cross") else f"{what}: {done:,} of {total:,} reviews ...")
        self.status.setText("Scoring the reviews and ranking their labels ...")
        self._update_buttons()

        def job() -> tuple[CorrectionBook, str | None, SuspectReport]:
            book, stale = load_for(spec)
            corrected = book.apply(data)
            report = suspect_labels(corrected.dataset, split, store=store, skip_rows=corrected.right[split],
                                    should_stop=stop.is_set, on_progress=report_progress)
            return book, stale, report

        self.tasks.run(job, on_success=self._on_found, on_failure=self._on_failed)

    def _on_found(self, result: tuple[CorrectionBook, str | None, SuspectReport]) -> None:
        self._busy = False
        self.book, stale, self.report = result
        self.suspects = list(self.report.suspects)
        self._fill()
        right = f" ({self.report.marked_right:,} more marked right)" if self.report.marked_right else ""
        self.status.setText((f"{stale} " if stale else "") +
                            f"{len(self.suspects):,} suspect labels among {self.report.reviews:,} {self.report.split} "
                            f"reviews{right}, scored by {self.report.model}.")
        self._update_buttons()
        self.found.emit()

    def _on_failed(self, message: str) -> None:
        self._busy = False
        self.status.setText(message)
        self._update_buttons()
        self.found.emit()

    def _fill(self) -> None:
        self.table.setRowCount(len(self.suspects))
        for r, s in enumerate(self.suspects):
            values = (str(s.row), "positive" if s.label else "negative", f"{s.probability:.3f}",
                      f"{s.suspicion:.3f}", s.excerpt(120))
            for c, value in enumerate(values):
                item = QTableWidgetItem(value)
                if c in (2, 3):
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(r, c, item)
        self.table.resizeColumnsToContents()
        if self.suspects:
            self.table.selectRow(0)

    def _on_selection(self) -> None:
        s = self.selected()
        self.text.setPlainText(s.text if s is not None else "")
        self._update_buttons()

    def selected(self) -> Suspect | None:
        rows = self.table.selectionModel().selectedRows()
        return self.suspects[rows[0].row()] if rows and rows[0].row() < len(self.suspects) else None

    # -- verdicts -------------------------------------------------------------------------------
    def mark(self, action: str) -> None:
        suspect = self.selected()
        if suspect is None or self.book is None:
            return
        split = self.data.test if suspect.split == "test" else self.data.train
        try:
            self.book.mark(split, suspect.split, suspect.row, action)
            self.book.save()
        except CorrectionsError as exc:
            self.status.setText(str(exc))
            return
        row = self.suspects.index(suspect)
        del self.suspects[row]
        self.table.removeRow(row)
        if self.suspects:
            self.table.selectRow(min(row, len(self.suspects) - 1))
        self.status.setText(f"Row {suspect.row} {VERDICTS[action]}; saved with the data set's corrections.")
        self._update_buttons()

    def undo(self) -> None:
        if self.book is None or not self.book.corrections:
            return
        try:
            undone = self.book.undo()
            self.book.save()
        except CorrectionsError as exc:
            self.status.setText(str(exc))
            return
        self.status.setText(f"Undone: row {undone.row} is no longer {VERDICTS[undone.action]} (Find again to see it "
                            "in the list).")
        self._update_buttons()

    def _update_buttons(self) -> None:
        chosen = self.selected() is not None and not self._busy and self.book is not None
        for button in (self.flip_button, self.exclude_button, self.right_button):
            button.setEnabled(chosen)
        self.undo_button.setEnabled(self.book is not None and bool(self.book.corrections) and not self._busy)
        self.find_button.setEnabled(not self._busy)
        self.split_combo.setEnabled(not self._busy)
        if self.book is not None:
            c = self.book.counts()
            self.counts.setText(f"Your corrections: {c[FLIP]:,} flipped, {c[EXCLUDE]:,} excluded, "
                                f"{c[RIGHT]:,} marked right")
