"""Evaluation metrics against a small example worked by hand, and the scoring pass on a tiny model."""

from __future__ import annotations

import math

import numpy as np
import pytest

from models import evaluation as ev
from models.datasets import Dataset, Split
from models.prediction import Predictor
from models.store import ModelStore
from tests.conftest import save_trained

# Six reviews, worked by hand. At threshold 0.5 the predictions are 1, 0, 0, 1, 1, 0:
# tp = {0, 4}, fn = {1}, fp = {3}, tn = {2, 5}.
LABELS = np.array([1, 1, 0, 0, 1, 0])
PROBS = np.array([0.9, 0.4, 0.35, 0.8, 0.6, 0.1])


def test_metrics_of_the_hand_worked_example():
    m = ev.metrics(LABELS, PROBS)
    assert m.confusion == [[2, 1], [1, 2]]
    assert m.n == 6 and m.threshold == 0.5
    assert m.accuracy == pytest.approx(4 / 6)
    for name in ("negative", "positive"):
        c = m.per_class[name]
        assert (c.precision, c.recall, c.f1, c.support) == pytest.approx((2 / 3, 2 / 3, 2 / 3, 3))
    # Of the 9 (positive, negative) pairs, the positive scores higher in 7: 0.9 beats all three,
    # 0.4 and 0.6 each beat 0.35 and 0.1.
    assert m.roc_auc == pytest.approx(7 / 9)
    expected_loss = -(math.log(0.9) + math.log(0.4) + math.log(0.65) + math.log(0.2) + math.log(0.6)
                      + math.log(0.9)) / 6
    assert m.log_loss == pytest.approx(expected_loss)
    assert m.to_json()["per_class"]["positive"] == {"precision": pytest.approx(2 / 3),
                                                    "recall": pytest.approx(2 / 3),
                                                    "f1": pytest.approx(2 / 3), "support": 3}


def test_moving_the_threshold_changes_the_matrix_not_the_threshold_free_figures():
    m = ev.metrics(LABELS, PROBS, threshold=0.7)
    # Predicted positive now: 0.9 and 0.8 only.
    assert m.confusion == [[2, 1], [2, 1]]
    assert m.accuracy == pytest.approx(3 / 6)
    pos, neg = m.per_class["positive"], m.per_class["negative"]
    assert (pos.precision, pos.recall) == pytest.approx((1 / 2, 1 / 3))
    assert pos.f1 == pytest.approx(2 * 0.5 * (1 / 3) / (0.5 + 1 / 3))
    assert (neg.precision, neg.recall) == pytest.approx((2 / 4, 2 / 3))
    assert m.roc_auc == pytest.approx(7 / 9) and m.log_loss == pytest.approx(ev.metrics(LABELS, PROBS).log_loss)
    # Everything at or above the threshold is positive.
    assert ev.metrics(LABELS, PROBS, threshold=0.6).confusion == [[2, 1], [1, 2]]


def test_undefined_values_are_none_not_zero():
    # Nothing predicted positive: the positive class's precision is undefined.
    m = ev.metrics(LABELS, PROBS, threshold=0.95)
    assert m.per_class["positive"].precision is None and m.per_class["positive"].f1 is None
    assert m.per_class["positive"].recall == 0.0
    # One class only: ROC AUC is undefined, and the metrics say why.
    one = ev.metrics(np.array([1, 1, 1]), np.array([0.2, 0.7, 0.9]))
    assert one.roc_auc is None and "only positive" in one.roc_auc_note
    assert one.per_class["negative"].recall is None and one.per_class["negative"].support == 0
    assert one.accuracy == pytest.approx(2 / 3)
    assert ev.roc_curve(np.array([0, 0]), np.array([0.1, 0.2])).x.size == 0
    with pytest.raises(ev.EmptyEvaluationError):
        ev.metrics(np.array([], dtype=int), np.array([]))


