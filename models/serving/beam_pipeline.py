"""Batch scoring on Apache Beam: review files in, JSON lines of scores out, bad lines in their own output.

``python -m app beam-predict --saved-model DIR --input PATTERN --output PREFIX [Beam options]`` runs
:func:`run`. The model is a SavedModel from ``export --saved-model`` (models.serving.export): it takes raw
text, so the workers need TensorFlow and Beam, nothing of ours but this module.

Reading: every file matching PATTERN (local, or any file system Beam knows: gs://, s3://, hdfs://), one
worker per file, with line numbers: text (one review per line), CSV/TSV (a text column: ``--text-column`` or
the app's names, models.datasets.TEXT_COLUMNS; quoted fields may span lines) or JSON lines (an object with a
text field). The reviews are then spread over the workers (Reshuffle) and scored with ``RunInference`` in
batches, through a ``KeyedModelHandler`` (the key is ``file:line``) around :class:`SavedModelTextHandler`.

Beam's own TensorFlow handlers (``apache_beam.ml.inference.tensorflow_inference``) are not used: that module
imports ``tensorflow_hub`` (not a dependency of Beam, and it pulls in Keras 2's ``tf-keras``) and loads a model
with ``tf.keras.models.load_model``, which Keras 3 refuses for a SavedModel. The handler here loads it with
``tf.saved_model.load`` and calls its ``serving_default`` signature.

Bad lines never fail the pipeline and are never dropped: each goes to ``PREFIX-errors-*.jsonl`` with its
source and the reason (empty, not UTF-8, longer than the app accepts, not JSON, no text field, no words).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from models.bounded_io import parse_json
from models.datasets import _DELIMITERS, MAX_FIELD_CHARS, TEXT_COLUMNS
from models.errors import UserFacingError

FORMATS = ("auto", "text", "csv", "jsonl")
BAD = "bad"
SHOWN_CHARS = 200  # of a bad line's text, in the errors output
DEFAULT_BATCH = 256
MAX_BATCH = 4096
_INFO_BYTES = 64 * 1024


class BeamNotInstalled(UserFacingError):
    pass


def require_beam() -> None:
    try:
        import apache_beam  # noqa: F401
    except ImportError:
        raise BeamNotInstalled("Apache Beam is not installed: install the extra with pip install -e '.[beam]' "
                               "(or pip install 'sentiment-studio[beam]').") from None


@dataclass(frozen=True)
class BeamJob:
    saved_model: str
    input_pattern: str
    output_prefix: str
    input_format: str = "auto"
    text_column: str | None = None
    batch_size: int = DEFAULT_BATCH

    def format_of(self, path: str) -> str:
        if self.input_format != "auto":
            return self.input_format
        lower = path.lower()
        if lower.endswith((".csv", ".tsv")):
            return "csv"
        if lower.endswith((".jsonl", ".ndjson", ".json")):
            return "jsonl"
        return "text"


def bad(source: str, reason: str, text: str = "") -> dict[str, Any]:
    return {"source": source, "reason": reason, "text": text[:SHOWN_CHARS]}


# -- reading: (key, text) for each review, or a bad record --------------------------------------------


def _bounded_lines(stream: io.BufferedIOBase) -> Iterator[tuple[bytes | None, bool]]:
    """The stream's lines (without the line break) and whether each was cut at MAX_FIELD_CHARS bytes (the rest of
    a long line is skipped, never held whole)."""
    while line := stream.readline(MAX_FIELD_CHARS + 1):
        if len(line) > MAX_FIELD_CHARS and not line.endswith(b"\n"):
            while (rest := stream.readline(MAX_FIELD_CHARS + 1)) and not rest.endswith(b"\n"):
                pass
            yield line[:SHOWN_CHARS], True
            continue
        yield line.rstrip(b"\r\n"), False


def read_text_lines(path: str, stream: io.BufferedIOBase, json_lines: bool, text_column: str | None
                    ) -> Iterator[tuple[str, Any]]:
    """("ok", (key, text)) or (BAD, record) per line of a text or JSON-lines file."""
    for number, (raw, too_long) in enumerate(_bounded_lines(stream), start=1):
        source = f"{path}:{number}"
        if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]  # a UTF-8 byte-order mark
        if too_long:
            yield BAD, bad(source, f"longer than {MAX_FIELD_CHARS:,} bytes", raw.decode("utf-8", "replace"))
            continue
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            yield BAD, bad(source, "not UTF-8 text", raw.decode("utf-8", "replace"))
            continue
        if json_lines:
            if not line.strip():
                yield BAD, bad(source, "empty line")
                continue
            try:
                record = parse_json(line)
            except ValueError:
                yield BAD, bad(source, "not JSON", line)
                continue
            names = (text_column,) if text_column else TEXT_COLUMNS
            text = next((record[n] for n in names if isinstance(record, dict) and isinstance(record.get(n), str)),
                        None)
            if text is None:
                yield BAD, bad(source, f"no text field ({' or '.join(names[:3])}) holding a string", line)
                continue
            line = text
        if not line.strip():
            yield BAD, bad(source, "empty line" if not json_lines else "empty text")
            continue
        yield "ok", (source, line)


def read_csv(path: str, stream: io.BufferedIOBase, text_column: str | None) -> Iterator[tuple[str, Any]]:
    """("ok", (key, text)) or (BAD, record) per row of a CSV/TSV file with a header naming a text column; the
    delimiter is the first of models.datasets' that gives the header a text column."""
    text_io = io.TextIOWrapper(stream, encoding="utf-8-sig", errors="surrogateescape", newline="")
    header_line = text_io.readline(MAX_FIELD_CHARS + 1)
    names = (text_column.lower(),) if text_column else TEXT_COLUMNS
    delimiters = ("\t", *_DELIMITERS) if path.lower().endswith(".tsv") else _DELIMITERS
    for delimiter in delimiters:
        columns = [c.strip().lower() for c in next(csv.reader([header_line], delimiter=delimiter), [])]
        found = next((columns.index(n) for n in names if n in columns), None)
        if found is not None:
            break
    else:
        yield BAD, bad(f"{path}:1", f"no text column ({' or '.join(names[:3])}) in the header: the file is skipped",
                       header_line)
        return
    csv.field_size_limit(MAX_FIELD_CHARS)
    reader = csv.reader(_bounded_text_lines(text_io), delimiter=delimiter)
    first_line = 2  # of the next row (a quoted field may span lines)
    try:
        for row in reader:
            source, first_line = f"{path}:{first_line}", reader.line_num + 2
            if not row or all(not cell.strip() for cell in row):
                continue  # a blank row is not a review (as models.datasets.CsvReviews)
            if len(row) <= found:
                yield BAD, bad(source, "the row has no text column", delimiter.join(row))
                continue
            text = row[found]
            try:
                text.encode("utf-8")
            except UnicodeEncodeError:
                yield BAD, bad(source, "not UTF-8 text", text.encode("utf-8", "surrogateescape").decode(
                    "utf-8", "replace"))
                continue
            if not text.strip():
                yield BAD, bad(source, "empty text")
                continue
            yield "ok", (source, text)
    except (csv.Error, _LineTooLong) as exc:
        yield BAD, bad(f"{path}:{first_line}", f"the rest of the file is skipped: {exc}")


