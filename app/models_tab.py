"""The Models tab: the stored models in a table, with rename, delete, import and export, and open folder.

Import takes the app's own single-file ``.ssmodel`` archives and models trained with plain
Keras (``.keras`` / legacy ``.h5``; a small dialog asks for the word index, the sequence
length and a name). Export writes a ``.ssmodel`` file, or a folder for plain Keras
(``model.keras``, ``word_index.json``, ``README.txt``), chosen by the save dialog's file type.
"Export for TensorFlow Serving..." writes a SavedModel folder that takes raw review text
(models.serving.export), for TensorFlow Serving or ``beam-predict``.
"""

from __future__ import annotations

import html
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from PySide6.QtCore import QEvent, QItemSelectionModel, QObject, Qt, QTimer, QUrl, Signal, Slot
from PySide6.QtGui import QDesktopServices, QKeySequence, QPalette, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from app.background import BackgroundTasks
from models.config import SPECIFIED_MAXLEN
from models.errors import UserFacingError
from models.families import family_named
from models.keras_interop import (
    EXPORT_FILES,
    KERAS_WORD_INDEX,
    MAX_MAXLEN,
    export_keras,
    file_kind,
    import_keras_model,
)
from models.metadata import ModelMetadata
from models.store import ARCHIVE_SUFFIX, ModelInfo, ModelStore

COLUMNS = ("Name", "Created", "Preset", "Data", "Validation accuracy", "Test accuracy", "Best epoch",
           "Epoch chosen on", "Status")
NAME, CREATED, PRESET, DATA, VAL_ACCURACY, ACCURACY, EPOCH, CHOSEN_ON, STATUS = range(len(COLUMNS))
# What chose a model's best epoch, in words (ModelMetadata.validated_on).
VALIDATED_ON_TEXT = {"split": "held-out training reviews", "test": "the test split (test accuracy optimistic)"}
# The same, short enough for a table cell (the details below the table say it in full).
VALIDATED_ON_CELL = {"split": "held-out reviews", "test": "test split (optimistic)"}
ID_ROLE = Qt.ItemDataRole.UserRole
SORT_ROLE = Qt.ItemDataRole.UserRole + 1
ARCHIVE_FILTER = f"Sentiment Studio models (*{ARCHIVE_SUFFIX} *.zip);;All files (*)"
KERAS_FILTER = "Keras models (*.keras *.h5 *.hdf5)"
IMPORT_FILTER = (f"Models (*{ARCHIVE_SUFFIX} *.zip *.keras *.h5 *.hdf5);;Sentiment Studio models (*{ARCHIVE_SUFFIX} "
                 f"*.zip);;{KERAS_FILTER};;All files (*)")
SSMODEL_EXPORT_FILTER = f"Sentiment Studio model (*{ARCHIVE_SUFFIX})"
KERAS_EXPORT_FILTER = "Folder for plain Keras: model.keras, word_index.json, README.txt (*)"
SERVING_TITLE = "Export for TensorFlow Serving"
SERVING_EXPORT_FILTER = "Folder for TensorFlow Serving: a SavedModel taking raw text (*)"
IMPORTED_STATUS = "Imported from {source}, {date}"
BUILTIN_STATUS = "Built in (read-only)"
NAME_WIDTH = 220  # px: the least the name column gets


def format_created(iso: str) -> str:
    """An ISO 8601 UTC time as local time, to the minute; the raw text if it cannot be read."""
    if not iso:
        return "unknown"
    try:
        moment = datetime.fromisoformat(iso)
    except ValueError:
        return iso
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone().strftime("%Y-%m-%d %H:%M")


def source_name(source: Any) -> str:
    """The file or folder name of a data source ('imdb' and 'stanford' stay as they are)."""
    if not source:
        return ""
    parts = [p for p in re.split(r"[\\/]", str(source)) if p]  # Windows paths too, whatever the OS
    return parts[-1] if parts else str(source)


def _file_name_for(name: str) -> str:
    return (re.sub(r'[\\/:*?"<>|\x00-\x1f]+', "-", name).strip(" .-") or "model") + ARCHIVE_SUFFIX