def test_ties_count_half_in_the_auc_and_move_together_on_the_curves():
    assert ev.roc_auc_score(np.array([1, 0]), np.array([0.5, 0.5])) == pytest.approx(0.5)
    assert ev.roc_auc_score(np.array([1, 0, 1, 0]), np.array([0.9, 0.1, 0.9, 0.1])) == pytest.approx(1.0)
    curve = ev.roc_curve(np.array([1, 0, 1, 0]), np.array([0.7, 0.7, 0.9, 0.2]))
    np.testing.assert_allclose(curve.x, [0, 0, 0.5, 1])
    np.testing.assert_allclose(curve.y, [0, 0.5, 1, 1])
    np.testing.assert_allclose(curve.thresholds[1:], [0.9, 0.7, 0.2])


def test_precision_recall_curve_and_operating_point():
    curve = ev.precision_recall_curve(LABELS, PROBS)
    # Sweeping down: 0.9 (tp), 0.8 (fp), 0.6 (tp), 0.4 (tp), 0.35 (fp), 0.1 (fp).
    np.testing.assert_allclose(curve.x, [1 / 3, 1 / 3, 2 / 3, 1, 1, 1])
    np.testing.assert_allclose(curve.y, [1, 1 / 2, 2 / 3, 3 / 4, 3 / 5, 3 / 6])
    fpr, tpr, precision = ev.operating_point(LABELS, PROBS, 0.5)
    assert (fpr, tpr, precision) == pytest.approx((1 / 3, 2 / 3, 2 / 3))


def test_calibration_bins():
    bins = ev.calibration(LABELS, PROBS, bins=2)
    low, high = bins
    # Below 0.5: 0.4 (pos), 0.35, 0.1; from 0.5: 0.9 (pos), 0.8, 0.6 (pos).
    assert (low.count, low.mean_probability, low.positive_rate) == pytest.approx((3, 0.85 / 3, 1 / 3))
    assert (high.count, high.mean_probability, high.positive_rate) == pytest.approx((3, 2.3 / 3, 2 / 3))
    assert ev.calibration(np.array([1]), np.array([1.0]), bins=4)[-1].count == 1  # 1.0 is in the last bin
    ece = ev.expected_calibration_error(bins)
    assert ece == pytest.approx((abs(0.85 / 3 - 1 / 3) + abs(2.3 / 3 - 2 / 3)) / 2)
    assert ev.calibration(LABELS, PROBS, bins=10)[2].mean_probability is None  # an empty bin


def _evaluation(lengths, maxlen=10) -> ev.Evaluation:
    lengths = np.array(lengths)
    return ev.Evaluation("m", "data", maxlen, [f"review {i}" for i in range(len(LABELS))], PROBS,
                         LABELS.astype(np.int8), lengths, lengths + 1 > maxlen)


def test_accuracy_by_length_says_what_maxlen_cuts():
    e = _evaluation([5, 8, 15, 30, 100, 9])
    buckets = ev.accuracy_by_length(e)
    assert [b.label for b in buckets] == ["0-9 tokens", "10-19 tokens", "20-39 tokens", "40-79 tokens",
                                          "80+ tokens"]
    assert [b.count for b in buckets] == [3, 1, 1, 0, 1]
    # Short reviews: indices 0 (right), 1 (wrong), 5 (right); nothing cut.
    assert buckets[0].accuracy == pytest.approx(2 / 3) and buckets[0].share_cut == 0.0
    assert buckets[1].share_cut == pytest.approx(1 - 10 / 15)  # the model read the last 10 of 15
    assert buckets[3].accuracy is None
    assert buckets[4].share_cut == pytest.approx(0.9)


def test_cells_and_misclassified_are_sorted_by_how_sure_the_model_was():
    e = _evaluation([5] * 6)
    assert e.cell(actual=0, predicted=1).tolist() == [3]  # the false positive
    assert e.cell(actual=1, predicted=1).tolist() == [0, 4]  # 0.9 before 0.6
    assert e.cell(actual=0, predicted=0).tolist() == [5, 2]  # 0.1 before 0.35
    assert e.misclassified().tolist() == [3, 1]  # 0.8 is further past 0.5 than 0.4
    assert e.misclassified(threshold=0.85).tolist() == [1, 4]  # positives at 0.4 (further below) and 0.6
    r = e.review(3)
    assert (r.text, r.probability, r.label, r.predicted(), r.length, r.cut) == ("review 3", 0.8, 0, 1, 5, False)