class _LineTooLong(Exception):
    pass


def _bounded_text_lines(text_io: io.TextIOBase) -> Iterator[str]:
    while line := text_io.readline(MAX_FIELD_CHARS + 1):
        if len(line) > MAX_FIELD_CHARS:
            raise _LineTooLong(f"a line is longer than {MAX_FIELD_CHARS:,} characters")
        yield line


def read_file(readable: Any, job: BeamJob) -> Iterator[Any]:
    """A matched file's reviews (main output) and bad lines (the BAD output), for ``beam.FlatMap``."""
    from apache_beam import pvalue

    path = readable.metadata.path
    kind = job.format_of(path)
    try:
        with readable.open() as stream:
            records = read_csv(path, stream, job.text_column) if kind == "csv" else read_text_lines(
                path, stream, kind == "jsonl", job.text_column)
            for tag, value in records:
                yield pvalue.TaggedOutput(BAD, value) if tag == BAD else value
    except Exception as exc:  # noqa: BLE001 - a file that cannot be read (or decompressed) is one bad record
        reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        yield pvalue.TaggedOutput(BAD, bad(path, f"the rest of the file cannot be read ({reason})"))


# -- scoring -------------------------------------------------------------------------------------------------


def _model_handler_class():
    from apache_beam.ml.inference.base import ModelHandler, PredictionResult

    class SavedModelTextHandler(ModelHandler):
        """RunInference's handler for a SavedModel from ``export --saved-model``: a batch of review texts in,
        one PredictionResult each (inference: probability, label, words)."""

        def __init__(self, saved_model: str, batch_size: int = DEFAULT_BATCH):
            super().__init__(min_batch_size=1, max_batch_size=batch_size)
            self.saved_model = saved_model

        def load_model(self):
            import tensorflow as tf

            return tf.saved_model.load(self.saved_model)

        def run_inference(self, batch: Sequence[str], model: Any, inference_args: dict[str, Any] | None = None
                          ) -> Iterable[Any]:
            import tensorflow as tf

            out = model.signatures["serving_default"](text=tf.constant(list(batch), tf.string))
            probabilities, labels, words = (out[k].numpy() for k in ("probability", "label", "words"))
            return [PredictionResult(text, {"probability": float(p), "label": label.decode(), "words": int(w)})
                    for text, p, label, w in zip(batch, probabilities, labels, words)]

        def get_metrics_namespace(self) -> str:
            return "sentiment_studio"

    return SavedModelTextHandler


