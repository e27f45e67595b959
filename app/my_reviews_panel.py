"""The Predict tab's "Correct a prediction" panel: mark a scored review as wrong, keeping it among the
user's own reviews (models.my_reviews), and improve the model with them: a copy fine-tuned in the
background (models.fine_tuning), its before/after shown, the original untouched."""

from __future__ import annotations

import threading
from collections.abc import Callable

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import QFileDialog, QGroupBox, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from app.background import BackgroundTasks
from app.data_source_view import ANY_SOURCE_FILTER
from app.wrapping import WrappedLabel
from models.datasets import load_source, trained_on_at_hand
from models.fine_tuning import MAX_TEST_DROP_POINTS, FineTuneResult, FineTuneSettings, fine_tune
from models.my_reviews import NEGATIVE, POSITIVE, MyReviews, MyReviewsError
from models.store import ModelInfo, ModelStore

WRONG_POSITIVE = "This is wrong: it's &positive"
WRONG_NEGATIVE = "This is wrong: it's &negative"
IMPROVE = "&Improve the model with my reviews"


class MyReviewsPanel(QGroupBox):
    """Buttons to correct the prediction on display, the count of the user's reviews, and the fine-tune."""

    status_message = Signal(str)
    review_added = Signal(str, str)  # text, label
    improved = Signal(object)  # FineTuneResult, on the GUI thread
    improve_failed = Signal(str)
    _progress = Signal(str)  # from the fine-tuning thread; delivered queued

    def __init__(self, store: ModelStore, tasks: BackgroundTasks, current_model: Callable[[], ModelInfo | None],
                 shown_review: Callable[[], tuple[str, str] | None], parent: QWidget | None = None,
                 settings: FineTuneSettings | None = None):
        """``shown_review``: (text, predicted label) of the review whose score is on display, or None."""
        super().__init__("Correct a prediction", parent)
        self.store = store
        self.tasks = tasks
        self.current_model = current_model
        self.shown_review = shown_review
        self.settings = settings or FineTuneSettings()
        self._stop: threading.Event | None = None
        self.result: FineTuneResult | None = None
        self.reviews: MyReviews | None = None
        self._load_error: str | None = None

        self.wrong_positive = QPushButton(WRONG_POSITIVE)
        self.wrong_positive.setToolTip("Keep this review among your reviews, labelled positive")
        self.wrong_positive.clicked.connect(lambda: self.mark_wrong(POSITIVE))
        self.wrong_negative = QPushButton(WRONG_NEGATIVE)
        self.wrong_negative.setToolTip("Keep this review among your reviews, labelled negative")
        self.wrong_negative.clicked.connect(lambda: self.mark_wrong(NEGATIVE))
        self.undo_button = QPushButton("&Undo")
        self.undo_button.setToolTip("Forget the review added last")
        self.undo_button.clicked.connect(self.undo)
        self.count_label = QLabel()
        self.improve_button = QPushButton(IMPROVE)
        self.improve_button.setToolTip(
            "Fine-tune a copy of the chosen model for a few epochs on your reviews mixed with a sample of its own "
            "training reviews, measure it before and after, and save it as a new model (the original is kept)")
        self.improve_button.clicked.connect(self.improve)
        self.stop_button = QPushButton("Stop")
        self.stop_button.clicked.connect(self.stop)
        self.stop_button.hide()
        self.message = WrappedLabel()  # a fine-tune's result is six lines: its layout gives it their height
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.message.hide()

        marks = QHBoxLayout()
        marks.addWidget(self.wrong_positive)
        marks.addWidget(self.wrong_negative)
        marks.addStretch(1)
        count_row = QHBoxLayout()
        count_row.addWidget(self.count_label)
        count_row.addWidget(self.undo_button)
        count_row.addStretch(1)
        improve_row = QHBoxLayout()  # rows of their own: the panel shares the window's width with the result
        improve_row.addWidget(self.improve_button)
        improve_row.addWidget(self.stop_button)
        improve_row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addLayout(marks)
        layout.addLayout(count_row)
        layout.addLayout(improve_row)
        layout.addWidget(self.message)

        self._progress.connect(self._on_progress)
        self.reload()

    # -- the user's reviews ---------------------------------------------------------------
    def reload(self) -> None:
        try:
            self.reviews = MyReviews.load()
            self._load_error = None
            problems = self.reviews.problems_message()
            if problems:
                self.show_message(problems, error=True)
        except MyReviewsError as exc:
            self.reviews = None
            self._load_error = str(exc)
            self.show_message(self._load_error, error=True)
        self.update_state()

    @property
    def count(self) -> int:
        return self.reviews.count if self.reviews is not None else 0

    @property
    def running(self) -> bool:
        return self._stop is not None

    def update_state(self) -> None:
        shown = self.shown_review()
        usable = self.reviews is not None
        self.wrong_positive.setEnabled(usable and shown is not None and shown[1] != POSITIVE)
        self.wrong_negative.setEnabled(usable and shown is not None and shown[1] != NEGATIVE)
        self.undo_button.setEnabled(usable and self.count > 0 and not self.running)
        self.count_label.setText(f"My reviews: {self.count}" if usable else "My reviews: unavailable")
        self.improve_button.setEnabled(usable and self.count > 0 and not self.running
                                       and self.current_model() is not None)

    @Slot(str)
    def mark_wrong(self, label: str) -> bool:
        """Keep the review on display among the user's reviews, labelled ``label``."""
        shown = self.shown_review()
        if shown is None or self.reviews is None:
            return False
        try:
            review = self.reviews.add(shown[0], label)
        except MyReviewsError as exc:
            self.show_message(str(exc), error=True)
            return False
        message = f"Kept among your reviews as {label} (you have {self.count})."
        self.show_message(message)
        self.status_message.emit(message)
        self.update_state()
        self.review_added.emit(review.text, label)
        return True

    @Slot()
    def undo(self) -> None:
        if self.reviews is None:
            return
        try:
            review = self.reviews.undo()
        except MyReviewsError as exc:
            self.show_message(str(exc), error=True)
            return
        shown = review.text if len(review.text) <= 60 else review.text[:57] + "..."
        self.show_message(f"Forgot {shown!r} ({review.label_name}); you have {self.count}.")
        self.update_state()

    # -- fine-tuning ----------------------------------------------------------------------
    @Slot()
    def improve(self) -> bool:
        """Fine-tune a copy of the chosen model on the user's reviews, in the background."""
        info = self.current_model()
        if info is None or self.reviews is None or not self.count or self.running:
            return False
        reviews = self.reviews.split()
        source = info.metadata.source if info.metadata is not None else None
        chosen = None
        if source and trained_on_at_hand(source, info.builtin) is None:
            # Recorded where it was trained (a relative path, another computer): the user's copy will do, if it
            # holds the same reviews (fine_tune checks the counts).
            chosen = self.choose_data(info.name, source)
            if not chosen:
                return False
        store, settings, stop, progress = self.store, self.settings, threading.Event(), self._progress
        self._stop = stop
        self.result = None
        self.stop_button.show()
        self.stop_button.setEnabled(True)
        self.show_message(f"Improving {info.name!r} with {len(reviews)} of your reviews ...")
        self.update_state()

        def job() -> FineTuneResult:
            data = None
            if chosen:
                progress.emit(f"Reading {chosen} ...")
                data = load_source(chosen, progress=progress.emit)
            return fine_tune(store, info, reviews, data=data, settings=settings, on_progress=progress.emit,
                             should_stop=stop.is_set)

        self.tasks.run(job, on_success=self._on_improved, on_failure=self._on_failed)
        return True

    def choose_data(self, name: str, source: str) -> str | None:
        """Ask where the data set the model was trained on is (None: cancelled)."""
        self.show_message(f"{name!r} was trained on {source}, which is not there on this computer: choose your copy "
                          "of it (the same reviews: the aclImdb .tar.gz archive, or the CSV).", error=True)
        path, _ = QFileDialog.getOpenFileName(self, f"Where is the data set {name!r} was trained on?", "",
                                              ANY_SOURCE_FILTER)
        return path or None

    @Slot()
    def stop(self) -> None:
        """Stop the fine-tune at its next batch; nothing is saved."""
        if self._stop is not None:
            self._stop.set()
            self.stop_button.setEnabled(False)
            self.show_message("Stopping ...")

    def shutdown(self) -> None:
        if self._stop is not None:
            self._stop.set()

    @Slot(str)
    def _on_progress(self, message: str) -> None:
        if self.running and not self._stop.is_set():
            self.message.setText(message)

    def _end(self) -> None:
        self._stop = None
        self.stop_button.hide()
        self.update_state()

    def _on_improved(self, result: FineTuneResult) -> None:
        self._end()
        self.result = result
        self.show_message(describe(result), error=result.dropped)
        self.status_message.emit(result.warning() or f"Saved {result.saved.name!r}: the new default model.")
        self.improved.emit(result)

    def _on_failed(self, message: str) -> None:
        self._end()
        self.show_message(message, error=True)
        self.status_message.emit(message)
        self.improve_failed.emit(message)

    def show_message(self, text: str, error: bool = False) -> None:
        from app.explanation_view import sentiment_colors

        color = sentiment_colors(self.palette())[NEGATIVE].name() if error else ""
        self.message.setStyleSheet(f"color: {color};" if color else "")
        self.message.setText(text)
        self.message.show()


