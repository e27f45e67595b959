"""Where a model is right and wrong on a labelled split: one scoring pass, then metrics at any threshold.

``evaluate`` scores every review once (in chunks, with progress and stop callbacks, as training
has) and returns an :class:`Evaluation`: per review its probability, true label, length in tokens
and whether the front was cut at ``maxlen``. Everything else is computed from those arrays without
scoring again, so a threshold slider can move freely: :func:`metrics` (accuracy, per-class
precision / recall / F1, the confusion matrix, ROC AUC, log loss), :func:`roc_curve`,
:func:`precision_recall_curve`, :func:`calibration` and :func:`accuracy_by_length`.

Conventions: label 1 is positive; a review is predicted positive when P(positive) >= threshold
(as ``Prediction.label`` does at 0.5); the confusion matrix is ``[[tn, fp], [fn, tp]]``, negative
first. A value that is undefined on the data (ROC AUC with one class, precision when nothing is
predicted positive) is ``None``, never a made-up 0.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from models.config import DEFAULT_THRESHOLD, SPECIFIED_MAXLEN
from models.datasets import Dataset, Split
from models.errors import UserFacingError
from models.prediction import NEGATIVE, POSITIVE, Predictor
from models.vocabulary import INDEX_FROM, START_ID

_EPSILON = 1e-7  # Keras' backend epsilon, used to clip probabilities in binary_crossentropy
CHUNK = 1024  # reviews tokenized and scored between two progress reports / stop checks
CLASSES = (NEGATIVE, POSITIVE)  # index = label


class EvaluationCancelled(UserFacingError):
    """The user stopped the evaluation; nothing was scored to keep."""


class EmptyEvaluationError(UserFacingError):
    pass


@dataclass(frozen=True)
class ReviewResult:
    """One review as the evaluation saw it."""

    index: int  # position in the split
    text: str
    probability: float  # P(positive)
    label: int  # the true label, 1 = positive
    length: int  # tokens in the whole review
    cut: bool  # longer than the model reads: the front was cut

    def predicted(self, threshold: float = DEFAULT_THRESHOLD) -> int:
        return int(self.probability >= threshold)


@dataclass(frozen=True)
class Evaluation:
    """Per-review results of one model on one split, in the split's order."""

    model_name: str
    source: str  # the data set, as the user named it
    maxlen: int | None  # None: the model reads whole reviews (the n-gram family)
    texts: Sequence[str]  # the reviews (rebuilt from ids for a split of Keras id sequences)
    probabilities: np.ndarray  # float64, P(positive)
    labels: np.ndarray  # int8, 1 = positive
    lengths: np.ndarray  # int32, tokens per review before truncation
    cut: np.ndarray  # bool, the review was longer than maxlen (its front was not read)

    @property
    def n(self) -> int:
        return int(self.labels.shape[0])

    def predicted(self, threshold: float = DEFAULT_THRESHOLD) -> np.ndarray:
        return self.probabilities >= threshold

    def review(self, index: int) -> ReviewResult:
        return ReviewResult(index, self.texts[index], float(self.probabilities[index]), int(self.labels[index]),
                            int(self.lengths[index]), bool(self.cut[index]))

    def margin(self, indices: np.ndarray, threshold: float) -> np.ndarray:
        """How far each review's probability lies from the threshold: how sure the decision was."""
        return np.abs(self.probabilities[indices] - threshold)

    def cell(self, actual: int, predicted: int, threshold: float = DEFAULT_THRESHOLD) -> np.ndarray:
        """Indices of the reviews in one confusion cell, the surest decision first (for a wrong
        prediction: the most confidently wrong first)."""
        chosen = np.flatnonzero((self.labels == actual) & (self.predicted(threshold) == bool(predicted)))
        return chosen[np.argsort(-self.margin(chosen, threshold), kind="stable")]

    def misclassified(self, threshold: float = DEFAULT_THRESHOLD) -> np.ndarray:
        """Indices of every review predicted wrong, the most confidently wrong first."""
        wrong = np.flatnonzero(self.predicted(threshold) != (self.labels == 1))
        return wrong[np.argsort(-self.margin(wrong, threshold), kind="stable")]


