"""Command line: ``python -m app [train|predict|evaluate|models|gui]``; no subcommand starts the GUI.

Results go to stdout as JSON (one object per line, or one list for ``models``);
progress goes to stdout as readable lines, with a live bar on stderr when it is a
terminal. A mistake the user can fix exits with status 2 and one line on stderr.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from models.config import DEFAULT_PRESET, PRESETS, preset
from models.errors import UserFacingError

EXIT_USER_ERROR = 2

# CLI flag -> TrainingConfig field, for overriding single hyperparameters of a preset.
_OVERRIDES = {
    "vocab_size": int, "maxlen": int, "embedding_dim": int, "lstm_units": int, "dropout": float,
    "recurrent_dropout": float, "batch_size": int, "epochs": int, "learning_rate": float, "seed": int,
    "validation_split": float,
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
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
    train.add_argument("--preset", default=DEFAULT_PRESET, choices=sorted(PRESETS),
                       help=f"hyperparameter preset (default: {DEFAULT_PRESET}, the specified model)")
    train.add_argument("--limit", type=int, help="use at most N reviews per split (balanced), for a quick run")
    train.add_argument("--name", help="name in the model store (default: the preset and date)")
    train.add_argument("--validation", choices=["test", "split"], help="validate on the test split or a held-out part")
    train.add_argument("--no-xla", action="store_true", help="run the train and test steps without XLA compilation")
    for name, kind in _OVERRIDES.items():
        train.add_argument(f"--{name.replace('_', '-')}", type=kind, dest=name, metavar="N" if kind is int else "X")

    predict = sub.add_parser("predict", help="score reviews: one JSON object per review")
    predict.add_argument("--model", help="stored model name, id or folder (default: the newest)")
    predict.add_argument("--file", type=Path, help="a .txt with one review per line, or a .csv with a text column")
    predict.add_argument("text", nargs="*", help="review texts; with none and no --file, lines from stdin")
    predict.add_argument("--explain", action="store_true",
                         help="add each word's contribution to the score (how much P(positive) drops when the "
                              "model reads it as an unknown word), in reading order, and the top words each way")

    evaluate = sub.add_parser(
        "evaluate", help="score a data set's test split once: one JSON object with accuracy, ROC AUC, log loss, the "
                         "confusion matrix and per-class precision, recall and F1")
    evaluate.add_argument("--model", help="stored model name, id or folder (default: the newest)")
    evaluate.add_argument("--data", required=True, help="as for train")
    evaluate.add_argument("--limit", type=int, help="use at most N test reviews (balanced)")
    evaluate.add_argument("--threshold", type=float, default=0.5, metavar="T",
                          help="predict positive when P(positive) >= T (default 0.5; between 0 and 1)")
    evaluate.add_argument("--misclassified", type=Path, metavar="FILE.csv",
                          help="write every review the model got wrong, the most confidently wrong first, with its "
                               "true label and probability")

    sub.add_parser("models", help="list stored models as JSON")

    imp = sub.add_parser("import", help="add a model file to the store: a Keras .keras/.h5 model (e.g. the IMDB "
                                        "tutorial's) or a Sentiment Studio .ssmodel file")
    imp.add_argument("model_file", type=Path, metavar="MODEL_FILE",
                     help="a .keras or .h5 model taking word ids and giving one sigmoid probability, or a .ssmodel")
    imp.add_argument("--word-index", type=Path, metavar="FILE",
                     help="the word index the model was trained with: Keras' imdb_word_index.json format (word -> "
                          "rank from 1) or a Sentiment Studio vocabulary.json (default: Keras' IMDB word index "
                          "from the Keras cache, else downloaded)")
    imp.add_argument("--maxlen", type=int, metavar="N",
                     help="tokens per review when the model has no fixed input length (default: 80)")
    imp.add_argument("--name", help="name in the model store (default: the file name)")

    exp = sub.add_parser("export", help="write a stored model as one .ssmodel file, or for plain Keras")
    exp.add_argument("model", metavar="NAME", help="stored model name, id or folder")
    exp.add_argument("dest", type=Path, metavar="DEST",
                     help="the .ssmodel file (or a folder to put it in); with --format keras, the folder to write")
    exp.add_argument("--format", choices=["ssmodel", "keras"], default="ssmodel",
                     help="ssmodel (default): one file for Sentiment Studio; keras: model.keras, word_index.json "
                          "(Keras' IMDB format) and README.txt with the lines of plain Keras that score a review")
    exp.add_argument("--force", action="store_true", help="replace existing files")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.self_test:
        from app.self_test import run_self_test

        return run_self_test()
    if args.command in (None, "gui"):
        from app.gui import run_gui

        return run_gui()
    try:
        return {"train": cmd_train, "predict": cmd_predict, "evaluate": cmd_evaluate, "models": cmd_models,
                "import": cmd_import, "export": cmd_export}[
            args.command](args)
    except UserFacingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        return 130


def _store():
    from models.paths import builtin_model_dirs
    from models.store import ModelStore

    return ModelStore(builtin=builtin_model_dirs())


def _emit(obj) -> None:
    print(json.dumps(obj), flush=True)


# -- train --------------------------------------------------------------------------------


def cmd_train(args: argparse.Namespace) -> int:
    from models.datasets import load_source
    from models.training import train, training_metadata

    chosen = preset(args.preset)
    changes = {name: getattr(args, name) for name in _OVERRIDES if getattr(args, name) is not None}
    if args.validation:
        changes["validation"] = args.validation
    if args.no_xla:
        changes["jit_compile"] = False
    config = chosen.config.with_changes(**changes).validated()

    print(f"Loading {args.data} ...", flush=True)
    data = load_source(args.data, progress=lambda msg: print(msg, flush=True))
    data = data.limited(args.limit)
    s = data.summary()
    print(f"Data: {s['train']:,} train ({s['train_positive']:,} positive), "
          f"{s['test']:,} test ({s['test_positive']:,} positive)", flush=True)

    stop = threading.Event()

    def request_stop(signum, frame):  # first Ctrl+C: stop cleanly and keep the finished epochs
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        print("\nStopping after this batch (Ctrl+C again to abort) ...", file=sys.stderr, flush=True)

    previous = signal.signal(signal.SIGINT, request_stop)
    try:
        result = train(config, data, on_progress=_ConsoleProgress(), should_stop=stop.is_set)
    finally:
        signal.signal(signal.SIGINT, previous)
    if result.epochs_completed == 0:
        raise UserFacingError("Training stopped before the first epoch finished; nothing was saved.")
    name = args.name or f"{args.preset} {result.data_summary['source'].split('/')[-1]}"
    info = _store().save(result.model, result.vocabulary, training_metadata(result, args.preset), name)
    print(f"Saved as {info.name!r} in {info.path}", flush=True)
    _emit({"name": info.name, "id": info.id, **result.summary()})
    return 0


class _ConsoleProgress:
    """Epoch lines on stdout; a live batch bar on stderr when it is a terminal."""

    def __init__(self) -> None:
        self.live = sys.stderr.isatty()

    def __call__(self, p) -> None:
        from models import training as t

        if p.phase == t.TRAINING and self.live:
            width = 30
            filled = int(width * p.batch / max(1, p.batches))
            eta = f" ETA {_clock(p.eta_seconds)}" if p.eta_seconds is not None else ""
            acc = p.logs.get("accuracy")
            print(f"\rEpoch {p.epoch}/{p.epochs} [{'=' * filled}{'.' * (width - filled)}] "
                  f"{p.batch}/{p.batches} acc {acc:.3f} {p.samples_per_second:.0f}/s{eta}   "
                  if acc is not None else "", end="", file=sys.stderr, flush=True)
        elif p.phase == t.EPOCH_END:
            if self.live:
                print("\r" + " " * 100 + "\r", end="", file=sys.stderr)
            lg = p.logs
            print(f"Epoch {p.epoch}/{p.epochs}: loss {lg.get('loss', 0):.4f} acc {lg.get('accuracy', 0):.4f} "
                  f"val_loss {lg.get('val_loss', 0):.4f} val_acc {lg.get('val_accuracy', 0):.4f} "
                  f"({p.elapsed_seconds:.0f} s elapsed)", flush=True)
        elif p.phase in (t.PREPARING, t.EVALUATING) and p.message:
            print(p.message + " ...", flush=True)


def _clock(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}" if seconds >= 3600 else \
        f"{seconds // 60}:{seconds % 60:02d}"


# -- predict ------------------------------------------------------------------------------


def cmd_predict(args: argparse.Namespace) -> int:
    from models.errors import EmptyReviewError
    from models.prediction import Predictor

    texts = list(args.text)
    if args.file is not None:
        from models.datasets import read_review_texts

        texts += read_review_texts(args.file)
    elif not texts and not sys.stdin.isatty():
        texts = [line.rstrip("\n") for line in sys.stdin if line.strip()]
    if not texts:
        raise EmptyReviewError("Nothing to score: give review text, --file PATH, or lines on stdin.")
    if any(not t.strip() for t in texts):
        raise EmptyReviewError("A review is empty: give some text to score.")
    predictor = Predictor.from_store(_store(), args.model)
    if args.explain:
        from models.explain import explain

        for text in texts:  # one at a time, so each line appears as soon as it is ready
            explanation = explain(predictor, text)
            _emit(explanation.prediction.to_json() | explanation.to_json())
        return 0
    for prediction in predictor.predict_many(texts):
        _emit(prediction.to_json())
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from models.datasets import load_source
    from models.evaluation import evaluate, metrics
    from models.prediction import Predictor

    if not 0.0 <= args.threshold <= 1.0:  # also refuses nan
        raise UserFacingError(f"--threshold must be between 0 and 1, not {args.threshold}.")
    if args.limit is not None and args.limit < 1:
        raise UserFacingError(f"--limit must be at least 1, not {args.limit}.")
    predictor = Predictor.from_store(_store(), args.model)
    data = load_source(args.data).limited(args.limit)
    evaluation = evaluate(predictor, data)
    result = metrics(evaluation.labels, evaluation.probabilities, args.threshold)
    out = {"model": predictor.name, "data": data.source, **result.to_json()}
    if args.misclassified is not None:
        from models.reports import EVALUATION_HEADER, evaluation_rows, write_csv

        wrong = evaluation.misclassified(args.threshold)
        try:
            write_csv(args.misclassified, EVALUATION_HEADER, evaluation_rows(evaluation, wrong, args.threshold))
        except OSError as exc:
            raise UserFacingError(f"Could not write {args.misclassified}: {exc.strerror or exc}.") from None
        out["misclassified"] = {"path": str(args.misclassified), "rows": len(wrong)}
    _emit(out)
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    print(json.dumps([info.summary() for info in _store().list()], indent=2))
    return 0


# -- import and export ------------------------------------------------------------------


def cmd_import(args: argparse.Namespace) -> int:
    from models.keras_interop import import_model_file

    info = import_model_file(_store(), args.model_file, word_index=args.word_index, maxlen=args.maxlen,
                             name=args.name)
    config = info.metadata.get("config") or {}
    print(f"Imported {args.model_file.name} as {info.name!r} in {info.path}", file=sys.stderr, flush=True)
    _emit({"name": info.name, "id": info.id, "kind": info.metadata.get("kind"), "vocab_size": config.get("vocab_size"),
           "maxlen": config.get("maxlen"), "imported": info.metadata.get("imported"), "path": str(info.path)})
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from models.errors import ModelStoreError
    from models.store import ARCHIVE_SUFFIX

    store = _store()
    info = store.find(args.model)
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