def describe(result: FineTuneResult) -> str:
    """The before/after as the panel shows it: the saved name, both figures, and the verdict."""
    def row(what: str, before: float, after: float) -> str:
        points = (after - before) * 100  # one review of 5,000 is 0.02 points: never shown as "+0.0"
        change = ("no change" if round(points, 2) == 0 else
                  f"{points:+.1f} points" if abs(points) >= 0.05 else f"{points:+.2f} points")
        return f"{what}: {before:.1%} before, {after:.1%} after ({change})"

    held = ("held-out validation reviews" if result.validation_held_out
            else "validation reviews (the original also learnt from them)")
    lines = [
        f"Saved {result.saved.name!r} (from {result.original.name!r}: {result.my_reviews} of your reviews and "
        f"{result.rehearsal:,} of its training reviews, {result.epochs} epochs).",
        row(f"Validation ({result.validation_reviews:,} {held})", result.before.validation, result.after.validation),
        row(f"Test ({result.test_reviews:,} reviews)", result.before.test, result.after.test),
        row(f"Your reviews ({result.my_reviews}, as you labelled them)", result.before.mine, result.after.mine),
    ]
    if result.dropped:
        lines.append(result.warning() or "")
    else:
        lines.append(f"Test accuracy did not drop by more than {MAX_TEST_DROP_POINTS} points: it is now the default "
                     "model. The original is unchanged in the Models tab.")
    return "\n".join(lines)
