"""The user's own labelled reviews: texts a model scored wrong, with the label the user says is right.

The Predict tab adds one ("This is wrong: it's positive / negative"); fine-tuning (models.fine_tuning)
learns from them. They are kept in one JSON file in the user's data folder (``my_reviews.json``),
written whole or not at all (models.atomic_write), and read back as untrusted: bounded in size
(models.bounded_io), every entry's types checked, a bad entry reported and skipped, never the others lost.
The same text added again replaces the earlier entry (the last label given counts). Every change is
saved at once; a change that cannot be saved is taken back and said.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from models import paths
from models.atomic_write import write_json_atomic
from models.bounded_io import MB, OwnListFileError, keep_own_items, os_error_reason, read_own_list
from models.datasets import Split
from models.errors import UserFacingError
from models.metadata import MetadataError, checked_date, utc_now
from models.vocabulary import tokenize

FILE_NAME = "my_reviews.json"
FILE_FORMAT = "sentiment-studio-my-reviews"
FILE_VERSION = 1
MAX_FILE_BYTES = 64 * MB
MAX_REVIEWS = 10_000
MAX_REVIEW_CHARS = 100_000  # a typed review; IMDB's longest is about 14,000 characters
MAX_PROBLEMS_SHOWN = 5
POSITIVE, NEGATIVE = "positive", "negative"
_LABELS = {POSITIVE: 1, NEGATIVE: 0}


class MyReviewsError(UserFacingError):
    """The user's reviews cannot be read, changed or saved; the message says which and why."""


@dataclass(frozen=True)
class MyReview:
    text: str
    label: int  # 1 = positive
    at: str  # when it was added, ISO 8601 UTC

    @property
    def label_name(self) -> str:
        return POSITIVE if self.label else NEGATIVE

    def to_json(self) -> dict:
        return {"text": self.text, "label": self.label_name, "at": self.at}

    @classmethod
    def checked(cls, item: object) -> MyReview:
        """An entry of the file, checked; ValueError says what is wrong with it."""
        if not isinstance(item, dict):
            raise ValueError(f"it is not an object (found {type(item).__name__})")
        text, label, at = item.get("text"), item.get("label"), item.get("at")
        return cls(checked_text(text), checked_label(label), _checked_at(at))


def checked_text(text: object) -> str:
    if not isinstance(text, str):
        raise ValueError(f"text must be text, not {type(text).__name__}")
    text = text.strip()
    if not text:
        raise ValueError("the text is empty")
    if len(text) > MAX_REVIEW_CHARS:
        raise ValueError(f"the text is longer than {MAX_REVIEW_CHARS:,} characters")
    if not tokenize(text):
        raise ValueError("the text has no words in it")
    return text


def checked_label(label: object) -> int:
    if isinstance(label, str) and label.strip().lower() in _LABELS:
        return _LABELS[label.strip().lower()]
    if isinstance(label, int) and not isinstance(label, bool) and label in (0, 1):
        return label
    text = repr(label)
    raise ValueError(f"label must be positive or negative, not {text if len(text) <= 40 else text[:37] + '...'}")


def _checked_at(at: object) -> str:
    if at in (None, ""):
        return utc_now()
    try:
        return checked_date(at, "at")
    except MetadataError as exc:
        raise ValueError(str(exc)) from None


