"""Suspect labels: how many deliberately flipped labels confident learning puts among its first suspects.

    python -m tests.benchmarks.suspects_recall [--flips 300] [--top 600] [--trials 5] [--cv]

The shared archive's test split, with ``--flips`` labels flipped at random (seed = trial number), scored
out of sample by the built-in LSTM (trained on the train split): how many flipped reviews are among the
first ``--top`` suspects, ranked by self-confidence and by normalized margin (models.analysis.
confident_learning), against "every review sorted by self-confidence" with no confident-learning filter.
The split's own label errors (about 2.9% of IMDB's test labels, Northcutt et al. 2021) compete for the
same places, so a perfect score is not expected. The flips do not change the texts, so the split is
scored once; each trial re-ranks. Times: reading the archive, scoring, one ranking (median and range
over the trials). ``--cv`` adds the test split scored by the bag-of-words model of models.analysis.fold_model
trained on the train split (what a more accurate stored model brings), and the training-split route: the
same number of flips in the train split, scored by 5-fold cross-validation of that model.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from models.analysis.confident_learning import NORMALIZED_MARGIN, SELF_CONFIDENCE, find_label_issues, label_quality
from models.analysis.fold_model import BagOfWordsLogistic, cross_validated_probabilities
from models.datasets import Split, load_source
from models.evaluation import evaluate
from models.paths import builtin_model_dirs
from models.prediction import Predictor
from models.store import ModelStore
from tests.benchmarks.reproduce_presets import ARCHIVE, machine


def spread(values: list[float], digits: int = 2, unit: str = " s") -> str:
    return (f"{statistics.median(values):.{digits}f}{unit} (range {min(values):.{digits}f}-"
            f"{max(values):.{digits}f}{unit})")


def flipped_labels(labels: np.ndarray, flips: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    chosen = rng.choice(labels.shape[0], size=flips, replace=False)
    noisy = labels.copy()
    noisy[chosen] = 1 - noisy[chosen]
    return noisy, chosen


def found_in_top(ranked: np.ndarray, flipped: np.ndarray, top: int) -> int:
    return int(np.isin(ranked[:top], flipped).sum())


def trials(probabilities: np.ndarray, labels: np.ndarray, args) -> None:
    results: dict[str, list[int]] = {SELF_CONFIDENCE: [], NORMALIZED_MARGIN: [], "sorted, no filter": []}
    flagged: list[int] = []
    rank_seconds: list[float] = []
    for trial in range(args.trials):
        noisy, flipped = flipped_labels(labels, args.flips, seed=trial)
        for ranked_by in (SELF_CONFIDENCE, NORMALIZED_MARGIN):
            started = time.perf_counter()
            issues = find_label_issues(noisy, probabilities, ranked_by=ranked_by)
            if ranked_by == SELF_CONFIDENCE:
                rank_seconds.append(time.perf_counter() - started)
                flagged.append(issues.count)
            results[ranked_by].append(found_in_top(issues.ranked, flipped, args.top))
        plain = np.argsort(label_quality(noisy, probabilities), kind="stable")
        results["sorted, no filter"].append(found_in_top(plain, flipped, args.top))
    print(f"  flagged by confident learning: {spread([float(f) for f in flagged], 0, '')} of {len(labels):,}")
    for name, counts in results.items():
        share = [c / args.flips for c in counts]
        print(f"  flips among the first {args.top} suspects, {name}: {spread([float(c) for c in counts], 0, '')} "
              f"of {args.flips} = {spread([100 * s for s in share], 1, '%')}  (per trial: {counts})")
    print(f"  one ranking (thresholds, confident joint, pruning, sort): {spread(rank_seconds, 3)}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flips", type=int, default=300)
    parser.add_argument("--top", type=int, default=600)
    parser.add_argument("--trials", type=int, default=5, help="random sets of flips (seeds 0, 1, ...)")
    parser.add_argument("--cv", action="store_true", help="also the training split, by cross-validation")
    args = parser.parse_args()
    print(machine())

    started = time.perf_counter()
    data = load_source(str(ARCHIVE))
    print(f"Reading the archive: {time.perf_counter() - started:.1f} s")

    predictor = Predictor.from_store(ModelStore(builtin=builtin_model_dirs()))
    started = time.perf_counter()
    probabilities = evaluate(predictor, data).probabilities
    scoring = time.perf_counter() - started
    print(f"Test split, {len(data.test):,} reviews, scored by {predictor.name} ({predictor.engine} engine) in "
          f"{scoring:.1f} s; {args.flips} labels flipped at random, {args.trials} trials:")
    trials(probabilities, data.test.labels.astype(np.int64), args)

    if args.cv:
        # What a more accurate stored model would bring to the test split: the bag-of-words model
        # trained on the whole train split (0.90 against the LSTM's 0.83), scoring the test split.
        family = BagOfWordsLogistic()
        started = time.perf_counter()
        both = Split(labels=np.concatenate([data.train.labels, data.test.labels]),
                     texts=[*data.train.texts, *data.test.texts])
        n_train = len(data.train)
        bow = family.fit_predict(family.prepare(both), np.arange(n_train), data.train.labels,
                                 np.arange(n_train, len(both)), lambda: False)
        print(f"Test split scored by the bag-of-words model trained on the train split (accuracy "
              f"{np.mean((bow >= 0.5) == (data.test.labels == 1)):.4f}, {time.perf_counter() - started:.0f} s):")
        trials(bow, data.test.labels.astype(np.int64), args)

        labels = data.train.labels.astype(np.int64)
        found: list[int] = []
        seconds: list[float] = []
        for trial in range(min(args.trials, 2)):  # each trial trains five models
            noisy, flipped = flipped_labels(labels, args.flips, seed=trial)
            started = time.perf_counter()
            probs = cross_validated_probabilities(Split(labels=noisy.astype(np.int8), texts=data.train.texts))
            issues = find_label_issues(noisy, probs)
            seconds.append(time.perf_counter() - started)
            found.append(found_in_top(issues.ranked, flipped, args.top))
            print(f"  train split, trial {trial}: {found[-1]} of {args.flips} flips among the first {args.top} "
                  f"({issues.count:,} flagged); out-of-fold accuracy on the true labels "
                  f"{np.mean((probs >= 0.5) == labels):.4f}; {seconds[-1]:.0f} s", flush=True)
        print(f"Train split by 5-fold cross-validation (bag-of-words logistic regression): "
              f"{spread([float(f) for f in found], 0, '')} of {args.flips} flips among the first {args.top}; "
              f"{spread(seconds, 0)} each (features, five fits, ranking)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
