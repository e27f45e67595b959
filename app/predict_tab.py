"""The Predict tab: score a typed, pasted or dropped review live, or a whole file of reviews, with a stored model.

With each score comes its explanation (models/explain.py): the words the model read, highlighted
green where they pushed the score towards positive and red towards negative."""

from __future__ import annotations

import csv
import html
import math
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QEvent,
    QMimeData,
    QModelIndex,
    QPersistentModelIndex,
    QRectF,
    QSize,
    Qt,
    QTimer,
    Signal,
    Slot,
)
from PySide6.QtGui import QColor, QFont, QLinearGradient, QPainter, QPalette, QPen, QTextCursor
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QSplitter,
    QTableView,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from app.background import BackgroundTasks
from models.atomic_write import atomic_write
from models.datasets import read_review_texts
from models.errors import DataSourceError
from models.explain import Explanation, TokenContribution, explain
from models.prediction import NEGATIVE, POSITIVE, Prediction, Predictor
from models.store import ModelInfo, ModelStore

MAX_DROP_BYTES = 5 * 1024 * 1024
DEBOUNCE_MS = 300
EXCERPT_CHARS = 120
BATCH_SIZE = 256  # small enough that Cancel answers within a fraction of a second

EMPTY_MESSAGE = "Type or paste a review"
NO_MODEL_TITLE = "No model yet"
NO_MODEL_MESSAGE = (
    "There is no model to score with yet. Train one in the Train tab, "
    "or import a model file (.ssmodel) in the Models tab."
)
LOADING_MESSAGE = "Loading model ..."
TOKENS_LEGEND = (
    "Green words pushed the score towards positive, red words towards negative; the stronger the colour, "
    "the bigger the push (relative to this review's strongest word). Hover a word to see by how much. "
    "Struck-through grey words are not in the model's vocabulary: it reads each of them as the same "
    "unknown word (id 2)."
)
# Colour strength: full at the review's largest |contribution|, but never for less than this,
# so a review where no word matters much stays pale instead of showing noise at full colour.
MIN_HIGHLIGHT_SCALE = 0.05
MAX_HIGHLIGHT_MIX = 0.6  # at most this share of sentiment colour in the background (less where contrast needs)
MIN_CONTRAST = 4.5  # WCAG AA for normal text, checked against the highlight
TOP_WORDS = 3
NO_KNOWN_WORD_NOTE = (
    "None of these words are in the model's vocabulary, so the score means little: "
    "the model read only unknown words."
)


def sentiment_colors(palette: QPalette) -> dict[str, QColor]:
    """Green for positive, red for negative, dark or light enough to read on the palette's base."""
    dark = palette.color(QPalette.ColorRole.Base).lightness() < 128
    return {
        POSITIVE: QColor("#5fd27f" if dark else "#1b7f3b"),
        NEGATIVE: QColor("#ff7b72" if dark else "#c0392b"),
    }


def _luminance(color: QColor) -> float:
    def channel(v: float) -> float:
        return v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4

    return 0.2126 * channel(color.redF()) + 0.7152 * channel(color.greenF()) + 0.0722 * channel(color.blueF())


def contrast_ratio(a: QColor, b: QColor) -> float:
    """WCAG contrast ratio of two colours, from 1 (same) to 21 (black on white)."""
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def _mix(base: QColor, color: QColor, amount: float) -> QColor:
    return QColor.fromRgbF(*(b + (c - b) * amount for b, c in (
        (base.redF(), color.redF()), (base.greenF(), color.greenF()), (base.blueF(), color.blueF()))))


def highlight_color(palette: QPalette, contribution: float, scale: float) -> QColor | None:
    """The background of a word that moved P(positive) by ``contribution``: the sentiment colour mixed
    into the text background by the word's share of ``scale``, never so strong that the palette's text
    colour loses contrast on it. None for a word too weak to colour."""
    strength = min(1.0, abs(contribution) / max(scale, 1e-12))
    amount = MAX_HIGHLIGHT_MIX * strength
    if amount < 0.03:
        return None
    base = palette.color(QPalette.ColorRole.Base)
    text = palette.color(QPalette.ColorRole.Text)
    color = sentiment_colors(palette)[POSITIVE if contribution > 0 else NEGATIVE]
    mixed = _mix(base, color, amount)
    while amount > 0.05 and contrast_ratio(mixed, text) < MIN_CONTRAST:
        amount -= 0.05
        mixed = _mix(base, color, amount)
    return mixed


def _muted(palette: QPalette) -> QColor:
    return palette.color(QPalette.ColorRole.PlaceholderText)


def _signed(value: float) -> str:
    """A contribution as shown: sign always, a real minus sign, three decimals."""
    return f"{value:+.3f}".replace("-", "\u2212")


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "\u2026"


