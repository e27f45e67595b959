"""models.analysis.confident_learning gives cleanlab's answer on the same probabilities.

cleanlab is a test dependency only (pyproject's [test] extra says why): these tests are the proof that
the app's own NumPy version of the rule is the published one, on random and on adversarial inputs.
"""

from __future__ import annotations

import contextlib

import cleanlab.count as cleanlab_count
import cleanlab.filter as cleanlab_filter
import numpy as np
import pytest

from models.analysis.confident_learning import (
    NORMALIZED_MARGIN,
    RANKINGS,
    SELF_CONFIDENCE,
    class_probabilities,
    confident_joint,
    confident_thresholds,
    find_label_issues,
    label_quality,
)


def _cleanlab(labels: np.ndarray, p_positive: np.ndarray, ranked_by: str) -> np.ndarray:
    return cleanlab_filter.find_label_issues(labels, class_probabilities(p_positive),
                                             return_indices_ranked_by=ranked_by, n_jobs=1)


def _random_sets():
    """(name, labels, P(positive)) sets: a good model, a poor one, heavy noise, imbalance, tiny sets."""
    rng = np.random.default_rng(22)
    for n, noise, sharpness, positive_share in [(2000, 0.03, 3.0, 0.5), (500, 0.2, 1.0, 0.5),
                                                (1000, 0.4, 2.0, 0.5), (3000, 0.05, 4.0, 0.9),
                                                (60, 0.1, 2.0, 0.3), (25000, 0.03, 2.5, 0.5)]:
        truth = (rng.random(n) < positive_share).astype(np.int64)
        logits = rng.normal(0, 1, n) * 2 + np.where(truth == 1, sharpness, -sharpness)
        p = 1 / (1 + np.exp(-logits))
        labels = np.where(rng.random(n) < noise, 1 - truth, truth)
        yield f"n{n}-noise{noise}", labels, p
    for seed in range(5):  # probabilities that say nothing about the labels
        r = np.random.default_rng(seed)
        yield f"uniform{seed}", r.integers(0, 2, 300), r.random(300)


def _adversarial_sets():
    """Ties, probabilities at exactly 0, 0.5 and 1, a class with one or no review, a model that is
    always wrong, and values a hair from the thresholds (they are means of the values themselves)."""
    yield "all-half", np.array([0, 1] * 50), np.full(100, 0.5)
    yield "hard-0-1", np.array([0, 1, 1, 0] * 30), np.array([0.0, 1.0, 0.0, 1.0] * 30)
    yield "always-wrong", np.array([0] * 40 + [1] * 40), np.array([1.0] * 40 + [0.0] * 40)
    yield "few-values", np.array([0] * 37 + [1] * 41), np.tile([0.1, 0.5, 0.9, 0.3, 0.7, 0.2], 13)
    yield "one-positive", np.array([0] * 50 + [1]), np.r_[np.linspace(0.0, 1.0, 50), 0.2]
    yield "only-negatives", np.zeros(40, dtype=np.int64), np.linspace(0.01, 0.99, 40)
    eps = np.array([0.0, 1e-7, -1e-7, 5e-7, 1e-6, 2e-6])
    p = np.r_[0.8 + eps, 0.2 + eps, 0.5 + eps, [0.8, 0.2] * 20]
    yield "near-thresholds", np.r_[np.ones(6), np.zeros(6), np.ones(6), [1, 0] * 20].astype(np.int64), p
    yield "two-reviews", np.array([0, 1]), np.array([0.9, 0.1])


def _same_up_to_ties(ours: np.ndarray, theirs: np.ndarray, quality: np.ndarray) -> None:
    """Equal where no two qualities tie; on ties, the same qualities in the same order (which of two
    equally doubtful reviews comes first, or is flagged at a cut-off, is a coin cleanlab's unstable
    sort tosses)."""
    assert len(ours) == len(theirs)
    np.testing.assert_array_equal(quality[ours], quality[theirs])
    values, counts = np.unique(quality, return_counts=True)
    unique_values = values[counts == 1]
    at_unique = np.isin(quality[ours], unique_values)
    np.testing.assert_array_equal(ours[at_unique], theirs[at_unique])


