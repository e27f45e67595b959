"""The Predict tab: score a typed, pasted or dropped review live, or a whole file of reviews, with a stored model.

Built from shared pieces: the model cache and picker (app/model_cache.py), the explanation view
(app/explanation_view.py: the verdict, the gauge and the highlighted words) and the results panel
(app/results_table.py: the table of a scored file, with progress, Cancel and CSV export), and the
"Correct a prediction" panel (app/my_reviews_panel.py: mark a score wrong, improve the model with the
user's own reviews)."""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QMimeData, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QTextCursor
from PySide6.QtWidgets import (
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from app.background import BackgroundTasks
from app.explanation_refiner import ExplanationRefiner, needs_refining
from app.explanation_view import (
    NO_KNOWN_WORD_NOTE,
    ExplanationView,
    ScoredReview,
    sentiment_colors,
)
from app.model_cache import ModelCache, ModelKey, ModelPicker, model_key, usable_models
from app.my_reviews_panel import MyReviewsPanel
from app.results_table import Column, ResultsPanel, text_column
from app.wrapping import WrappingScrollArea
from models.datasets import read_review_texts
from models.errors import DataSourceError
from models.explain import Explanation, explain_stages
from models.fine_tuning import FineTuneResult
from models.prediction import NEGATIVE, POSITIVE, Prediction, Predictor
from models.store import ModelInfo, ModelStore
from models.vocabulary import tokenize

__all__ = ["NO_KNOWN_WORD_NOTE", "PredictTab", "sentiment_colors"]

MAX_DROP_BYTES = 5 * 1024 * 1024
DEBOUNCE_MS = 300
BATCH_SIZE = 256  # small enough that Cancel answers within a fraction of a second

EMPTY_MESSAGE = "Type or paste a review"
NO_WORDS_TITLE = "No words to score"
NO_WORDS_MESSAGE = ("The text has no words in it (only punctuation, digits or symbols?): the model reads words, "
                    "so there is nothing to score.")
NO_MODEL_TITLE = "No model yet"
NO_MODEL_MESSAGE = (
    "There is no model to score with yet. Train one in the Train tab, "
    "or import a model file (.ssmodel) in the Models tab."
)
LOADING_MESSAGE = "Loading model ..."

# The table of a scored file: rows are (text, Prediction).
BATCH_COLUMNS = (
    text_column("Review", lambda r: r[0]),
    Column("P(positive)", lambda r: f"{r[1].probability:.3f}", lambda r: r[1].probability, "probability",
           lambda r: f"{r[1].probability:.6f}", align_right=True),
    Column("Label", lambda r: r[1].label, lambda r: r[1].label, "label", lambda r: r[1].label,
           sentiment=lambda r: r[1].label),
    Column("Known", lambda r: str(r[1].known_tokens), lambda r: r[1].known_tokens, "known_tokens",
           lambda r: r[1].known_tokens, align_right=True),
    Column("OOV", lambda r: str(r[1].oov_tokens), lambda r: r[1].oov_tokens, "oov_tokens",
           lambda r: r[1].oov_tokens, align_right=True),
    Column("Truncated", lambda r: "yes" if r[1].truncated else "", lambda r: r[1].truncated, "truncated",
           lambda r: int(r[1].truncated)),
)


@dataclass(frozen=True)
class BatchOutcome:
    path: Path
    texts: list[str]
    predictions: list[Prediction]
    predictor: Predictor
    info: ModelInfo


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


class PredictTab(QWidget):
    """Pick a stored model, type a review, see its sentiment and the words the model read."""

    status_message = Signal(str)
    prediction_ready = Signal(object)  # a Prediction, after each scoring of the text in the box
    explanation_refined = Signal(object)  # a ScoredReview, after each background refinement round shown
    _batch_progress = Signal(int, int)  # emitted from the scoring thread; delivered queued
    model_saved = Signal(str)  # the id of a model this tab added to the store (a fine-tuned copy)

    def __init__(self, store: ModelStore, tasks: BackgroundTasks, parent: QWidget | None = None,
                 cache: ModelCache | None = None):
        super().__init__(parent)
        self.store = store
        self.tasks = tasks
        self.cache = cache or ModelCache(store, tasks, self)
        self._scoring = False
        # A sampled explanation on display is refined in the background, one round at a time.
        self.refiner = ExplanationRefiner(tasks, self)
        self.refiner.finished.connect(lambda: self.explanation.set_refining(False))
        self._batch_cancel: threading.Event | None = None
        self._batch_source: Path | None = None
        self._text_at_refusal: str | None = None

        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(DEBOUNCE_MS)
        self._debounce.timeout.connect(self._request_score)
        self._batch_progress.connect(self._on_batch_progress)
        self.cache.loaded.connect(self._on_model_loaded)
        self.cache.failed.connect(self._on_model_failed)

        self._build_ui()
        self.refresh_models()

    # -- layout ---------------------------------------------------------------------------
    def _build_ui(self) -> None:
        self.model_combo = ModelPicker()
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
        review_page = QWidget()
        review_layout = QVBoxLayout(review_page)
        review_layout.setContentsMargins(0, 0, 0, 0)
        review_layout.addWidget(self.editor, 1)
        review_layout.addWidget(self.editor_message)
        review_layout.addLayout(buttons)

        # The result.
        self.explanation = ExplanationView()
        self.explanation.show_message(EMPTY_MESSAGE)
        result_box = QGroupBox("Sentiment")
        # Both columns scroll down, never sideways, when their wrapped text is taller than the window
        # gives them (at 1024x700 a fine-tune's result and a wrapped line of phrases were cut).
        QVBoxLayout(result_box).addWidget(WrappingScrollArea(self.explanation, sideways=False, squeeze=True))
        # Correct the prediction on display; improve the model with the user's reviews.
        self.my_reviews = MyReviewsPanel(self.store, self.tasks, self.current_model, self._shown_review)
        self.my_reviews.status_message.connect(self.status_message)
        self.my_reviews.improved.connect(self._on_improved)
        review_layout.addWidget(self.my_reviews)
        review_box = QGroupBox("Review")
        QVBoxLayout(review_box).addWidget(WrappingScrollArea(review_page, sideways=False, squeeze=True))

        top = QSplitter(Qt.Orientation.Horizontal)
        top.addWidget(review_box)
        top.addWidget(result_box)
        top.setStretchFactor(0, 1)
        top.setStretchFactor(1, 1)

        # A file of reviews.
        self.score_file_button = QPushButton("&Score a file...")
        self.score_file_button.setToolTip("Score every review of a .txt file (one per line) or a .csv (a text column)")
        self.score_file_button.clicked.connect(self.score_file_dialog)
        self.batch = ResultsPanel(
            BATCH_COLUMNS, [self.score_file_button],
            "Score a .txt file (one review per line) or a .csv with a text column.", "reviews-scored")
        self.batch.cancel_requested.connect(self.cancel_batch)
        batch_box = QGroupBox("A file of reviews")
        QVBoxLayout(batch_box).addWidget(self.batch)

        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.addWidget(top)
        self.splitter.addWidget(batch_box)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 1)  # the review and its explanation first: the file panel gives way

        layout = QVBoxLayout(self)
        layout.addLayout(model_row)
        layout.addWidget(self.no_model_label)
        layout.addWidget(self.splitter, 1)

    # -- models ---------------------------------------------------------------------------
    def refresh_models(self, select_id: str | None = None) -> None:
        """Reload the model picker from the store, keeping the current model unless ``select_id`` is given."""
        infos, damaged, error = usable_models(self.store)
        if error:
            self.status_message.emit(error)
        self.model_combo.set_models(infos, select_id)
        self.cache.refresh(infos)

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
        self.my_reviews.update_state()

    def current_model(self) -> ModelInfo | None:
        return self.model_combo.current_model()

    @Slot()
    def _on_model_selected(self) -> None:
        info = self.current_model()
        if info is None:
            self.model_status.clear()
            self.explanation.show_message(NO_MODEL_TITLE, NO_MODEL_MESSAGE)
            return
        self.cache.retry(info)  # choosing a model again tries it again
        # Load on selection, not on the first keystroke, so the first score comes quickly.
        if self._ensure_loaded(info) is not None:
            self._show_model_ready(info)
        self._request_score()

    def _ensure_loaded(self, info: ModelInfo) -> Predictor | None:
        """The model's predictor if loaded; otherwise start loading it (once) and return None."""
        predictor = self.cache.request(info)
        if predictor is None and self.cache.error(info) is None:
            self.model_status.setStyleSheet("")
            self.model_status.setText(LOADING_MESSAGE)
        return predictor

    def _on_model_loaded(self, key: ModelKey) -> None:
        info = self.current_model()
        if info is not None and model_key(info) == key:
            self._show_model_ready(info)
            self.status_message.emit(f"Model {info.name!r} is ready.")
            self._request_score()

    def _on_model_failed(self, key: ModelKey, message: str) -> None:
        current = self.current_model()
        if current is not None and model_key(current) == key:
            self._show_model_error(message)

    def _show_model_ready(self, info: ModelInfo) -> None:
        predictor = self.cache.get(info)
        self.model_status.setStyleSheet("")
        self.model_status.setText(predictor.describe())  # what the model's family reads

    def _show_model_error(self, message: str) -> None:
        self.model_status.setStyleSheet(f"color: {sentiment_colors(self.palette())[NEGATIVE].name()};")
        self.model_status.setText(message)
        self.explanation.show_message("This model cannot be used", message)

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
            self.cache.retry(info)
        self._request_score()

    @Slot()
    def _on_text_changed(self) -> None:
        if self.editor.toPlainText() != self._text_at_refusal:
            self.editor_message.hide()  # the message was about a drop; the user has moved on
        self._debounce.start()  # restarts: only a pause in typing scores
        self.my_reviews.update_state()  # the score on display is no longer this text's

    @Slot()
    def _request_score(self) -> None:
        self.refiner.stop()  # the explanation being refined is about to be replaced: typing never waits for it
        text = self.editor.toPlainText()
        info = self.current_model()
        if info is None:
            self.explanation.show_message(NO_MODEL_TITLE, NO_MODEL_MESSAGE)
            return
        if not text.strip():
            self.explanation.show_message(EMPTY_MESSAGE)
            return
        if not tokenize(text):
            self.explanation.show_message(NO_WORDS_TITLE, NO_WORDS_MESSAGE)
            return
        predictor = self._ensure_loaded(info)
        if predictor is None:
            error = self.cache.error(info)
            if error is not None:
                self._show_model_error(error)
            else:
                self.explanation.show_message(LOADING_MESSAGE)
            return
        if self._scoring:
            return  # the text is compared when the running scoring ends, and scored again if it changed
        self._scoring = True
        key = (model_key(info), text)
        name = info.name
        stop = threading.Event()

        def job() -> tuple[ScoredReview, Iterator[Explanation], threading.Event]:
            # The score and its explanation come from the same pass, so they arrive together; the
            # first answer is within the interactive budget, later rounds refine it (_on_scored).
            stages = explain_stages(predictor, text, should_stop=stop.is_set)
            return ScoredReview.of(next(stages), name, text), stages, stop

        self.tasks.run(
            job,
            on_success=lambda result: self._on_scored(key, result),
            on_failure=lambda message: self._on_score_failed(key, message),
        )

    def _current_request(self) -> tuple[ModelKey | None, str]:
        info = self.current_model()
        return (model_key(info) if info is not None else None), self.editor.toPlainText()

    def _on_scored(self, key: tuple[ModelKey, str],
                   outcome: tuple[ScoredReview, Iterator[Explanation], threading.Event]) -> None:
        self._scoring = False
        result, stages, stop = outcome
        if key == self._current_request():
            refining = needs_refining(result.explanation)
            self.explanation.show_result(result, refining=refining)
            self.my_reviews.update_state()
            self.prediction_ready.emit(result.prediction)
            if refining:
                self.refiner.start(stages, stop, lambda explanation: self._on_refined(key, result, explanation))
        elif not self._debounce.isActive():
            self._request_score()  # the text or model changed meanwhile: score what is there now

    def _on_refined(self, key: tuple[ModelKey, str], first: ScoredReview, explanation: Explanation) -> None:
        if key != self._current_request() or self.explanation.shown() is None:
            self.refiner.stop()  # the text or model changed, or a message replaced this review
            return
        refined = ScoredReview.of(explanation, first.model_name, first.text)
        self.explanation.show_result(refined, refining=needs_refining(explanation))
        self.explanation_refined.emit(refined)

    def _on_score_failed(self, key: tuple[ModelKey, str], message: str) -> None:
        self._scoring = False
        if key == self._current_request():
            self.explanation.show_message("Could not score the review", message)
            self.status_message.emit(message)
        elif not self._debounce.isActive():
            self._request_score()

    def shown_result(self) -> ScoredReview | None:
        """The score, with its explanation, on display now (None while a message is shown)."""
        return self.explanation.shown()

    def _shown_review(self) -> tuple[str, str] | None:
        """(text, predicted label) of the score on display, while the box still holds that text."""
        shown = self.shown_result()
        if shown is None or not shown.text or shown.text != self.editor.toPlainText():
            return None
        return shown.text, shown.prediction.label

    # -- correcting a prediction ----------------------------------------------------------
    def _on_improved(self, result: FineTuneResult) -> None:
        """A fine-tuned copy was saved: list it, and choose it when it is the new default."""
        self.refresh_models(select_id=result.saved.id if result.made_default else None)
        self.model_saved.emit(result.saved.id)

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
        cache = self.cache
        cancel = threading.Event()
        progress = self._batch_progress

        def job() -> BatchOutcome:
            texts = read_review_texts(path)
            if not texts:
                raise DataSourceError(
                    f"{path.name} has no reviews in it (expected one review per line, or a CSV with a text column)."
                )
            scorer = cache.open_now(info)
            progress.emit(0, len(texts))
            predictions = scorer.predict_many(texts, batch_size=BATCH_SIZE, on_progress=progress.emit,
                                              should_stop=cancel.is_set)
            return BatchOutcome(path, texts, predictions, scorer, info)

        self._batch_cancel = cancel
        self.score_file_button.setEnabled(False)
        self.batch.export_name = f"{path.stem}-scored"
        self.batch.export_folder = path.parent
        self.batch.begin(f"Scoring {path.name} with {info.name!r} ...")
        self.tasks.run(job, on_success=self._on_batch_done, on_failure=self._on_batch_failed)

    @Slot()
    def cancel_batch(self) -> None:
        """Stop scoring a file after the current batch; the reviews scored so far are kept."""
        if self._batch_cancel is not None:
            self._batch_cancel.set()
            self.batch.cancel_button.setEnabled(False)
            self.batch.set_message("Cancelling ...")

    def shutdown(self) -> None:
        """Before the window closes: no new scoring, and a running file stops after its current batch."""
        self._debounce.stop()
        if self._batch_cancel is not None:
            self._batch_cancel.set()
        self.my_reviews.shutdown()  # a fine-tune stops at its next batch, saving nothing

    @Slot(int, int)
    def _on_batch_progress(self, done: int, total: int) -> None:
        if self._batch_cancel is not None:
            self.batch.report(done, total)

    def _end_batch(self) -> None:
        self._batch_cancel = None
        self.batch.end()
        self.score_file_button.setEnabled(self.current_model() is not None)

    def _on_batch_done(self, outcome: BatchOutcome) -> None:
        cancelled = self._batch_cancel is not None and self._batch_cancel.is_set()
        self._end_batch()
        self.cache.keep(outcome.info, outcome.predictor)
        texts = outcome.texts[: len(outcome.predictions)]
        self.batch.set_rows(list(zip(texts, outcome.predictions)))
        n, total = len(outcome.predictions), len(outcome.texts)
        positive = sum(p.label == POSITIVE for p in outcome.predictions)
        summary = f"{positive:,} positive, {n - positive:,} negative" if n else "nothing scored"
        if n < total:
            message = f"Cancelled: scored {n:,} of {total:,} reviews of {outcome.path.name} ({summary})."
        else:
            message = f"Scored {n:,} review{'s' if n != 1 else ''} of {outcome.path.name}: {summary}."
        if cancelled and n == total:
            message += " (It had finished before the cancel.)"
        self.batch.set_message(message)
        self.status_message.emit(message)

    def _on_batch_failed(self, message: str) -> None:
        self._end_batch()
        self._batch_error(message)

    def _batch_error(self, message: str) -> None:
        self.batch.set_message(message, error=True)
        self.status_message.emit(message)

    def export_results(self, path: Path) -> bool:
        """Write the scored reviews, in the order shown, to a CSV file; False with a message on failure."""
        if not self.batch.model.rowCount():
            self._batch_error("There are no scores to export yet: score a file first.")
            return False
        done = self.batch.export_csv(path)
        if done:
            self.status_message.emit(self.batch.message.text())
        return done
