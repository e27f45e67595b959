"""Your label corrections in the Train and Evaluate tabs (the verdicts of the Suspect labels window).

The Train tab shows how many corrections the loaded data set has, or why those made on its earlier
content are not applied, and offers "Apply my corrections (N)": the run is then ``train --corrections``'s
(models.corrected_training.train_with_corrections, in app/training_worker.py). The Evaluate tab's
"Labels" switch shows the same scores on the file's labels or on the corrected ones, by the function
``evaluate --corrections`` uses (models.corrected_training.corrected_evaluation). The data set is hashed
once, when it is read; the book is read again (a small JSON file) whenever the figures could have
changed: the tab shown again, a run started, the Suspect labels window closed.
"""

from __future__ import annotations

import html

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QCheckBox, QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from models.corrected_training import corrected_evaluation
from models.corrections import CorrectedData, CorrectionBook, DataIdentity, identify, load_book
from models.datasets import Dataset
from models.errors import UserFacingError
from models.evaluation import Evaluation

ORIGINAL, CORRECTED = "original", "corrected"
WARNING_STYLE = "color: #d62728"


def identify_quietly(spec: str) -> tuple[DataIdentity | None, str | None]:
    """The data set's identity (a hash of its file), or None and why not: corrections are an extra, a
    data set that cannot be hashed is still trained on and evaluated. Slow for a large file: call it
    where the data set is read, in the background."""
    try:
        return identify(spec), None
    except UserFacingError as exc:
        return None, f"Your corrections cannot be looked up: {exc}"


def read_book(identity: DataIdentity | None) -> tuple[CorrectionBook | None, str | None]:
    """(the book, None) or (None, a one-line message): the stale note, or why the book cannot be read."""
    if identity is None:
        return None, None
    try:
        return load_book(identity)
    except UserFacingError as exc:
        return None, str(exc)


def corrections_sentence(summary: dict | None) -> str:
    """What a run trained with corrections says after its own sentence (from CorrectedTraining.summary)."""
    if not summary:
        return ""
    flipped, excluded = sum(summary["flipped"].values()), sum(summary["excluded"].values())
    missing = summary.get("not_applied") or 0
    text = (f" Trained with your corrections ({flipped:,} label{'s' if flipped != 1 else ''} flipped, "
            f"{excluded:,} review{'s' if excluded != 1 else ''} excluded"
            + (f", {missing:,} not in the reviews used" if missing else "") + ")")
    original, fixed = summary.get("test_accuracy_original_labels"), summary.get("test_accuracy_corrected_labels")
    if original is None:
        return text + "."
    return text + f": test accuracy {original:.1%} on the file's labels, " + (
        f"{fixed:.1%} on the corrected ones." if fixed is not None else "no test review left once corrected.")


