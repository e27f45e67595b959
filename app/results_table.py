"""A table of reviews with their scores, and the panel around it: progress with an ETA, Cancel, a
message line and CSV export. The Predict tab lists a scored file in it; the Evaluate tab the
reviews of a confusion cell, or those two models disagree on."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal, Slot
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from app.explanation_view import excerpt, sentiment_colors
from app.formatting import format_clock
from models.errors import UserFacingError
from models.reports import write_csv
from models.store import check_output_path

_NO_INDEX = QModelIndex()
_RIGHT = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
_DISPLAY, _TOOLTIP = Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole
_FOREGROUND, _ALIGNMENT = Qt.ItemDataRole.ForegroundRole, Qt.ItemDataRole.TextAlignmentRole
# Columns sized to their contents look at this many rows, not Qt's default 1,000: a table of 25,000
# reviews then re-lays out in milliseconds when its rows change (the Evaluate tab's threshold slider).
RESIZE_PRECISION = 50


@dataclass(frozen=True)
class Column:
    """One column: what it shows, how it sorts, and what the CSV export writes for it."""

    header: str
    display: Callable[[Any], str]
    sort_key: Callable[[Any], Any]
    csv_header: str
    csv_value: Callable[[Any], object]
    align_right: bool = False
    sentiment: Callable[[Any], str | None] | None = None  # a label whose colour the text takes
    tooltip: Callable[[Any], str] | None = None


def text_column(header: str, text: Callable[[Any], str], csv_header: str = "review") -> Column:
    """A review's text: shown as its start (the whole review, up to 2,000 characters, on hover)."""
    return Column(header, lambda r: excerpt(text(r)), lambda r: text(r).casefold(), csv_header, text,
                  tooltip=lambda r: excerpt(text(r), 2000))


class ReviewTableModel(QAbstractTableModel):
    """Rows of any kind, shown through ``columns``, sortable by any column (none until a header is clicked)."""

    def __init__(self, columns: Sequence[Column], parent: QWidget | None = None):
        super().__init__(parent)
        self.columns = list(columns)
        self._rows: list[Any] = []
        self._colors: dict[str, QColor] = {}

    def set_rows(self, rows: Sequence[Any], colors: dict[str, QColor]) -> None:
        self.beginResetModel()
        self._rows = list(rows)
        self._colors = colors
        self.endResetModel()

    def set_colors(self, colors: dict[str, QColor]) -> None:
        self._colors = colors
        if self._rows:
            self.dataChanged.emit(self.index(0, 0), self.index(len(self._rows) - 1, len(self.columns) - 1))

    def rows(self) -> list[Any]:
        """The rows in the order shown."""
        return list(self._rows)

    def row(self, index: int) -> Any:
        return self._rows[index]

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = _NO_INDEX) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = _NO_INDEX) -> int:
        return 0 if parent.isValid() else len(self.columns)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.columns[section].header
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row, column = self._rows[index.row()], self.columns[index.column()]
        if role == _DISPLAY:
            return column.display(row)
        if role == _TOOLTIP and column.tooltip is not None:
            return column.tooltip(row)
        if role == _FOREGROUND and column.sentiment is not None:
            return self._colors.get(column.sentiment(row))
        if role == _ALIGNMENT and column.align_right:
            return _RIGHT
        return None

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        if not 0 <= column < len(self.columns):
            return  # no sort column: keep the given order
        self.layoutAboutToBeChanged.emit()
        self._rows.sort(key=self.columns[column].sort_key, reverse=order == Qt.SortOrder.DescendingOrder)
        self.layoutChanged.emit()

    def write_csv(self, path: Path) -> int:
        """The rows, in the order shown, with every column's CSV value; raises OSError."""
        return write_csv(path, [c.csv_header for c in self.columns],
                         ([c.csv_value(r) for c in self.columns] for r in self._rows))