@dataclass
class MyReviews:
    """The user's labelled reviews, oldest first."""

    reviews: list[MyReview] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # entries of the file that were skipped, and why
    unreadable: list = field(default_factory=list)  # those entries as they were: saved back, never lost
    root: Path | None = None  # the folder holding the file (default: the user's data folder)

    @property
    def path(self) -> Path:
        return (self.root if self.root is not None else paths.data_dir()) / FILE_NAME

    def __len__(self) -> int:
        return len(self.reviews)

    @property
    def count(self) -> int:
        return len(self.reviews)

    def counts(self) -> dict[str, int]:
        positive = sum(r.label for r in self.reviews)
        return {POSITIVE: positive, NEGATIVE: len(self.reviews) - positive}

    # -- the file --------------------------------------------------------------------------
    @classmethod
    def load(cls, root: Path | None = None) -> MyReviews:
        """The reviews kept so far (none when there is no file yet). A file that is not ours raises
        MyReviewsError; a bad entry in ours is skipped and listed in ``problems``."""
        book = cls(root=root)
        try:
            items = read_own_list(book.path, MAX_FILE_BYTES, FILE_FORMAT, "reviews", "Your reviews",
                                  "a file of your reviews", FILE_VERSION)
        except OwnListFileError as exc:
            raise MyReviewsError(str(exc)) from None
        if items is None:
            return book
        book.problems, book.unreadable = keep_own_items(
            items, MAX_REVIEWS, lambda item: book._put(MyReview.checked(item)), "review")
        return book

    def problems_message(self) -> str | None:
        """One line on the skipped entries, or None."""
        if not self.problems:
            return None
        shown = "; ".join(self.problems[:MAX_PROBLEMS_SHOWN])
        more = len(self.problems) - MAX_PROBLEMS_SHOWN
        return (f"{len(self.problems)} of your saved reviews could not be used and were skipped: {shown}"
                + (f" (and {more} more)" if more > 0 else "")
                + f". They stay in {self.path} as they are.")

    def save(self) -> None:
        """Write the reviews, then the file's entries that could not be used, unchanged (so a fix by hand, or
        a newer app, still finds them)."""
        data = {"format": FILE_FORMAT, "version": FILE_VERSION,
                "reviews": [r.to_json() for r in self.reviews] + self.unreadable}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            write_json_atomic(self.path, data, indent=1)
        except OSError as exc:
            raise MyReviewsError(f"Could not save your reviews in {self.path.parent}: {os_error_reason(exc)}.") \
                from None

    # -- editing (each change saved at once) ------------------------------------------------
    def find(self, text: str) -> MyReview | None:
        key = text.strip()
        return next((r for r in self.reviews if r.text == key), None)

    def _put(self, review: MyReview) -> MyReview | None:
        """Add ``review``; it replaces an earlier one of the same text, which is returned."""
        previous = self.find(review.text)
        if previous is not None:
            self.reviews.remove(previous)
        elif len(self.reviews) >= MAX_REVIEWS:
            raise ValueError(f"at most {MAX_REVIEWS:,} reviews can be kept")
        self.reviews.append(review)
        return previous

    def add(self, text: object, label: object) -> MyReview:
        """Keep ``text`` with ``label`` ("positive"/"negative" or 1/0) and save; the same text again
        replaces its earlier label."""
        try:
            review = MyReview(checked_text(text), checked_label(label), utc_now())
            before = list(self.reviews)
            self._put(review)
        except ValueError as exc:
            raise MyReviewsError(f"The review cannot be added: {exc}.") from None
        self._saved_or_back(before)
        return review

    def remove(self, text: str) -> MyReview:
        """Forget the review of ``text`` and save; returns it."""
        found = self.find(text)
        if found is None:
            raise MyReviewsError("That review is not among your reviews.")
        before = list(self.reviews)
        self.reviews.remove(found)
        self._saved_or_back(before)
        return found

    def undo(self) -> MyReview:
        """Forget the review added last and save; returns it."""
        if not self.reviews:
            raise MyReviewsError("There are none of your reviews to undo.")
        before = list(self.reviews)
        last = self.reviews.pop()
        self._saved_or_back(before)
        return last

    def _saved_or_back(self, before: list[MyReview]) -> None:
        try:
            self.save()
        except MyReviewsError:
            self.reviews = before
            raise

    # -- for training ----------------------------------------------------------------------
    def split(self) -> Split:
        """The reviews as a data split (texts and labels), in the order they were added."""
        return Split(labels=np.array([r.label for r in self.reviews], dtype=np.int8),
                     texts=[r.text for r in self.reviews])