@dataclass(frozen=True)
class ScoredReview:
    prediction: Prediction
    total_words: int  # tokens in the whole review, before truncation
    model_name: str
    explanation: Explanation | None = None  # each seen token's contribution to the score

    @property
    def words_cut(self) -> int:
        return max(0, self.total_words - len(self.prediction.tokens))


@dataclass(frozen=True)
class BatchOutcome:
    path: Path
    texts: list[str]
    predictions: list[Prediction]
    predictor: Predictor
    model_key: tuple[str, str]


def _model_key(info: ModelInfo) -> tuple[str, str]:
    # The folder id is stable across renames; the creation time tells a re-created folder apart.
    return info.id, info.created


class ProbabilityGauge(QWidget):
    """A bar from 0 (negative, left) to 1 (positive, right) with a marker at the probability."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._value: float | None = None
        self.setMinimumHeight(26)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setAccessibleName("Probability that the review is positive")

    def value(self) -> float | None:
        return self._value

    def setValue(self, value: float | None) -> None:
        self._value = None if value is None else min(1.0, max(0.0, float(value)))
        self.setToolTip("" if self._value is None else f"P(positive) = {self._value:.3f}")
        self.update()

    def sizeHint(self) -> QSize:
        return QSize(240, 26)

    def paintEvent(self, event: Any) -> None:
        palette = self.palette()
        colors = sentiment_colors(palette)
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        track = QRectF(self.rect()).adjusted(6, 7, -6, -7)
        radius = track.height() / 2
        if self._value is None:
            painter.setBrush(palette.color(QPalette.ColorRole.Mid))
        else:
            gradient = QLinearGradient(track.topLeft(), track.topRight())
            for stop, color in ((0.0, colors[NEGATIVE]), (0.5, palette.color(QPalette.ColorRole.Mid)),
                                (1.0, colors[POSITIVE])):
                faded = QColor(color)
                faded.setAlpha(150)
                gradient.setColorAt(stop, faded)
            painter.setBrush(gradient)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.drawRoundedRect(track, radius, radius)
        # The decision threshold.
        painter.setPen(QPen(palette.color(QPalette.ColorRole.WindowText), 1, Qt.PenStyle.DotLine))
        mid = track.center().x()
        painter.drawLine(int(mid), int(track.top()) - 3, int(mid), int(track.bottom()) + 3)
        if self._value is not None:
            x = track.left() + self._value * track.width()
            color = colors[POSITIVE if self._value >= 0.5 else NEGATIVE]
            painter.setPen(QPen(palette.color(QPalette.ColorRole.Base), 2))
            painter.setBrush(color)
            r = self.height() / 2 - 2
            painter.drawEllipse(QRectF(x - r, self.height() / 2 - r, 2 * r, 2 * r))
        painter.end()


class ReviewEditor(QPlainTextEdit):
    """The review box; a dropped or pasted file is handed to the tab instead of its path being inserted."""

    file_dropped = Signal(object)  # Path

    def canInsertFromMimeData(self, source: QMimeData) -> bool:
        return bool(_local_files(source)) or super().canInsertFromMimeData(source)

    def insertFromMimeData(self, source: QMimeData) -> None:
        files = _local_files(source)
        if files:
            self.file_dropped.emit(files[0])
        else:
            super().insertFromMimeData(source)


def _local_files(mime: QMimeData) -> list[Path]:
    if not mime.hasUrls():
        return []
    return [Path(url.toLocalFile()) for url in mime.urls() if url.isLocalFile()]


class BatchResultsModel(QAbstractTableModel):
    """Scored reviews of a file, sortable by any column."""

    HEADERS = ("Review", "P(positive)", "Label", "Known", "OOV", "Truncated")

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._rows: list[tuple[str, Prediction]] = []
        self._colors: dict[str, QColor] = {}

    def set_results(self, texts: list[str], predictions: list[Prediction], colors: dict[str, QColor]) -> None:
        self.beginResetModel()
        self._rows = list(zip(texts, predictions))
        self._colors = colors
        self.endResetModel()

    def set_colors(self, colors: dict[str, QColor]) -> None:
        self._colors = colors
        if self._rows:
            self.dataChanged.emit(self.index(0, 2), self.index(len(self._rows) - 1, 2))

    def rows(self) -> list[tuple[str, Prediction]]:
        """The results in the order shown."""
        return list(self._rows)

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.HEADERS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.HEADERS[section]
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        text, p = self._rows[index.row()]
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return (excerpt(text), f"{p.probability:.3f}", p.label, str(p.known_tokens), str(p.oov_tokens),
                    "yes" if p.truncated else "")[col]
        if role == Qt.ItemDataRole.ToolTipRole and col == 0:
            return excerpt(text, 2000)
        if role == Qt.ItemDataRole.ForegroundRole and col == 2:
            return self._colors.get(p.label)
        if role == Qt.ItemDataRole.TextAlignmentRole and col in (1, 3, 4):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        keys = (
            lambda r: r[0].casefold(),
            lambda r: r[1].probability,
            lambda r: r[1].label,
            lambda r: r[1].known_tokens,
            lambda r: r[1].oov_tokens,
            lambda r: r[1].truncated,
        )
        if not 0 <= column < len(keys):
            return  # no sort column: keep the file's order
        self.layoutAboutToBeChanged.emit()
        self._rows.sort(key=keys[column], reverse=order == Qt.SortOrder.DescendingOrder)
        self.layoutChanged.emit()


class PredictTab(QWidget):
    """Pick a stored model, type a review, see its sentiment and the words the model read."""

    status_message = Signal(str)
    prediction_ready = Signal(object)  # a Prediction, after each scoring of the text in the box
    _batch_progress = Signal(int, int)  # emitted from the scoring thread; delivered queued

    def __init__(self, store: ModelStore, tasks: BackgroundTasks, parent: QWidget | None = None):
        super().__init__(parent)
        self.store = store
        self.tasks = tasks
        self._predictors: dict[tuple[str, str], Predictor] = {}
        self._loading: set[tuple[str, str]] = set()
        self._load_errors: dict[tuple[str, str], str] = {}
        self._scoring = False
        self._infos: dict[str, ModelInfo] = {}
        self._shown: ScoredReview | None = None
        self._batch_cancel: threading.Event | None = None
        self._batch_source: Path | None = None
        self._text_at_refusal: str | None = None

        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(DEBOUNCE_MS)
        self._debounce.timeout.connect(self._request_score)
        self._batch_progress.connect(self._on_batch_progress)

        self._build_ui()
        self.refresh_models()

    # -- layout ---------------------------------------------------------------------------
    def _build_ui(self) -> None:
        self.model_combo = QComboBox()
        self.model_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.model_combo.setMinimumContentsLength(24)
        self.model_combo.currentIndexChanged.connect(self._on_model_selected)
        self.model_status = QLabel()
        self.model_status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        model_label = QLabel("&Model:")
        model_label.setBuddy(self.model_combo)
        model_row = QHBoxLayout()
        model_row.addWidget(model_label)
        model_row.addWidget(self.model_combo)
        model_row.addWidget(self.model_status, 1)

        self.no_model_label = QLabel(NO_MODEL_MESSAGE)
        self.no_model_label.setWordWrap(True)
        self.no_model_label.setFrameShape(QLabel.Shape.StyledPanel)
        self.no_model_label.setMargin(8)

        # The review.
        self.editor = ReviewEditor()
        self.editor.setPlaceholderText(
            "Type or paste a movie review here, or drop a .txt file on this box. It is scored as you type."
        )
        self.editor.textChanged.connect(self._on_text_changed)
        self.editor.file_dropped.connect(self.load_review_file)
        self.editor_message = QLabel()
        self.editor_message.setWordWrap(True)
        self.editor_message.hide()
        self.predict_button = QPushButton("&Predict")
        self.predict_button.setToolTip("Score the review now (Ctrl+Enter)")
        self.predict_button.clicked.connect(self.predict_now)
        clear_button = QPushButton("C&lear")
        clear_button.clicked.connect(self.editor.clear)
        buttons = QHBoxLayout()
        buttons.addWidget(self.predict_button)
        buttons.addWidget(clear_button)
        buttons.addStretch(1)
        review_box = QGroupBox("Review")
        review_layout = QVBoxLayout(review_box)
        review_layout.addWidget(self.editor, 1)
        review_layout.addWidget(self.editor_message)
        review_layout.addLayout(buttons)

        # The result.
        self.result_title = QLabel(EMPTY_MESSAGE)
        title_font = QFont(self.result_title.font())
        if title_font.pointSizeF() > 0:
            title_font.setPointSizeF(title_font.pointSizeF() * 1.6)
        title_font.setBold(True)
        self.result_title.setFont(title_font)
        self.gauge = ProbabilityGauge()
        ends = QHBoxLayout()
        ends.addWidget(QLabel("0 \u00b7 negative"))
        ends.addStretch(1)
        ends.addWidget(QLabel("positive \u00b7 1"))
        self.score_label = QLabel()
        self.score_label.setWordWrap(True)
        self.score_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.note_label = QLabel()
        self.note_label.setWordWrap(True)
        self.note_label.hide()
        seen_row = QHBoxLayout()
        seen_row.addWidget(QLabel("What the model read, and which words moved the score:"))
        seen_row.addStretch(1)
        self.show_ids = QCheckBox("Show word &ids")
        self.show_ids.toggled.connect(self._render_result)
        seen_row.addWidget(self.show_ids)
        self.tokens_view = QTextBrowser()
        self.tokens_view.setOpenLinks(False)
        self.tokens_view.setAccessibleName("The words the model read, coloured by how they moved the score")
        # The words that moved the score most, in words as well as colour.
        self.top_words_label = QLabel()
        self.top_words_label.setWordWrap(True)
        self.top_words_label.setTextFormat(Qt.TextFormat.RichText)
        self.top_words_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.tokens_legend = QLabel(TOKENS_LEGEND)
        self.tokens_legend.setWordWrap(True)
        result_box = QGroupBox("Sentiment")
        result_layout = QVBoxLayout(result_box)
        result_layout.addWidget(self.result_title)
        result_layout.addWidget(self.gauge)
        result_layout.addLayout(ends)
        result_layout.addWidget(self.score_label)
        result_layout.addWidget(self.note_label)
        result_layout.addLayout(seen_row)
        result_layout.addWidget(self.tokens_view, 1)
        result_layout.addWidget(self.top_words_label)
        result_layout.addWidget(self.tokens_legend)

        top = QSplitter(Qt.Orientation.Horizontal)
        top.addWidget(review_box)
        top.addWidget(result_box)
        top.setStretchFactor(0, 1)
        top.setStretchFactor(1, 1)

        # A file of reviews.
        self.score_file_button = QPushButton("&Score a file...")
        self.score_file_button.setToolTip("Score every review of a .txt file (one per line) or a .csv (a text column)")
        self.score_file_button.clicked.connect(self.score_file_dialog)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel_batch)
        self.export_button = QPushButton("&Export CSV...")
        self.export_button.setEnabled(False)
        self.export_button.clicked.connect(self.export_results_dialog)
        self.batch_progress = QProgressBar()
        self.batch_progress.setFormat("%v of %m reviews")
        self.batch_progress.hide()
        batch_buttons = QHBoxLayout()
        batch_buttons.addWidget(self.score_file_button)
        batch_buttons.addWidget(self.cancel_button)
        batch_buttons.addWidget(self.export_button)
        batch_buttons.addWidget(self.batch_progress, 4)
        batch_buttons.addStretch(1)
        self.batch_message = QLabel("Score a .txt file (one review per line) or a .csv with a text column.")
        self.batch_message.setWordWrap(True)
        self.batch_message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.batch_model = BatchResultsModel(self)
        self.batch_table = QTableView()
        self.batch_table.setModel(self.batch_model)
        # No sort column until the user clicks a header: the file's own order first.
        self.batch_table.horizontalHeader().setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
        self.batch_table.setSortingEnabled(True)
        self.batch_table.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)
        self.batch_table.setWordWrap(False)
        self.batch_table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 6)
        header = self.batch_table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for col in range(1, len(BatchResultsModel.HEADERS)):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        batch_box = QGroupBox("A file of reviews")
        batch_layout = QVBoxLayout(batch_box)
        batch_layout.addLayout(batch_buttons)
        batch_layout.addWidget(self.batch_message)
        batch_layout.addWidget(self.batch_table, 1)

        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.addWidget(top)
        self.splitter.addWidget(batch_box)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)

        layout = QVBoxLayout(self)
        layout.addLayout(model_row)
        layout.addWidget(self.no_model_label)
        layout.addWidget(self.splitter, 1)

    # -- models ---------------------------------------------------------------------------
    def refresh_models(self, select_id: str | None = None) -> None:
        """Reload the model picker from the store, keeping the current model unless ``select_id`` is given."""
        try:
            listing = self.store.list()
        except OSError as exc:
            listing = []
            self.status_message.emit(f"Could not read the model folder: {exc.strerror or exc}.")
        infos = [i for i in listing if i.damaged is None]
        damaged = len(listing) - len(infos)
        wanted = select_id or self.model_combo.currentData()

        self.model_combo.blockSignals(True)
        self.model_combo.clear()
        for info in infos:
            marked = info.builtin and "built-in" not in info.name.casefold()
            self.model_combo.addItem(f"{info.name} (built in)" if marked else info.name, info.id)
            self.model_combo.setItemData(self.model_combo.count() - 1, _model_tooltip(info),
                                         Qt.ItemDataRole.ToolTipRole)
        index = self.model_combo.findData(wanted) if wanted is not None else -1
        self.model_combo.setCurrentIndex(index if index >= 0 else 0 if infos else -1)
        self.model_combo.blockSignals(False)

        self._infos = {info.id: info for info in infos}
        live = {_model_key(i) for i in infos}
        self._predictors = {k: v for k, v in self._predictors.items() if k in live}
        self._load_errors.clear()  # the files may have been replaced: let a failed model be tried again

        has_model = bool(infos)
        message = NO_MODEL_MESSAGE
        if not has_model and damaged:
            message += f" ({damaged} stored model{'s are' if damaged > 1 else ' is'} damaged: see the Models tab.)"
        self.no_model_label.setText(message)
        self.no_model_label.setVisible(not has_model)
        self.model_combo.setEnabled(has_model)
        self.predict_button.setEnabled(has_model)
        self.score_file_button.setEnabled(has_model and self._batch_cancel is None)
        self._on_model_selected()

    def current_model(self) -> ModelInfo | None:
        model_id = self.model_combo.currentData()
        return self._infos.get(model_id) if model_id is not None else None

    @Slot()
    def _on_model_selected(self) -> None:
        info = self.current_model()
        if info is None:
            self.model_status.clear()
            self._show_message(NO_MODEL_TITLE, NO_MODEL_MESSAGE)
            return
        self._load_errors.pop(_model_key(info), None)  # choosing a model again tries it again
        # Load on selection, not on the first keystroke, so the first score comes quickly.
        if self._ensure_loaded(info) is not None:
            self._show_model_ready(info)
        self._request_score()

    def _ensure_loaded(self, info: ModelInfo) -> Predictor | None:
        """The model's predictor if loaded; otherwise start loading it (once) and return None."""
        key = _model_key(info)
        if key in self._predictors:
            return self._predictors[key]
        if key in self._load_errors:
            return None
        self.model_status.setStyleSheet("")
        self.model_status.setText(LOADING_MESSAGE)
        if key not in self._loading:
            self._loading.add(key)
            store = self.store
            self.status_message.emit(f"Loading model {info.name!r} ...")
            # Loading imports Keras and reads the weights: seconds, so never on the GUI thread.
            self.tasks.run(
                # The NumPy engine where the model allows it: a score and its explanation in
                # milliseconds; Keras (imported here) otherwise.
                lambda: Predictor.from_store(store, info),
                on_success=lambda predictor: self._on_model_loaded(key, predictor),
                on_failure=lambda message: self._on_model_failed(key, message),
            )
        return None

    def _on_model_loaded(self, key: tuple[str, str], predictor: Predictor) -> None:
        self._loading.discard(key)
        if key[0] not in self._infos:
            return  # deleted while it was loading
        self._predictors[key] = predictor
        info = self.current_model()
        if info is not None and _model_key(info) == key:
            self._show_model_ready(info)
            self.status_message.emit(f"Model {info.name!r} is ready.")
            self._request_score()

    def _on_model_failed(self, key: tuple[str, str], message: str) -> None:
        self._loading.discard(key)
        self._load_errors[key] = message
        current = self.current_model()
        if current is not None and _model_key(current) == key:
            self._show_model_error(message)
        self.status_message.emit(message)

    def _show_model_ready(self, info: ModelInfo) -> None:
        predictor = self._predictors[_model_key(info)]
        self.model_status.setStyleSheet("")
        self.model_status.setText(
            f"{predictor.vocabulary.num_words:,}-word vocabulary; reads the last {predictor.maxlen} tokens."
        )

    def _show_model_error(self, message: str) -> None:
        self.model_status.setStyleSheet(f"color: {sentiment_colors(self.palette())[NEGATIVE].name()};")
        self.model_status.setText(message)
        self._show_message("This model cannot be used", message)

    # -- scoring one review ---------------------------------------------------------------
    def set_text(self, text: str) -> None:
        """Put ``text`` in the review box; it is scored after the usual short pause."""
        self.editor.setPlainText(text)

    @Slot()
    def predict_now(self) -> None:
        """Score the review now (the Predict button, Ctrl+Enter); retries a model that failed to load."""
        self._debounce.stop()
        info = self.current_model()
        if info is not None:
            self._load_errors.pop(_model_key(info), None)
        self._request_score()

    @Slot()
    def _on_text_changed(self) -> None:
        if self.editor.toPlainText() != self._text_at_refusal:
            self.editor_message.hide()  # the message was about a drop; the user has moved on
        self._debounce.start()  # restarts: only a pause in typing scores

    @Slot()
    def _request_score(self) -> None:
        text = self.editor.toPlainText()
        info = self.current_model()
        if info is None:
            self._show_message(NO_MODEL_TITLE, NO_MODEL_MESSAGE)
            return
        if not text.strip():
            self._show_message(EMPTY_MESSAGE)
            return
        predictor = self._ensure_loaded(info)
        if predictor is None:
            error = self._load_errors.get(_model_key(info))
            if error is not None:
                self._show_model_error(error)
            else:
                self._show_message(LOADING_MESSAGE)
            return
        if self._scoring:
            return  # the text is compared when the running scoring ends, and scored again if it changed
        self._scoring = True
        key = (_model_key(info), text)
        name = info.name

        def job() -> ScoredReview:
            # The score and its explanation come from the same batched pass, so they arrive together.
            explanation = explain(predictor, text)
            return ScoredReview(explanation.prediction, explanation.words_cut + len(explanation.tokens), name,
                                explanation)

        self.tasks.run(
            job,
            on_success=lambda result: self._on_scored(key, result),
            on_failure=lambda message: self._on_score_failed(key, message),
        )

    def _current_request(self) -> tuple[tuple[str, str] | None, str]:
        info = self.current_model()
        return (_model_key(info) if info is not None else None), self.editor.toPlainText()

    def _on_scored(self, key: tuple[tuple[str, str], str], result: ScoredReview) -> None:
        self._scoring = False
        if key == self._current_request():
            self._shown = result
            self._render_result()
            self.prediction_ready.emit(result.prediction)
        elif not self._debounce.isActive():
            self._request_score()  # the text or model changed meanwhile: score what is there now

    def _on_score_failed(self, key: tuple[tuple[str, str], str], message: str) -> None:
        self._scoring = False
        if key == self._current_request():
            self._show_message("Could not score the review", message)
            self.status_message.emit(message)
        elif not self._debounce.isActive():
            self._request_score()

    # -- showing the result ---------------------------------------------------------------
    def _show_message(self, title: str, detail: str = "") -> None:
        """A calm message in place of a result (empty box, no model, loading, a failure)."""
        self._shown = None
        self.result_title.setStyleSheet(f"color: {_muted(self.palette()).name()};")
        self.result_title.setText(title)
        self.gauge.setValue(None)
        self.score_label.clear()
        self.note_label.setText(detail)
        self.note_label.setVisible(bool(detail))
        self.tokens_view.clear()
        self.top_words_label.clear()

    def shown_result(self) -> ScoredReview | None:
        """The score, with its explanation, on display now (None while a message is shown)."""
        return self._shown

    @Slot()
    def _render_result(self) -> None:
        result = self._shown
        if result is None:
            return
        p = result.prediction
        palette = self.palette()
        color = sentiment_colors(palette)[p.label]
        confidence = p.probability if p.label == POSITIVE else 1 - p.probability
        self.result_title.setStyleSheet(f"color: {color.name()};")
        self.result_title.setText(f"{p.label.capitalize()}  ({confidence:.0%} sure)")
        self.gauge.setValue(p.probability)
        seen = len(p.tokens)
        self.score_label.setText(
            f"P(positive) = {p.probability:.3f} with {result.model_name!r}. "
            f"Read {seen:,} word{'s' if seen != 1 else ''}: {p.known_tokens:,} known, "
            f"{p.oov_tokens:,} not in the vocabulary."
        )
        notes = []
        if p.known_tokens == 0:
            notes.append(NO_KNOWN_WORD_NOTE)
        if p.truncated:
            notes.append(
                f"The review has {result.total_words:,} words; the model reads only the last {seen:,}, "
                f"so the first {result.words_cut:,} were cut."
            )
        self.note_label.setText("\n".join(notes))
        self.note_label.setVisible(bool(notes))
        self.tokens_view.setHtml(self._tokens_html(result, palette))
        self.top_words_label.setText(self._top_words_html(result.explanation, palette))

    def _tokens_html(self, result: ScoredReview, palette: QPalette) -> str:
        """The seen words as highlighted text: the colour says which way and how much each moved the score."""
        p = result.prediction
        muted = _muted(palette).name()
        explained = result.explanation.tokens if result.explanation is not None else \
            [TokenContribution(t, i, 0.0) for t, i in zip(p.tokens, p.ids)]
        scale = max([MIN_HIGHLIGHT_SCALE, *(abs(t.contribution) for t in explained)])
        parts = []
        if result.words_cut:
            cut_tip = (f"The model reads only the last {len(p.tokens):,} words: the first {result.words_cut:,} "
                       "were cut and play no part in the score.")
            parts.append(f'<i style="color:{muted}" title="{html.escape(cut_tip)}">'
                         f"[{result.words_cut:,} words cut] \u2026</i>")
        show_ids = self.show_ids.isChecked()
        for index, t in enumerate(explained):
            word = html.escape(t.token)
            if not t.known:
                tip = (f"\u201c{t.token}\u201d is not in the model's vocabulary: it is read as the unknown "
                       "word (id 2), so it adds nothing of its own.")
                word = f'<span style="color:{muted}; text-decoration: line-through">{word}</span>'
            elif result.explanation is None:
                tip = ""
            else:
                without = result.explanation.without(index)
                tip = (f"\u201c{t.token}\u201d moved P(positive) by {_signed(t.contribution)}: read as an unknown "
                       f"word instead, P(positive) would be {without:.3f}.")
                background = highlight_color(palette, t.contribution, scale)
                if background is not None:
                    word = f'<span style="background-color:{background.name()}">{word}</span>'
            if show_ids:
                word += f'<sub style="color:{muted}">{t.id}</sub>'
            parts.append(f'<span title="{html.escape(tip)}">{word}</span>' if tip else word)
        return f"<p style='line-height: 150%'>{' '.join(parts)}</p>"

    def _top_words_html(self, explanation: Explanation | None, palette: QPalette) -> str:
        """The words that moved the score most, in words, for those who do not tell red from green."""
        if explanation is None or not explanation.tokens:
            return ""
        colors = sentiment_colors(palette)
        lines = []
        for label, top in (("towards positive", explanation.top_positive(TOP_WORDS)),
                           ("towards negative", explanation.top_negative(TOP_WORDS))):
            strong = [t for t in top if abs(t.contribution) >= 0.001]
            color = colors[POSITIVE if label.endswith(POSITIVE) else NEGATIVE].name()
            words = ", ".join(f'<span style="color:{color}"><b>{html.escape(t.token)}</b> '
                              f"{_signed(t.contribution)}</span>" for t in strong) or "no word"
            lines.append(f"Pushed {label}: {words}")
        return "<br>".join(lines)

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        # A light/dark switch: re-pick readable colours (not during construction).
        if event.type() == QEvent.Type.PaletteChange and hasattr(self, "batch_model"):
            self._render_result()
            self.batch_model.set_colors(sentiment_colors(self.palette()))

    # -- a dropped file -------------------------------------------------------------------
    @Slot(object)
    def load_review_file(self, path: Path) -> bool:
        """Put a .txt file's text in the review box (the drop target); False with a message if refused."""
        path = Path(path)
        if path.suffix.lower() != ".txt":
            return self._refuse_file(
                f"{path.name} is not a .txt file. Drop a plain-text review, or use Score a file... "
                "for a .csv of many reviews."
            )
        try:
            size = path.stat().st_size
            if size > MAX_DROP_BYTES:
                megabytes = math.ceil(size / 1024**2 * 10) / 10  # rounded up: 5.0 would read as allowed
                return self._refuse_file(
                    f"{path.name} is too large ({megabytes} MB; at most {MAX_DROP_BYTES // 1024**2} MB "
                    "can be dropped). To score it line by line, use Score a file..."
                )
            data = path.read_bytes()
        except OSError as exc:
            return self._refuse_file(f"Could not read {path.name}: {exc.strerror or exc}.")
        text = data.decode("utf-8-sig", errors="replace")
        cursor = QTextCursor(self.editor.document())
        cursor.select(QTextCursor.SelectionType.Document)
        cursor.insertText(text)  # through the cursor, so Undo brings the old text back
        self.status_message.emit(f"Loaded {path.name}.")
        return True

    def _refuse_file(self, message: str) -> bool:
        self._text_at_refusal = self.editor.toPlainText()
        self.editor_message.setText(message)
        self.editor_message.setStyleSheet(f"color: {sentiment_colors(self.palette())[NEGATIVE].name()};")
        self.editor_message.show()
        self.status_message.emit(message)
        return False

    # -- a file of reviews ----------------------------------------------------------------
    @Slot()
    def score_file_dialog(self) -> None:
        start = str(self._batch_source.parent) if self._batch_source else ""
        path, _ = QFileDialog.getOpenFileName(
            self, "Score a file of reviews", start,
            "Reviews (*.txt *.csv *.tsv);;Text files, one review per line (*.txt);;CSV files (*.csv *.tsv);;"
            "All files (*)",
        )
        if path:
            self.score_file(Path(path))

    def score_file(self, path: Path) -> None:
        """Score every review of a .txt (one per line) or .csv (text column) in the background."""
        if self._batch_cancel is not None:
            self._batch_error("A file is already being scored: cancel it first.")
            return
        info = self.current_model()
        if info is None:
            self._batch_error(NO_MODEL_MESSAGE)
            return
        path = Path(path)
        self._batch_source = path
        key = _model_key(info)
        predictor = self._predictors.get(key)
        store = self.store
        cancel = threading.Event()
        progress = self._batch_progress

        def job() -> BatchOutcome:
            texts = read_review_texts(path)
            if not texts:
                raise DataSourceError(
                    f"{path.name} has no reviews in it (expected one review per line, or a CSV with a text column)."
                )
            scorer = predictor or Predictor.from_store(store, info)
            progress.emit(0, len(texts))
            predictions = scorer.predict_many(texts, batch_size=BATCH_SIZE, on_progress=progress.emit,
                                              should_stop=cancel.is_set)
            return BatchOutcome(path, texts, predictions, scorer, key)

        self._batch_cancel = cancel
        self.score_file_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.export_button.setEnabled(False)
        self.batch_progress.setRange(0, 0)  # busy until the file is read
        self.batch_progress.show()
        self._set_batch_message(f"Scoring {path.name} with {info.name!r} ...")
        self.tasks.run(job, on_success=self._on_batch_done, on_failure=self._on_batch_failed)

    @Slot()
    def cancel_batch(self) -> None:
        """Stop scoring a file after the current batch; the reviews scored so far are kept."""
        if self._batch_cancel is not None:
            self._batch_cancel.set()
            self.cancel_button.setEnabled(False)
            self._set_batch_message("Cancelling ...")

    def shutdown(self) -> None:
        """Before the window closes: no new scoring, and a running file stops after its current batch."""
        self._debounce.stop()
        if self._batch_cancel is not None:
            self._batch_cancel.set()

    @Slot(int, int)
    def _on_batch_progress(self, done: int, total: int) -> None:
        if self._batch_cancel is None:
            return
        self.batch_progress.setRange(0, total)
        self.batch_progress.setValue(done)

    def _end_batch(self) -> None:
        self._batch_cancel = None
        self.batch_progress.hide()
        self.cancel_button.setEnabled(False)
        self.score_file_button.setEnabled(self.current_model() is not None)

    def _on_batch_done(self, outcome: BatchOutcome) -> None:
        cancelled = self._batch_cancel is not None and self._batch_cancel.is_set()
        self._end_batch()
        if outcome.model_key[0] in self._infos:
            self._predictors.setdefault(outcome.model_key, outcome.predictor)
        texts = outcome.texts[: len(outcome.predictions)]
        self.batch_table.horizontalHeader().setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
        self.batch_model.set_results(texts, outcome.predictions, sentiment_colors(self.palette()))
        self.export_button.setEnabled(bool(texts))
        n, total = len(outcome.predictions), len(outcome.texts)
        positive = sum(p.label == POSITIVE for p in outcome.predictions)
        summary = f"{positive:,} positive, {n - positive:,} negative" if n else "nothing scored"
        if n < total:
            message = f"Cancelled: scored {n:,} of {total:,} reviews of {outcome.path.name} ({summary})."
        else:
            message = f"Scored {n:,} review{'s' if n != 1 else ''} of {outcome.path.name}: {summary}."
        if cancelled and n == total:
            message += " (It had finished before the cancel.)"
        self._set_batch_message(message)
        self.status_message.emit(message)

    def _on_batch_failed(self, message: str) -> None:
        self._end_batch()
        self._batch_error(message)

    def _set_batch_message(self, message: str) -> None:
        self.batch_message.setStyleSheet("")
        self.batch_message.setText(message)

    def _batch_error(self, message: str) -> None:
        self.batch_message.setStyleSheet(f"color: {sentiment_colors(self.palette())[NEGATIVE].name()};")
        self.batch_message.setText(message)
        self.status_message.emit(message)

    @Slot()
    def export_results_dialog(self) -> None:
        stem = self._batch_source.stem if self._batch_source else "reviews"
        start = str((self._batch_source.parent if self._batch_source else Path.home()) / f"{stem}-scored.csv")
        path, _ = QFileDialog.getSaveFileName(self, "Export scores", start, "CSV files (*.csv)")
        if path:
            dest = Path(path)
            self.export_results(dest if dest.suffix else dest.with_suffix(".csv"))

    def export_results(self, path: Path) -> bool:
        """Write the scored reviews, in the order shown, to a CSV file; False with a message on failure."""
        rows = self.batch_model.rows()
        if not rows:
            self._batch_error("There are no scores to export yet: score a file first.")
            return False
        try:
            with atomic_write(path, "w", newline="", encoding="utf-8") as f:
                writer = csv.writer(f)
                writer.writerow(["review", "probability", "label", "known_tokens", "oov_tokens", "truncated"])
                for text, p in rows:
                    writer.writerow([text, f"{p.probability:.6f}", p.label, p.known_tokens, p.oov_tokens,
                                     int(p.truncated)])
        except OSError as exc:
            self._batch_error(f"Could not write {path}: {exc.strerror or exc}.")
            return False
        message = f"Exported {len(rows):,} scores to {path.name}."
        self._set_batch_message(message)
        self.status_message.emit(message)
        return True


def _model_tooltip(info: ModelInfo) -> str:
    summary = info.summary()
    parts = [f"preset {summary['preset']}" if summary.get("preset") else None]
    if isinstance(summary.get("test_accuracy"), (int, float)):
        parts.append(f"test accuracy {summary['test_accuracy']:.1%}")
    if info.builtin:
        parts.append("ships with the app")
    return ", ".join(p for p in parts if p) or info.name
