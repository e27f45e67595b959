"""Label corrections: what the user said about a data set's labels, kept in the store, never in their file.

Three verdicts per review: the label is wrong (``flip``), the text is not a review (``exclude``), the
label is right (``right``: the review is never suggested as a suspect again). A data set is known by
the SHA-256 of its file (of every review file, for an unpacked folder), so the corrections of one file
never reach another, and a file changed since the corrections were made gets none of them, with a
message saying so (:func:`stale_corrections`). One JSON file per data set under
``<data dir>/corrections/``; corrections travel as CSV (export, import). Everything read back, the
store's own file included, is checked item by item: one damaged item is reported and skipped, never
the others lost.
"""

from __future__ import annotations

import csv
import hashlib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from models import paths
from models.atomic_write import write_json_atomic
from models.bounded_io import (
    MB,
    InputPathError,
    OwnListFileError,
    TooLarge,
    checked_input_file,
    keep_own_items,
    os_error_reason,
    parse_json,
    read_own_file,
    read_own_list,
)
from models.datasets import (
    KERAS_SOURCE,
    MAX_FIELD_CHARS,
    STANFORD_SOURCE,
    Dataset,
    Split,
    bounded_lines,
    text_encoding,
)
from models.errors import DataSourceError, UserFacingError
from models.metadata import MetadataError, checked_date, utc_now

FLIP, EXCLUDE, RIGHT = "flip", "exclude", "right"
ACTIONS = (FLIP, EXCLUDE, RIGHT)
# What a person may write in an imported CSV for each verdict.
_ACTION_WORDS = {FLIP: FLIP, "wrong": FLIP, "label is wrong": FLIP, EXCLUDE: EXCLUDE, "not a review": EXCLUDE,
                 RIGHT: RIGHT, "keep": RIGHT, "label is right": RIGHT}
_LABEL_WORDS = {"positive": 1, "pos": 1, "1": 1, "negative": 0, "neg": 0, "0": 0}
SPLITS = ("train", "test")
CSV_HEADER = ("split", "row", "action", "label", "at")
BOOK_FORMAT = "sentiment-studio-corrections"
BOOK_VERSION = 1

MAX_BOOK_BYTES = 64 * MB  # a store file: 100,000 corrections are about 12 MB
MAX_CORRECTIONS = 200_000  # per data set (IMDB has 50,000 reviews)
MAX_CSV_BYTES = 32 * MB
MAX_ROW_CHARS = 200
MAX_PROBLEMS_SHOWN = 20
_ARCHIVE_ROW = re.compile(r"(train|test)/(pos|neg)/\d{1,9}_\d{1,2}\.txt")
_HASH_CHUNK = MB


class CorrectionsError(UserFacingError):
    """Corrections that cannot be read, written or applied; the message says which and why."""


# -- the data set's identity ---------------------------------------------------------------


@dataclass(frozen=True)
class DataIdentity:
    sha256: str
    name: str  # what the user sees: the file or folder name
    path: str  # where it was, resolved (to tell a changed file from another file)


def identify(spec: str) -> DataIdentity:
    """The identity of the data set ``spec`` names (as ``models.datasets.load_source`` takes it)."""
    key = spec.strip()
    folder = paths.downloads_dir()
    if key.lower() in (KERAS_SOURCE, "keras"):
        path = folder / "imdb.npz"
    elif key.lower() in (STANFORD_SOURCE, "aclimdb"):
        path = folder / "aclImdb_v1.tar.gz"
    else:
        path = Path(key).expanduser()
    try:
        if path.is_dir():
            return DataIdentity(_folder_hash(path), path.name, str(path.resolve()))
        checked = checked_input_file(path, "data set")
        return DataIdentity(_file_hash(checked), checked.name, str(checked.resolve()))
    except InputPathError as exc:
        raise DataSourceError(str(exc)) from None
    except OSError as exc:
        raise DataSourceError(f"Could not read {path}: {os_error_reason(exc)}.") from None