@pytest.mark.parametrize("ranked_by", RANKINGS)
@pytest.mark.parametrize("name,labels,p", list(_random_sets()), ids=lambda v: v if isinstance(v, str) else "")
def test_ranking_and_flagged_set_equal_cleanlabs_on_random_probabilities(name, labels, p, ranked_by):
    ours = find_label_issues(labels, p, ranked_by=ranked_by)
    theirs = _cleanlab(labels, p, ranked_by)
    assert ours.count == len(theirs)
    np.testing.assert_array_equal(ours.ranked, theirs)


@pytest.mark.parametrize("ranked_by", RANKINGS)
@pytest.mark.parametrize("name,labels,p", list(_adversarial_sets()), ids=lambda v: v if isinstance(v, str) else "")
def test_ranking_and_flagged_set_equal_cleanlabs_on_adversarial_probabilities(name, labels, p, ranked_by):
    ours = find_label_issues(labels, p, ranked_by=ranked_by)
    # cleanlab warns that it flags nothing in a class of one review (or none); so do we, silently.
    with pytest.warns(UserWarning) if name in ("one-positive", "only-negatives", "two-reviews") else \
            contextlib.nullcontext():
        theirs = _cleanlab(labels, p, ranked_by)
    _same_up_to_ties(ours.ranked, theirs, ours.quality)


@pytest.mark.parametrize("name,labels,p", [*_random_sets(), *_adversarial_sets()][:12],
                         ids=lambda v: v if isinstance(v, str) else "")
def test_thresholds_and_confident_joint_equal_cleanlabs(name, labels, p):
    probs = class_probabilities(p)
    np.testing.assert_allclose(confident_thresholds(labels, p), cleanlab_count.get_confident_thresholds(labels, probs))
    np.testing.assert_array_equal(confident_joint(labels, p),
                                  cleanlab_count.compute_confident_joint(labels, probs))
    np.testing.assert_array_equal(confident_joint(labels, p, calibrate=False),
                                  cleanlab_count.compute_confident_joint(labels, probs, calibrate=False))


def test_a_flipped_label_the_model_is_sure_about_comes_first():
    labels = np.array([1] * 50 + [0] * 50)
    p = np.r_[np.linspace(0.6, 0.99, 50), np.linspace(0.01, 0.4, 50)]
    labels[10] = 0  # the model says 0.68: positive
    p[70] = 0.999  # labelled negative, the model is all but certain it is positive
    issues = find_label_issues(labels, p)
    assert issues.ranked[0] == 70
    assert 10 in issues.ranked
    assert issues.quality[70] == pytest.approx(0.001)


def test_normalized_margin_equals_self_confidence_for_two_classes():
    rng = np.random.default_rng(3)
    labels, p = rng.integers(0, 2, 1000), rng.random(1000)
    np.testing.assert_allclose(label_quality(labels, p, NORMALIZED_MARGIN), label_quality(labels, p, SELF_CONFIDENCE),
                               atol=1e-12)


@pytest.mark.parametrize("labels,p,message", [
    (np.array([0, 1]), np.array([0.5]), "one label and two class probabilities"),
    (np.array([0, 2]), np.array([0.5, 0.5]), "0 \\(negative\\) or 1"),
    (np.array([0, 1]), np.array([0.5, np.nan]), "finite numbers between 0 and 1"),
    (np.array([0, 1]), np.array([0.5, 1.5]), "finite numbers between 0 and 1"),
])
def test_bad_input_is_refused_with_a_reason(labels, p, message):
    with pytest.raises(ValueError, match=message):
        find_label_issues(labels, p)


def test_an_unknown_ranking_is_refused():
    with pytest.raises(ValueError, match="ranked_by"):
        find_label_issues(np.array([0, 1]), np.array([0.2, 0.8]), ranked_by="entropy")


def test_no_reviews_no_issues():
    issues = find_label_issues(np.zeros(0, dtype=np.int64), np.zeros(0))
    assert issues.count == 0