class _SortableItem(QTableWidgetItem):
    """Sorts by SORT_ROLE (dates, numbers) instead of the displayed text."""

    def __lt__(self, other: QTableWidgetItem) -> bool:
        mine, theirs = self.data(SORT_ROLE), other.data(SORT_ROLE)
        if mine is None or theirs is None:
            return (mine is not None) < (theirs is not None)  # blanks first
        return mine < theirs


class ModelsTab(QWidget):
    """Everything about the stored models, through the store's public methods."""

    status_message = Signal(str)
    models_changed = Signal()  # after a rename, delete or import

    def __init__(self, store: ModelStore, tasks: BackgroundTasks, parent: QWidget | None = None):
        super().__init__(parent)
        self.store = store
        self.tasks = tasks
        self._infos: dict[str, ModelInfo] = {}
        self._populating = False
        self._last_dir = Path.home()
        self._build_ui()
        self.refresh()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.table.viewport() and event.type() == QEvent.Type.Resize:
            self._fit_name_column()
        return super().eventFilter(watched, event)

    def _fit_name_column(self) -> None:
        header = self.table.horizontalHeader()
        others = sum(header.sectionSize(c) for c in range(len(COLUMNS)) if c != NAME)
        header.resizeSection(NAME, max(NAME_WIDTH, self.table.viewport().width() - others))

    def _build_ui(self) -> None:
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.DoubleClicked
                                   | QAbstractItemView.EditTrigger.EditKeyPressed)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 8)
        header = self.table.horizontalHeader()
        # The figures and dates take what they need; the name takes the rest, shortened with "…" where
        # space is short (its tooltip and the details give it whole), and never less than NAME_WIDTH: the
        # last column was cut at 1400 px. Narrower than every column needs (1024 px), the table scrolls.
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(NAME, QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(False)
        self.table.viewport().installEventFilter(self)
        self.table.setTextElideMode(Qt.TextElideMode.ElideMiddle)  # automatic names differ at their end
        header.setSortIndicator(CREATED, Qt.SortOrder.DescendingOrder)  # newest first, as the store lists
        self.table.setSortingEnabled(True)
        self.table.itemChanged.connect(self._on_item_changed)
        self.table.itemSelectionChanged.connect(self._on_selection_changed)
        self.table.doubleClicked.connect(self._on_double_clicked)
        delete_key = QShortcut(QKeySequence(QKeySequence.StandardKey.Delete), self.table)
        delete_key.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        delete_key.activated.connect(self.delete_selected)

        self.rename_button = QPushButton("&Rename")
        self.rename_button.setToolTip("Rename the model (F2, or double-click its name)")
        self.rename_button.clicked.connect(self.rename_selected)
        self.delete_button = QPushButton("&Delete...")
        self.delete_button.setToolTip("Delete the model's files (Del)")
        self.delete_button.clicked.connect(self.delete_selected)
        self.import_button = QPushButton("&Import...")
        self.import_button.setToolTip(f"Add a model from a {ARCHIVE_SUFFIX} file, or one trained with plain Keras "
                                      "(.keras or .h5)")
        self.import_button.clicked.connect(self.import_model_dialog)
        self.export_button = QPushButton("&Export...")
        self.export_button.setToolTip(f"Save the model as one {ARCHIVE_SUFFIX} file you can send to someone, or "
                                      "as a folder for plain Keras (pick the file type in the dialog)")
        self.export_button.clicked.connect(self.export_selected_dialog)
        self.serving_button = QPushButton("Export for TensorFlow &Serving...")
        self.serving_button.setToolTip("Write the model as a TensorFlow SavedModel folder that takes raw review text "
                                       "(the tokenizer runs inside it): for TensorFlow Serving, Apache Beam "
                                       "(beam-predict) or any TensorFlow program")
        self.serving_button.clicked.connect(self.export_serving_dialog)
        self.open_button = QPushButton("&Open folder")
        self.open_button.setToolTip("Show the model's files in the file manager")
        self.open_button.clicked.connect(self.open_selected_folder)
        refresh_button = QPushButton("Re&fresh")
        refresh_button.clicked.connect(self.refresh)
        buttons = QHBoxLayout()
        for button in (self.rename_button, self.delete_button, self.import_button, self.export_button,
                       self.serving_button, self.open_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        buttons.addWidget(refresh_button)

        self.empty_label = QLabel(
            "No models yet. Train one in the Train tab, or import a model file "
            f"({ARCHIVE_SUFFIX}, or a Keras .keras or .h5 model) with Import..."
        )
        self.empty_label.setWordWrap(True)
        self.details = QTextBrowser()
        self.details.setOpenLinks(False)
        self.location_label = QLabel(f"Models are kept in {self.store.root}")
        self.location_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.table)
        splitter.addWidget(self.details)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        layout = QVBoxLayout(self)
        layout.addLayout(buttons)
        layout.addWidget(self.empty_label)
        layout.addWidget(splitter, 1)
        layout.addWidget(self.location_label)

    # -- the table ------------------------------------------------------------------------
    @Slot()
    def refresh(self) -> None:
        """Reload the table from the store, keeping the selection."""
        selected = self.selected_model()
        try:
            infos = self.store.list()
        except OSError as exc:
            infos = []
            self.status_message.emit(f"Could not read the model folder: {exc.strerror or exc}.")
        self._infos = {info.id: info for info in infos}
        muted = self.palette().color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text)

        self._populating = True
        self.table.setSortingEnabled(False)  # rows must not move while they are filled
        self.table.setRowCount(0)
        self.table.setRowCount(len(infos))
        for row, info in enumerate(infos):
            tested = _test_reviews(info)
            for col, (text, sort_key) in enumerate(_row_cells(info)):
                item = _SortableItem(text)
                item.setData(ID_ROLE, info.id)
                item.setData(SORT_ROLE, sort_key)
                flags = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
                if col == NAME and _renamable(info):
                    flags |= Qt.ItemFlag.ItemIsEditable
                item.setFlags(flags)
                if col in (VAL_ACCURACY, ACCURACY, EPOCH):
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                if info.damaged:
                    item.setForeground(muted)
                    item.setToolTip(f"This model cannot be used: {info.damaged}.")
                elif info.builtin:
                    item.setToolTip("Ships with the app: it can be used and exported, not renamed or deleted.")
                elif col == NAME:
                    item.setToolTip(info.name)
                elif col == ACCURACY and tested is not None:
                    item.setToolTip(f"Accuracy on the {tested:,} reviews of its data set's test split")
                self.table.setItem(row, col, item)
        self.table.setSortingEnabled(True)
        self._populating = False
        self.table.horizontalHeader().resizeSections(QHeaderView.ResizeMode.ResizeToContents)
        self._fit_name_column()

        self.empty_label.setVisible(not infos)
        if selected is not None and selected.id in self._infos:
            self.select_model(selected.id)
        elif infos:
            self.table.selectRow(0)
        self._on_selection_changed()

    def selected_model(self) -> ModelInfo | None:
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            return None
        item = self.table.item(rows[0].row(), NAME)
        return self._infos.get(item.data(ID_ROLE)) if item is not None else None

    def select_model(self, model_id: str) -> None:
        for row in range(self.table.rowCount()):
            item = self.table.item(row, NAME)
            if item is not None and item.data(ID_ROLE) == model_id:
                self.table.setCurrentCell(row, NAME, QItemSelectionModel.SelectionFlag.ClearAndSelect
                                          | QItemSelectionModel.SelectionFlag.Rows)
                return

    @Slot()
    def _on_selection_changed(self) -> None:
        info = self.selected_model()
        self.rename_button.setEnabled(info is not None and _renamable(info))
        self.delete_button.setEnabled(info is not None and not info.builtin)
        self.export_button.setEnabled(info is not None and info.damaged is None)
        self.serving_button.setEnabled(info is not None and info.damaged is None)
        self.open_button.setEnabled(info is not None)
        self.details.setHtml(_details_html(info) if info is not None else "")

    def _on_double_clicked(self, index: Any) -> None:
        if index.column() != NAME:
            self.status_message.emit("Double-click a model's name to rename it.")

    # -- rename ---------------------------------------------------------------------------
    @Slot()
    def rename_selected(self) -> None:
        """Start editing the selected model's name in place."""
        info = self.selected_model()
        if info is None or not _renamable(info):
            return
        rows = self.table.selectionModel().selectedRows()
        self.table.editItem(self.table.item(rows[0].row(), NAME))

    def _on_item_changed(self, item: QTableWidgetItem) -> None:
        if self._populating or item.column() != NAME:
            return
        model_id, new_name = item.data(ID_ROLE), item.text()
        # Deferred: the editor is still committing this item, and the table is rebuilt after a rename.
        QTimer.singleShot(0, self, lambda: self.rename_model(model_id, new_name))

    def rename_model(self, model_id: str, new_name: str) -> bool:
        """Rename a stored model; a readable message and False if the store refuses."""
        info = self._infos.get(model_id)
        if info is None:
            return False
        if new_name.strip() == info.name:
            self.refresh()  # only whitespace changed: show the name as it is
            return True
        try:
            renamed = self.store.rename(model_id, new_name)
        except UserFacingError as exc:
            self.refresh()  # put the old name back in the table
            QMessageBox.warning(self, "Rename model", str(exc))
            return False
        self.refresh()
        self.select_model(model_id)
        self.status_message.emit(f"Renamed {info.name!r} to {renamed.name!r}.")
        self.models_changed.emit()
        return True

    # -- delete ---------------------------------------------------------------------------
    @Slot()
    def delete_selected(self) -> None:
        """Delete the selected model after the user confirms."""
        info = self.selected_model()
        if info is None or info.builtin:
            return
        answer = QMessageBox.question(
            self, "Delete model",
            f"Delete the model {info.name!r}?\n\nIts files in {info.path} are removed. This cannot be undone.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        if answer != QMessageBox.StandardButton.Yes:
            return
        try:
            self.store.delete(info.id)
        except UserFacingError as exc:
            QMessageBox.warning(self, "Delete model", str(exc))
            self.refresh()
            return
        self.refresh()
        self.status_message.emit(f"Deleted {info.name!r}.")
        self.models_changed.emit()

    # -- import and export ----------------------------------------------------------------
    @Slot()
    def import_model_dialog(self) -> None:
        """Ask for a model file and import it."""
        path, _ = QFileDialog.getOpenFileName(self, "Import model", str(self._last_dir), IMPORT_FILTER)
        if path:
            self.import_file(Path(path))

    def import_file(self, path: Path) -> None:
        """Import a model file in the background; models_changed when it is in the store.

        A Keras model (.keras, .h5) first asks for its word index, length and name; anything
        else is taken as a .ssmodel archive (whose import says what is wrong with it)."""
        path = Path(path)
        self._last_dir = path.parent
        if path.is_file() and file_kind(path) == "keras":
            options = self.ask_keras_import_options(path)
            if options is not None:
                self.import_keras_file(path, **options)
            return
        store = self.store
        self.status_message.emit(f"Importing {path.name} ...")
        self.tasks.run(lambda: store.import_archive(path), on_success=self._on_imported,
                       on_failure=lambda message: self._on_failed("Import model", message))

    def ask_keras_import_options(self, path: Path) -> dict[str, Any] | None:
        """The Keras import dialog; its choices, or None if cancelled."""
        dialog = KerasImportDialog(path, self)
        if not dialog.exec():  # 0: rejected
            return None
        return dialog.options()

    def import_keras_file(self, path: Path, word_index: Path | None = None, maxlen: int | None = None,
                          name: str | None = None) -> None:
        """Import a model trained with plain Keras, in the background (it loads TensorFlow)."""
        path = Path(path)
        self._last_dir = path.parent
        store = self.store
        self.status_message.emit(f"Importing {path.name} (checking the model) ...")
        self.tasks.run(lambda: import_keras_model(store, path, word_index=word_index, maxlen=maxlen, name=name),
                       on_success=self._on_imported,
                       on_failure=lambda message: self._on_failed("Import model", message))

    def _on_imported(self, info: ModelInfo) -> None:
        self.refresh()
        self.select_model(info.id)
        self.status_message.emit(f"Imported {info.name!r}.")
        self.models_changed.emit()

    @Slot()
    def export_selected_dialog(self) -> None:
        """Ask where to save the selected model as one file, and write it there."""
        info = self.selected_model()
        if info is None:
            self.status_message.emit("Select a model to export.")
            return
        if info.damaged:
            QMessageBox.warning(self, "Export model", f"The model {info.name!r} cannot be exported: {info.damaged}.")
            return
        start = str(self._last_dir / _file_name_for(info.name))
        path, chosen = QFileDialog.getSaveFileName(self, "Export model", start,
                                                   f"{SSMODEL_EXPORT_FILTER};;{KERAS_EXPORT_FILTER}")
        if not path:
            return
        dest = Path(path)
        if chosen == KERAS_EXPORT_FILTER:
            folder = dest.with_suffix("") if dest.suffix.lower() == ARCHIVE_SUFFIX else dest
            taken = [name for name in EXPORT_FILES if (folder / name).exists()]
            if taken:
                answer = QMessageBox.question(
                    self, "Export model",
                    f"{folder} already holds {', '.join(taken)}.\n\nReplace them with this model's files?",
                    QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, QMessageBox.StandardButton.No)
                if answer != QMessageBox.StandardButton.Yes:
                    return
            self.export_keras_folder(info.id, folder, overwrite=bool(taken))
            return
        self.export_model(info.id, dest if dest.suffix else dest.with_suffix(ARCHIVE_SUFFIX))

    def export_model(self, model_id: str, dest: Path) -> None:
        """Write a model as one file in the background; the status bar says when it is done."""
        dest = Path(dest)
        self._last_dir = dest.parent
        store = self.store
        self.status_message.emit(f"Exporting to {dest.name} ...")
        self.tasks.run(lambda: store.export_archive(model_id, dest),
                       on_success=lambda written: self.status_message.emit(f"Exported the model to {written}."),
                       on_failure=lambda message: self._on_failed("Export model", message))

    def export_keras_folder(self, model_id: str, folder: Path, overwrite: bool = False) -> None:
        """Write a model for plain Keras (model.keras, word_index.json, README.txt) in the background."""
        folder = Path(folder)
        self._last_dir = folder.parent
        store = self.store
        self.status_message.emit(f"Exporting for plain Keras to {folder.name} ...")
        self.tasks.run(lambda: export_keras(store, model_id, folder, overwrite=overwrite),
                       on_success=lambda done: self.status_message.emit(
                           f"Exported the model for plain Keras to {done.folder} (see README.txt there)."),
                       on_failure=lambda message: self._on_failed("Export model", message))

    @Slot()
    def export_serving_dialog(self) -> None:
        """Ask for a new folder and write the selected model there as a SavedModel taking raw text."""
        info = self.selected_model()
        if info is None:
            self.status_message.emit("Select a model to export.")
            return
        if info.damaged:
            QMessageBox.warning(self, SERVING_TITLE, f"The model {info.name!r} cannot be exported: {info.damaged}.")
            return
        start = str(self._last_dir / (_file_name_for(info.name) + "-savedmodel"))
        path, _ = QFileDialog.getSaveFileName(self, SERVING_TITLE, start, SERVING_EXPORT_FILTER)
        if not path:
            return
        folder = Path(path)
        in_use = folder.is_dir() and any(folder.iterdir())
        if folder.exists() and not folder.is_dir():
            QMessageBox.warning(self, SERVING_TITLE, f"{folder} is a file; give a name for a new folder.")
            return
        if in_use:
            answer = QMessageBox.question(
                self, SERVING_TITLE, f"{folder} is not empty.\n\nReplace everything in it with this SavedModel?",
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, QMessageBox.StandardButton.No)
            if answer != QMessageBox.StandardButton.Yes:
                return
        self.export_serving_folder(info.id, folder, overwrite=in_use)

    def export_serving_folder(self, model_id: str, folder: Path, overwrite: bool = False) -> None:
        """Write the SavedModel in the background (TensorFlow traces the tokenizer and the network: seconds); the
        status bar then says how to serve it."""
        from models.serving.export import export_saved_model

        folder = Path(folder)
        self._last_dir = folder.parent
        store = self.store
        self.status_message.emit(f"Exporting for TensorFlow Serving to {folder.name} ...")
        self.tasks.run(lambda: export_saved_model(store, model_id, folder, overwrite=overwrite),
                       on_success=lambda done: self.status_message.emit(
                           f"Exported a SavedModel to {done.folder}. {done.serve_hint()}"),
                       on_failure=lambda message: self._on_failed(SERVING_TITLE, message))

    def _on_failed(self, title: str, message: str) -> None:
        self.status_message.emit(message)
        QMessageBox.warning(self, title, message)

    # -- open folder ----------------------------------------------------------------------
    @Slot()
    def open_selected_folder(self) -> None:
        info = self.selected_model()
        if info is None:
            return
        if not QDesktopServices.openUrl(QUrl.fromLocalFile(str(info.path))):
            QMessageBox.warning(self, "Open folder", f"Could not open {info.path} in the file manager.")


def _imported_keras(info: ModelInfo) -> bool:
    return info.metadata is not None and info.metadata.imported_keras


class KerasImportDialog(QDialog):
    """The choices for importing a plain Keras model: word index, sequence length and name."""

    def __init__(self, path: Path, parent: QWidget | None = None):
        super().__init__(parent)
        self.path = Path(path)
        self.setWindowTitle("Import a Keras model")
        intro = QLabel(
            f"<b>{html.escape(self.path.name)}</b><br>The model must take a sequence of word ids (an Embedding "
            "layer first) and give one sigmoid probability, as the Keras IMDB tutorial's model does."
        )
        intro.setWordWrap(True)
        self.word_index_edit = QLineEdit()
        self.word_index_edit.setPlaceholderText(f"Keras' IMDB word index ({KERAS_WORD_INDEX})")
        self.word_index_edit.setToolTip(
            "The word index the model was trained with: Keras' imdb_word_index.json format (word -> rank from 1) "
            "or a Sentiment Studio vocabulary.json. Leave empty for Keras' IMDB word index, taken from the "
            "Keras cache (~/.keras/datasets) or downloaded.")
        browse = QPushButton("&Browse...")
        browse.clicked.connect(self._browse_word_index)
        index_row = QHBoxLayout()
        index_row.addWidget(self.word_index_edit, 1)
        index_row.addWidget(browse)
        self.maxlen_spin = QSpinBox()
        self.maxlen_spin.setRange(0, MAX_MAXLEN)
        self.maxlen_spin.setSpecialValueText(f"From the model, else {SPECIFIED_MAXLEN}")
        self.maxlen_spin.setValue(0)
        self.maxlen_spin.setToolTip("Tokens per review. A model with a fixed input length always uses its own; "
                                    f"otherwise this, or {SPECIFIED_MAXLEN} (the tutorial's) when left as it is.")
        self.name_edit = QLineEdit()
        self.name_edit.setPlaceholderText(self.path.stem)
        form = QFormLayout()
        index_label = QLabel("&Word index:")
        index_label.setBuddy(self.word_index_edit)
        form.addRow(index_label, index_row)
        form.addRow("&Sequence length:", self.maxlen_spin)
        form.addRow("&Name:", self.name_edit)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("&Import")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(buttons)
        self.setMinimumWidth(520)

    def _browse_word_index(self) -> None:
        start = self.word_index_edit.text().strip() or str(self.path.parent)
        path, _ = QFileDialog.getOpenFileName(self, "Word index", start, "JSON files (*.json);;All files (*)")
        if path:
            self.word_index_edit.setText(path)

    def options(self) -> dict[str, Any]:
        text = self.word_index_edit.text().strip()
        return {
            "word_index": Path(text).expanduser() if text else None,
            "maxlen": self.maxlen_spin.value() or None,
            "name": self.name_edit.text().strip() or None,
        }


def _renamable(info: ModelInfo) -> bool:
    # The store can rename a damaged model whose metadata it could read, not one without.
    return not info.builtin and info.metadata is not None and not info.path.is_symlink()


def _test_reviews(info: ModelInfo) -> int | None:
    """How many test reviews the model's test accuracy was measured on, if its metadata says."""
    count = info.metadata.test_reviews if info.metadata is not None else None
    return count if count else None


def _row_cells(info: ModelInfo) -> list[tuple[str, Any]]:
    """(text, sort key) per column."""
    meta = info.metadata
    accuracy, val_accuracy = (float(v) if isinstance(v, (int, float)) else None
                              for v in ((meta.test_accuracy, meta.validation_accuracy) if meta else (None, None)))
    chosen_on = VALIDATED_ON_CELL.get(str(meta.validated_on if meta else None), "")
    tested = _test_reviews(info)
    epoch = meta.best_epoch if meta else None
    if info.damaged:
        status = f"Damaged: {info.damaged}"
    elif info.builtin:
        status = BUILTIN_STATUS
    elif _imported_keras(info):
        imported = info.metadata.imported
        status = IMPORTED_STATUS.format(source=imported.source or "a Keras file", date=format_created(imported.at))
    else:
        status = ""
    preset = (meta.preset or "") if meta else ""
    source = source_name(meta.source if meta else None)
    return [
        (info.name, info.name.casefold()),
        (format_created(info.created), info.created),
        (preset, preset),
        (source, source.casefold()),
        ("" if val_accuracy is None else f"{val_accuracy:.1%}", val_accuracy),
        # With the number of reviews behind it: 84% of 2,000 and 84% of 25,000 are not the same news.
        ("" if accuracy is None else f"{accuracy:.1%}" + (f" of {tested:,}" if tested else ""), accuracy),
        ("" if epoch is None else str(epoch), epoch),
        (chosen_on, chosen_on),
        (status, status),
    ]


def _details_html(info: ModelInfo) -> str:
    meta = info.metadata
    rows: list[tuple[str, Any]] = [("Name", info.name), ("Folder", info.path)]
    if info.damaged:
        rows.append(("Cannot be used", info.damaged))
    rows.append(("Created", format_created(info.created)))
    if meta is None:
        meta = ModelMetadata(name=info.name, created=info.created)  # nothing more to show
    if meta.imported is not None:
        rows.append(("Imported from", meta.imported.source))
        if meta.imported_keras:
            rows.append(("Imported", f"{format_created(meta.imported.at)}, a model trained with plain Keras"))
            word_index = meta.word_index or {}
            if word_index.get("from"):
                rows.append(("Word index", f"{word_index['from']} ({word_index.get('words', '?')} words)"))
    family = family_named(meta.family)
    rows.append(("Family", f"{family.title}: reads {family.reads}"))
    if meta.preset:
        rows.append(("Preset", meta.preset))
    data = meta.data
    if data:
        rows.append(("Data", f"{data.get('source')} ({data.get('train', '?')} train, "
                             f"{data.get('test', '?')} test reviews)"))
    results = meta.results
    if meta.validated_on in VALIDATED_ON_TEXT:
        rows.append(("Best epoch chosen on", VALIDATED_ON_TEXT[meta.validated_on]))
    if meta.validation_accuracy is not None:
        rows.append(("Validation accuracy", f"{meta.validation_accuracy:.1%}"))
    for key, label in (("test_accuracy", "Test accuracy"), ("test_loss", "Test loss"),
                       ("best_epoch", "Best epoch"), ("epochs_completed", "Epochs trained"),
                       ("seconds_per_epoch", "Seconds per epoch")):
        value = results.get(key)
        if isinstance(value, float):
            value = f"{value:.1%}" if key == "test_accuracy" else f"{value:.3g}"
        if value is not None:
            rows.append((label, value))
    if results.get("stopped"):
        rows.append(("Stopped early", "yes, by the user"))
    if meta.config:
        rows.append(("Hyperparameters", ", ".join(f"{k} {v}" for k, v in meta.config.items())))
    if meta.versions:
        rows.append(("Made with", ", ".join(f"{k} {v}" for k, v in meta.versions.items())))
    body = "".join(
        f"<tr><td style='padding-right:12px'><b>{html.escape(label)}</b></td><td>{html.escape(str(value))}</td></tr>"
        for label, value in rows
    )
    return f"<table>{body}</table>"
