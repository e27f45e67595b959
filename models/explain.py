"""Why a review got its score: how much each word the model read pushed it, in log-odds.

The default method is the Shapley value. For a review whose known (in-vocabulary) seen
words are N, the value of a set S of them is

    v(S) = logit(P(positive | the review with every known word outside S read as unknown, id 2))

with logit(P) = log(P / (1 - P)), the log-odds: the value the network's last layer computes
before its sigmoid. Every word keeps its place; words already out of the vocabulary are read
as the unknown word in every row, so they contribute exactly 0. A word's Shapley value is its
push v(S + word) - v(S) averaged over every set S of the other words (weighted so that each
order in which the words could be added counts once). The values add up:

    sum of the contributions = v(N) - v(empty) = logit(P) - logit(baseline_probability),

where ``baseline_probability`` is P with every known word read as unknown. A positive number
pushed the score towards positive; +1 multiplies the odds of "positive" by e (about 2.7).

Why not single-word occlusion (still here, as ``method="occlusion"``): it asks "what if only
this word were unknown?". In "This was a terrible waste of time. Boring plot, awful acting."
removing "awful" while "terrible", "waste" and "boring" remain changes little, and the LSTM's
order effects decided the sign: "boring" and "awful" came out positive. The Shapley value
averages the question over every subset of the other words; on the same model they are
-0.44 and -1.00, and the pushes add up to the score's own log-odds (issue 21).

Why replace with the unknown id rather than remove the word: removal would move every earlier
word one step closer to the end (this LSTM weighs the end most) and, in a truncated review,
pull a cut word back in; the unknown id is a token the model saw all through training (about
one word in six of an IMDB review), where a padding id in the middle never occurred.

How it is computed (``coalition_logits``):

* **Exact** (``shapley-exact``) when all 2^n subsets are cheap: up to about 12 known words in a
  short review, more when the known words sit at the end. The 2^n rows differ only at the
  known positions, so they form a tree in reading order: the NumPy engine runs the padding and
  the words before the first known word once, and at each known word a row splits in two (the
  word kept, or read as unknown). 11 words cost about 2^12 row-steps instead of 2^11 x 80.
* **Sampled** (``shapley-sampled``) above that: permutations of the known words, each with
  its reverse (antithetic pairs: a word added early in one is added late in the other, which
  cancels much of the order noise). Along one permutation the words are added one at a time
  and each word's marginal is the change in v; the marginals of one permutation sum to
  v(N) - v(empty) by construction, so the average does too: the sampled values add up exactly,
  like the exact ones. The standard error of each word is the spread of the pair means over
  sqrt(pairs). The seed is fixed, so the same review always gets the same explanation. The
  first answer uses about ``FIRST_ANSWER_ROW_STEPS`` of LSTM work (under 300 ms on one core
  for an 80-token review); ``explain_stages`` then refines in rounds while the largest
  standard error is above ``TARGET_STANDARD_ERROR``.

Rows of a sample share prefixes too: sorted in reading order, each row is computed only from
the first position where it differs from the row before, starting from a copy of the state of
a row that agrees with it up to there. With the Keras engine (a model without the NumPy
engine) the same rows are scored whole through ``Predictor.probabilities``, in batches.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from models.numpy_lstm import NumpyLSTMClassifier, _sigmoid, lstm_cell
from models.prediction import Prediction, Predictor, label_of, require_text
from models.vocabulary import OOV_ID, EncodedReview, tokenize

# Machine names of the methods (Explanation.method, the CLI's "explanation_method"). The n-gram
# family's explainer uses LINEAR_EXACT with the same record.
SHAPLEY_EXACT = "shapley-exact"
SHAPLEY_SAMPLED = "shapley-sampled"
OCCLUSION = "occlusion"
LINEAR_EXACT = "linear-exact"
ADDITIVE_METHODS = frozenset({SHAPLEY_EXACT, SHAPLEY_SAMPLED, LINEAR_EXACT})
# What explain() can be asked for: "shapley" is exact or sampled as the review's size allows.
SHAPLEY = "shapley"
EXPLAIN_METHODS = (SHAPLEY, OCCLUSION)

TOP_N = 5
_EPSILON = 1e-7  # Keras' backend epsilon

# Exact enumeration while 2^n rows are affordable. Measured with the built-in model on one core
# (tests/benchmarks/explain_speed.py): a row-step (one LSTM step of one row, 128 units) costs
# about 2 microseconds of CPU in batches of hundreds of rows.
EXACT_MAX_WORDS = 14
EXACT_MAX_ROW_STEPS = 40_000
KERAS_ROW_STEP_WEIGHT = 1.5
EXACT_MAX_BYTES = 256 * 1024**2  # the rows of all subsets at once (a model with many units enumerates fewer)
FIRST_ANSWER_ROW_STEPS = 120_000  # estimated (prefix sharing does about half): about 150-250 ms on one core
MIN_PAIRS = 4  # at least this many antithetic pairs, so the standard error means something
REFINE_ROUND_ROW_STEPS = 120_000  # one background refinement round (the view updates after each)
TARGET_STANDARD_ERROR = 0.05  # in log-odds: refine while a word's standard error is larger
MAX_REFINE_ROW_STEPS = 2_400_000  # stop refining after this much work in all (a few seconds)
SEED = 21  # permutations are drawn from this seed: the same review, the same explanation


@dataclass(frozen=True)
class TokenContribution:
    token: str
    id: int  # the id the model read (2 = out of vocabulary)
    contribution: float  # this token's push on the score, in log-odds (see Explanation.method)

    @property
    def known(self) -> bool:
        return self.id != OOV_ID

    def to_json(self) -> dict[str, Any]:
        return {"token": self.token, "contribution": round(self.contribution, 6), "known": self.known}


@dataclass(frozen=True)
class Explanation:
    """One review's score and, for each token the model read (in reading order), its push in log-odds.

    Family-neutral: any explainer fills it. ``method`` is the machine name (``shapley-exact``,
    ``shapley-sampled``, ``occlusion``, ``linear-exact``); for the additive ones the
    contributions sum to logit(probability) - logit(baseline_probability).
    """

    prediction: Prediction
    tokens: list[TokenContribution]
    words_cut: int  # words at the front of the review that the model never read
    method: str
    baseline_probability: float  # P(positive) with every known word read as unknown
    standard_errors: tuple[float, ...] | None = None  # per token, for a sampled method (0 for unknown words)
    samples: int = 0  # permutations drawn (shapley-sampled); 0 otherwise
    phrases: Sequence[Any] = ()  # n-grams of several words that carry a push (models.families.ngram.Phrase)

    @property
    def probability(self) -> float:
        return self.prediction.probability

    @property
    def adds_up(self) -> bool:
        """True when the contributions sum to the difference of log-odds from the baseline to the score."""
        return self.method in ADDITIVE_METHODS

    @property
    def sampled(self) -> bool:
        return self.standard_errors is not None

    def contributions(self) -> np.ndarray:
        return np.array([t.contribution for t in self.tokens], dtype=np.float64)

    def total_push(self) -> float:
        """logit(probability) - logit(baseline_probability): what additive contributions sum to."""
        return float(logit(self.prediction.probability) - logit(self.baseline_probability))

    def standard_error(self, index: int) -> float | None:
        return None if self.standard_errors is None else self.standard_errors[index]

    def max_standard_error(self) -> float:
        return max(self.standard_errors, default=0.0) if self.standard_errors is not None else 0.0

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

        rows = [t.to_json() for t in self.tokens]
        if self.standard_errors is not None:
            for row, error in zip(rows, self.standard_errors):
                row["standard_error"] = round(error, 6)
        data = {
            "explanation_method": self.method,
            "baseline_probability": round(self.baseline_probability, 6),
            "explanation": rows,
            "top_positive": [brief(t) for t in self.top_positive()],
            "top_negative": [brief(t) for t in self.top_negative()],
            "words_cut": self.words_cut,
            **({"phrases": [p.to_json() for p in self.phrases]} if self.phrases else {}),
        }
        if self.samples:
            data["permutations"] = self.samples
        return data


# A sentence ends at ., ! or ? followed by white space, at a line break, or at an HTML line break.
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+|<\s*br\s*(?:/\s*)?>", re.IGNORECASE)


@dataclass(frozen=True)
class SentencePush:
    """One sentence of a review and the sum of its words' pushes (exact for an additive method)."""

    text: str  # the sentence as written (stripped)
    push: float  # in log-odds: the sum of the contributions of its words that the model read
    words: int  # of them the model read
    cut: bool  # the front of this sentence was cut (the model reads only the end of a long review)


