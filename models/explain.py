"""Why a review got its score: how much each word the model read pushed it, in log-odds.

The method is occlusion. For a review whose last T tokens the model reads, T + 1
sequences are scored: the review as it is, and for each seen token the review with
that one token replaced by the out-of-vocabulary id (2). The contribution of token t is

    contribution(t) = logit(P(positive | review)) - logit(P(positive | review with t read as unknown))

with logit(P) = log(P / (1 - P)), the log-odds: the value the network's last layer computes
before its sigmoid. A positive number means the word pushed the score towards positive, a
negative one towards negative; +1 multiplies the odds of "positive" by e (about 2.7). Words
that are already out of the vocabulary contribute exactly 0: the model reads them as the
unknown word, which is what the counterfactual puts in their place. Contributions are not
additive (the LSTM is not linear).

Why log-odds rather than the difference of probabilities: probabilities saturate. In a
review the model is sure about (P = 0.008, say) removing even its most negative word moves P
by a few thousandths, so a difference of probabilities shows nearly nothing, and the little
that is left is dominated by noise: "mess" came out pushing towards positive, and on a long
negative review "terrible" and "boring" were listed as positive. The logit does not saturate,
so the same words keep their size and sign at any confidence (tests/test_explain.py checks
the signs on clearly negative and clearly positive reviews).

Why replace with the unknown id rather than remove the word (shifting the rest up):

* Replacing keeps every other token at its place. An LSTM reads left to right and this
  one weighs the end of the review most; removing a word moves every earlier word one
  step closer to the end, so the difference would mix "this word" with "everything
  before it moved", and in a truncated review it would also pull one cut word back in.
* The unknown id is a token the model saw all through training (about one word in six
  of an IMDB review is outside a 2,000-word vocabulary), so "a word the model does not
  know" is an in-distribution counterfactual; a padding id (0) in the middle of a
  review never occurred in training.
* Measured on 60 real test reviews with the built-in model, the two agree in sign on
  84% of the words where either gives more than 0.02, and removal gives function words
  ("the", "was", "and", ...) contributions about twice as large, mostly the effect of
  the shift rather than of the word.

Speed: with the NumPy engine the T + 1 sequences share their prefixes (row t equals
the review up to the replaced token), so they are run as one batch that grows along
the sequence: at step s only the review itself and the rows whose replaced token is at
or before s are computed, and a row joins from the review's own state. That is half
the work of scoring T + 1 full rows, and the same numbers (to 1e-7). A review of about
230 words (80 tokens read) takes about 10 ms on one core of the development machine
(README, "Explaining a score"). With the Keras engine the T + 1 rows are scored in one
batched call.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from models.numpy_lstm import NumpyLSTMClassifier, _sigmoid, lstm_cell
from models.prediction import Prediction, Predictor, label_of, require_text
from models.vocabulary import OOV_ID, EncodedReview

METHOD = "occlusion in log-odds: logit(P) minus logit(P with the word read as the unknown word, id 2)"
TOP_N = 5
_EPSILON = 1e-7  # Keras' backend epsilon


@dataclass(frozen=True)
class TokenContribution:
    token: str
    id: int  # the id the model read (2 = out of vocabulary)
    # In log-odds: logit(P(positive)) minus logit(P(positive) with this token read as unknown).
    contribution: float

    @property
    def known(self) -> bool:
        return self.id != OOV_ID

    def to_json(self) -> dict[str, Any]:
        return {"token": self.token, "contribution": round(self.contribution, 6), "known": self.known}


@dataclass(frozen=True)
class Explanation:
    """One review's score and, for each token the model read (in reading order), its contribution."""

    prediction: Prediction
    tokens: list[TokenContribution]
    words_cut: int  # words at the front of the review that the model never read
    method: str = METHOD
    # P(positive) the contributions are measured from (the n-gram family: the bias alone), when there is one.
    baseline_probability: float | None = None
    phrases: Sequence[Any] = ()  # n-grams of several words that carry a push (models.families.ngram.Phrase)

    @property
    def probability(self) -> float:
        return self.prediction.probability

    def contributions(self) -> np.ndarray:
        return np.array([t.contribution for t in self.tokens], dtype=np.float64)

    def without(self, index: int) -> float:
        """P(positive) with token ``index`` read as the unknown word."""
        return float(_sigmoid(np.float64(logit(self.prediction.probability) - self.tokens[index].contribution)))

    def top_positive(self, n: int = TOP_N) -> list[TokenContribution]:
        """The n tokens that pushed the score up most, largest first (only positive contributions)."""
        ranked = sorted((t for t in self.tokens if t.contribution > 0), key=lambda t: -t.contribution)
        return ranked[:n]

    def top_negative(self, n: int = TOP_N) -> list[TokenContribution]:
        """The n tokens that pushed the score down most, most negative first."""
        ranked = sorted((t for t in self.tokens if t.contribution < 0), key=lambda t: t.contribution)
        return ranked[:n]

    def to_json(self) -> dict[str, Any]:
        def brief(t: TokenContribution) -> dict[str, Any]:
            return {"token": t.token, "contribution": round(t.contribution, 6)}

        return {
            "explanation": [t.to_json() for t in self.tokens],
            "top_positive": [brief(t) for t in self.top_positive()],
            "top_negative": [brief(t) for t in self.top_negative()],
            "words_cut": self.words_cut,
            "method": self.method,
            "baseline_probability": None if self.baseline_probability is None else round(self.baseline_probability, 6),
            **({"phrases": [p.to_json() for p in self.phrases]} if self.phrases else {}),
        }


