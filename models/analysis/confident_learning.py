"""Confident learning for binary labels: which given labels the model's out-of-sample probabilities doubt.

The rule of Northcutt, Jiang and Chuang (2021, "Confident learning: estimating uncertainty in dataset
labels"), with the defaults of ``cleanlab.filter.find_label_issues`` (``filter_by="prune_by_noise_rate"``),
written here for two classes and NumPy alone: cleanlab pulls in scikit-learn, SciPy and pandas, about
290 MB installed, and the app's bundle has 6 MB left under its 850 MB limit. ``tests/test_confident_learning.py``
checks that this gives cleanlab's answer (cleanlab is a test dependency only).

1. **Thresholds**: for each class, the mean probability of that class over the reviews labelled with it
   (the model's average self-confidence in the class).
2. **Confident joint** ``C[given][true]``: a review counts towards the class whose probability reaches
   that class's threshold (when both do, the likelier class; when neither does, it is not counted).
   Each row is then rescaled to its label's count and rounded to whole reviews keeping the row total.
3. **Pruning by noise rate**: of the reviews labelled ``k``, the ``C[k][other]`` whose probability of
   ``k`` is lowest are flagged (keeping at least one review counted as rightly labelled per class, and
   flagging nothing in a class of a single review); a flagged review the model still predicts as its
   given label is let go.
4. **Ranking**: the flagged reviews, lowest label quality first: self-confidence ``P(given label)``, or the
   normalized margin ``(P(given) - P(other) + 1) / 2`` (for two classes the same number, up to rounding).

Ties are broken by position (the earlier review first), where cleanlab's unstable sort leaves it open.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SELF_CONFIDENCE = "self_confidence"
NORMALIZED_MARGIN = "normalized_margin"
RANKINGS = (SELF_CONFIDENCE, NORMALIZED_MARGIN)

_FUZZ = 1e-6  # how close to a threshold (or to a tie) still counts as reaching it, as in cleanlab
_THRESHOLD_FLOOR = 2 * _FUZZ  # a threshold never falls below this, so "reaching" it means something
_UNSEEN_CLASS_THRESHOLD = 2.0  # no probability reaches it: a class nobody is labelled with is never counted
_TINY = 1e-100


@dataclass(frozen=True)
class LabelIssues:
    """What confident learning found in one labelled set."""

    thresholds: np.ndarray  # (2,) mean self-confidence of each class
    confident_joint: np.ndarray  # (2, 2) int, [given][true], calibrated to the label counts
    ranked: np.ndarray  # indices of the flagged reviews, most suspect first
    quality: np.ndarray  # (n,) label quality of every review (lower: the label is more doubtful)
    ranked_by: str

    @property
    def count(self) -> int:
        return int(self.ranked.shape[0])

    def flagged_mask(self) -> np.ndarray:
        mask = np.zeros(self.quality.shape[0], dtype=bool)
        mask[self.ranked] = True
        return mask


def class_probabilities(p_positive: np.ndarray) -> np.ndarray:
    """(n, 2) probabilities [P(negative), P(positive)] from the sigmoid output P(positive)."""
    p = np.asarray(p_positive, dtype=np.float64).reshape(-1)
    return np.column_stack([1.0 - p, p])


def _checked(labels: np.ndarray, probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    labels = np.asarray(labels).reshape(-1)
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim == 1:
        probs = class_probabilities(probs)
    if probs.ndim != 2 or probs.shape[1] != 2 or probs.shape[0] != labels.shape[0]:
        raise ValueError(f"expected one label and two class probabilities per review; got labels {labels.shape} "
                         f"and probabilities {probs.shape}")
    if labels.size and not np.isin(labels, (0, 1)).all():
        raise ValueError("labels must be 0 (negative) or 1 (positive)")
    if not np.isfinite(probs).all() or (probs < 0).any() or (probs > 1).any():
        raise ValueError("probabilities must be finite numbers between 0 and 1")
    return labels.astype(np.int64), probs


def confident_thresholds(labels: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """Per class, the mean probability of that class among the reviews labelled with it."""
    labels, probs = _checked(labels, probs)
    out = np.empty(2)
    for k in (0, 1):
        members = labels == k
        out[k] = probs[members, k].mean() if members.any() else _UNSEEN_CLASS_THRESHOLD
    return np.maximum(out, _THRESHOLD_FLOOR)


def confident_joint(labels: np.ndarray, probs: np.ndarray, thresholds: np.ndarray | None = None,
                    *, calibrate: bool = True) -> np.ndarray:
    """Counts of (given label, confidently predicted class), [given][true]; see the module's step 2."""
    labels, probs = _checked(labels, probs)
    if thresholds is None:
        thresholds = confident_thresholds(labels, probs)
    reaches = probs >= np.asarray(thresholds) - _FUZZ
    counted = reaches.any(axis=1)
    # Both classes reach their threshold: the likelier one (the negative class on an exact tie).
    guess = np.where(reaches.all(axis=1), probs.argmax(axis=1), reaches.argmax(axis=1))
    joint = np.zeros((2, 2), dtype=np.int64)
    np.add.at(joint, (labels[counted], guess[counted]), 1)
    np.fill_diagonal(joint, np.maximum(joint.diagonal(), 1))  # each class has a rightly labelled review
    if not calibrate:
        return joint
    label_counts = np.bincount(labels, minlength=2).astype(np.float64)
    scaled = joint / np.maximum(joint.sum(axis=1), _TINY)[:, None] * label_counts[:, None]
    scaled = scaled / max(scaled.sum(), _TINY) * label_counts.sum()
    return np.array([_round_keeping_total(row) for row in scaled], dtype=np.int64)