def _file_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _folder_hash(path: Path) -> str:
    """Of an unpacked aclImdb folder: the names and contents of its review files, in name order (the
    files models.datasets reads; links and other files are not part of the data set)."""
    root = path / "aclImdb" if (path / "aclImdb").is_dir() else path
    digest = hashlib.sha256()
    for split in SPLITS:
        for label in ("pos", "neg"):
            sub = root / split / label
            if not sub.is_dir():
                continue
            for file in sorted(sub.iterdir()):
                if file.suffix == ".txt" and file.is_file() and not file.is_symlink():
                    digest.update(f"{split}/{label}/{file.name}\0".encode())
                    digest.update(_file_hash(file).encode())
    return digest.hexdigest()


# -- corrections ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Correction:
    split: str  # "train" or "test"
    row: str | int  # models.datasets.Split.row_id
    action: str  # FLIP, EXCLUDE or RIGHT
    label: int  # the label in the file, before this correction (1 = positive)
    at: str  # when it was made, ISO 8601 UTC

    @property
    def key(self) -> tuple[str, str | int]:
        return self.split, self.row

    def to_json(self) -> dict:
        return {"split": self.split, "row": self.row, "action": self.action,
                "label": "positive" if self.label else "negative", "at": self.at}

    @classmethod
    def checked(cls, split: object, row: object, action: object, label: object, at: object) -> Correction:
        """A correction from untrusted values (the store's file, an imported CSV); ValueError says what is wrong."""
        split_text = _text(split, "split").lower()
        if split_text not in SPLITS:
            raise ValueError(f"split must be train or test, not {_shown(split)}")
        row_id = checked_row(row)
        if isinstance(row_id, str) and not row_id.startswith(split_text + "/"):
            raise ValueError(f"row {row_id} is not in the {split_text} split")
        action_text = _ACTION_WORDS.get(_text(action, "action").lower())
        if action_text is None:
            raise ValueError(f"action must be flip, exclude or right, not {_shown(action)}")
        label_value = _LABEL_WORDS.get(_text(label, "label").lower())
        if label_value is None:
            raise ValueError(f"label must be positive or negative, not {_shown(label)}")
        try:
            when = checked_date(at, "at") if at not in (None, "") else utc_now()
        except MetadataError as exc:
            raise ValueError(str(exc)) from None
        return cls(split_text, row_id, action_text, label_value, when)


def checked_row(row: object) -> str | int:
    """A row id as Split.row_id gives it: a data row number (from 1), or an aclImdb file name."""
    if isinstance(row, bool):
        raise ValueError(f"row must be a data row number or a review's file name, not {_shown(row)}")
    if isinstance(row, int):
        value = row
    else:
        text = _text(row, "row")
        if _ARCHIVE_ROW.fullmatch(text):
            return text
        if not text.isascii() or not text.isdigit() or len(text) > 9:
            raise ValueError(f"row must be a data row number or a review's file name (like test/pos/123_9.txt), "
                             f"not {_shown(row)}")
        value = int(text)
    if not 1 <= value <= 999_999_999:
        raise ValueError(f"row must be at least 1, not {value}")
    return value


def _text(value: object, what: str) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str) or len(value) > MAX_ROW_CHARS:
        raise ValueError(f"{what} is not a short text (got {_shown(value)})")
    return value.strip()


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


@dataclass
class CorrectedData:
    """A data set with its corrections applied, and what they changed."""

    dataset: Dataset
    flipped: dict[str, int]  # per split
    excluded: dict[str, int]
    right: dict[str, set]  # rows marked right, per split (never suggested again)
    not_found: int  # corrections whose row is not in the data set (or whose label differs)
    # The original test split's reviews, in its order: their corrected labels and whether each is kept,
    # so one scoring pass of the original split gives the accuracy on either labelling.
    test_labels: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int8))
    test_kept: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))

    @property
    def changed(self) -> int:
        return sum(self.flipped.values()) + sum(self.excluded.values())


