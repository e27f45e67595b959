"""Command line: ``python -m app [train|predict|evaluate|models|suspects|corrections|gui]``; no subcommand
starts the GUI (suspects and corrections are wired in app/cli_corrections.py).

Results go to stdout as JSON, and nothing else does (one object per line, or one list
for ``models``), so the output pipes into ``jq``; progress goes to stderr as readable lines,
with a live bar when it is a terminal. A mistake the user can fix exits with status 2 and
one line on stderr: a bad argument (checked here, with its range), a file that cannot be
used, a store that cannot be written (a trained model is then kept in another folder, named
in that line).
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import itertools
import json
import math
import signal
import sys
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from app.cli_corrections import COMMANDS as CORRECTION_COMMANDS
from app.cli_corrections import add_commands as add_correction_commands
from app.formatting import format_clock
from models.config import DEFAULT_PRESET, DEFAULT_THRESHOLD, PRESETS, SPECIFIED_MAXLEN, preset, preset_label
from models.errors import NoWordsError, StoreWriteError, UserFacingError

EXIT_USER_ERROR = 2


def _whole(low: int | None = None, why: str = ""):
    """An argparse type: a whole number, at least ``low`` (the ranges of hyperparameters are
    TrainingConfig's, checked with the others before any data is read)."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if low is not None and value < low:
            raise argparse.ArgumentTypeError(f"must be at least {low}{f' ({why})' if why else ''}; got {value}")
        return value

    parse.__name__ = "whole number"
    return parse


def _finite(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number; got {text!r}")
    return value


# CLI flag -> TrainingConfig field, for overriding single hyperparameters of a preset.
_OVERRIDES = {
    "vocab_size": _whole(), "maxlen": _whole(), "embedding_dim": _whole(), "lstm_units": _whole(),
    "dropout": _finite, "recurrent_dropout": _finite, "batch_size": _whole(), "epochs": _whole(),
    "learning_rate": _finite, "seed": _whole(), "validation_split": _finite,
    # the n-gram family's (models.config.FAMILY_FIELDS)
    "ngrams": _whole(), "max_features": _whole(), "patience": _whole(),
}
_CHOICES = {"weighting": ("multi_hot", "tf_idf"), "scaling": ("none", "nbsvm")}


class _Parser(argparse.ArgumentParser):
    """argparse with its usage errors on one line (exit status 2, as for every other mistake)."""

    def error(self, message: str):  # type: ignore[override]
        print(f"error: {self.prog}: {message} (see {self.prog} --help)", file=sys.stderr)
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="sentiment-studio",
        description="Train an LSTM sentiment model on IMDB reviews and score your own. "
                    "With no command, the desktop app starts.",
    )
    parser.add_argument("--self-test", action="store_true",
                        help="check that this installation or bundle works (built-in model, both engines, "
                             "a tiny training run, the main window offscreen), then exit 0 or 1")
    sub = parser.add_subparsers(dest="command")

    sub.add_parser("gui", help="start the desktop app (the default)")

    train = sub.add_parser("train", help="train a model and save it to the store")
    train.add_argument("--data", required=True,
                       help="'imdb' (Keras download), 'stanford' (archive download), an aclImdb folder or "
                            ".tar.gz, or a .csv with text and label columns")
    train.add_argument("--preset", default=DEFAULT_PRESET, metavar="NAME",
                       help=f"hyperparameter preset: {', '.join(PRESETS)} (default: {DEFAULT_PRESET}, the "
                            "specified model)")
    train.add_argument("--limit", type=_whole(2, "one review of each label"),
                       help="use at most N reviews per split (balanced), for a quick run")
    train.add_argument("--name", help="name in the model store (default: the preset and date)")
    train.add_argument("--validation", choices=["split", "test"],
                       help="which reviews choose the best epoch: split (the default: a part of the training "
                            "reviews held out; the test split is scored once at the end) or test (the tutorials' "
                            "way: the test split itself, so the test accuracy is optimistic)")
    train.add_argument("--no-xla", action="store_true", help="run the train and test steps without XLA compilation")
    train.add_argument("--keras-lstm", action="store_true",
                       help="train with keras.layers.LSTM's own loop instead of the fused one (same maths, slower)")
    train.add_argument("--corrections", action="store_true",
                       help="apply your corrections of this data set (see corrections): flipped labels are learnt "
                            "as corrected, excluded reviews left out; the test accuracy is given on both labellings")
    train.add_argument("--output", type=Path, metavar="DIR",
                       help="where to keep the trained model if the model store cannot take it (default: a new "
                            "folder in the temporary folder, named in the message)")
    for name, kind in _OVERRIDES.items():
        train.add_argument(f"--{name.replace('_', '-')}", type=kind, dest=name,
                           metavar="X" if kind is _finite else "N")
    for name, choices in _CHOICES.items():
        train.add_argument(f"--{name}", choices=choices, dest=name,
                           help="the n-gram family's " + ("feature values" if name == "weighting" else
                                                          "feature scaling (nbsvm: Wang and Manning's log-count "
                                                          "ratio)"))

    predict = sub.add_parser("predict", help="score reviews: one JSON object per review")
    predict.add_argument("--model", help="stored model name, id or folder (default: the newest)")
    predict.add_argument("--file", type=Path, help="a .txt with one review per line, or a .csv with a text column; "
                                                  "read, scored and printed in chunks, whatever its length")
    predict.add_argument("--output", type=Path, metavar="FILE",
                         help="write the JSON lines to FILE (whole or not at all) instead of stdout")
    predict.add_argument("text", nargs="*", help="review texts; with none and no --file, lines from stdin")
    predict.add_argument("--explain", action="store_true",
                         help="add each word's push on the score in log-odds, in reading order, and the top words "
                              "each way; the pushes add up to logit(probability) - logit(baseline_probability)")
    predict.add_argument("--explain-method", choices=("shapley", "occlusion"),
                         help="how --explain computes the pushes (implies --explain): shapley (the default: exact for "
                              "short reviews, sampled with standard errors above that) or occlusion (one word at a "
                              "time; does not add up)")

    evaluate = sub.add_parser(
        "evaluate", help="score a data set's test split once: one JSON object with accuracy, ROC AUC, log loss, the "
                         "confusion matrix and per-class precision, recall and F1")
    evaluate.add_argument("--model", help="stored model name, id or folder (default: the newest)")
    evaluate.add_argument("--data", required=True, help="as for train")
    evaluate.add_argument("--limit", type=_whole(1), help="use at most N test reviews (balanced)")
    evaluate.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD, metavar="T",
                          help=f"predict positive when P(positive) >= T (default {DEFAULT_THRESHOLD:g}; "
                               "between 0 and 1)")
    evaluate.add_argument("--corrections", action="store_true",
                          help="also give the metrics on your corrected labels (see corrections): flipped labels "
                               "as corrected, excluded reviews left out, under \"corrected_labels\"")
    evaluate.add_argument("--misclassified", type=Path, metavar="FILE.csv",
                          help="write every review the model got wrong, the most confidently wrong first, with its "
                               "true label and probability")

    sub.add_parser("models", help="list stored models as JSON")
    add_correction_commands(sub, _whole)

    rename = sub.add_parser("rename", help="rename a stored model, as the Models tab does")
    rename.add_argument("model", metavar="NAME", help="stored model name or id")
    rename.add_argument("new_name", metavar="NEW_NAME", help="its new name (a taken name gets a number)")
    delete = sub.add_parser("delete", help="delete a stored model, as the Models tab does (not the built-in one)")
    delete.add_argument("model", metavar="NAME", help="stored model name or id")

    imp = sub.add_parser("import", help="add a model file to the store: a Keras .keras/.h5 model (e.g. the IMDB "
                                        "tutorial's) or a Sentiment Studio .ssmodel file")
    imp.add_argument("model_file", type=Path, metavar="MODEL_FILE",
                     help="a .keras or .h5 model taking word ids and giving one sigmoid probability, or a .ssmodel")
    imp.add_argument("--word-index", type=Path, metavar="FILE",
                     help="the word index the model was trained with: Keras' imdb_word_index.json format (word -> "
                          "rank from 1) or a Sentiment Studio vocabulary.json (default: Keras' IMDB word index "
                          "from the Keras cache, else downloaded)")
    imp.add_argument("--maxlen", type=_whole(1), metavar="N",
                     help=f"tokens per review when the model has no fixed input length (default: {SPECIFIED_MAXLEN})")
    imp.add_argument("--name", help="name in the model store (default: the file name)")

    exp = sub.add_parser("export", help="write a stored model as one .ssmodel file, for plain Keras, or as a "
                                              "SavedModel taking raw text (--saved-model)")
    exp.add_argument("model", metavar="NAME", help="stored model name, id or folder")
    exp.add_argument("dest", type=Path, metavar="DEST",
                     help="the .ssmodel file (or a folder to put it in); with --format keras, the folder to write")
    exp.add_argument("--format", choices=["ssmodel", "keras"],
                     help="ssmodel (default): one file for Sentiment Studio; keras: model.keras, word_index.json "
                          "(Keras' IMDB format) and README.txt with the lines of plain Keras that score a review")
    exp.add_argument("--saved-model", action="store_true",
                     help="write DEST as a TensorFlow SavedModel that takes raw review text (signature "
                          "serving_default: text -> probability, label, words), for TensorFlow Serving or Beam; the "
                          "tokenizer runs inside it, so it needs nothing of Sentiment Studio")
    exp.add_argument("--force", action="store_true", help="replace existing files")

    beam = sub.add_parser(
        "beam-predict", help="score review files at scale with Apache Beam (the [beam] extra) and a SavedModel from "
                             "export --saved-model; any further --options go to Beam (runner, project, workers)")
    beam.add_argument("--saved-model", required=True, metavar="DIR", help="the SavedModel folder (local or gs://...)")
    beam.add_argument("--input", required=True, metavar="PATTERN",
                      help="files to score: text (one review per line), .csv/.tsv with a text column, or JSON lines "
                           "(.jsonl) with a text field; a glob such as 'reviews/*.txt' or 'gs://bucket/in/*.csv'")
    beam.add_argument("--output", required=True, metavar="PREFIX",
                      help="scores go to PREFIX-00000-of-0000N.jsonl, bad lines with the reason to "
                           "PREFIX-errors-00000-of-0000N.jsonl")
    beam.add_argument("--format", choices=["auto", "text", "csv", "jsonl"], default="auto",
                      help="how to read the input (default: by each file's suffix, else text)")
    beam.add_argument("--text-column", metavar="NAME", help="the CSV column or JSON field holding the review "
                                                            "(default: text, review, sentence, content or comment)")
    beam.add_argument("--batch-size", type=_whole(1), default=256, metavar="N",
                      help="reviews per model call, at most (default 256)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    args.beam_args = extra
    if extra and args.command != "beam-predict":
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if args.self_test:
        from app.self_test import run_self_test

        return run_self_test()
    if args.command in (None, "gui"):
        from app.gui import run_gui

        return run_gui()
    _exit_cleanly_on_termination()
    try:
        return {"train": cmd_train, "predict": cmd_predict, "evaluate": cmd_evaluate, "models": cmd_models,
                "import": cmd_import, "export": cmd_export, "rename": cmd_rename, "delete": cmd_delete,
                "beam-predict": cmd_beam_predict, **CORRECTION_COMMANDS}[args.command](args)
    except UserFacingError as exc:
        print(f"error: {' '.join(str(exc).split())}", file=sys.stderr)
        return EXIT_USER_ERROR
    except OSError as exc:  # a path the checks in models/ did not see (e.g. too long for the file system)
        from models.bounded_io import os_error_reason

        where = f" ({exc.filename})" if exc.filename else ""
        print(f"error: {os_error_reason(exc)}{where}.", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        return 130


def _exit_cleanly_on_termination() -> None:
    """SIGTERM and SIGHUP (a service manager, a closed terminal) end a command as Ctrl+C does, through
    its cleanup: by default they end the process at once, and ``evaluate --misclassified`` left its
    temporary file behind (models.atomic_write removes it on the way out). Status 128 + the signal."""
    if threading.current_thread() is not threading.main_thread():
        return

    def terminate(signum, frame):
        raise SystemExit(128 + signum)

    for name in ("SIGTERM", "SIGHUP"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), terminate)


def _store():
    from models.paths import builtin_model_dirs
    from models.store import ModelStore

    return ModelStore(builtin=builtin_model_dirs())


def _emit(obj) -> None:
    print(json.dumps(obj), flush=True)


# -- train --------------------------------------------------------------------------------


def cmd_train(args: argparse.Namespace) -> int:
    from models.datasets import load_source, resolved_source
    from models.training import run_metadata, train

    chosen = preset(args.preset)
    changes = {name: getattr(args, name) for name in (*_OVERRIDES, *_CHOICES) if getattr(args, name) is not None}
    if args.validation:
        changes["validation"] = args.validation
    if args.no_xla:
        changes["jit_compile"] = False
    if args.keras_lstm:
        changes["fused_lstm"] = False
    used = chosen.config.fields_used
    foreign = [name for name in changes if name not in used]
    if foreign:
        flags = ", ".join("--" + {"jit_compile": "no-xla", "fused_lstm": "keras-lstm"}.get(n, n).replace("_", "-")
                          for n in foreign)
        raise UserFacingError(f"{flags} {'is not a setting' if len(foreign) == 1 else 'are not settings'} of the "
                              f"{chosen.config.family} family (preset {args.preset}); its settings are: "
                              f"{', '.join(n.replace('_', '-') for n in used)}.")
    config = chosen.config.with_changes(**changes).validated()

    source = resolved_source(args.data)  # recorded as a path that works from any folder, not as typed
    _say(f"Loading {source} ...")
    data = load_source(source, progress=_say, limit=args.limit)  # a CSV: limited while it is read
    s = data.summary()
    _say(f"Data: {s['train']:,} train ({s['train_positive']:,} positive), "
         f"{s['test']:,} test ({s['test_positive']:,} positive)")

    stop = threading.Event()

    def request_stop(signum, frame):  # first Ctrl+C: stop cleanly and keep the finished epochs
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        print("\nStopping after this batch (Ctrl+C again to abort) ...", file=sys.stderr, flush=True)

    previous = signal.signal(signal.SIGINT, request_stop)
    corrections = None
    try:
        if args.corrections:
            from app.cli_corrections import train_with_book

            result, corrections = train_with_book(args, config, data, _ConsoleProgress(), stop.is_set)
        else:
            result = train(config, data, on_progress=_ConsoleProgress(), should_stop=stop.is_set)
    finally:
        signal.signal(signal.SIGINT, previous)
    if result.epochs_completed == 0:
        raise UserFacingError("Training stopped before the first epoch finished; nothing was saved.")
    recorded_preset = preset_label(chosen.name, config)  # as the window records it: "custom (from ...)"
    name = args.name or f"{recorded_preset} {Path(result.data_summary['source']).name}"
    metadata = run_metadata(result, recorded_preset, corrections=corrections)
    store = _store()
    try:
        info = store.save(result.model, result.vocabulary, metadata, name)
    except StoreWriteError as exc:
        raise UserFacingError(_keep_elsewhere(result, metadata, name, args.output, store.root, exc.reason)) from None
    _say(f"Saved as {info.name!r} in {info.path}")
    _emit({"name": info.name, "id": info.id, **result.summary(),
           **({"corrections": corrections} if corrections is not None else {})})
    return 0


def _keep_elsewhere(result, metadata, name: str, output: Path | None, root: Path, reason: str) -> str:
    """Save a trained model the store could not take in ``output`` (or a new temporary folder);
    the one-line message says where, and how to use it."""
    import tempfile

    from models.store import ModelStore

    try:
        folder = output.expanduser() if output is not None else Path(
            tempfile.mkdtemp(prefix="sentiment-studio-unsaved-"))
        kept = ModelStore(folder).save(result.model, result.vocabulary, metadata, name)
    except (UserFacingError, OSError) as exc:
        return (f"Could not save the model in {root} ({reason}), nor in {output or 'a temporary folder'} "
                f"({getattr(exc, 'strerror', None) or exc}); the trained model is lost. Give a writable folder "
                "with --output DIR.")
    return (f"Could not save the model in {root} ({reason}). It was kept in {kept.path} instead: score with "
            f"--model {kept.path}, or copy that folder into {root} once it is writable.")


def _say(message: str) -> None:
    """Progress for a person: on stderr, so stdout carries only JSON (``... | jq`` works)."""
    print(message, file=sys.stderr, flush=True)


class _ConsoleProgress:
    """Epoch lines on stderr, with a live batch bar when stderr is a terminal (stdout is for JSON)."""

    def __init__(self) -> None:
        self.live = sys.stderr.isatty()

    def __call__(self, p) -> None:
        from models import training as t

        if p.phase == t.TRAINING and self.live:
            width = 30
            filled = int(width * p.batch / max(1, p.batches))
            eta = f" ETA {format_clock(p.eta_seconds)}" if p.eta_seconds is not None else ""
            acc = p.logs.get("accuracy")
            print(f"\rEpoch {p.epoch}/{p.epochs} [{'=' * filled}{'.' * (width - filled)}] "
                  f"{p.batch}/{p.batches} acc {acc:.3f} {p.samples_per_second:.0f}/s{eta}   "
                  if acc is not None else "", end="", file=sys.stderr, flush=True)
        elif p.phase == t.EPOCH_END:
            if self.live:
                print("\r" + " " * 100 + "\r", end="", file=sys.stderr)
            lg = p.logs
            _say(f"Epoch {p.epoch}/{p.epochs}: loss {lg.get('loss', 0):.4f} acc {lg.get('accuracy', 0):.4f} "
                 f"val_loss {lg.get('val_loss', 0):.4f} val_acc {lg.get('val_accuracy', 0):.4f} "
                 f"({p.elapsed_seconds:.0f} s elapsed)")
        elif p.phase in (t.PREPARING, t.EVALUATING) and p.message:
            _say(p.message + " ...")


# -- predict ------------------------------------------------------------------------------


def cmd_predict(args: argparse.Namespace) -> int:
    """Score reviews as a stream: a file (or stdin) is read, scored and written in chunks, so the
    first lines appear at once and memory stays bounded whatever the length."""
    from models.errors import EmptyReviewError
    from models.prediction import Predictor

    if any(not t.strip() for t in args.text):
        raise EmptyReviewError("A review is empty: give some text to score.")
    numbered: Iterable[tuple[int | None, str]] = ((None, text) for text in args.text)
    source = None  # where numbered lines come from, for messages
    if args.file is not None:
        from models.datasets import iter_numbered_review_texts

        # the file is checked here, before scoring
        numbered = itertools.chain(numbered, iter_numbered_review_texts(args.file))
        source = args.file.name
    elif not args.text and not sys.stdin.isatty():
        import io

        from models.datasets import bounded_lines

        # Bytes that are not UTF-8 become U+FFFD, as in --file: under a UTF-8 locale such as
        # en_US.UTF-8, Python's own stdin decodes strictly and one bad byte stopped the run.
        stdin = io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8-sig", errors="replace") \
            if hasattr(sys.stdin, "buffer") else sys.stdin
        numbered = ((number, line.rstrip("\n"))
                    for number, line in enumerate(bounded_lines(stdin, "standard input"), 1) if line.strip())
        source = "standard input"
    elif not args.text:
        raise EmptyReviewError("Nothing to score: give review text, --file PATH, or lines on stdin.")
    lines = _LineNumbers()
    texts = lines.follow(numbered)
    predictor = Predictor.from_store(_store(), args.model)
    model = {"model": predictor.name}  # which model scored: the newest one unless --model says
    progress = _CountProgress(live=args.file is not None and sys.stderr.isatty())
    with _output(args.output) as out:
        try:
            if args.explain or args.explain_method:
                from models.explain import explain_refined

                for text in _with_words(texts):  # one at a time, so each line appears as soon as it is ready
                    # what the GUI settles on
                    explanation = explain_refined(predictor, text, args.explain_method or "shapley")
                    out.write(json.dumps(lines.next() | model | explanation.prediction.to_json()
                                         | explanation.to_json()) + "\n")
                    out.flush()
                    progress(1)
            else:
                for chunk in predictor.predict_chunks(texts, require_words=True, details=False,
                                                      long=_is_long_file(args.file)):
                    out.write("".join(json.dumps(lines.next() | model | p.to_json()) + "\n" for p in chunk))
                    out.flush()
                    progress(len(chunk))
        except NoWordsError as exc:
            line = lines.line_of(exc.number)
            if line is None:
                raise
            from models.prediction import no_words_error

            raise no_words_error(exc.number, exc.text, f"on line {line:,} of {source}") from None
        progress.finish()
        if progress.count == 0:
            raise EmptyReviewError("Nothing to score: the file has no reviews." if args.file is not None else
                                   "Nothing to score: give review text, --file PATH, or lines on stdin.")
    if args.output is not None:
        print(f"Wrote {progress.count:,} scores to {args.output}", file=sys.stderr, flush=True)
    return 0


@contextlib.contextmanager
def _output(path: Path | None, newline: str | None = None):
    """stdout, or a file written whole or not at all (models.atomic_write)."""
    if path is None:
        yield sys.stdout
        return
    from models.atomic_write import atomic_write
    from models.bounded_io import os_error_reason
    from models.store import check_output_path

    try:
        with atomic_write(check_output_path(path), "w", encoding="utf-8", newline=newline) as f:
            yield f
    except OSError as exc:
        raise UserFacingError(f"Could not write {path}: {os_error_reason(exc)}.") from None


class _CountProgress:
    """'Scored N reviews' on stderr, at most twice a second, when it is a terminal."""

    def __init__(self, live: bool) -> None:
        self.live, self.count, self._last = live, 0, 0.0

    def __call__(self, n: int) -> None:
        self.count += n
        now = time.monotonic()
        if self.live and now - self._last >= 0.5:
            self._last = now
            print(f"\rScored {self.count:,} reviews ...", end="", file=sys.stderr, flush=True)

    def finish(self) -> None:
        if self.live and self._last:
            print("\r" + " " * 40 + "\r", end="", file=sys.stderr, flush=True)


LONG_FILE_BYTES = 2 * 1024 * 1024  # about 1,500 reviews of IMDB's length: a second process pays from the start


def _is_long_file(path: Path | None) -> bool:
    try:
        return path is not None and path.stat().st_size >= LONG_FILE_BYTES
    except (OSError, ValueError):
        return False


class _LineNumbers:
    """The line each text handed to scoring came from (its file's or stdin's; None for a review given as an
    argument), in order: ``follow`` records them as texts are read, ``next`` gives the next scored one's as
    ``{"line": N}`` (or nothing) for its output row, so rows name their lines even with blank lines skipped."""

    def __init__(self) -> None:
        self._lines: collections.deque[int | None] = collections.deque()
        self._first = 1  # the review number of _lines[0]

    def follow(self, numbered: Iterable[tuple[int | None, str]]) -> Iterator[str]:
        for line, text in numbered:
            self._lines.append(line)
            yield text

    def next(self) -> dict:
        self._first += 1
        line = self._lines.popleft()
        return {} if line is None else {"line": line}

    def line_of(self, number: int) -> int | None:
        """The line of review ``number`` (1-based, all reviews counted), while it is not yet written."""
        index = number - self._first
        return self._lines[index] if 0 <= index < len(self._lines) else None


def _with_words(texts: Iterable[str]) -> Iterator[str]:
    """The texts, refusing one without a single word: the model would score only its start mark, a
    verdict on nothing (``predict_chunks(require_words=True)`` checks the same while it encodes)."""
    from models.prediction import no_words_error
    from models.vocabulary import tokenize

    for number, text in enumerate(texts, 1):
        if not tokenize(text):
            raise no_words_error(number, text)
        yield text


def cmd_evaluate(args: argparse.Namespace) -> int:
    from models.datasets import load_source
    from models.evaluation import evaluate, metrics
    from models.prediction import Predictor

    if not 0.0 <= args.threshold <= 1.0:  # also refuses nan
        raise UserFacingError(f"--threshold must be between 0 and 1, not {args.threshold}.")
    threshold = args.threshold + 0.0  # -0.0 is 0.0
    if args.misclassified is not None and _is_the_data(args.misclassified, args.data):
        raise UserFacingError(f"--misclassified {args.misclassified} is the data set itself: writing it would "
                              "replace the reviews. Give another file name.")
    predictor = Predictor.from_store(_store(), args.model)
    # The CSV's temporary file is opened first, so a path that cannot be written is refused before
    # any review is scored; it replaces the destination only when everything was written.
    destination = _output(args.misclassified, newline="") if args.misclassified is not None else None
    with destination or contextlib.nullcontext() as wrong_out:
        data = load_source(args.data, limit=args.limit)  # a CSV: limited while it is read
        evaluation = evaluate(predictor, data)
        result = metrics(evaluation.labels, evaluation.probabilities, threshold)
        out = {"model": predictor.name, "data": data.source, **result.to_json()}
        if args.corrections:
            from app.cli_corrections import corrected_metrics

            out["corrected_labels"] = corrected_metrics(args.data, data, evaluation, threshold)
        if wrong_out is not None:
            from models.reports import evaluation_header, evaluation_rows, write_csv_rows

            wrong = evaluation.misclassified(threshold)
            write_csv_rows(wrong_out, evaluation_header(), evaluation_rows(evaluation, wrong, threshold))
            out["misclassified"] = {"path": str(args.misclassified), "rows": len(wrong)}
    _emit(out)
    return 0


def _is_the_data(output: Path, data: str) -> bool:
    """Whether writing ``output`` would replace the data set (the file, or a file in its folder), with
    the data's path as the reader normalises it: ``--data "victim.csv "`` reads victim.csv."""
    from models.datasets import local_source

    source = local_source(data)
    try:
        output = output.expanduser()
        if source is None or not source.exists():
            return False
        if source.is_dir():
            return output.resolve().is_relative_to(source.resolve())
        return output.exists() and output.samefile(source)
    except (OSError, ValueError):  # a path too long, or with a NUL: the writer's own check refuses it
        return False


def cmd_models(args: argparse.Namespace) -> int:
    print(json.dumps([info.summary() for info in _store().list()], indent=2))
    return 0


def cmd_rename(args: argparse.Namespace) -> int:
    info = _store().rename(args.model, args.new_name)
    _emit({"name": info.name, "id": info.id, "path": str(info.path)})
    return 0


def cmd_delete(args: argparse.Namespace) -> int:
    from models.errors import ModelStoreError

    store = _store()
    info = store.find(args.model)
    same = [i.id for i in store.list() if i.name.casefold() == info.name.casefold()]
    if info.id != args.model and len(same) > 1:
        raise ModelStoreError(f"{len(same)} models are called {info.name!r}; delete one by its id: {', '.join(same)}.")
    store.delete(info.id)
    _emit({"deleted": info.name, "id": info.id})
    return 0


# -- import and export ------------------------------------------------------------------


def cmd_import(args: argparse.Namespace) -> int:
    from models.keras_interop import import_model_file

    info = import_model_file(_store(), args.model_file, word_index=args.word_index, maxlen=args.maxlen,
                             name=args.name)
    meta = info.metadata
    print(f"Imported {args.model_file.name} as {info.name!r} in {info.path}", file=sys.stderr, flush=True)
    _emit({"name": info.name, "id": info.id, "kind": meta.kind if meta else None,
           "vocab_size": meta.vocab_size if meta else None, "maxlen": meta.maxlen if meta else None,
           "imported": meta.imported.to_json() if meta and meta.imported else None, "path": str(info.path)})
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from models.errors import ModelStoreError
    from models.store import ARCHIVE_SUFFIX

    store = _store()
    store.check_output(args.dest)  # before the model is read: a write into the store is refused at once
    info = store.find(args.model)
    if args.saved_model:
        if args.format is not None:
            raise UserFacingError("--saved-model writes a SavedModel; it cannot be combined with --format.")
        from models.serving.export import SIGNATURE, export_saved_model

        saved = export_saved_model(store, args.model, args.dest, overwrite=args.force)
        _say(saved.serve_hint())
        _emit({"name": info.name, "format": "saved-model", "family": saved.family, "path": str(saved.folder),
               "signature": SIGNATURE, "input": "text", "outputs": ["probability", "label", "words"]})
        return 0
    if args.format == "keras":
        from models.keras_interop import export_keras

        done = export_keras(store, args.model, args.dest, overwrite=args.force)
        _emit({"name": info.name, "format": "keras", "path": str(done.folder), "files": [p.name for p in done.files],
               "maxlen": done.maxlen, "vocab_size": done.num_words})
        return 0
    dest = args.dest.expanduser()
    if dest.is_dir():
        import re

        dest = dest / ((re.sub(r'[\\/:*?"<>|\x00-\x1f]+', "-", info.name).strip(" .-") or "model") + ARCHIVE_SUFFIX)
    if dest.exists() and not args.force:
        raise ModelStoreError(f"{dest} already exists. Choose another file name, or replace it with --force.")
    written = store.export_archive(args.model, dest)
    _emit({"name": info.name, "format": "ssmodel", "path": str(written)})
    return 0


# -- beam-predict ---------------------------------------------------------------------------


def cmd_beam_predict(args: argparse.Namespace) -> int:
    """Run the Beam pipeline (models.serving.beam_pipeline) to its end; one JSON line with the counts."""
    import logging

    from models.serving.beam_pipeline import BeamJob, run

    class _KnownNotices(logging.Filter):  # what Beam logs on every local run: not a problem of this job
        def filter(self, record: logging.LogRecord) -> bool:
            return not any(n in record.getMessage() for n in ("apitools not found", "Resource module is not available"))

    logging.getLogger().addFilter(_KnownNotices())  # Beam logs them on the root logger
    job = BeamJob(args.saved_model, args.input, args.output, args.format, args.text_column, args.batch_size)
    _say(f"Scoring {args.input} with Beam ({' '.join(args.beam_args) or 'DirectRunner'}) ...")
    outcome = run(job, args.beam_args)
    _emit({"model": outcome.model, "scored": outcome.scored, "bad": outcome.bad, "scores": outcome.scores,
           "errors": outcome.errors, "state": outcome.state})
    return 0
