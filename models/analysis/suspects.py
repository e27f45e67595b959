"""Suspect labels: the reviews of a split whose given label a model, scoring them out of sample, doubts.

Where the probabilities come from decides whether the answer means anything: a model that learnt a
review's label agrees with it. So the test split is scored by a stored model (by default the most
accurate one; none of the store's models trains on a test split), and the training split by k-fold
cross-validation (models.analysis.fold_model), or by a stored model that was trained on another data
set. The ranking itself is confident learning (models.analysis.confident_learning).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from models.analysis.confident_learning import SELF_CONFIDENCE, find_label_issues
from models.analysis.fold_model import DEFAULT_FOLDS, FoldFamily, cross_validated_probabilities
from models.datasets import Dataset, Split
from models.errors import ModelStoreError, UserFacingError
from models.prediction import NEGATIVE, POSITIVE
from models.store import ModelInfo, ModelStore

TEST, TRAIN = "test", "train"
SPLITS = (TEST, TRAIN)
EXCERPT_CHARS = 160

Progress = Callable[[str, int, int], None]  # (what, done, total)


@dataclass(frozen=True)
class Suspect:
    """One review whose label the model doubts."""

    index: int  # position in the split
    row: str | int  # where the user finds it (Split.row_id)
    split: str
    label: int  # the label as given (after any corrections), 1 = positive
    probability: float  # P(positive), out of sample
    suspicion: float  # 1 - label quality: 1 = the model is sure the label is wrong
    text: str

    def excerpt(self, chars: int = EXCERPT_CHARS) -> str:
        flat = " ".join(self.text.split())
        return flat if len(flat) <= chars else flat[:chars - 1].rstrip() + "\u2026"

    def to_json(self, model: str) -> dict[str, Any]:
        return {"row": self.row, "split": self.split, "label": POSITIVE if self.label else NEGATIVE,
                "probability": round(self.probability, 6), "suspicion": round(self.suspicion, 6),
                "model": model, "excerpt": self.excerpt()}


@dataclass(frozen=True)
class SuspectReport:
    split: str
    model: str  # the stored model's name, or the cross-validated family's
    ranked_by: str
    reviews: int  # reviews in the split
    flagged: int  # reviews confident learning flagged, before those marked right were left out
    suspects: list[Suspect]  # most suspect first, without the reviews marked right
    probabilities: np.ndarray  # P(positive) of every review of the split, out of sample

    @property
    def marked_right(self) -> int:
        return self.flagged - len(self.suspects)


def split_of(data: Dataset, name: str) -> Split:
    if name not in SPLITS:
        raise UserFacingError(f"The split must be {' or '.join(SPLITS)}, not {name!r}.")
    split = data.test if name == TEST else data.train
    if len(split) == 0:
        raise UserFacingError(f"{data.source} has no {name} reviews to check.")
    return split


def trained_on(info: ModelInfo, data: Dataset) -> bool:
    """Whether the model looks trained on this data set's training split: its metadata names a file of the
    same name, or the same number of training reviews and positives. Unsure counts as yes (the caller
    then refuses to call its scores out of sample)."""
    meta = info.metadata
    if meta is None:
        return False
    if meta.source and Path(meta.source).name.casefold() == Path(data.source).name.casefold():
        return True
    counts = meta.train_reviews, meta.train_positive
    return counts == (len(data.train), int(data.train.labels.sum()))


def choose_model(store: ModelStore, data: Dataset, split: str, ref: str | None = None) -> ModelInfo | None:
    """The stored model that scores ``split`` out of sample: ``ref`` when given (refused for the
    training split when it was trained there), else for the test split the usable model with the best
    test accuracy; ``None`` for the training split (cross-validation)."""
    if ref is not None:
        info = store.find(ref)
        if info.damaged:
            raise ModelStoreError(f"The model {info.name!r} cannot be used: {info.damaged}.")
        if split == TRAIN and trained_on(info, data):
            raise UserFacingError(
                f"The model {info.name!r} was trained on the training split of {Path(data.source).name}: its scores "
                "there are not out of sample, so every label would look right. Leave out --model to use "
                "cross-validation.")
        return info
    if split == TRAIN:
        return None
    usable = [i for i in store.list() if i.damaged is None]
    if not usable:
        raise ModelStoreError("There is no usable model to score the test split: train or import one first.")
    # list() is newest first, so max() keeps the newest of equally accurate models.
    return max(usable, key=lambda i: -1.0 if i.metadata is None or i.metadata.test_accuracy is None
               else i.metadata.test_accuracy)


def out_of_sample_probabilities(
    data: Dataset, split: str, model: ModelInfo | None, *, store: ModelStore, family: FoldFamily | None = None,
    folds: int = DEFAULT_FOLDS, on_progress: Progress | None = None, should_stop: Callable[[], bool] | None = None,
) -> tuple[np.ndarray, str]:
    """P(positive) of every review of the split, from ``model`` or by cross-validation; and who scored."""
    chosen = split_of(data, split)
    if model is None:
        from models.analysis.fold_model import BagOfWordsLogistic

        family = family if family is not None else BagOfWordsLogistic()
        if on_progress is not None:
            on_progress(f"Cross-validation: reading the words of {len(chosen):,} reviews", 0, folds)
        probs = cross_validated_probabilities(
            chosen, family, folds=folds, should_stop=should_stop,
            on_progress=(lambda done, total: on_progress(f"Cross-validation: fold {done} of {total}", done, total))
            if on_progress else None)
        return probs, f"{family.name}, {folds} folds"
    from models.evaluation import evaluate
    from models.prediction import Predictor

    predictor = Predictor.from_store(store, model)
    scoring = (lambda done, total: on_progress("Scoring", done, total)) if on_progress else None
    evaluation = evaluate(predictor, data, chosen, should_stop=should_stop, on_progress=scoring)
    return evaluation.probabilities, predictor.name


def rank_suspects(split: Split, split_name: str, probabilities: np.ndarray, *, ranked_by: str = SELF_CONFIDENCE,
                  skip_rows: Collection[str | int] = (), texts: Sequence[str] | None = None
                  ) -> tuple[int, list[Suspect]]:
    """The flagged count and the suspects, most suspect first, leaving out the rows in ``skip_rows``
    (reviews the user said are labelled right: they are never suggested again). ``texts``: the reviews'
    texts when the split has none of its own (Keras' id sequences, rebuilt from its word index)."""
    texts = split.texts if split.texts is not None else texts
    issues = find_label_issues(split.labels, probabilities, ranked_by=ranked_by)
    skip = set(skip_rows)
    suspects = []
    for index in issues.ranked:
        i = int(index)
        row = split.row_id(i)
        if row in skip:
            continue
        text = texts[i] if texts is not None else ""
        suspects.append(Suspect(i, row, split_name, int(split.labels[i]), float(probabilities[i]),
                                1.0 - float(issues.quality[i]), text))
    return issues.count, suspects


def suspect_labels(
    data: Dataset, split: str, *, store: ModelStore, model_ref: str | None = None, ranked_by: str = SELF_CONFIDENCE,
    skip_rows: Collection[str | int] = (), folds: int = DEFAULT_FOLDS, family: FoldFamily | None = None,
    on_progress: Progress | None = None, should_stop: Callable[[], bool] | None = None,
) -> SuspectReport:
    """Score ``split`` out of sample and rank its labels by confident learning."""
    chosen = split_of(data, split)
    model = choose_model(store, data, split, model_ref)
    probabilities, scorer = out_of_sample_probabilities(data, split, model, store=store, family=family, folds=folds,
                                                        on_progress=on_progress, should_stop=should_stop)
    texts = None
    if chosen.texts is None:
        from models.evaluation import texts_of_sequences

        texts = texts_of_sequences(chosen, data.keras_word_index)
    flagged, suspects = rank_suspects(chosen, split, probabilities, ranked_by=ranked_by, skip_rows=skip_rows,
                                      texts=texts)
    return SuspectReport(split, scorer, ranked_by, len(chosen), flagged, suspects, probabilities)