def sentence_pushes(text: str, explanation: Explanation) -> list[SentencePush] | None:
    """The review's sentences that the model read (in part or whole), each with the sum of its words'
    pushes. Since Shapley values add up, a sentence's sum is its share of logit(P) - logit(baseline),
    and the sums add up to it too. None when the sentences cannot be matched to the tokens read (the
    text is not the one explained) or the method does not add up."""
    if not explanation.adds_up:
        return None
    pieces = [p.strip() for p in _SENTENCE_END.split(text)]
    pieces = [p for p in pieces if p]
    remaining = len(explanation.tokens)
    found: list[SentencePush] = []
    end = len(explanation.tokens)
    for piece in reversed(pieces):
        if remaining == 0:
            break
        tokens = tokenize(piece)
        if not tokens:
            continue
        taken = min(len(tokens), remaining)
        start = end - taken
        if [t.token for t in explanation.tokens[start:end]] != tokens[len(tokens) - taken:]:
            return None
        push = float(sum(t.contribution for t in explanation.tokens[start:end]))
        found.append(SentencePush(piece, push, taken, cut=taken < len(tokens)))
        remaining -= taken
        end = start
    return list(reversed(found)) if remaining == 0 else None


def explain(predictor: Predictor, text: str, method: str = SHAPLEY) -> Explanation:
    """Score one review and explain the score: the first answer (within the interactive budget)."""
    return explain_many(predictor, [text], method)[0]