@dataclass
class CorrectionBook:
    """The corrections of one data set, in the order they were made (one per review: the last one counts)."""

    identity: DataIdentity
    corrections: list[Correction] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # items of the store's file that were skipped
    unreadable: list = field(default_factory=list)  # those items as they were: saved back, never lost
    root: Path | None = None  # the folder of books (default: the store's)

    # -- the store -------------------------------------------------------------------------
    @property
    def folder(self) -> Path:
        return self.root if self.root is not None else corrections_dir()

    @property
    def path(self) -> Path:
        return self.folder / f"{self.identity.sha256}.json"

    @classmethod
    def load(cls, identity: DataIdentity, root: Path | None = None) -> CorrectionBook:
        book = cls(identity, root=root)
        try:
            items = read_own_list(book.path, MAX_BOOK_BYTES, BOOK_FORMAT, "corrections",
                                  f"The corrections of {identity.name}", "a corrections file", BOOK_VERSION)
        except OwnListFileError as exc:
            raise CorrectionsError(str(exc)) from None
        if items is None:
            return book

        def keep(item: object) -> None:
            if not isinstance(item, dict):
                raise ValueError("it is not an object")
            book._put(Correction.checked(item.get("split"), item.get("row"), item.get("action"),
                                         item.get("label"), item.get("at")))

        book.problems, book.unreadable = keep_own_items(items, MAX_CORRECTIONS, keep, "correction")
        return book

    def save(self) -> None:
        data = {"format": BOOK_FORMAT, "version": BOOK_VERSION,
                "dataset": {"sha256": self.identity.sha256, "name": self.identity.name, "path": self.identity.path},
                # then the file's items that could not be used, unchanged: never lost by a save
                "corrections": [c.to_json() for c in self.corrections] + self.unreadable}
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            write_json_atomic(self.path, data, indent=1)
        except OSError as exc:
            raise CorrectionsError(
                f"Could not save the corrections in {self.folder}: {os_error_reason(exc)}.") from None

    # -- editing ---------------------------------------------------------------------------
    def _put(self, correction: Correction) -> Correction | None:
        """Add ``correction``; it replaces an earlier one of the same review, which is returned."""
        previous = self.find(correction.split, correction.row)
        if previous is not None:
            self.corrections.remove(previous)
        elif len(self.corrections) >= MAX_CORRECTIONS:
            raise ValueError(f"a data set has at most {MAX_CORRECTIONS:,} corrections")
        self.corrections.append(correction)
        return previous

    def mark(self, split: Split, split_name: str, row: str | int, action: str) -> Correction:
        """Record a verdict on the review at ``row`` of ``split`` (checked to be there)."""
        if action not in ACTIONS:
            raise CorrectionsError(f"The action must be {', '.join(ACTIONS)}, not {action!r}.")
        try:
            row_id = checked_row(row)
        except ValueError as exc:
            raise CorrectionsError(f"{exc}.") from None
        index = _index_of(split).get(row_id)
        if index is None:
            raise CorrectionsError(f"The {split_name} split of {self.identity.name} has no row {row_id}.")
        correction = Correction(split_name, row_id, action, int(split.labels[index]), utc_now())
        try:
            self._put(correction)
        except ValueError as exc:
            raise CorrectionsError(f"Could not add the correction: {exc}.") from None
        return correction

    def find(self, split: str, row: str | int) -> Correction | None:
        return next((c for c in self.corrections if c.key == (split, row)), None)

    def undo(self, split: str | None = None, row: str | int | None = None) -> Correction:
        """Remove the last correction made, or the one of ``row``; returns it."""
        if not self.corrections:
            raise CorrectionsError(f"There are no corrections of {self.identity.name} to undo.")
        if row is None:
            return self.corrections.pop()
        try:
            row_id = checked_row(row)
        except ValueError as exc:
            raise CorrectionsError(f"{exc}.") from None
        found = [c for c in self.corrections if c.row == row_id and (split is None or c.split == split)]
        if not found:
            raise CorrectionsError(f"There is no correction of row {row_id} to undo.")
        self.corrections.remove(found[-1])
        return found[-1]

    def rows(self, action: str, split: str) -> set:
        return {c.row for c in self.corrections if c.action == action and c.split == split}

    def counts(self) -> dict[str, int]:
        return {action: sum(c.action == action for c in self.corrections) for action in ACTIONS}

    def counts_text(self) -> str:
        """"3 flipped, 2 excluded, 1 marked right": what the data set's statistics show."""
        c = self.counts()
        return f"{c[FLIP]:,} flipped, {c[EXCLUDE]:,} excluded, {c[RIGHT]:,} marked right"

    def changes(self) -> int:
        """The corrections that change what a model learns and is tested on (flips and exclusions)."""
        return sum(c.action != RIGHT for c in self.corrections)

    # -- applying --------------------------------------------------------------------------
    def apply(self, data: Dataset) -> CorrectedData:
        """``data`` with the flips and exclusions applied (a new Dataset; ``data`` is untouched). A
        correction whose row is missing, or whose label is not the file's, is counted and not applied."""
        splits: dict[str, Split] = {}
        full: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        flipped: dict[str, int] = {}
        excluded: dict[str, int] = {}
        right: dict[str, set] = {}
        not_found = 0
        for name in SPLITS:
            split = data.train if name == "train" else data.test
            index = _index_of(split)
            labels = split.labels.copy()
            keep = np.ones(len(split), dtype=bool)
            flipped[name] = excluded[name] = 0
            right[name] = set()
            for c in self.corrections:
                if c.split != name:
                    continue
                i = index.get(c.row)
                if i is None or int(split.labels[i]) != c.label:
                    not_found += 1
                elif c.action == FLIP:
                    labels[i] = 1 - c.label
                    flipped[name] += 1
                elif c.action == EXCLUDE:
                    keep[i] = False
                    excluded[name] += 1
                else:
                    right[name].add(c.row)
            full[name] = labels, keep
            corrected = replace(split, labels=labels)
            splits[name] = corrected if keep.all() else corrected.subset(np.flatnonzero(keep))
        dataset = Dataset(splits["train"], splits["test"], data.source, data.keras_word_index)
        return CorrectedData(dataset, flipped, excluded, right, not_found, *full["test"])

    # -- CSV -------------------------------------------------------------------------------
    def export_csv(self, dest: Path) -> int:
        from models.reports import write_csv

        try:
            return write_csv(Path(dest).expanduser(), CSV_HEADER,
                             ((c.split, c.row, c.action, "positive" if c.label else "negative", c.at)
                              for c in self.corrections))
        except OSError as exc:
            raise CorrectionsError(f"Could not write {dest}: {os_error_reason(exc)}.") from None

    def import_csv(self, source: Path, data: Dataset | None = None) -> ImportResult:
        """Add the corrections of a CSV written by :meth:`export_csv` (or by hand: columns split, row,
        action, label, optional at). Each row is checked on its own; a bad row is reported (line and
        reason) and skipped, the others are kept. With ``data``, rows must exist in it with that label."""
        result = ImportResult()
        indexes = {name: _index_of(data.train if name == "train" else data.test) for name in SPLITS} if data else None
        for line, values in _csv_rows(Path(source)):
            try:
                correction = Correction.checked(*values)
                if indexes is not None and data is not None:
                    split = data.train if correction.split == "train" else data.test
                    i = indexes[correction.split].get(correction.row)
                    if i is None:
                        raise ValueError(f"the {correction.split} split has no row {correction.row}")
                    if int(split.labels[i]) != correction.label:
                        raise ValueError(f"row {correction.row} is labelled "
                                         f"{'positive' if split.labels[i] else 'negative'} in the data set, not "
                                         f"{'positive' if correction.label else 'negative'}")
                replaced = self._put(correction)
            except ValueError as exc:
                result.problems.append(f"line {line}: {exc}")
                continue
            result.replaced += replaced is not None
            result.added += replaced is None
        return result