def explain(predictor: Predictor, text: str) -> Explanation:
    """Score one review and explain the score (one batched forward pass)."""
    return explain_many(predictor, [text])[0]


def explain_many(predictor: Predictor, texts: Sequence[str]) -> list[Explanation]:
    """Score and explain each review, as the model's family does; raises EmptyReviewError for an empty one."""
    require_text(texts)
    return predictor.family.explain(predictor, list(texts))


def explain_by_occlusion(predictor: Predictor, texts: Sequence[str]) -> list[Explanation]:
    """The LSTM family's explanations: occlusion in log-odds (this module's docstring)."""
    encoded = [predictor.vocabulary.encode(t, predictor.maxlen) for t in texts]
    if predictor.family.is_numpy_engine(predictor.model):
        logits = [_occlusion_numpy(predictor.model, e.ids, _occluded_positions(e)) for e in encoded]
    else:
        logits = [logit(p) for p in _occlusion_batched(predictor, encoded)]
    return [_explanation(e, z) for e, z in zip(encoded, logits)]


def logit(probability):
    """log(P / (1 - P)), P clipped to Keras' epsilon (1e-7) so a float32 P of exactly 0 or 1 stays finite."""
    p = np.clip(np.asarray(probability, dtype=np.float64), _EPSILON, 1 - _EPSILON)
    return np.log(p) - np.log1p(-p)


def _occluded_positions(e: EncodedReview) -> np.ndarray:
    """Indices into the padded row of the seen tokens that are in the vocabulary (ascending)."""
    first = len(e.ids) - len(e.seen_ids)
    return np.array([first + k for k, i in enumerate(e.seen_ids) if i != OOV_ID], dtype=np.int64)


def occlusion_rows(ids: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """The review's padded ids, then one copy per position with that id replaced by OOV_ID."""
    rows = np.repeat(np.asarray(ids)[None, :], len(positions) + 1, axis=0)
    rows[np.arange(1, len(positions) + 1), positions] = OOV_ID
    return rows


def _occlusion_batched(predictor: Predictor, encoded: list[EncodedReview]) -> list[np.ndarray]:
    """Any engine: all rows of all reviews through ``predictor.probabilities`` in batches."""
    blocks = [occlusion_rows(e.ids, _occluded_positions(e)) for e in encoded]
    flat = predictor.probabilities(np.concatenate(blocks)) if blocks else np.empty(0)
    out, start = [], 0
    for block in blocks:
        out.append(flat[start:start + len(block)])
        start += len(block)
    return out


def _occlusion_numpy(net: NumpyLSTMClassifier, ids: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """The logits (log-odds of positive) of ``occlusion_rows(ids, positions)``, sharing the common prefixes.

    Row 0 is the review; row r (r >= 1) equals it up to ``positions[r - 1]``, so it is
    computed only from there on, starting from row 0's state. The maths is
    ``NumpyLSTMClassifier.__call__`` step for step (the tests compare the two).
    """
    ids = np.clip(np.asarray(ids), 0, net.vocab_size - 1)
    projected = net.projected  # (vocab, 4U): embedding row times input kernel plus bias, engine layout
    u = net.units
    rows = len(positions) + 1
    h = np.zeros((rows, u), dtype=np.float32)
    c = np.zeros((rows, u), dtype=np.float32)
    z_in = np.empty((rows, 4 * u), dtype=np.float32)
    tanh_c = np.empty((rows, u), dtype=np.float32)
    # Rows 1..active-1 are live after step s: their replaced token is at or before s.
    joins = np.searchsorted(positions, np.arange(len(ids)), side="right") + 1
    active = 1
    for s in range(len(ids)):
        live = int(joins[s])
        if live > active:  # rows whose token is replaced here start from the review's state
            h[active:live] = h[0]
            c[active:live] = c[0]
            z_in[active:live] = projected[OOV_ID]
        z_in[0] = projected[ids[s]]
        z_in[1:active] = projected[ids[s]]
        active = live
        z = h[:active] @ net.recurrent
        z += z_in[:active]
        lstm_cell(z, h[:active], c[:active], tanh_c[:active])
    logits = h @ net.dense_kernel + net.dense_bias
    return logits.astype(np.float64).reshape(-1)  # the exact log-odds, before the sigmoid


def _explanation(e: EncodedReview, logits: np.ndarray) -> Explanation:
    base = float(_sigmoid(np.float64(logits[0])))
    drops = iter(logits[0] - logits[1:])
    tokens = [TokenContribution(tok, int(i), 0.0 if i == OOV_ID else float(next(drops)))
              for tok, i in zip(e.seen_tokens, e.seen_ids)]
    prediction = Prediction(base, label_of(base), e.known_tokens, e.oov_tokens, e.truncated,
                            e.seen_tokens, e.seen_ids)
    return Explanation(prediction, tokens, words_cut=len(e.tokens) - len(e.seen_tokens))
