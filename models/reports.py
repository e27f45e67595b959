"""Result tables written for the user: scored reviews and evaluations as CSV files.

One writer for every table the app exports (the Predict tab's scored file, the Evaluate tab's
reviews, ``evaluate --misclassified``, the Train tab's history), so they all quote, encode and fail
the same way: UTF-8 with a header row, the standard ``csv`` dialect with every field quoted, and an
``OSError`` the caller turns into a message.

Every field is quoted (csv.QUOTE_ALL): a spreadsheet that splits on another separator (Excel uses
``;`` in many locales) still keeps a quoted field whole, where ``great film;=1+1`` written bare
became a cell starting with ``=``.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TextIO

from models.atomic_write import atomic_write
from models.config import DEFAULT_THRESHOLD
from models.evaluation import Evaluation
from models.prediction import NEGATIVE, POSITIVE

# The columns of every evaluation export: the Evaluate tab's Export CSV and ``evaluate --misclassified``.
# ``review_id`` is the review's position (0-based) in the test split as scored (after a limit, in the
# sample); ``threshold`` is the one ``predicted_label`` was decided at.
EVALUATION_HEADER = ("review_id", "review", "true_label", "predicted_label", "probability", "threshold",
                     "length_tokens", "cut")
SECOND_MODEL_HEADER = ("probability_second_model", "predicted_label_second_model")


# A cell a spreadsheet would run as a formula (=HYPERLINK(...), +, -, @, or a leading tab or CR):
# reviews come from outside, so such a text is written with a leading apostrophe, which
# spreadsheets show as text and drop. Numbers the app writes never start this way.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> object:
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def write_csv_rows(f: TextIO, header: Sequence[str], rows: Iterable[Sequence[object]]) -> int:
    """Write ``header`` and ``rows`` to an open text file; returns the number of rows written."""
    writer = csv.writer(f, quoting=csv.QUOTE_ALL)
    writer.writerow(header)
    count = 0
    for row in rows:
        writer.writerow([safe_cell(v) for v in row])
        count += 1
    return count


def write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[object]]) -> int:
    """Write ``header`` and ``rows`` to ``path``, whole or not at all; returns the number of rows."""
    with atomic_write(path, "w", newline="", encoding="utf-8") as f:
        return write_csv_rows(f, header, rows)


def evaluation_header(compared: bool = False) -> tuple[str, ...]:
    """The header of ``evaluation_rows``: with the second model's columns when two are compared."""
    return EVALUATION_HEADER + (SECOND_MODEL_HEADER if compared else ())


def _label(predicted: bool) -> str:
    return POSITIVE if predicted else NEGATIVE


def evaluation_rows(evaluation: Evaluation, indices: Iterable[int], threshold: float = DEFAULT_THRESHOLD,
                    second: Evaluation | None = None) -> Iterable[tuple[object, ...]]:
    """One row per review (``evaluation_header(second is not None)``): its id, text, true and predicted
    label, probability and the threshold, then the second model's probability and prediction."""
    for i in indices:
        r = evaluation.review(int(i))
        row: tuple[object, ...] = (r.index, r.text, _label(bool(r.label)), _label(r.predicted(threshold)),
                                   f"{r.probability:.6f}", f"{threshold:.6g}", r.length, int(r.cut))
        if second is not None:
            p = float(second.probabilities[int(i)])
            row += (f"{p:.6f}", _label(p >= threshold))
        yield row