def explain_many(predictor: Predictor, texts: Sequence[str], method: str = SHAPLEY) -> list[Explanation]:
    """Score and explain each review (first answers), as the model's family does; raises EmptyReviewError
    for an empty one."""
    require_text(texts)
    if method not in EXPLAIN_METHODS:
        raise ValueError(f"unknown explanation method {method!r} (one of {', '.join(EXPLAIN_METHODS)})")
    return predictor.family.explain(predictor, list(texts), method)


def explain_lstm(predictor: Predictor, texts: Sequence[str], method: str) -> list[Explanation]:
    """The LSTM families' explanations: Shapley values (exact or sampled) or occlusion."""
    encoded = [predictor.vocabulary.encode(t, predictor.maxlen) for t in texts]
    if method == OCCLUSION:
        return [_occlusion(predictor, e) for e in encoded]
    return [next(_shapley_stages(predictor, e)) for e in encoded]


def explain_stages(predictor: Predictor, text: str, method: str = SHAPLEY,
                   should_stop: Callable[[], bool] | None = None) -> Iterator[Explanation]:
    """The first answer, then, for a sampled one whose largest standard error is above
    TARGET_STANDARD_ERROR, a refined explanation after each background round (more
    permutations from the same seed) until the error is small or MAX_REFINE_ROW_STEPS is
    spent. Deterministic: the same review gives the same sequence. A consumer may stop at any
    time; ``should_stop`` is also checked before each round."""
    require_text([text])
    if method not in EXPLAIN_METHODS:
        raise ValueError(f"unknown explanation method {method!r} (one of {', '.join(EXPLAIN_METHODS)})")
    yield from predictor.family.explain_stages(predictor, text, method, should_stop)


def explain_lstm_stages(predictor: Predictor, text: str, method: str,
                        should_stop: Callable[[], bool] | None = None) -> Iterator[Explanation]:
    """``explain_stages`` for the LSTM families."""
    encoded = predictor.vocabulary.encode(text, predictor.maxlen)
    if method == OCCLUSION:
        yield _occlusion(predictor, encoded)
        return
    yield from _shapley_stages(predictor, encoded, should_stop)