@dataclass
class ImportResult:
    added: int = 0
    replaced: int = 0
    problems: list[str] = field(default_factory=list)

    def summary(self) -> str:
        shown = "; ".join(self.problems[:MAX_PROBLEMS_SHOWN])
        hidden = len(self.problems) - MAX_PROBLEMS_SHOWN
        more = f" (and {hidden} more)" if hidden > 0 else ""
        return f"{len(self.problems)} rows skipped: {shown}{more}" if self.problems else "no row skipped"


def _csv_rows(path: Path) -> Iterator[tuple[int, tuple]]:
    """(line, (split, row, action, label, at)) of a corrections CSV; the file is checked and bounded."""
    try:
        path = checked_input_file(path, "corrections CSV")
        if path.stat().st_size > MAX_CSV_BYTES:
            raise CorrectionsError(f"{path.name} is larger than {MAX_CSV_BYTES // MB} MB: it is not a corrections "
                                   "file.")
        encoding = text_encoding(path)
        with open(path, "rb") as f:
            if b"\x00" in f.read(65536) and encoding != "utf-16":
                raise CorrectionsError(f"{path.name} is not a text file: give a CSV of corrections.")
    except InputPathError as exc:
        raise CorrectionsError(str(exc)) from None
    except OSError as exc:
        raise CorrectionsError(f"Could not read {path}: {os_error_reason(exc)}.") from None
    # The same process-wide limit CsvReviews sets: a long field is read (each line is bounded) and its
    # row refused on its own, instead of csv failing the whole file.
    csv.field_size_limit(MAX_FIELD_CHARS)
    try:
        with open(path, newline="", encoding=encoding, errors="replace") as f:
            reader = csv.reader(bounded_lines(f, path.name))
            header = [h.strip().lower() for h in next(reader, [])]
            missing = [c for c in CSV_HEADER[:4] if c not in header]
            if missing:
                raise CorrectionsError(f"{path.name} has no {', '.join(missing)} column: a corrections CSV has "
                                       f"the columns {', '.join(CSV_HEADER)}.")
            where = {c: header.index(c) for c in CSV_HEADER if c in header}
            for line, row in enumerate(reader, start=2):
                if line > MAX_CORRECTIONS + 1:
                    raise CorrectionsError(f"{path.name} has more than {MAX_CORRECTIONS:,} rows.")
                if not row or all(not cell.strip() for cell in row):
                    continue
                yield line, tuple(row[where[c]] if c in where and where[c] < len(row) else None for c in CSV_HEADER)
    except csv.Error as exc:
        raise CorrectionsError(f"{path.name} is not a valid CSV file ({exc}).") from None
    except DataSourceError as exc:  # a line longer than the limit
        raise CorrectionsError(str(exc)) from None
    except OSError as exc:
        raise CorrectionsError(f"Could not read {path}: {os_error_reason(exc)}.") from None