class ResultsPanel(QWidget):
    """Action buttons, Cancel, Export CSV..., a progress bar with an ETA, a message line and the table."""

    cancel_requested = Signal()
    row_selected = Signal(object)  # the selected row, or None

    def __init__(self, columns: Sequence[Column], actions: Sequence[QPushButton] = (),
                 message: str = "", export_name: str = "reviews", parent: QWidget | None = None,
                 trailing: Sequence[QWidget] = ()):
        super().__init__(parent)
        self.export_name = export_name  # the suggested file name's stem
        # Writes (path, rows in the order shown) and returns the rows written; None: the columns' own values.
        self.csv_writer: Callable[[Path, list[Any]], int] | None = None
        self.export_folder: Path | None = None
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self._on_cancel)
        self.export_button = QPushButton("&Export CSV...")
        self.export_button.setEnabled(False)
        self.export_button.clicked.connect(self.export_dialog)
        self.progress = QProgressBar()
        self.progress.setFormat("%v of %m reviews")
        self.progress.hide()
        self.eta_label = QLabel()
        self.eta_label.hide()
        buttons = QHBoxLayout()
        for button in actions:
            buttons.addWidget(button)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.export_button)
        for widget in trailing:  # more controls on the same line (the Evaluate tab's "Show:" choice)
            buttons.addWidget(widget, 1 if isinstance(widget, QComboBox) else 0)
        buttons.addWidget(self.progress, 4)
        buttons.addWidget(self.eta_label)
        buttons.addStretch(1)
        self.message = QLabel(message)
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.model = ReviewTableModel(columns, self)
        self.table = QTableView()
        self.table.setModel(self.model)
        # No sort column until the user clicks a header: the given order first.
        self.table.horizontalHeader().setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
        self.table.setSortingEnabled(True)
        self.table.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QTableView.SelectionMode.SingleSelection)
        self.table.setWordWrap(False)
        self.table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 6)
        header = self.table.horizontalHeader()
        header.setResizeContentsPrecision(RESIZE_PRECISION)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for col in range(1, len(columns)):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        self.table.selectionModel().currentRowChanged.connect(self._on_current_row)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(buttons)
        layout.addWidget(self.message)
        layout.addWidget(self.table, 1)
        self._started = 0.0
        self._busy = False

    # -- a running job ------------------------------------------------------------------
    def begin(self, message: str) -> None:
        """A job started: busy bar until the first report, Cancel enabled."""
        self._busy = True
        self._started = time.monotonic()
        self.cancel_button.setEnabled(True)
        self.export_button.setEnabled(False)
        self.progress.setRange(0, 0)
        self.progress.show()
        self.eta_label.setText("")
        self.eta_label.show()
        self.set_message(message)

    def report(self, done: int, total: int) -> None:
        if not self._busy:
            return
        if done == 0:
            self._started = time.monotonic()  # the clock starts when scoring does, not while a file is read
        self.progress.setRange(0, max(1, total))
        self.progress.setValue(done)
        elapsed = time.monotonic() - self._started
        if 0 < done < total and elapsed > 0.5:
            self.eta_label.setText(f"ETA {format_clock(elapsed / done * (total - done))}")
        elif done >= total:
            self.eta_label.setText("")

    def end(self) -> None:
        self._busy = False
        self.progress.hide()
        self.eta_label.hide()
        self.cancel_button.setEnabled(False)

    def is_busy(self) -> bool:
        return self._busy

    @Slot()
    def _on_cancel(self) -> None:
        self.cancel_button.setEnabled(False)
        self.set_message("Cancelling ...")
        self.cancel_requested.emit()

    # -- the rows -----------------------------------------------------------------------
    def set_rows(self, rows: Sequence[Any]) -> None:
        self.table.horizontalHeader().setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
        self.model.set_rows(rows, sentiment_colors(self.palette()))
        self.export_button.setEnabled(bool(rows) and not self._busy)
        self.row_selected.emit(None)

    def selected_row(self) -> Any | None:
        index = self.table.currentIndex()
        return self.model.row(index.row()) if index.isValid() else None

    def select_row(self, index: int) -> None:
        self.table.selectRow(index)

    def _on_current_row(self, current: QModelIndex, _previous: QModelIndex) -> None:
        self.row_selected.emit(self.model.row(current.row()) if current.isValid() else None)

    def set_message(self, message: str, *, error: bool = False) -> None:
        color = sentiment_colors(self.palette())["negative"].name() if error else None
        self.message.setStyleSheet(f"color: {color};" if color else "")
        self.message.setText(message)

    def changeEvent(self, event: Any) -> None:
        super().changeEvent(event)
        if event.type() == event.Type.PaletteChange and hasattr(self, "model"):
            self.model.set_colors(sentiment_colors(self.palette()))

    # -- export -------------------------------------------------------------------------
    @Slot()
    def export_dialog(self) -> None:
        folder = self.export_folder or Path.home()
        path, _ = QFileDialog.getSaveFileName(self, "Export as CSV", str(folder / f"{self.export_name}.csv"),
                                              "CSV files (*.csv)")
        if path:
            dest = Path(path)
            self.export_csv(dest if dest.suffix else dest.with_suffix(".csv"))

    def export_csv(self, path: Path) -> bool:
        """Write the rows, in the order shown, to a CSV file; False with a message on failure."""
        try:
            check_output_path(path)  # never a stored model's file
        except UserFacingError as exc:
            self.set_message(str(exc), error=True)
            return False
        if not self.model.rowCount():
            self.set_message("There is nothing to export yet.", error=True)
            return False
        try:
            count = self.csv_writer(path, self.model.rows()) if self.csv_writer else self.model.write_csv(path)
        except OSError as exc:
            self.set_message(f"Could not write {path}: {exc.strerror or exc}.", error=True)
            return False
        self.set_message(f"Exported {count:,} rows to {path.name}.")
        return True