def scored_record(keyed: tuple[str, Any], model_name: str) -> Iterator[Any]:
    """A score as a JSON-ready dict (the fields of ``predict``), or a BAD record for a review without words."""
    from apache_beam import pvalue

    source, result = keyed
    inference = result.inference
    if inference["words"] == 0:
        yield pvalue.TaggedOutput(BAD, bad(source, "no words to score (only punctuation or symbols)", result.example))
        return
    yield {"text": result.example, "probability": round(inference["probability"], 6), "label": inference["label"],
           "model": model_name, "source": source}


def read_model_name(saved_model: str) -> str:
    """The exported model's name (assets.extra/sentiment_studio.json), read bounded through Beam's file systems;
    a folder that is not a SavedModel from ``export --saved-model`` is refused."""
    from apache_beam.io.filesystems import FileSystems

    from models.serving.export import EXPORT_INFO, EXPORT_INFO_FORMAT

    info_path = FileSystems.join(saved_model, "assets.extra", EXPORT_INFO)
    if not FileSystems.exists(FileSystems.join(saved_model, "saved_model.pb")) or not FileSystems.exists(info_path):
        raise UserFacingError(f"{saved_model} is not a SavedModel written by export --saved-model (it needs "
                              f"saved_model.pb and assets.extra/{EXPORT_INFO}).")
    try:
        with FileSystems.open(info_path) as f:
            info = parse_json(f.read(_INFO_BYTES + 1)[:_INFO_BYTES])
    except (OSError, ValueError) as exc:
        raise UserFacingError(f"{info_path} cannot be read ({exc}).") from None
    if not isinstance(info, dict) or info.get("format") != EXPORT_INFO_FORMAT or not isinstance(info.get("name"), str):
        raise UserFacingError(f"{info_path} is not Sentiment Studio's description of an exported model.")
    return info["name"]


@dataclass(frozen=True)
class BeamOutcome:
    scored: int | None  # None where the runner reports no counters
    bad: int | None
    scores: str  # the outputs' file patterns
    errors: str
    model: str
    state: str