# -- scoring ------------------------------------------------------------------------------


def evaluate(
    predictor: Predictor,
    data: Dataset,
    split: Split | None = None,
    *,
    on_progress: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    chunk: int = CHUNK,
) -> Evaluation:
    """Score ``split`` (the test split by default) once. Raises :class:`EvaluationCancelled` when
    ``should_stop`` says so (checked before and after every chunk), :class:`EmptyEvaluationError` for
    no reviews."""
    split = split if split is not None else data.test
    total = len(split)
    if total == 0:
        raise EmptyEvaluationError(f"The test split of {data.source} is empty: there are no reviews to evaluate on.")
    maxlen = predictor.maxlen
    probabilities = np.empty(total, dtype=np.float64)
    lengths = np.empty(total, dtype=np.int32)
    cut = np.zeros(total, dtype=bool)
    if on_progress is not None:
        on_progress(0, total)
    def check_stop() -> None:
        if should_stop is not None and should_stop():
            raise EvaluationCancelled("Evaluation cancelled.")

    check_stop()
    for start in range(0, total, chunk):
        part = split.subset(np.arange(start, min(total, start + chunk)))
        inputs, part_lengths, part_cut = predictor.family.evaluation_inputs(part, predictor.vocabulary, maxlen,
                                                                            data.keras_word_index)
        probabilities[start:start + len(part)] = predictor.probabilities(inputs)
        lengths[start:start + len(part)] = part_lengths
        cut[start:start + len(part)] = part_cut
        check_stop()  # after the last chunk too: a Cancel pressed during it is honoured
        if on_progress is not None:
            on_progress(start + len(part), total)
    texts = split.texts if split.texts is not None else texts_of_sequences(split, data.keras_word_index)
    return Evaluation(predictor.name, data.source, maxlen, texts, probabilities,
                      split.labels.astype(np.int8), lengths, cut)


def texts_of_sequences(split: Split, keras_word_index: dict[str, int] | None) -> list[str]:
    """Keras' IMDB has ids, not text: rebuild each review from its word index, unknown words as "?"."""
    words = {rank + INDEX_FROM: word for word, rank in (keras_word_index or {}).items()}
    return [" ".join(words.get(i, "?") for i in seq[1:] if i != START_ID) for seq in (split.sequences or [])]


# -- metrics ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClassMetrics:
    precision: float | None  # None when no review was predicted in this class
    recall: float | None  # None when the data has no review of this class
    f1: float | None
    support: int  # reviews of this class in the data

    def to_json(self) -> dict:
        return {"precision": self.precision, "recall": self.recall, "f1": self.f1, "support": self.support}


@dataclass(frozen=True)
class Metrics:
    threshold: float
    n: int
    accuracy: float
    confusion: list[list[int]]  # [[tn, fp], [fn, tp]]
    per_class: dict[str, ClassMetrics]
    roc_auc: float | None  # None with a single class: say so (``roc_auc_note``)
    log_loss: float

    @property
    def roc_auc_note(self) -> str | None:
        if self.roc_auc is not None:
            return None
        present = [c for c in CLASSES if self.per_class[c].support]
        return (f"ROC AUC is undefined: the data has only {present[0]} reviews." if present
                else "ROC AUC is undefined: there are no reviews.")

    def to_json(self) -> dict:
        return {
            "accuracy": self.accuracy,
            "roc_auc": self.roc_auc,
            "log_loss": self.log_loss,
            "threshold": self.threshold,
            "n": self.n,
            "confusion": self.confusion,
            "per_class": {name: m.to_json() for name, m in self.per_class.items()},
        }


def _ratio(num: int, den: int) -> float | None:
    return num / den if den else None


def _class_metrics(tp: int, fp: int, fn: int) -> ClassMetrics:
    precision, recall = _ratio(tp, tp + fp), _ratio(tp, tp + fn)
    if precision is None or recall is None:
        f1 = None
    else:
        f1 = 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)
    return ClassMetrics(precision, recall, f1, tp + fn)


