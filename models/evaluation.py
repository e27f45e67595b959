"""Accuracy, loss and confusion matrix of a model on a labelled split."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from models.datasets import Dataset, Split
from models.encoding import encode_split
from models.prediction import Predictor

_EPSILON = 1e-7  # Keras' backend epsilon, used to clip probabilities in binary_crossentropy


@dataclass(frozen=True)
class EvaluationResult:
    accuracy: float
    loss: float
    n: int
    confusion: list[list[int]]  # [[tn, fp], [fn, tp]]

    def to_json(self) -> dict:
        return {"accuracy": self.accuracy, "loss": self.loss, "n": self.n, "confusion": self.confusion}


def score(labels: np.ndarray, probabilities: np.ndarray) -> EvaluationResult:
    y = labels.astype(np.float64)
    p = np.clip(probabilities, _EPSILON, 1 - _EPSILON)
    loss = float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))
    predicted = probabilities >= 0.5
    actual = labels == 1
    tn = int(np.sum(~predicted & ~actual))
    fp = int(np.sum(predicted & ~actual))
    fn = int(np.sum(~predicted & actual))
    tp = int(np.sum(predicted & actual))
    return EvaluationResult(float(np.mean(predicted == actual)), loss, len(labels), [[tn, fp], [fn, tp]])


def evaluate(predictor: Predictor, data: Dataset, split: Split | None = None) -> EvaluationResult:
    """Score the model on ``split`` (the test split by default)."""
    split = split if split is not None else data.test
    ids = encode_split(split, predictor.vocabulary, predictor.maxlen, data.keras_word_index)
    return score(split.labels, predictor.probabilities(ids))
