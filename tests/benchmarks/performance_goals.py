"""Every row of the performance goals (issue 16) in one run, each measured with its peers in
interleaved rounds by the benchmark that owns it, then printed as one table.

    python -m tests.benchmarks.performance_goals [--quick] [--accuracy]

Rows and the benchmarks behind them: training (training_speed: the tutorial's Keras, Keras + XLA,
ours), ``predict --file`` (predict_file_speed: ours against Keras + XLA predict at 512, quiet and
with one core busy), one review (prediction_speed: ours against a traced XLA function), a
1,000,000-line file (predict_stream, against the same reviews in a 25,000-line file), the GUI
(gui_training: the window's run against the CLI's, and the GUI thread's longest stalls). The
accuracy row trains 6 x 15 epochs (about 45 minutes): only with ``--accuracy``; otherwise it names
the command. ``--quick``: fewer reviews and rounds, to try the script, not to quote.
Takes about 25 minutes on 2 cores without ``--quick``; run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from types import SimpleNamespace

from tests.benchmarks import (
    gui_training,
    predict_file_speed,
    predict_stream,
    prediction_speed,
    training_accuracy,
    training_speed,
)
from tests.benchmarks.reproduce_presets import machine, spread


def med(values) -> float:
    return float(statistics.median(values))


def verdict(ok: bool) -> str:
    return "met" if ok else "**not met**"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, to try the script")
    parser.add_argument("--accuracy", action="store_true", help="also the 15-epoch, 3-seed accuracy row")
    args = parser.parse_args()
    quick = args.quick
    rows: list[tuple[str, str, str, str, str]] = []  # what, goal, peers, ours, verdict

    t = training_speed.measure(limit=2000 if quick else None, rounds=1 if quick else 3)["runs"]
    step = {name: [r["step"] * 1000 for r in runs] for name, runs in t.items()}
    epoch = {name: [r["epoch"] for r in runs] for name, runs in t.items()}
    step_x = med(step["keras-xla"]) / med(step["ours"])
    epoch_x = med(epoch["keras-xla"]) / med(epoch["ours"])
    rows.append(("training step, specified preset, batch 32 (ms)", "1.5x faster than Keras + XLA",
                 f"Keras {spread(step['keras'], '.1f')}; Keras + XLA {spread(step['keras-xla'], '.1f')}",
                 f"{spread(step['ours'], '.1f')}: {step_x:.2f}x", verdict(step_x >= 1.5)))
    rows.append(("one epoch, train + validation, compiling included (s)", "1.5x faster than Keras + XLA",
                 f"Keras {spread(epoch['keras'], '.1f')}; Keras + XLA {spread(epoch['keras-xla'], '.1f')}",
                 f"{spread(epoch['ours'], '.1f')}: {epoch_x:.2f}x", verdict(epoch_x >= 1.5)))

    if args.accuracy:
        acc = training_accuracy.measure(epochs=2 if quick else 15, limit=1000 if quick else None)
        mean = {name: {key: statistics.mean(r[key] for r in rs) for key in ("best", "final")}
                for name, rs in acc.items()}
        gap = max(abs(mean["ours"][key] - mean["keras-xla"][key]) for key in ("best", "final"))
        rows.append(("15-epoch test accuracy, mean of 3 seeds", "within 0.5 point of Keras + XLA",
                     f"best {mean['keras-xla']['best']:.4f}, final {mean['keras-xla']['final']:.4f}",
                     f"best {mean['ours']['best']:.4f}, final {mean['ours']['final']:.4f}", verdict(gap <= 0.005)))
    else:
        rows.append(("15-epoch test accuracy, mean of 3 seeds", "within 0.5 point of Keras + XLA", "-",
                     "not run here: `python -m tests.benchmarks.training_accuracy`", "-"))

    f = predict_file_speed.measure(rounds=1 if quick else 3, limit=3000 if quick else None)
    n = f["reviews"]
    for load, goal in (("quiet", 6000), ("busy", 4000)):
        ours = [n / r["seconds"] for r in f[load]["ours"]]
        peer = [n / r["seconds"] for r in f[load]["keras-xla"]]
        peer_scoring = [n / r["scoring_s"] for r in f[load]["keras-xla"]]
        rows.append((f"`predict --file`, {n:,} test reviews, {'one core kept busy' if load == 'busy' else 'quiet'} "
                     "(reviews/s)", f"at least {goal:,}/s",
                     f"Keras + XLA {spread(peer, ',.0f')} ({spread(peer_scoring, ',.0f')} after its import)",
                     spread(ours, ",.0f"), verdict(med(ours) >= goal)))

    p = prediction_speed.measure(reviews=1000 if quick else 5000, rounds=2 if quick else 5)
    one = p["one_review_ms"]
    rows.append(("one review, warm, tokenizing included (ms)", "at most 1 ms",
                 f"traced Keras + XLA {spread(one['keras traced + XLA'], '.2f')}; predict "
                 f"{spread(one['keras predict'], '.1f')}", spread(one["ours"], ".2f"),
                 verdict(med(one["ours"]) <= 1.0)))

    lines = 50_000 if quick else 1_000_000
    small, big = predict_stream.measure(25_000), predict_stream.measure(lines)
    ratio = big["reviews_per_s"] / small["reviews_per_s"]
    rows.append((f"a {lines:,}-line file", "streams; at most 400 MB; time in proportion to 25,000 lines",
                 f"25,000 lines: {small['total_s']} s, {small['reviews_per_s']:,}/s, "
                 f"{small['peak_mb_with_children']} MB",
                 f"{big['total_s']} s, {big['reviews_per_s']:,}/s ({ratio:.0%} of the rate), first line after "
                 f"{big['first_line_s']} s, {big['peak_mb_with_children']} MB with its tokenizing process "
                 f"({big['peak_mb']} MB without)",
                 verdict(big["exit"] == 0 and big["peak_mb_with_children"] <= 400 and ratio >= 0.85)))

    g = gui_training.measure(SimpleNamespace(limit=2000 if quick else 5000, epochs=1, repeats=1 if quick else 3,
                                             probe_ms=5))
    cli, gui = med(r["epoch_seconds"] for r in g["cli"]), med(r["epoch_seconds"] for r in g["gui"])
    overhead = gui / cli - 1
    rows.append(("an epoch through the GUI against the CLI (s)", "at most +5%", f"CLI {cli:.1f}",
                 f"GUI {gui:.1f}: {overhead:+.1%}", verdict(overhead <= 0.05)))
    whole = max(r["longest_stall_ms"] for r in g["gui"])
    after = max(r["epochs_longest_stall_ms"] for r in g["gui"])
    rows.append(("longest stall of the GUI thread while training (ms)", "at most 100 compiling, 50 after", "-",
                 f"{whole:.0f} over the whole run, {after:.0f} from the first batch on",
                 verdict(whole <= 100 and after <= 50)))

    print(f"\nPerformance goals{' (--quick: sizes reduced, not to quote)' if quick else ''}; {machine()}.\n")
    print("| what | goal | peers | ours | |")
    print("| --- | --- | --- | --- | --- |")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