def _index_of(split: Split) -> dict:
    """Row id -> position in the split."""
    return {split.row_id(i): i for i in range(len(split))}


def corrections_dir() -> Path:
    return paths.data_dir() / "corrections"


def stale_corrections(identity: DataIdentity, root: Path | None = None) -> list[tuple[DataIdentity, int]]:
    """Corrections made on a file at the same path whose content has changed since: (its identity then,
    how many). They are never applied to the new content; the caller says so."""
    folder = root if root is not None else corrections_dir()
    found = []
    try:
        entries = sorted(folder.iterdir())[:10_000] if folder.is_dir() else []
    except OSError:
        return []
    for entry in entries:
        if entry.suffix != ".json" or entry.stem == identity.sha256:
            continue
        try:
            data = parse_json(read_own_file(entry, MAX_BOOK_BYTES))
            dataset = data["dataset"]
            if dataset.get("path") == identity.path and isinstance(data.get("corrections"), list) \
                    and data["corrections"]:
                found.append((DataIdentity(str(dataset.get("sha256")), str(dataset.get("name")), identity.path),
                              len(data["corrections"])))
        except (OSError, InputPathError, TooLarge, ValueError, KeyError, TypeError, AttributeError):
            continue  # another data set's damaged file is not this one's concern
    return found


def stale_message(identity: DataIdentity, stale: Iterable[tuple[DataIdentity, int]]) -> str | None:
    count = sum(n for _, n in stale)
    if not count:
        return None
    return (f"{identity.name} has changed since {count:,} correction{'s were' if count != 1 else ' was'} made on it; "
            "they belong to its old content and are not applied to this one.")


def load_for(spec: str, root: Path | None = None) -> tuple[CorrectionBook, str | None]:
    """The corrections of the data set ``spec`` names, and a message when its file changed since
    corrections were made on it (those are not applied)."""
    return load_book(identify(spec), root)


def load_book(identity: DataIdentity, root: Path | None = None) -> tuple[CorrectionBook, str | None]:
    """:func:`load_for` for a data set identified already (the window hashes its file once, when it reads
    it, and reads the book again after each verdict without hashing again)."""
    book = CorrectionBook.load(identity, root)
    message = None if book.corrections else stale_message(identity, stale_corrections(identity, root))
    return book, message