class TrainCorrections(QWidget):
    """The Train tab's line on the loaded data set's corrections, and "Apply my corrections (N)"."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.identity: DataIdentity | None = None
        self.problem: str | None = None  # why the data set could not be hashed
        self.book: CorrectionBook | None = None
        self.message: str | None = None  # corrections made on an earlier content, or a book that cannot be read
        self.note = QLabel("")
        self.note.setWordWrap(True)
        self.apply_check = QCheckBox("Apply my corrections (0)")
        self.apply_check.setToolTip(
            "Train with your verdicts of the Suspect labels window (Evaluate tab): flipped labels are learnt and "
            "tested as corrected, excluded texts are left out; the file itself is not changed. The result gives "
            "the test accuracy on the file's labels and on the corrected ones (as train --corrections).")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.note)
        layout.addWidget(self.apply_check)
        self.set_identity(None)

    def set_identity(self, identity: DataIdentity | None, problem: str | None = None) -> None:
        """The data set just loaded (None: none, or one that could not be hashed, ``problem`` says why)."""
        self.identity, self.problem = identity, problem
        self.refresh()

    def refresh(self) -> None:
        """Read the book again: verdicts may have been given in the Suspect labels window since."""
        self.book, self.message = read_book(self.identity)
        self.message = self.message or self.problem
        self.setVisible(self.identity is not None or self.message is not None)
        n = self.book.changes() if self.book is not None else 0
        lines = []
        if self.book is not None and self.book.corrections:
            lines.append(f"Corrections: {self.book.counts_text()}.")
        elif self.identity is not None and not self.message:  # not "none yet" over "N were made on its old content"
            lines.append("Corrections: none yet (mark labels in the Evaluate tab's Suspect labels window).")
        if self.message:
            lines.append(f"<span style='{WARNING_STYLE}'>{html.escape(self.message)}</span>")
        self.note.setText("<br>".join(lines))
        self.apply_check.setText(f"Apply my corrections ({n:,})")
        self.apply_check.setEnabled(n > 0)
        if n == 0:
            self.apply_check.setChecked(False)

    def book_to_apply(self) -> CorrectionBook | None:
        """The book a run starting now trains with: None unless the box is ticked (read again first)."""
        if not self.apply_check.isChecked():
            return None
        self.refresh()
        return self.book if self.apply_check.isChecked() else None


class LabelsSwitch(QWidget):
    """The Evaluate tab's "Labels: original / corrected": the scores of the last pass on the file's labels,
    or on yours (flipped labels corrected, excluded reviews left out)."""

    changed = Signal()  # the choice changed: the figures must be shown again

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.identity: DataIdentity | None = None
        self.scored: Dataset | None = None  # the data set the evaluations scored the test split of
        self.problem: str | None = None
        self.corrected: CorrectedData | None = None
        self.combo = QComboBox()
        self.combo.addItem("original (the file's)", ORIGINAL)
        self.combo.addItem("corrected (yours)", CORRECTED)
        self.combo.setToolTip("Every figure, curve and review list on the file's labels, or on your corrections "
                              "of them (as evaluate --corrections): flipped labels corrected, excluded reviews "
                              "left out. The scores are the same; nothing is scored again.")
        self.combo.currentIndexChanged.connect(lambda _: self.changed.emit())
        label = QLabel("La&bels:")
        label.setBuddy(self.combo)
        self.note = QLabel("")
        self.note.setWordWrap(True)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(label)
        layout.addWidget(self.combo)
        layout.addWidget(self.note, 1)
        self.set_data(None, None)

    def set_data(self, identity: DataIdentity | None, scored: Dataset | None, problem: str | None = None) -> None:
        self.identity, self.scored, self.problem = identity, scored, problem
        self.refresh()

    def refresh(self) -> None:
        """Read the book again (after verdicts in the Suspect labels window) and apply it to the scored data."""
        book, warning = read_book(self.identity)  # the stale note, or a book that cannot be read
        warning = warning or self.problem
        self.corrected, info = None, None
        if book is not None and book.changes() and self.scored is not None:
            corrected = book.apply(self.scored)
            if not corrected.flipped["test"] + corrected.excluded["test"]:
                info = "None of your corrections is among these test reviews."
            elif not corrected.test_kept.any():
                info = "Your corrections exclude every one of these test reviews."
            else:
                self.corrected = corrected
                info = (f"{corrected.flipped['test']:,} flipped and {corrected.excluded['test']:,} excluded among "
                        "these test reviews.")
        elif self.scored is not None:
            info = "No corrections of this data set (mark some with Suspect labels...)."
        self.note.setText(html.escape(warning or info or ""))
        self.note.setStyleSheet(WARNING_STYLE if warning else "")
        self.combo.setEnabled(self.corrected is not None)
        if self.corrected is None and self.corrected_shown():
            self.combo.blockSignals(True)
            self.combo.setCurrentIndex(self.combo.findData(ORIGINAL))
            self.combo.blockSignals(False)

    def corrected_shown(self) -> bool:
        return self.combo.currentData() == CORRECTED

    def show_corrected(self, on: bool) -> None:
        self.combo.setCurrentIndex(self.combo.findData(CORRECTED if on else ORIGINAL))

    def view(self, evaluations: list[Evaluation]) -> list[Evaluation]:
        """``evaluations`` (of the scored test split) on the labels chosen."""
        if self.corrected is None or not self.corrected_shown():
            return list(evaluations)
        shown = [corrected_evaluation(e, self.corrected) for e in evaluations]
        return [e for e in shown if e is not None]