def confusion(labels: np.ndarray, probabilities: np.ndarray, threshold: float = DEFAULT_THRESHOLD
              ) -> list[list[int]]:
    predicted = probabilities >= threshold
    actual = labels == 1
    return [[int(np.sum(~predicted & ~actual)), int(np.sum(predicted & ~actual))],
            [int(np.sum(~predicted & actual)), int(np.sum(predicted & actual))]]


def log_loss(labels: np.ndarray, probabilities: np.ndarray) -> float:
    """Binary cross-entropy as Keras computes it (probabilities clipped to [1e-7, 1 - 1e-7])."""
    y = labels.astype(np.float64)
    p = np.clip(probabilities.astype(np.float64), _EPSILON, 1 - _EPSILON)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def metrics(labels: np.ndarray, probabilities: np.ndarray, threshold: float = DEFAULT_THRESHOLD,
            *, roc_auc: float | None | str = "compute") -> Metrics:
    """Every summary figure at ``threshold``. ``roc_auc`` (and the log loss) do not depend on the
    threshold: pass a value computed once to skip the sort when only the threshold moved."""
    n = int(labels.shape[0])
    if n == 0:
        raise EmptyEvaluationError("There are no reviews to compute metrics on.")
    (tn, fp), (fn, tp) = cm = confusion(labels, probabilities, threshold)
    auc = roc_auc_score(labels, probabilities) if roc_auc == "compute" else roc_auc
    return Metrics(
        threshold=float(threshold),
        n=n,
        accuracy=(tn + tp) / n,
        confusion=cm,
        per_class={NEGATIVE: _class_metrics(tn, fn, fp), POSITIVE: _class_metrics(tp, fp, fn)},
        roc_auc=auc,
        log_loss=log_loss(labels, probabilities),
    )


# -- curves -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Curve:
    """Points of a curve swept over every distinct threshold, from the highest down."""

    x: np.ndarray
    y: np.ndarray
    thresholds: np.ndarray  # the threshold at each point (+inf for the first point of the ROC)


