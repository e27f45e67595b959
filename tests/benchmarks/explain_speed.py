"""Explaining a score with the built-in model: time for reviews of 10, 40 and 80 tokens, and how
close sampled Shapley values come to exact ones.

    python -m tests.benchmarks.explain_speed [--reviews 5] [--rounds 5] [--agreement 30]

Speed: real test reviews of the shared archive cut to their last 10, 40 and 80 tokens (the model
reads at most 80), on one BLAS thread and one core. For each length, three paths: the first
answer (``explain``: exact Shapley values, or the first sampled answer), the refined answer
(``explain_refined``: what the panel settles on and the CLI prints) and occlusion. Rounds run
every (length, path) once each, interleaved, so drift in machine load hits all; printed: the
median and range over rounds of the mean time per review, and of the slowest review.

Agreement: reviews cut to the end where 15 known words remain (one more than exact enumeration
takes by default, so ``explain`` samples), exact values by enumerating all 2^15 subsets. Printed:
the error of the first and the refined answers, how often the exact value lies within 2 stated
standard errors, sign agreement on words that matter (|exact| >= 0.1), and antithetic pairs
against as many independent permutations (same number of model rows).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import numpy as np
from threadpoolctl import threadpool_limits

from models.datasets import load_source
from models.explain import (
    OCCLUSION,
    PermutationSampler,
    coalition_logits,
    exact_shapley,
    explain,
    explain_refined,
    known_positions,
    subset_masks,
)
from models.paths import builtin_model_dirs
from models.prediction import Predictor
from models.store import ModelStore
from models.vocabulary import OOV_ID, tokenize
from tests.benchmarks.reproduce_presets import ARCHIVE, machine, spread

LENGTHS = (10, 40, 80)
AGREEMENT_WORDS = 15


def cut_to_last(tokens: list[str], count: int) -> str:
    return " ".join(tokens[-count:])


def cut_to_known(predictor: Predictor, tokens: list[str], known: int) -> str | None:
    """The shortest end of the review holding ``known`` in-vocabulary words (None if it has fewer)."""
    seen = 0
    for start in range(len(tokens) - 1, -1, -1):
        seen += predictor.vocabulary.id_of(tokens[start]) != OOV_ID
        if seen == known:
            return " ".join(tokens[start:])
    return None



def speed(predictor: Predictor, texts: list[list[str]], reviews: int, rounds: int) -> None:
    long_ones = [t for t in texts if len(t) >= max(LENGTHS)][:reviews]
    cases = {n: [cut_to_last(t, n) for t in long_ones] for n in LENGTHS}
    paths = {"first answer": explain, "refined": explain_refined,
             "occlusion": lambda p, text: explain(p, text, OCCLUSION)}
    methods = {n: [explain(predictor, text).method for text in cases[n]] for n in LENGTHS}
    answers = {(n, name): [fn(predictor, text) for text in cases[n]] for n in LENGTHS for name, fn in paths.items()}
    mean_ms: dict[tuple[int, str], list[float]] = {(n, p): [] for n in LENGTHS for p in paths}
    cpu_ms: dict[tuple[int, str], list[float]] = {(n, p): [] for n in LENGTHS for p in paths}
    worst_ms: dict[tuple[int, str], list[float]] = {(n, p): [] for n in LENGTHS for p in paths}
    for _ in range(rounds):
        for n in LENGTHS:
            for name, fn in paths.items():
                times, cpu = [], []
                for text in cases[n]:
                    started, started_cpu = time.perf_counter(), time.process_time()
                    fn(predictor, text)
                    times.append(1000 * (time.perf_counter() - started))
                    cpu.append(1000 * (time.process_time() - started_cpu))
                mean_ms[(n, name)].append(statistics.mean(times))
                cpu_ms[(n, name)].append(statistics.mean(cpu))
                worst_ms[(n, name)].append(max(times))
    print(f"{len(long_ones)} test reviews cut to their last N tokens, {rounds} interleaved rounds, "
          "one BLAS thread; median (range) over rounds.\n")
    print("| tokens | first answer by | path | permutations | largest SE | ms per review | CPU ms per review | "
          "slowest review, ms |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for n in LENGTHS:
        kinds = ", ".join(f"{m} x{methods[n].count(m)}" for m in sorted(set(methods[n])))
        for name in paths:
            found = answers[(n, name)]
            perms = [e.samples for e in found]
            perm_text = f"{min(perms)}-{max(perms)}" if max(perms) else "-"
            se = f"{max(e.max_standard_error() for e in found):.3f}" if any(e.sampled for e in found) else "-"
            print(f"| {n} | {kinds} | {name} | {perm_text} | {se} | {spread(mean_ms[(n, name)])} | "
                  f"{spread(cpu_ms[(n, name)])} | {spread(worst_ms[(n, name)])} |")
    print("\nCPU ms: the process's CPU time (one BLAS thread, the work on the calling thread): the cost on one "
          "core when other programs share the machine.")


def plain_permutations(values_of, n: int, permutations: int, seed: int) -> np.ndarray:
    """Shapley values from independent permutations (no antithetic pairs), for comparison."""
    rng = np.random.default_rng(seed)
    total = np.zeros(n)
    ends = values_of(np.array([np.ones(n, dtype=bool), np.zeros(n, dtype=bool)]))
    for _ in range(permutations):
        p = rng.permutation(n)
        rank = np.empty(n, dtype=np.int64)
        rank[p] = np.arange(n)
        keep = rank[None, :] < np.arange(1, n)[:, None]
        chain = np.concatenate([[ends[1]], values_of(keep), [ends[0]]])
        marginal = np.empty(n)
        marginal[p] = np.diff(chain)
        total += marginal
    return total / permutations


def agreement(predictor: Predictor, texts: list[list[str]], count: int) -> None:
    cases = [c for c in (cut_to_known(predictor, t, AGREEMENT_WORDS) for t in texts) if c is not None][:count]
    rows = {"first answer": [], "refined": []}
    antithetic_err, plain_err = [], []
    for text in cases:
        enc = predictor.vocabulary.encode(text, predictor.maxlen)
        positions = known_positions(enc)
        n = len(positions)

        def values_of(keep, enc=enc, positions=positions):
            return coalition_logits(predictor, enc.ids, positions, keep)

        exact = exact_shapley(values_of(subset_masks(n)), n)
        for name, e in (("first answer", explain(predictor, text)), ("refined", explain_refined(predictor, text))):
            known = [k for k, t in enumerate(e.tokens) if t.known]
            values = e.contributions()[known]
            errors = np.array(e.standard_errors)[known]
            rows[name].append((values - exact, errors, exact, e.samples))
        first_permutations = rows["first answer"][-1][3]
        sampler = PermutationSampler(values_of, n)
        sampler.run(first_permutations // 2)
        antithetic_err.append(sampler.estimate()[0] - exact)
        plain_err.append(plain_permutations(values_of, n, first_permutations, seed=1) - exact)
    print(f"\n{len(cases)} test reviews cut to their last {AGREEMENT_WORDS} known words; exact values from all "
          f"2^{AGREEMENT_WORDS} subsets.\n")
    print("| answer | permutations | mean abs error | 95th pct abs error | max abs error | "
          "exact within 2 SE | same sign where abs exact >= 0.1 |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for name, found in rows.items():
        gaps = np.concatenate([np.abs(g) for g, _, _, _ in found])
        errs = np.concatenate([s for _, s, _, _ in found])
        exact = np.concatenate([x for _, _, x, _ in found])
        values = exact + np.concatenate([g for g, _, _, _ in found])
        big = np.abs(exact) >= 0.1
        perms = [p for *_, p in found]
        print(f"| {name} | {min(perms)}-{max(perms)} | {gaps.mean():.3f} | {np.percentile(gaps, 95):.3f} | "
              f"{gaps.max():.3f} | {np.mean(gaps <= 2 * errs):.0%} | "
              f"{np.mean(np.sign(values[big]) == np.sign(exact[big])):.1%} of {int(big.sum())} |")
    rmse_a = float(np.sqrt(np.mean(np.concatenate(antithetic_err) ** 2)))
    rmse_p = float(np.sqrt(np.mean(np.concatenate(plain_err) ** 2)))
    print(f"\nSame number of rows as the first answer: antithetic pairs RMSE {rmse_a:.3f}, independent "
          f"permutations RMSE {rmse_p:.3f} (log-odds).")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reviews", type=int, default=5, help="reviews per length (default 5)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--agreement", type=int, default=30, metavar="N",
                        help="reviews for the sampled-vs-exact comparison (0: skip)")
    args = parser.parse_args()
    threadpool_limits(1, user_api="blas")
    predictor = Predictor.from_store(ModelStore(builtin=builtin_model_dirs()))
    assert predictor.engine == "numpy"
    texts = [tokenize(t) for t in load_source(str(ARCHIVE)).test.texts[:2000:7]]
    print(f"Built-in model; {machine()}.\n")
    speed(predictor, texts, args.reviews, args.rounds)
    if args.agreement:
        agreement(predictor, texts, args.agreement)
    return 0


if __name__ == "__main__":
    sys.exit(main())
