"""Command line for suspect labels and corrections: ``suspects`` and ``corrections mark|list|undo|export|import``.

Wiring only: the work is in models.analysis.suspects and models.corrections. Output follows app.cli's
rules: JSON lines on stdout, progress and notes on stderr, a mistake exits 2 with one line.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from models.analysis.confident_learning import RANKINGS, SELF_CONFIDENCE
from models.analysis.fold_model import DEFAULT_FOLDS

SPLIT_CHOICES = ("test", "train")
ACTION_CHOICES = ("flip", "exclude", "right")


def add_commands(sub, whole) -> None:
    """Add the ``suspects`` and ``corrections`` subcommands to app.cli's parser (``whole``: its
    whole-number argument type)."""
    suspects = sub.add_parser(
        "suspects", help="find reviews whose label looks wrong (confident learning on out-of-sample scores): one "
                         "JSON object per review, most suspect first")
    suspects.add_argument("--data", required=True, help="as for train: an aclImdb folder or .tar.gz, a .csv, ...")
    suspects.add_argument("--split", required=True, choices=SPLIT_CHOICES,
                          help="test: scored by a stored model (none trains on a test split); train: by "
                               "cross-validation with a fast bag-of-words model")
    suspects.add_argument("--model", help="stored model name or id to score with (default: for the test split, the "
                                          "most accurate stored model; for the train split, cross-validation)")
    suspects.add_argument("--limit", type=whole(1), metavar="N", help="print at most N suspects (the most suspect)")
    suspects.add_argument("--ranked-by", choices=RANKINGS, default=SELF_CONFIDENCE,
                          help="label quality to rank by (for two classes both give the same order)")
    suspects.add_argument("--folds", type=whole(2), default=DEFAULT_FOLDS, metavar="K",
                          help=f"folds of the cross-validation for the train split (default {DEFAULT_FOLDS})")

    corrections = sub.add_parser(
        "corrections", help="your verdicts on a data set's labels, kept in the app's store (never in the file): "
                            "mark, list, undo, export, import")
    actions = corrections.add_subparsers(dest="corrections_command", required=True)
    mark = actions.add_parser("mark", help="record a verdict on one review")
    _data_argument(mark)
    mark.add_argument("--split", required=True, choices=SPLIT_CHOICES)
    mark.add_argument("--row", required=True, help="the review: its file name (test/pos/123_9.txt) or CSV data row")
    mark.add_argument("--action", required=True, choices=ACTION_CHOICES,
                      help="flip: the label is wrong; exclude: not a review, leave it out; right: the label is "
                           "right, never suggest it again")
    listing = actions.add_parser("list", help="the corrections of a data set, oldest first, as JSON lines")
    _data_argument(listing)
    undo = actions.add_parser("undo", help="remove the last correction made, or the one of --row")
    _data_argument(undo)
    undo.add_argument("--row", help="the review whose correction to remove")
    undo.add_argument("--split", choices=SPLIT_CHOICES)
    export = actions.add_parser("export", help="write the corrections as CSV (split, row, action, label, at)")
    _data_argument(export)
    export.add_argument("dest", type=Path, metavar="FILE.csv")
    imp = actions.add_parser("import", help="add the corrections of a CSV written by export; bad rows are "
                                            "reported and skipped")
    _data_argument(imp)
    imp.add_argument("source", type=Path, metavar="FILE.csv")


def _data_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", required=True, help="the data set the corrections belong to (as for train)")


# -- suspects -------------------------------------------------------------------------------


def cmd_suspects(args: argparse.Namespace) -> int:
    from app.cli import _emit, _say, _store
    from models.analysis.suspects import suspect_labels
    from models.corrections import load_for
    from models.datasets import load_source

    _say(f"Loading {args.data} ...")
    data = load_source(args.data, progress=_say)  # first: 'imdb' or 'stanford' may need the download
    book, stale = load_for(args.data)
    if stale:
        _say(f"Note: {stale}")
    corrected = book.apply(data)
    if book.corrections:
        _say(f"Applied {len(book.corrections):,} corrections ({corrected.changed:,} flips or exclusions; reviews "
             "marked right are not suggested).")
    last = [-1]

    def progress(what: str, done: int, total: int) -> None:
        if what.startswith("Cross") or done == total or done * 10 // total != last[0]:
            last[0] = done * 10 // total
            _say(f"{what}: {done:,} of {total:,}" if not what.startswith("Cross") else what)

    report = suspect_labels(corrected.dataset, args.split, store=_store(), model_ref=args.model,
                            ranked_by=args.ranked_by, skip_rows=corrected.right[args.split], folds=args.folds,
                            on_progress=progress)
    shown = report.suspects[:args.limit] if args.limit else report.suspects
    for suspect in shown:
        _emit(suspect.to_json(report.model))
    right = f"; {report.marked_right:,} more are marked right" if report.marked_right else ""
    _say(f"{len(report.suspects):,} suspect labels among {report.reviews:,} {args.split} reviews (scored by "
         f"{report.model}, ranked by {report.ranked_by.replace('_', ' ')}){right}"
         + (f"; printed the first {len(shown):,}" if len(shown) < len(report.suspects) else ""))
    return 0


# -- corrections ----------------------------------------------------------------------------


def cmd_corrections(args: argparse.Namespace) -> int:
    from app.cli import _emit, _say
    from models.corrections import CorrectionsError, load_for

    book, stale = load_for(args.data)
    if stale:
        _say(f"Note: {stale}")
    for problem in book.problems[:20]:
        _say(f"Skipped a damaged entry of {book.path}: {problem}")
    command = args.corrections_command
    if command == "list":
        for correction in book.corrections:
            _emit(correction.to_json())
        counts = book.counts()
        _say(f"{len(book.corrections):,} corrections of {book.identity.name}: {counts['flip']:,} flipped, "
             f"{counts['exclude']:,} excluded, {counts['right']:,} marked right")
        return 0
    if command == "undo":
        removed = book.undo(args.split, args.row)
        book.save()
        _emit({"undone": removed.to_json(), "left": len(book.corrections)})
        return 0
    if command == "export":
        if not book.corrections:
            raise CorrectionsError(f"There are no corrections of {book.identity.name} to export.")
        count = book.export_csv(args.dest)
        _emit({"exported": count, "path": str(args.dest)})
        return 0
    from models.datasets import load_source

    data = load_source(args.data)
    if command == "mark":
        split = data.test if args.split == "test" else data.train
        correction = book.mark(split, args.split, args.row, args.action)
        book.save()
        _emit(correction.to_json())
        return 0
    result = book.import_csv(args.source, data)  # "import"
    if result.added or result.replaced:
        book.save()
    if result.problems:
        _say(f"{args.source.name}: {result.summary()}")
    _emit({"added": result.added, "replaced": result.replaced, "skipped": len(result.problems),
           "total": len(book.corrections)})
    return 0


COMMANDS = {"suspects": cmd_suspects, "corrections": cmd_corrections}


def corrected_metrics(spec: str, data, evaluation, threshold: float) -> dict:
    """``evaluate --corrections``: the metrics of the same scores on the corrected test labels (excluded
    reviews left out), with how many were flipped and excluded. Refuses a data set without corrections,
    or whose file changed since they were made."""
    from models.corrected_training import corrected_evaluation
    from models.corrections import CorrectionsError, load_for
    from models.evaluation import metrics

    book, stale = load_for(spec)
    if stale:
        raise CorrectionsError(f"{stale} Evaluate without --corrections to use the file as it is.")
    if not book.corrections:
        raise CorrectionsError(f"There are no corrections of {book.identity.name}: mark some first (suspects, "
                               "corrections mark or import), or evaluate without --corrections.")
    corrected = book.apply(data)
    fixed = corrected_evaluation(evaluation, corrected)
    if fixed is None:
        raise CorrectionsError("Every test review is excluded by the corrections: there is nothing to evaluate.")
    result = metrics(fixed.labels, fixed.probabilities, threshold)
    return {"flipped": corrected.flipped["test"], "excluded": corrected.excluded["test"], **result.to_json()}


def train_with_book(args: argparse.Namespace, config, data, on_progress, should_stop):
    """``train --corrections``: the data set's corrections applied; refuses a data set without any, or
    whose file changed since they were made. Returns (TrainingResult, summary dict for JSON and metadata)."""
    from app.cli import _say
    from models.corrected_training import train_with_corrections
    from models.corrections import CorrectionsError, load_for

    book, stale = load_for(args.data)
    if stale:
        raise CorrectionsError(f"{stale} Train without --corrections to use the file as it is.")
    if not book.corrections:
        raise CorrectionsError(f"There are no corrections of {book.identity.name}: mark some first (suspects, "
                               "corrections mark or import), or train without --corrections.")
    outcome = train_with_corrections(config, data, book, on_progress, should_stop)
    summary = outcome.summary(book)
    c = outcome.corrected
    _say(f"Corrections: {sum(c.flipped.values()):,} labels flipped, {sum(c.excluded.values()):,} reviews excluded"
         + (f", {c.not_found:,} not in the reviews used" if c.not_found else ""))
    if outcome.test_accuracy_original_labels is not None:
        fixed = outcome.test_accuracy_corrected_labels
        _say(f"Test accuracy: {outcome.test_accuracy_original_labels:.4f} on the file's labels, "
             + (f"{fixed:.4f} on the corrected ones" if fixed is not None else "no review left once corrected"))
    return outcome.result, summary