def explain_refined(predictor: Predictor, text: str, method: str = SHAPLEY) -> Explanation:
    """The last of ``explain_stages``: what the GUI panel settles on (the CLI prints this)."""
    stages = list(explain_stages(predictor, text, method))
    return stages[-1]  # explain_stages always yields the first answer


def logit(probability):
    """log(P / (1 - P)), P clipped to Keras' epsilon (1e-7) so a float32 P of exactly 0 or 1 stays finite."""
    p = np.clip(np.asarray(probability, dtype=np.float64), _EPSILON, 1 - _EPSILON)
    return np.log(p) - np.log1p(-p)


# -- the value of a set of words ---------------------------------------------------------------


def known_positions(e: EncodedReview) -> np.ndarray:
    """Indices into the padded row of the seen tokens that are in the vocabulary (ascending)."""
    first = len(e.ids) - len(e.seen_ids)
    return np.array([first + k for k, i in enumerate(e.seen_ids) if i != OOV_ID], dtype=np.int64)


def coalition_rows(ids: np.ndarray, positions: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """One padded row per row of ``keep`` (rows x len(positions), bool): the review with the known
    word at ``positions[j]`` read as OOV_ID wherever ``keep[:, j]`` is False."""
    keep = np.asarray(keep, dtype=bool)
    rows = np.repeat(np.asarray(ids)[None, :], len(keep), axis=0)
    if len(positions):
        rows[:, positions] = np.where(keep, rows[:, positions], OOV_ID)
    return rows


def coalition_logits(predictor: Predictor, ids: np.ndarray, positions: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """v of each row of ``keep``: the log-odds of ``coalition_rows(ids, positions, keep)``.

    The NumPy engine shares prefixes (``_coalition_logits_numpy``, exact to float32 rounding);
    any other engine scores the whole rows through ``predictor.probabilities``, in blocks of
    rows so memory stays bounded."""
    keep = np.asarray(keep, dtype=bool).reshape(len(keep), len(positions))
    if predictor.family.is_numpy_engine(predictor.model):
        return _coalition_logits_numpy(predictor.model, np.asarray(ids), np.asarray(positions), keep)
    out = np.empty(len(keep), dtype=np.float64)
    block = 4096
    for start in range(0, len(keep), block):
        rows = coalition_rows(ids, positions, keep[start:start + block])
        # One call per block: a Keras call costs seconds of fixed overhead (eager, step by step), and
        # about 2 ms per row of 80 steps on top (on the development machine, busy).
        out[start:start + len(rows)] = logit(predictor.probabilities(rows, batch_size=block))
    return out


def _coalition_logits_numpy(net: NumpyLSTMClassifier, ids: np.ndarray, positions: np.ndarray,
                            keep: np.ndarray) -> np.ndarray:
    """The logits of the coalition rows, each computed only from where it differs from another.

    The distinct rows of ``keep`` are sorted in reading order (lexicographically, the earliest
    position first). Row r then agrees with row r - 1 up to the position of their first
    difference, its ``join`` step; it starts there from a copy of the state of the latest earlier
    row that is already running and agrees with it that far (the nearest earlier row whose join
    is not later). Rows are stored by join step, so the rows running at step s are a prefix of
    the arrays. The maths per step is ``NumpyLSTMClassifier._forward``'s (the tests compare).
    """
    n = len(positions)
    if len(keep) == 0:
        return np.empty(0, dtype=np.float64)
    if n == 0:  # every row is the review itself
        order = np.arange(len(keep))
        distinct = order == 0
    else:
        order = np.lexsort(keep.T[::-1])  # column 0 (the earliest known word) is the primary key
        ordered = keep[order]
        distinct = np.ones(len(ordered), dtype=bool)
        distinct[1:] = np.any(ordered[1:] != ordered[:-1], axis=1)
    unique = keep[order][distinct]
    row_of = np.cumsum(distinct) - 1  # for each sorted input row, its distinct row
    m = len(unique)
    join = np.zeros(m, dtype=np.int64)
    if m > 1:
        first_diff = np.argmax(unique[1:] != unique[:-1], axis=1)
        join[1:] = positions[first_diff]
    # source[r]: the running row r copies its state from at step join[r]: the latest q < r with
    # join[q] <= join[r] (every row between joins later, so q agrees with r up to join[r]); if q
    # joins at the same step, its own source (q's state there is not computed yet).
    source = np.zeros(m, dtype=np.int64)
    stack: list[int] = [0]
    for r in range(1, m):
        while join[stack[-1]] > join[r]:
            stack.pop()
        q = stack[-1]
        source[r] = source[q] if join[q] == join[r] and q != 0 else q
        stack.append(r)
    storage = np.argsort(join, kind="stable")  # storage slot -> distinct row
    slot_of = np.empty(m, dtype=np.int64)
    slot_of[storage] = np.arange(m)
    joins = join[storage]
    source_slot = slot_of[source[storage]]
    kept = unique[storage]

    ids = np.clip(np.asarray(ids), 0, net.vocab_size - 1)
    column_at = np.full(len(ids), -1, dtype=np.int64)
    column_at[positions] = np.arange(n)
    projected = net.projected
    u = net.units
    h = np.zeros((m, u), dtype=np.float32)
    c = np.zeros((m, u), dtype=np.float32)
    z = np.empty((m, 4 * u), dtype=np.float32)
    tanh_c = np.empty((m, u), dtype=np.float32)
    running_after = np.searchsorted(joins, np.arange(len(ids)), side="right")
    active = 1
    for s in range(len(ids)):
        live = int(running_after[s])
        if live > active:  # rows that branch off here start from the state of the row they agree with
            h[active:live] = h[source_slot[active:live]]
            c[active:live] = c[source_slot[active:live]]
        active = live
        zs = np.matmul(h[:active], net.recurrent, out=z[:active])
        col = column_at[s]
        if col >= 0:
            zs += projected[np.where(kept[:active, col], ids[s], OOV_ID)]
        else:
            zs += projected[ids[s]]
        lstm_cell(zs, h[:active], c[:active], tanh_c[:active])
    logits = (h @ net.dense_kernel + net.dense_bias).astype(np.float64).reshape(-1)
    by_distinct = np.empty(m, dtype=np.float64)
    by_distinct[storage] = logits
    out = np.empty(len(keep), dtype=np.float64)
    out[order] = by_distinct[row_of]
    return out


# -- Shapley values ------------------------------------------------------------------------------


def exact_row_steps(positions: np.ndarray, steps: int) -> int:
    """LSTM row-steps of exact enumeration with shared prefixes: 2^(known words so far) rows at each
    step from the first known word on, plus the one row before it."""
    if len(positions) == 0:
        return steps
    counts = np.searchsorted(positions, np.arange(positions[0], steps), side="right")
    return int(positions[0]) + int(np.sum(np.exp2(counts)))


def exact_shapley(values: np.ndarray, n: int) -> np.ndarray:
    """Shapley values from v of all 2^n subsets, ``values[mask]`` with bit j of mask set when word j
    is in the set: phi_j = sum over S without j of |S|! (n - |S| - 1)! / n! (v(S + j) - v(S))."""
    masks = np.arange(1 << n)
    sizes = np.zeros(1 << n, dtype=np.int64)
    for j in range(n):
        sizes += (masks >> j) & 1
    weights = np.array([math.factorial(s) * math.factorial(n - s - 1) / math.factorial(n) for s in range(n)])
    phi = np.empty(n, dtype=np.float64)
    for j in range(n):
        without = masks[((masks >> j) & 1) == 0]
        phi[j] = np.sum(weights[sizes[without]] * (values[without | (1 << j)] - values[without]))
    return phi


def subset_masks(n: int) -> np.ndarray:
    """All 2^n subsets as rows of a bool matrix: row ``mask`` keeps word j when bit j of mask is set."""
    masks = np.arange(1 << n)
    return ((masks[:, None] >> np.arange(n)[None, :]) & 1).astype(bool)


class PermutationSampler:
    """Antithetic permutation sampling of Shapley values for one review, resumable in rounds.

    Each pair is a permutation and its reverse. The per-word estimate is the mean of the pair
    means; its standard error the pairs' standard deviation over sqrt(pairs). The permutations
    come from one generator seeded with SEED, one per pair in order, so the first k pairs are
    the same however the rounds are cut."""

    def __init__(self, values_of: Callable[[np.ndarray], np.ndarray], n: int, seed: int = SEED):
        self._values_of = values_of
        self.n = n
        self._rng = np.random.default_rng(seed)
        self._pair_means: list[np.ndarray] = []
        ends = values_of(np.array([np.ones(n, dtype=bool), np.zeros(n, dtype=bool)]))
        self.v_all, self.v_empty = float(ends[0]), float(ends[1])

    @property
    def pairs(self) -> int:
        return len(self._pair_means)

    def run(self, pairs: int) -> None:
        n = self.n
        if pairs <= 0:
            return
        perms = []
        for _ in range(pairs):
            p = self._rng.permutation(n)
            perms += [p, p[::-1]]
        # For permutation p, chain row k (1..n-1) keeps the words p[0..k-1].
        rank = np.empty((len(perms), n), dtype=np.int64)
        for i, p in enumerate(perms):
            rank[i, p] = np.arange(n)
        keep = (rank[:, None, :] < np.arange(1, n)[None, :, None]).reshape(-1, n)
        inner = self._values_of(keep).reshape(len(perms), n - 1) if n > 1 else np.empty((len(perms), 0))
        chain = np.concatenate([np.full((len(perms), 1), self.v_empty), inner,
                                np.full((len(perms), 1), self.v_all)], axis=1)
        steps = np.diff(chain, axis=1)  # steps[i, k]: the push of word perms[i][k]
        marginals = np.empty((len(perms), n))
        for i, p in enumerate(perms):
            marginals[i, p] = steps[i]
        self._pair_means += list(0.5 * (marginals[0::2] + marginals[1::2]))

    def estimate(self) -> tuple[np.ndarray, np.ndarray]:
        """(Shapley values, standard errors); the values sum to v_all - v_empty to float rounding."""
        means = np.array(self._pair_means)
        phi = means.mean(axis=0)
        error = means.std(axis=0, ddof=1) / math.sqrt(len(means)) if len(means) > 1 else np.full(self.n, np.inf)
        return phi, error


def sampling_pairs(positions: np.ndarray, steps: int, row_steps: int, shared: bool = True) -> int:
    """Antithetic pairs that fit ``row_steps`` of LSTM work: a pair is 2 (n - 1) rows, each run
    from the first known word to the end at most when prefixes are shared (which makes it less),
    whole otherwise."""
    n = len(positions)
    span = steps - int(positions[0]) if n and shared else steps
    return max(MIN_PAIRS, row_steps // max(1, 2 * (n - 1) * span))


@dataclass(frozen=True)
class _Engine:
    """What a row-step costs with this predictor, against the NumPy engine on the built-in model."""

    weight: float  # built-in model NumPy row-steps per row-step
    units: int
    shared: bool  # prefixes shared (the NumPy engine) or whole rows scored (Keras)

    @classmethod
    def of(cls, predictor: Predictor) -> _Engine:
        # NumPy: the recurrent product grows with the units squared; a smaller model keeps the budgets
        # (its steps are mostly Python overhead). Keras scores whole rows (no shared prefixes), and its
        # cost is mostly a fixed overhead per call: weighed so that a first answer is one call of about
        # 1,000 rows of 80 steps, and exact enumeration stops at 8 known words (256 rows).
        if predictor.family.is_numpy_engine(predictor.model):
            return cls(max(1.0, (predictor.model.units / 128) ** 2), predictor.model.units, True)
        return cls(KERAS_ROW_STEP_WEIGHT, 128, False)


def _shapley_stages(predictor: Predictor, e: EncodedReview,
                    should_stop: Callable[[], bool] | None = None) -> Iterator[Explanation]:
    positions = known_positions(e)
    n, steps = len(positions), len(e.ids)

    def values_of(keep: np.ndarray) -> np.ndarray:
        return coalition_logits(predictor, e.ids, positions, keep)

    engine = _Engine.of(predictor)
    weight = engine.weight
    exact_bytes = (1 << n) * 6 * engine.units * 4  # float32 state, cell and gates of every subset's row
    exact_cost = exact_row_steps(positions, steps) if engine.shared else (1 << n) * steps
    if n <= EXACT_MAX_WORDS and exact_cost * weight <= EXACT_MAX_ROW_STEPS and exact_bytes <= EXACT_MAX_BYTES:
        values = values_of(subset_masks(n))
        yield _explanation(e, exact_shapley(values, n) if n else np.empty(0), values[-1], values[0], SHAPLEY_EXACT)
        return
    sampler = PermutationSampler(values_of, n)
    round_pairs = sampling_pairs(positions, steps, int(FIRST_ANSWER_ROW_STEPS / weight), engine.shared)
    sampler.run(round_pairs)
    phi, error = sampler.estimate()
    yield _explanation(e, phi, sampler.v_all, sampler.v_empty, SHAPLEY_SAMPLED, error, 2 * sampler.pairs)
    refine_pairs = sampling_pairs(positions, steps, int(REFINE_ROUND_ROW_STEPS / weight), engine.shared)
    most_pairs = sampling_pairs(positions, steps, int(MAX_REFINE_ROW_STEPS / weight), engine.shared)
    while float(np.max(error)) > TARGET_STANDARD_ERROR and sampler.pairs < most_pairs:
        if should_stop is not None and should_stop():
            return
        sampler.run(min(refine_pairs, most_pairs - sampler.pairs))
        phi, error = sampler.estimate()
        yield _explanation(e, phi, sampler.v_all, sampler.v_empty, SHAPLEY_SAMPLED, error, 2 * sampler.pairs)


# -- occlusion (an option, never the default) ----------------------------------------------------


def occlusion_rows(ids: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """The review's padded ids, then one copy per position with that id replaced by OOV_ID."""
    rows = np.repeat(np.asarray(ids)[None, :], len(positions) + 1, axis=0)
    rows[np.arange(1, len(positions) + 1), positions] = OOV_ID
    return rows


def _occlusion(predictor: Predictor, e: EncodedReview) -> Explanation:
    """Each known word's contribution = logit(P) - logit(P with only that word read as unknown).
    Not additive: with the other words of the same sign still there, one word's removal changes
    little, and the LSTM's order effects can give it the opposite sign."""
    positions = known_positions(e)
    nothing_known = np.zeros((1, len(positions)), dtype=bool)
    if predictor.family.is_numpy_engine(predictor.model):
        logits = _occlusion_numpy(predictor.model, e.ids, positions)
        empty = float(coalition_logits(predictor, e.ids, positions, nothing_known)[0])
    else:  # one call for all rows and the baseline's (a Keras call's overhead is most of its cost)
        rows = np.concatenate([occlusion_rows(e.ids, positions), coalition_rows(e.ids, positions, nothing_known)])
        both = logit(predictor.probabilities(rows, batch_size=len(rows)))
        logits, empty = both[:-1], float(both[-1])
    return _explanation(e, logits[0] - logits[1:], logits[0], empty, OCCLUSION)


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


def _explanation(e: EncodedReview, known_values: np.ndarray, full_logit: float, empty_logit: float, method: str,
                 errors: np.ndarray | None = None, samples: int = 0) -> Explanation:
    """The record: contributions of the known words in order, 0 for the unknown ones."""
    probability = float(_sigmoid(np.float64(full_logit)))
    values = iter(np.asarray(known_values, dtype=np.float64).tolist())
    errs = iter(np.asarray(errors, dtype=np.float64).tolist()) if errors is not None else None
    tokens, standard_errors = [], []
    for tok, i in zip(e.seen_tokens, e.seen_ids):
        known = i != OOV_ID
        tokens.append(TokenContribution(tok, int(i), float(next(values)) if known else 0.0))
        if errs is not None:
            standard_errors.append(float(next(errs)) if known else 0.0)
    prediction = Prediction(probability, label_of(probability), e.known_tokens, e.oov_tokens, e.truncated,
                            e.seen_tokens, e.seen_ids)
    return Explanation(prediction, tokens, words_cut=len(e.tokens) - len(e.seen_tokens), method=method,
                       baseline_probability=float(_sigmoid(np.float64(empty_logit))),
                       standard_errors=tuple(standard_errors) if errors is not None else None, samples=samples)