def test_disagreements_between_two_models():
    a = _evaluation([5] * 6)
    other = np.array([0.9, 0.6, 0.35, 0.3, 0.45, 0.1])
    b = ev.Evaluation("b", "data", 10, a.texts, other, a.labels, a.lengths, a.cut)
    # They differ on 1 (0.4 vs 0.6), 3 (0.8 vs 0.3) and 4 (0.6 vs 0.45); the widest gap first.
    assert ev.disagreements(a, b).tolist() == [3, 1, 4]
    c = ev.Evaluation("c", "data", 10, a.texts[:2], other[:2], a.labels[:2], a.lengths[:2], a.cut[:2])
    with pytest.raises(ev.UserFacingError, match="same reviews"):
        ev.disagreements(a, c)


@pytest.fixture
def tiny_predictor(tmp_path, tiny_training):
    data, result = tiny_training
    store = ModelStore(tmp_path / "store")
    save_trained(store, result, "tiny")
    return data, Predictor.from_store(store)


def test_evaluate_scores_each_review_as_predict_does(tiny_predictor):
    data, predictor = tiny_predictor
    seen = []
    result = ev.evaluate(predictor, data, on_progress=lambda done, total: seen.append((done, total)), chunk=10)
    assert result.n == len(data.test) and result.model_name == "tiny"
    assert seen[0] == (0, result.n) and seen[-1] == (result.n, result.n) and len(seen) > 3
    single = [predictor.predict(t) for t in data.test.texts[:12]]
    np.testing.assert_allclose(result.probabilities[:12], [p.probability for p in single], atol=1e-6)
    assert result.cut[:12].tolist() == [p.truncated for p in single]
    assert result.lengths[:12].tolist() == [len(predictor.vocabulary.encode(t, 80).tokens)
                                            for t in data.test.texts[:12]]
    np.testing.assert_array_equal(result.labels, data.test.labels)
    m = ev.metrics(result.labels, result.probabilities)
    assert sum(map(sum, m.confusion)) == result.n


def test_evaluate_stops_and_refuses_an_empty_split(tiny_predictor):
    data, predictor = tiny_predictor
    calls = []

    def stop():
        calls.append(1)
        return len(calls) > 2

    with pytest.raises(ev.EvaluationCancelled):
        ev.evaluate(predictor, data, should_stop=stop, chunk=8)
    assert len(calls) == 3  # checked between chunks, not only at the start
    empty = Dataset(data.train, Split(labels=np.array([], dtype=np.int8), texts=[]), "empty")
    with pytest.raises(ev.EmptyEvaluationError):
        ev.evaluate(predictor, empty)


def test_evaluate_a_split_of_keras_id_sequences(tiny_predictor):
    data, predictor = tiny_predictor
    word_index = {w: i - 3 for w, i in predictor.vocabulary.word_ids.items()}
    sequences = [[1, *[predictor.vocabulary.id_of(t) for t in predictor.vocabulary.encode(text, 500).tokens]]
                 for text in data.test.texts[:6]]
    keras_data = Dataset(data.train, Split(labels=data.test.labels[:6], sequences=sequences), "imdb", word_index)
    result = ev.evaluate(predictor, keras_data)
    from_text = ev.evaluate(predictor, data, data.test.subset(np.arange(6)))
    np.testing.assert_allclose(result.probabilities, from_text.probabilities, atol=1e-6)
    np.testing.assert_array_equal(result.lengths, from_text.lengths)
    assert result.texts[0].split()[0] in predictor.vocabulary.word_ids or result.texts[0].startswith("?")