def build(pipeline: Any, job: BeamJob, model_name: str) -> None:
    """The pipeline's transforms: read, score, write."""
    import apache_beam as beam
    from apache_beam.io import fileio
    from apache_beam.ml.inference.base import KeyedModelHandler, RunInference

    scored_counter = beam.metrics.Metrics.counter("sentiment_studio", "scored")
    bad_counter = beam.metrics.Metrics.counter("sentiment_studio", "bad")

    def count(item: Any, counter: Any) -> Any:
        counter.inc()
        return item

    read = (pipeline
            | "Match" >> fileio.MatchFiles(job.input_pattern)
            | "Open" >> fileio.ReadMatches()
            | "Read" >> beam.FlatMap(read_file, job).with_outputs(BAD, main="reviews"))
    handler = KeyedModelHandler(_model_handler_class()(job.saved_model, job.batch_size))
    scored = (read.reviews
              | "Spread" >> beam.Reshuffle()
              | "Score" >> RunInference(handler)
              | "Format" >> beam.FlatMap(scored_record, model_name).with_outputs(BAD, main="scores"))
    (scored.scores
     | "CountScored" >> beam.Map(count, scored_counter)
     | "ScoresJson" >> beam.Map(lambda r: json.dumps(r, ensure_ascii=False))
     | "WriteScores" >> beam.io.WriteToText(job.output_prefix, file_name_suffix=".jsonl"))
    ((read[BAD], scored[BAD])
     | "AllBad" >> beam.Flatten()
     | "CountBad" >> beam.Map(count, bad_counter)
     | "BadJson" >> beam.Map(lambda r: json.dumps(r, ensure_ascii=False))
     | "WriteBad" >> beam.io.WriteToText(job.output_prefix + "-errors", file_name_suffix=".jsonl"))


def run(job: BeamJob, beam_args: list[str]) -> BeamOutcome:
    """Check the job (the model folder, a pattern matching files), run the pipeline to its end, count."""
    require_beam()
    import apache_beam as beam
    from apache_beam.io.filesystems import FileSystems
    from apache_beam.options.pipeline_options import PipelineOptions

    if job.input_format not in FORMATS:
        raise UserFacingError(f"--format must be one of {', '.join(FORMATS)}, not {job.input_format!r}.")
    if not 1 <= job.batch_size <= MAX_BATCH:
        raise UserFacingError(f"--batch-size must be between 1 and {MAX_BATCH}, not {job.batch_size}.")
    model_name = read_model_name(job.saved_model)
    try:
        matched = FileSystems.match([job.input_pattern])[0].metadata_list
    except (OSError, ValueError) as exc:  # BeamIOError is an OSError
        raise UserFacingError(f"--input {job.input_pattern} cannot be listed ({exc}).") from None
    if not matched:
        raise UserFacingError(f"--input {job.input_pattern} matches no file.")
    try:
        options = PipelineOptions(beam_args)
    except (ValueError, SystemExit) as exc:
        raise UserFacingError(f"bad Beam pipeline options {' '.join(beam_args)} ({exc}).") from None
    pipeline = beam.Pipeline(options=options)
    build(pipeline, job, model_name)
    result = pipeline.run()
    state = result.wait_until_finish()
    return BeamOutcome(_counter(result, "scored"), _counter(result, "bad"), job.output_prefix + "-[0-9]*-of-*.jsonl",
                       job.output_prefix + "-errors-*.jsonl", model_name, str(state))


def _counter(result: Any, name: str) -> int | None:
    try:
        from apache_beam.metrics.metric import MetricsFilter

        counters = result.metrics().query(MetricsFilter().with_namespace("sentiment_studio").with_name(name))
        return int(sum(c.committed or 0 for c in counters["counters"]))
    except Exception:  # noqa: BLE001 - a runner without metrics: the count is unknown, the outputs are there
        return None