def _round_keeping_total(values: np.ndarray) -> np.ndarray:
    """Round each value to a whole number so that they still add up to their rounded total: the
    values that lost most to rounding go up (or those that gained most go down) until it does."""
    values = np.asarray(values, dtype=np.float64)
    rounded = np.round(values)
    missing = int(np.round(np.round(values.sum()) - rounded.sum()))
    while missing:
        step = 1 if missing > 0 else -1
        lost = values - rounded  # what rounding took from each value
        # A raise goes to the largest loss (the later value on a tie), a cut to the largest gain (the earlier).
        order = np.argsort(lost, kind="stable")
        order = order[::-1] if step > 0 else order
        for i in order[:min(abs(missing), len(values))]:
            rounded[i] += step
        missing = int(np.round(np.round(values.sum()) - rounded.sum()))
    return rounded


def label_quality(labels: np.ndarray, probs: np.ndarray, ranked_by: str = SELF_CONFIDENCE) -> np.ndarray:
    """Per review, how much the model believes its given label (0 to 1, lower is more doubtful)."""
    labels, probs = _checked(labels, probs)
    rows = np.arange(labels.shape[0])
    given = probs[rows, labels]
    if ranked_by == SELF_CONFIDENCE:
        return given
    if ranked_by == NORMALIZED_MARGIN:
        return (given - probs[rows, 1 - labels] + 1.0) / 2.0
    raise ValueError(f"ranked_by must be one of {', '.join(RANKINGS)}, not {ranked_by!r}")


def find_label_issues(labels: np.ndarray, probs: np.ndarray, *, ranked_by: str = SELF_CONFIDENCE,
                      min_per_class: int = 1) -> LabelIssues:
    """The reviews whose given label confident learning doubts, most suspect first.

    ``probs`` is P(positive) per review, or an (n, 2) array [P(negative), P(positive)]; they must be
    out of sample (from a model that did not train on these reviews), or every label looks right.
    """
    labels, probs = _checked(labels, probs)
    quality = label_quality(labels, probs, ranked_by)  # checks ranked_by before any work
    thresholds = confident_thresholds(labels, probs)
    joint = confident_joint(labels, probs, thresholds)
    flagged = np.zeros(labels.shape[0], dtype=bool)
    for k in (0, 1):
        members = np.flatnonzero(labels == k)
        if members.shape[0] <= min_per_class:
            continue  # too few reviews of this label to take any away
        other = 1 - k
        # Keep at least ``min_per_class`` counted as rightly labelled; what that takes comes off the other cell.
        kept = max(int(joint[k, k]), min_per_class)
        to_flag = max(0, int(joint[k, other]) - (kept - int(joint[k, k])))
        if to_flag == 0:
            continue
        margin = probs[members, other] - probs[members, k]
        flagged[members[np.argsort(-margin, kind="stable")[:to_flag]]] = True
    # A review still predicted as its given label (within the fuzz) is not an issue.
    rows = np.arange(labels.shape[0])
    given = probs[rows, labels] + _FUZZ
    other_prob = probs[rows, 1 - labels]
    agrees = np.where(labels == 0, given >= other_prob, given > other_prob)
    flagged &= ~agrees
    candidates = np.flatnonzero(flagged)
    ranked = candidates[np.argsort(quality[candidates], kind="stable")]
    return LabelIssues(thresholds, joint, ranked, quality, ranked_by)