def _sweep(labels: np.ndarray, probabilities: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """True and false positives when predicting positive at each distinct probability, highest first."""
    order = np.argsort(-probabilities, kind="mergesort")
    p, y = probabilities[order], labels[order] == 1
    last_of_each = np.r_[np.flatnonzero(np.diff(p)), len(p) - 1]  # ties move together
    tps = np.cumsum(y)[last_of_each]
    fps = (last_of_each + 1) - tps
    return tps, fps, p[last_of_each]


def roc_curve(labels: np.ndarray, probabilities: np.ndarray) -> Curve:
    """False-positive rate (x) against true-positive rate (y); empty when one class is missing."""
    pos = int(np.sum(labels == 1))
    neg = len(labels) - pos
    if pos == 0 or neg == 0:
        return Curve(np.empty(0), np.empty(0), np.empty(0))
    tps, fps, thresholds = _sweep(labels, probabilities)
    return Curve(np.r_[0.0, fps / neg], np.r_[0.0, tps / pos], np.r_[np.inf, thresholds])


def roc_auc_score(labels: np.ndarray, probabilities: np.ndarray) -> float | None:
    """Area under the ROC curve (ties count half, as the trapezoid does); None with one class."""
    curve = roc_curve(labels, probabilities)
    if not len(curve.x):
        return None
    return float(np.sum(np.diff(curve.x) * (curve.y[1:] + curve.y[:-1]) / 2))


def precision_recall_curve(labels: np.ndarray, probabilities: np.ndarray) -> Curve:
    """Recall (x) against precision (y) of the positive class; empty when there is no positive review."""
    if not np.any(labels == 1):
        return Curve(np.empty(0), np.empty(0), np.empty(0))
    tps, fps, thresholds = _sweep(labels, probabilities)
    return Curve(tps / tps[-1], tps / (tps + fps), thresholds)


def operating_point(labels: np.ndarray, probabilities: np.ndarray, threshold: float
                    ) -> tuple[float | None, float | None, float | None]:
    """(false-positive rate, true-positive rate = recall, precision) at ``threshold``, for marking the
    current threshold on the curves; each None where undefined."""
    (tn, fp), (fn, tp) = confusion(labels, probabilities, threshold)
    return _ratio(fp, fp + tn), _ratio(tp, tp + fn), _ratio(tp, tp + fp)


@dataclass(frozen=True)
class CalibrationBin:
    low: float
    high: float
    count: int
    mean_probability: float | None  # None for an empty bin
    positive_rate: float | None


def calibration(labels: np.ndarray, probabilities: np.ndarray, bins: int = 10) -> list[CalibrationBin]:
    """Reliability: reviews grouped by predicted probability (equal-width bins), the share of each
    group that is really positive. A calibrated model's points lie on the diagonal."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.searchsorted(edges, probabilities, side="right") - 1, 0, bins - 1)
    out = []
    for b in range(bins):
        mask = which == b
        count = int(mask.sum())
        out.append(CalibrationBin(float(edges[b]), float(edges[b + 1]), count,
                                  float(probabilities[mask].mean()) if count else None,
                                  float(labels[mask].mean()) if count else None))
    return out


def expected_calibration_error(bins: list[CalibrationBin]) -> float | None:
    """The count-weighted mean gap between predicted probability and observed positive rate."""
    total = sum(b.count for b in bins)
    if not total:
        return None
    return sum(b.count * abs(b.mean_probability - b.positive_rate) for b in bins if b.count) / total


@dataclass(frozen=True)
class LengthBucket:
    label: str  # e.g. "81-160 tokens"
    low: int  # tokens, inclusive
    high: int | None  # tokens, inclusive; None = no upper bound
    count: int
    accuracy: float | None
    share_cut: float | None  # mean share of each review's tokens the model never read


def accuracy_by_length(evaluation: Evaluation, threshold: float = DEFAULT_THRESHOLD,
                       bucket_maxlen: int | None = None) -> list[LengthBucket]:
    """Accuracy of reviews grouped by length in multiples of what the model reads (maxlen), with the
    share of their words cut away: the model reads only the last ``maxlen`` ids. ``bucket_maxlen``: bucket by
    another model's maxlen instead (two models compared on the same buckets)."""
    # A model that reads whole reviews is bucketed as the specified LSTM's length, so the two compare.
    m = bucket_maxlen or evaluation.maxlen or SPECIFIED_MAXLEN
    bounds = [(0, m - 1), (m, 2 * m - 1), (2 * m, 4 * m - 1), (4 * m, 8 * m - 1), (8 * m, None)]
    right = evaluation.predicted(threshold) == (evaluation.labels == 1)
    lengths = evaluation.lengths
    # Tokens read: maxlen - 1 (the start mark takes one id) unless cut, where the last maxlen are read.
    read = np.where(evaluation.cut, evaluation.maxlen or m, lengths)
    share_cut = np.where(lengths > 0, 1 - read / np.maximum(lengths, 1), 0.0)
    out = []
    for low, high in bounds:
        mask = (lengths >= low) & (lengths <= high if high is not None else True)
        count = int(mask.sum())
        label = f"{low:,}-{high:,} tokens" if high is not None else f"{low:,}+ tokens"
        out.append(LengthBucket(label, low, high, count, float(right[mask].mean()) if count else None,
                                float(share_cut[mask].mean()) if count else None))
    return out


# -- two models on the same data ------------------------------------------------------------


def check_comparable(a: Evaluation, b: Evaluation) -> None:
    if a.n != b.n or not np.array_equal(a.labels, b.labels):
        raise UserFacingError("The two evaluations are not on the same reviews: evaluate both on one data set.")


def disagreements(a: Evaluation, b: Evaluation, threshold_a: float = DEFAULT_THRESHOLD,
                  threshold_b: float = DEFAULT_THRESHOLD) -> np.ndarray:
    """Indices of the reviews the two models label differently, the widest gap in probability first."""
    check_comparable(a, b)
    differ = np.flatnonzero(a.predicted(threshold_a) != b.predicted(threshold_b))
    gap = np.abs(a.probabilities[differ] - b.probabilities[differ])
    return differ[np.argsort(-gap, kind="stable")]
