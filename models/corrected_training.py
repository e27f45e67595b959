"""Training on corrected labels, with the before/after a user needs to trust it.

The corrections (models.corrections) are applied to both splits: flipped labels are learnt and tested as
corrected, excluded texts are left out. A corrected test split is an easier exam, so the result gives the
test accuracy both ways from one scoring pass of the original test split: on the file's own labels (the
figure comparable with every other model) and on the corrected ones.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from models.config import DEFAULT_THRESHOLD, TrainingConfig
from models.corrections import CorrectedData, CorrectionBook
from models.datasets import Dataset
from models.evaluation import Evaluation
from models.training import ProgressFn, StopFn, TrainingResult, train


@dataclass
class CorrectedTraining:
    result: TrainingResult
    corrected: CorrectedData
    test_accuracy_original_labels: float | None  # None when no epoch finished
    test_accuracy_corrected_labels: float | None

    def summary(self, book: CorrectionBook) -> dict[str, Any]:
        c = self.corrected
        return {
            "dataset_sha256": book.identity.sha256,
            "flipped": c.flipped, "excluded": c.excluded,
            "marked_right": {name: len(rows) for name, rows in c.right.items()},
            "not_applied": c.not_found,
            "test_accuracy_original_labels": self.test_accuracy_original_labels,
            "test_accuracy_corrected_labels": self.test_accuracy_corrected_labels,
        }


def accuracy_both_ways(probabilities: np.ndarray, original_labels: np.ndarray, corrected: CorrectedData
                       ) -> tuple[float, float | None]:
    """Accuracy of P(positive) >= DEFAULT_THRESHOLD on the original test labels, and on the corrected ones (excluded
    reviews left out; None when every one was excluded)."""
    predicted = np.asarray(probabilities) >= DEFAULT_THRESHOLD
    original = float(np.mean(predicted == (np.asarray(original_labels) == 1)))
    kept = corrected.test_kept
    if not kept.any():
        return original, None
    return original, float(np.mean(predicted[kept] == (corrected.test_labels[kept] == 1)))


def corrected_evaluation(evaluation: Evaluation, corrected: CorrectedData) -> Evaluation | None:
    """The scores of the original test split (``evaluation``, in its order, as ``corrected`` was made from
    it) on the corrected labels, the excluded reviews left out: what ``evaluate --corrections`` and the
    Evaluate tab's "corrected" labels measure. None when every review is excluded."""
    kept = corrected.test_kept
    if len(kept) != evaluation.n:
        raise ValueError(f"the corrections were applied to {len(kept):,} test reviews, the evaluation has "
                         f"{evaluation.n:,}")
    if not kept.any():
        return None
    labels = corrected.test_labels.astype(np.int8)
    if kept.all():
        return replace(evaluation, labels=labels)
    index = np.flatnonzero(kept)
    return replace(evaluation, texts=[evaluation.texts[i] for i in index],
                   probabilities=evaluation.probabilities[index], labels=labels[index],
                   lengths=evaluation.lengths[index], cut=evaluation.cut[index])


def train_with_corrections(config: TrainingConfig, data: Dataset, book: CorrectionBook,
                           on_progress: ProgressFn | None = None, should_stop: StopFn | None = None
                           ) -> CorrectedTraining:
    """``train`` on ``data`` with ``book``'s corrections applied, then the test accuracy both ways."""
    corrected = book.apply(data)
    result = train(config, corrected.dataset, on_progress, should_stop)
    if result.best_epoch is None or result.model is None or (should_stop is not None and should_stop()):
        return CorrectedTraining(result, corrected, None, None)
    from models.evaluation import evaluate
    from models.families import family_named
    from models.prediction import Predictor

    family = family_named(config.family)
    name = "trained with corrections"
    # The family says how much of a review its model reads (the n-gram family: all of it).
    maxlen = family.check_loaded(result.model, result.vocabulary, name)
    predictor = Predictor(result.model, result.vocabulary, maxlen, name, family)
    evaluation = evaluate(predictor, data, data.test, should_stop=should_stop)
    original, fixed = accuracy_both_ways(evaluation.probabilities, data.test.labels, corrected)
    return CorrectedTraining(result, corrected, original, fixed)
