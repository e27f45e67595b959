"""Data sources: the Stanford aclImdb release, Keras' IMDB download, and CSV files.

Each returns a :class:`Dataset` of a train and a test split with 0/1 labels
(1 = positive). Text sources carry review texts; Keras' IMDB carries Keras' own id
sequences plus its word index, exactly as ``keras.datasets.imdb.load_data`` does.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import os
import pickle
import re
import stat
import tarfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from models import paths
from models.bounded_io import (
    MAX_DATASET_TEXT_BYTES,
    MAX_JSON_BYTES,
    MAX_REVIEW_BYTES,
    MAX_TAR_STREAM_BYTES,
    InputPathError,
    TooLarge,
    checked_input_file,
    os_error_reason,
    parse_json,
    read_at_most,
)
from models.errors import DataSourceError
from models.vocabulary import INDEX_FROM, START_ID

KERAS_DATASETS_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
KERAS_IMDB_SHA256 = "69664113be75683a8fe16e3ed0ab59fda8886cb3cd7ada244f7d9544e4676b9f"
STANFORD_URL = "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"

KERAS_SOURCE = "imdb"
STANFORD_SOURCE = "stanford"

Progress = Callable[[str], None]


@dataclass
class Split:
    labels: np.ndarray  # int8, 1 = positive
    texts: list[str] | None = None
    sequences: list[list[int]] | None = None  # Keras ids, start mark included, unpadded
    # Where each review is in the user's data, as the user can find it again: the file name in an aclImdb
    # archive or folder ("test/pos/123_9.txt"), the data row of a CSV (1 = the first row after the
    # header). None for Keras' download, whose reviews are known by position (row_id).
    ids: list[str] | list[int] | None = None

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def subset(self, indices: np.ndarray) -> Split:
        return Split(
            labels=self.labels[indices],
            texts=[self.texts[i] for i in indices] if self.texts is not None else None,
            sequences=[self.sequences[i] for i in indices] if self.sequences is not None else None,
            ids=[self.ids[i] for i in indices] if self.ids is not None else None,  # type: ignore[misc]
        )

    def row_id(self, index: int) -> str | int:
        """The review's id (``ids``), or its position from 1 when the source has none."""
        return self.ids[index] if self.ids is not None else index + 1

    def lengths(self) -> np.ndarray:
        """Review lengths in words (whitespace-separated), for the length histogram."""
        if self.sequences is not None:
            return np.fromiter((len(s) - 1 for s in self.sequences), dtype=np.int32, count=len(self))
        assert self.texts is not None
        return np.fromiter((len(t.split()) for t in self.texts), dtype=np.int32, count=len(self))


@dataclass
class Dataset:
    train: Split
    test: Split
    source: str  # what the user picked, as shown in metadata
    keras_word_index: dict[str, int] | None = field(default=None, repr=False)

    def summary(self) -> dict:
        return {
            "source": self.source,
            "train": len(self.train),
            "test": len(self.test),
            "train_positive": int(self.train.labels.sum()),
            "test_positive": int(self.test.labels.sum()),
        }

    def limited(self, limit: int | None, seed: int = 0) -> Dataset:
        """At most ``limit`` reviews per split, balanced between the labels, chosen by ``seed``."""
        if limit is None:
            return self
        check_limit(limit)
        rng = np.random.default_rng(seed)
        return Dataset(
            _balanced_subset(self.train, limit, rng),
            _balanced_subset(self.test, limit, rng),
            self.source,
            self.keras_word_index,
        )


def check_limit(limit: int) -> None:
    if limit < 2:  # 0 and negatives too: "no limit" is leaving the option out
        raise DataSourceError("--limit must be at least 2 (one review of each label).")


def _balanced_indices(labels: np.ndarray, limit: int, rng: np.random.Generator) -> np.ndarray:
    """Which of a split's reviews ``Dataset.limited`` keeps (sorted), from their labels alone."""
    if len(labels) <= limit:
        return np.arange(len(labels))
    pos = rng.permutation(np.flatnonzero(labels == 1))
    neg = rng.permutation(np.flatnonzero(labels == 0))
    n_pos = min(len(pos), max(limit // 2, limit - len(neg)))
    return np.sort(np.concatenate([pos[:n_pos], neg[: limit - n_pos]]))


def _balanced_subset(split: Split, limit: int, rng: np.random.Generator) -> Split:
    if len(split) <= limit:
        return split
    return split.subset(_balanced_indices(split.labels, limit, rng))


# -- source selection -----------------------------------------------------------------


def load_source(spec: str, *, progress: Progress | None = None, limit: int | None = None) -> Dataset:
    """Open what the user named: ``imdb`` (Keras download), ``stanford`` (archive download),
    an aclImdb folder or ``.tar.gz``, or a ``.csv`` file. ``limit``: as ``.limited(limit)``, applied
    while a CSV is read (only the chosen reviews' texts are kept: a CSV has no size limit of its own)."""
    if limit is not None:
        check_limit(limit)
    key = spec.strip()
    if key.lower() in (KERAS_SOURCE, "keras"):
        return load_keras_imdb(progress=progress).limited(limit)
    if key.lower() in (STANFORD_SOURCE, "aclimdb"):
        return download_stanford(progress=progress).limited(limit)
    path = Path(key).expanduser()
    try:
        is_folder = stat.S_ISDIR(os.stat(path).st_mode)
    except (OSError, ValueError):
        is_folder = False
    if is_folder:
        return load_aclimdb_folder(path, progress=progress).limited(limit)
    _checked_path(path)
    if path.suffix.lower() in (".csv", ".tsv"):
        return load_csv(path, limit=limit)
    return load_aclimdb_archive(path, progress=progress).limited(limit)


def _checked_path(path: Path) -> None:
    try:
        checked_input_file(path, "data set (an aclImdb folder or .tar.gz, or a .csv)")
    except InputPathError as exc:
        hint = (f" Give an aclImdb folder or .tar.gz archive, a .csv file, or '{KERAS_SOURCE}' to download "
                "Keras' IMDB data.") if "does not exist" in str(exc) else ""
        raise DataSourceError(f"{exc}{hint}") from None


# -- Stanford aclImdb -------------------------------------------------------------------

# <anything>/train/pos/123_9.txt - the unlabelled "unsup" folder is ignored.
_MEMBER = re.compile(r"(?:^|/)(train|test)/(pos|neg)/(\d+)_(\d+)\.txt$")


def _collect(items: Iterator[tuple[str, bytes]], source: str) -> Dataset:
    found: dict[str, list[tuple[int, int, str, str]]] = {"train": [], "test": []}
    total = 0
    for name, raw in items:
        total += len(raw)
        if total > MAX_DATASET_TEXT_BYTES:
            raise TooLarge(f"the review text of {Path(source).name}", MAX_DATASET_TEXT_BYTES)
        m = _MEMBER.search(name)
        if not m:
            continue
        split, label, review_id = m.group(1), m.group(2), int(m.group(3))
        text = raw.decode("utf-8", errors="replace")
        name = f"{split}/{label}/{m.group(3)}_{m.group(4)}.txt"  # without the archive's top folder
        found[split].append((review_id, 1 if label == "pos" else 0, text, name))
    if not found["train"] and not found["test"]:
        raise DataSourceError(
            f"{source} is not an aclImdb data set: no reviews found under train/pos, train/neg, "
            "test/pos or test/neg."
        )
    splits = {}
    for name, rows in found.items():
        if not rows:
            raise DataSourceError(f"{source} has no {name} reviews (expected a {name}/pos and {name}/neg folder).")
        rows.sort(key=lambda r: (r[1], r[0]))  # a stable order whatever the archive's order
        splits[name] = Split(
            labels=np.array([r[1] for r in rows], dtype=np.int8), texts=[r[2] for r in rows], ids=[r[3] for r in rows]
        )
    return Dataset(splits["train"], splits["test"], source)


_COMPRESSED_MAGIC = (b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00")


def _looks_like_tar(path: Path) -> bool:
    """Magic bytes only: tarfile.is_tarfile may scan a large non-archive file to its end."""
    with open(path, "rb") as f:
        head = f.read(512)
    return head.startswith(_COMPRESSED_MAGIC) or head[257:262] == b"ustar"


def load_aclimdb_archive(path: Path, *, progress: Progress | None = None) -> Dataset:
    """Read reviews straight out of the (gzipped) tar archive, streaming, without unpacking."""

    def members() -> Iterator[tuple[str, bytes]]:
        streamed = 0
        with tarfile.open(path, mode="r|*") as archive:  # stream mode: one sequential pass
            for count, member in enumerate(archive, start=1):
                if progress and count % 5000 == 0:
                    progress(f"Reading {path.name}: {count:,} files")
                streamed += member.size + 512  # what the stream must decompress to pass this member
                if streamed > MAX_TAR_STREAM_BYTES:
                    raise TooLarge(f"{path.name} (uncompressed)", MAX_TAR_STREAM_BYTES)
                if member.isfile() and _MEMBER.search(member.name):
                    f = archive.extractfile(member)
                    if f is not None:  # read with a cap, whatever the member's header says
                        yield member.name, read_at_most(f, MAX_REVIEW_BYTES, f"{path.name}: {member.name}")

    try:
        if not _looks_like_tar(path):
            raise DataSourceError(
                f"{path.name} is not a readable archive. Give an aclImdb .tar.gz, its unpacked folder, "
                "or a .csv file."
            )
        return _collect(members(), str(path))
    except TooLarge as exc:
        raise DataSourceError(f"{exc}: it is not an IMDB review archive the app can read.") from None
    except tarfile.ReadError:  # the start was fine, so the rest is cut off or corrupt
        raise DataSourceError(f"{path.name} is truncated or damaged: download it again.") from None
    except (EOFError, zlib.error, gzip.BadGzipFile):
        raise DataSourceError(f"{path.name} is truncated or damaged: download it again.") from None
    except OSError as exc:
        raise DataSourceError(f"Could not read {path}: {exc.strerror or exc}.") from None


def load_aclimdb_folder(path: Path, *, progress: Progress | None = None) -> Dataset:
    """An unpacked aclImdb folder (or its parent)."""
    root = path / "aclImdb" if (path / "aclImdb").is_dir() else path

    def files() -> Iterator[tuple[str, bytes]]:
        for split in ("train", "test"):
            for label in ("pos", "neg"):
                folder = root / split / label
                if not folder.is_dir():
                    continue
                if progress:
                    progress(f"Reading {split}/{label}")
                for file in folder.iterdir():
                    if file.suffix == ".txt" and file.is_file() and not file.is_symlink():
                        with open(file, "rb") as f:
                            yield f"{split}/{label}/{file.name}", read_at_most(f, MAX_REVIEW_BYTES, file.name)

    try:
        return _collect(files(), str(path))
    except TooLarge as exc:
        raise DataSourceError(f"{exc}: it is not an IMDB review folder the app can read.") from None
    except OSError as exc:
        raise DataSourceError(f"Could not read {path}: {exc.strerror or exc}.") from None


def download_stanford(*, progress: Progress | None = None, url: str = STANFORD_URL) -> Dataset:
    from models.download import download  # urllib and http: only for a download (start-up of every command)

    dest = paths.downloads_dir() / "aclImdb_v1.tar.gz"
    if progress:
        progress(f"Downloading {url}")
    download(url, dest, on_progress=_byte_progress(progress, "aclImdb_v1.tar.gz"))
    return load_aclimdb_archive(dest, progress=progress)


def _byte_progress(progress: Progress | None, what: str):
    if progress is None:
        return None
    last = [-1]

    def report(done: int, total: int | None) -> None:
        mb = done >> 20
        if mb != last[0]:
            last[0] = mb
            progress(f"Downloading {what}: {mb} MB" + (f" of {total >> 20} MB" if total else ""))

    return report


# -- Keras' IMDB ------------------------------------------------------------------------


def load_keras_imdb(
    *, progress: Progress | None = None, base_url: str = KERAS_DATASETS_URL, sha256: str | None = KERAS_IMDB_SHA256
) -> Dataset:
    """Keras' pre-tokenized IMDB (``imdb.npz`` + ``imdb_word_index.json``), downloaded to the cache.

    Reproduces ``keras.datasets.imdb.load_data()`` with its defaults (seed 113 shuffle,
    start mark 1, ``index_from=3``) but keeps every id; ``num_words`` is applied at
    training time, where the vocabulary size is known.
    """
    from models.download import download

    folder = paths.downloads_dir()
    npz = download(base_url + "imdb.npz", folder / "imdb.npz", sha256=sha256,
                   on_progress=_byte_progress(progress, "imdb.npz"))
    index_path = download(base_url + "imdb_word_index.json", folder / "imdb_word_index.json")
    return read_keras_imdb(npz, index_path)


def read_keras_imdb(npz_path: Path, word_index_path: Path, seed: int = 113) -> Dataset:
    from models.keras_runtime import keras  # npz object arrays need Keras' restricted unpickler

    keras()
    from keras.src.datasets.npz_utils import load_npz

    try:
        f = load_npz(str(npz_path))
        x_train, y_train, x_test, y_test = f["x_train"], f["y_train"], f["x_test"], f["y_test"]
        word_index = read_word_index(word_index_path)
    except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile, pickle.UnpicklingError) as exc:
        raise DataSourceError(
            f"The downloaded IMDB data is damaged ({exc}); delete {npz_path.parent} and retry.") from None
    rng = np.random.RandomState(seed)
    splits = []
    for x, y in ((x_train, y_train), (x_test, y_test)):
        order = np.arange(len(x))
        rng.shuffle(order)
        seqs = [[START_ID, *(int(w) + INDEX_FROM for w in x[i])] for i in order]
        splits.append(Split(labels=np.asarray(y, dtype=np.int8)[order], sequences=seqs))
    return Dataset(splits[0], splits[1], KERAS_SOURCE, keras_word_index=word_index)


# A word index holds one entry per word; no model uses more than 1,000,000 (models.config's largest
# vocabulary; Keras' IMDB index has 88,584). Counted in the file's bytes before it is parsed: a JSON
# of 64 MB can hold 7 million entries, which took 1.73 GB once parsed (a dict, then a copy of it).
MAX_WORD_INDEX_ENTRIES = 1_000_000
# A string, a comma, or (last) a quote whose string never closes: that one ends the scan, so a file of
# unclosed strings is read once, not once per quote (quadratic: 146 s for 160 KB of `\"`).
_JSON_STRING_OR_COMMA = re.compile(rb'"(?:[^"\\]|\\.)*"|,|"')


def bounded_word_index(raw: bytes, name: str) -> bytes:
    """``raw`` itself, or DataSourceError when its JSON holds more than MAX_WORD_INDEX_ENTRIES items
    (the commas between items, outside strings, are counted without parsing anything)."""
    if raw.count(b",") <= MAX_WORD_INDEX_ENTRIES + 16:  # every comma, strings' included: an upper bound
        return raw
    commas = 0
    for match in _JSON_STRING_OR_COMMA.finditer(raw):
        if match.end() - match.start() == 1 and raw[match.start()] == 0x22:
            raise DataSourceError(f"{name} is not JSON (a string never ends).")
        if match.end() - match.start() == 1 and raw[match.start()] == 0x2C:  # a comma, not a string
            commas += 1
            if commas > MAX_WORD_INDEX_ENTRIES + 16:  # a vocabulary.json has a few more items than words
                raise DataSourceError(f"{name} has more than {MAX_WORD_INDEX_ENTRIES:,} entries; a word index "
                                      f"holds one per word of the vocabulary (at most {MAX_WORD_INDEX_ENTRIES:,}).")
    return raw


def read_word_index(path: Path) -> dict[str, int]:
    """A Keras word index: a JSON object of word -> frequency rank (from 1)."""
    try:
        path = checked_input_file(path, "JSON word index")
        with open(path, "rb") as f:
            data = parse_json(bounded_word_index(read_at_most(f, MAX_JSON_BYTES, Path(path).name), Path(path).name))
    except InputPathError as exc:
        raise DataSourceError(str(exc)) from None
    except (OSError, ValueError) as exc:
        raise DataSourceError(f"{Path(path).name} is not a readable JSON word index ({exc}).") from None
    return checked_word_index(data, Path(path).name)


def checked_word_index(data: object, name: str) -> dict[str, int]:
    """``data`` as a Keras word index, or DataSourceError saying what it is not."""
    if not isinstance(data, dict) or not all(
        isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool) for k, v in data.items()
    ):
        raise DataSourceError(
            f"{name} is not a word index: expected a JSON object mapping each word to its rank."
        )
    return data


# -- CSV --------------------------------------------------------------------------------

TEXT_COLUMNS = ("text", "review", "sentence", "content", "comment")
LABEL_COLUMNS = ("label", "sentiment", "polarity", "target", "class")
SPLIT_COLUMNS = ("split", "set", "subset")
_LABELS = {"1": 1, "0": 0, "pos": 1, "neg": 0, "positive": 1, "negative": 0, "1.0": 1, "0.0": 0}


def load_csv(path: Path, *, test_fraction: float = 0.2, seed: int = 0, limit: int | None = None) -> Dataset:
    """A CSV with a text and a label column; an optional split column (train/test), else a seeded split.

    ``limit``: the reviews ``Dataset.limited(limit)`` would keep, and only their texts: the file is read
    twice, first for the labels and splits (the choice needs them all), then for the chosen texts. A
    1 GB CSV with ``--limit 100`` was read whole into memory first (MemoryError at 2.7 GB)."""
    texts: list[str] | None = [] if limit is None else None
    labels: list[int] = []
    in_test: list[bool] = []
    data_rows: list[int] = []
    rows = CsvReviews(path, labels=True)
    for row in rows:
        if texts is not None:
            texts.append(row.text)
        data_rows.append(row.line - 1)  # the header is line 1
        labels.append(row.label)  # type: ignore[arg-type]  # labels=True: always set
        if row.split is not None:
            in_test.append(row.split in ("test", "validation", "val", "dev"))
    split_col = rows.split_col
    labels_arr = np.array(labels, dtype=np.int8)
    del labels
    if len(labels_arr) < 2:
        raise DataSourceError(f"{path.name} has {len(labels_arr)} labelled reviews; at least 2 are needed.")
    # One class is a valid data set to evaluate on (training refuses it: models/training.py).
    # A split column is honoured even when every row is "test" (a set to evaluate on: training then
    # says it has no training review) or "train" (evaluation says there is no test review).
    if split_col is not None and len(in_test) == len(labels_arr):
        test_mask = np.array(in_test)
    else:
        order = np.random.default_rng(seed).permutation(len(labels_arr))
        n_test = max(1, int(round(len(labels_arr) * test_fraction)))
        test_mask = np.zeros(len(labels_arr), dtype=bool)
        test_mask[order[:n_test]] = True
    train_rows, test_rows = np.flatnonzero(~test_mask), np.flatnonzero(test_mask)
    if texts is not None:
        whole = Split(labels=labels_arr, texts=texts, ids=data_rows)
        return Dataset(whole.subset(train_rows), whole.subset(test_rows), str(path))
    rng = np.random.default_rng(0)  # Dataset.limited's default seed: the same reviews as loading, then limiting
    train_rows = train_rows[_balanced_indices(labels_arr[train_rows], limit, rng)]
    test_rows = test_rows[_balanced_indices(labels_arr[test_rows], limit, rng)]
    wanted = set(train_rows.tolist()) | set(test_rows.tolist())
    chosen: dict[int, str] = {}
    count = 0
    for count, row in enumerate(CsvReviews(path, labels=True), start=1):
        if count - 1 in wanted:
            if row.label != labels_arr[count - 1]:
                count = -1
                break
            chosen[count - 1] = row.text
    if count != len(labels_arr):
        raise DataSourceError(f"{path.name} changed while it was read; try again.")
    return Dataset(Split(labels=labels_arr[train_rows], texts=[chosen[i] for i in train_rows.tolist()],
                         ids=[data_rows[i] for i in train_rows.tolist()]),
                   Split(labels=labels_arr[test_rows], texts=[chosen[i] for i in test_rows.tolist()],
                         ids=[data_rows[i] for i in test_rows.tolist()]), str(path))


MAX_FIELD_CHARS = MAX_REVIEW_BYTES  # one review; bounds memory on a file with no line breaks
_DELIMITERS = ",\t;|"


def text_encoding(path: Path) -> str:
    """What a text file is written in: UTF-16 or UTF-8 by its byte-order mark (Excel and Notepad
    write one), else UTF-8. Bytes that do not decode become U+FFFD."""
    with open(path, "rb") as f:
        head = f.read(4)
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"  # the codec reads the mark and drops it
    return "utf-8-sig"  # drops a UTF-8 mark when there is one


def _check_text_file(path: Path, csv_file: bool = True) -> str:
    """Refuse paths that are not files, binary files, and CSVs without a line break in their first
    megabyte (no header line) before parsing; returns the encoding. (Every reader bounds its lines with
    ``bounded_lines``: a text file's one review per line may be as long as a CSV field.)"""
    try:
        path = checked_input_file(path, "text or CSV file")
        encoding = text_encoding(path)
        with open(path, "rb") as f:
            head = f.read(1024 * 1024)
    except InputPathError as exc:
        raise DataSourceError(str(exc)) from None
    except OSError as exc:
        raise DataSourceError(f"Could not read {path}: {os_error_reason(exc)}.") from None
    if encoding != "utf-16" and b"\x00" in head[:65536]:
        raise DataSourceError(f"{path.name} is not a text file (it holds binary data): give a CSV of reviews.")
    if csv_file and len(head) == 1024 * 1024 and b"\n" not in head and b"\r" not in head:
        raise DataSourceError(f"{path.name} has no line break in its first megabyte: it is not a CSV of reviews.")
    return encoding


def bounded_lines(f, name: str) -> Iterator[str]:
    """A text file's lines, none longer than MAX_FIELD_CHARS (iterating a file reads a whole line,
    however long, into memory first; this never reads more than the limit at once)."""
    while line := f.readline(MAX_FIELD_CHARS + 1):
        if len(line) > MAX_FIELD_CHARS:
            raise DataSourceError(f"{name}: a line is longer than {MAX_FIELD_CHARS:,} characters; "
                                  "give one review per line.")
        yield line


@dataclass(frozen=True)
class CsvRow:
    line: int
    text: str
    label: int | None  # 1 = positive; None when labels were not asked for
    split: str | None  # the split column's value, lower-cased, when there is one


class CsvReviews:
    """The one set of CSV rules, for training and for scoring, read as a stream of rows.

    Encoding by byte-order mark (UTF-8 or UTF-16, else UTF-8); the delimiter is the first of
    comma, tab, semicolon and bar that splits the header into a known text column (and label
    column, when labels are asked for), else the one the header holds most of; quotes are
    Excel's (``"``, doubled inside a field), and a space after a delimiter is skipped when the
    header puts one after each (``text, label``). No ``csv.Sniffer``: its patterns backtrack
    (a 64 KB head of ``-'x`` took 22 s), and it guesses from one sample what a later row may
    contradict (a doubled quote first seen past the sample). Column names are matched
    case-insensitively (TEXT_COLUMNS, LABEL_COLUMNS, SPLIT_COLUMNS); blank rows are skipped;
    a field holds at most MAX_FIELD_CHARS. The header is read and checked when the object is
    made, so a wrong file fails before any row is used.
    """

    def __init__(self, path: Path, *, labels: bool):
        self.path = Path(path)
        self.labels = labels
        self.encoding = _check_text_file(self.path)
        try:
            with open(self.path, newline="", encoding=self.encoding, errors="replace") as f:
                sample = f.read(64 * 1024)
        except OSError as exc:
            raise DataSourceError(f"Could not read {self.path}: {os_error_reason(exc)}.") from None
        if not sample.strip():
            raise DataSourceError(f"{self.path.name} is empty.")
        self.dialect = self._dialect(sample)
        try:
            header = next(csv.reader(sample.splitlines()[:1], self.dialect))
        except (csv.Error, StopIteration) as exc:
            raise DataSourceError(f"{self.path.name} is not a valid CSV file ({exc}).") from None
        columns = [h.strip().lower() for h in header]
        self.text_col = _find_column(columns, TEXT_COLUMNS, self.path, "text")
        self.label_col = _find_column(columns, LABEL_COLUMNS, self.path, "label") if labels else None
        self.split_col = next((columns.index(c) for c in SPLIT_COLUMNS if c in columns), None)

    def _dialect(self, sample: str) -> type[csv.Dialect]:
        """Found from the header line alone, in time linear in its length."""
        header = sample.splitlines()[0]
        chosen = max(_DELIMITERS, key=header.count)  # the first of the most frequent, for the message
        for delimiter in _DELIMITERS:
            columns = [h.strip().lower() for h in next(csv.reader([header], delimiter=delimiter), [])]
            if any(c in columns for c in TEXT_COLUMNS) and (
                    not self.labels or any(c in columns for c in LABEL_COLUMNS)):
                chosen = delimiter
                break
        spaced = 0 < header.count(chosen) == header.count(chosen + " ")
        return type("Found", (csv.excel,), {"delimiter": chosen, "skipinitialspace": spaced})

    def __iter__(self) -> Iterator[CsvRow]:
        name = self.path.name
        csv.field_size_limit(MAX_FIELD_CHARS)
        try:
            with open(self.path, newline="", encoding=self.encoding, errors="replace") as f:
                reader = csv.reader(bounded_lines(f, name), self.dialect)
                next(reader, None)  # the header, read in __init__
                ended = reader.line_num
                for row in reader:
                    # the file line the row starts on (a quoted field may span lines; blank lines count)
                    line_no, ended = ended + 1, reader.line_num
                    if not row or all(not cell.strip() for cell in row):
                        continue
                    needed = max(self.text_col, self.label_col if self.label_col is not None else 0)
                    if len(row) <= needed:
                        if not self.labels:
                            continue  # a short row has no text to score
                        raise DataSourceError(f"{name}, line {line_no}: the row has too few columns.")
                    label = None
                    if self.label_col is not None:
                        raw_label = row[self.label_col].strip().lower()
                        if raw_label not in _LABELS:
                            raise DataSourceError(
                                f"{name}, line {line_no}: label {row[self.label_col]!r} is not binary "
                                "(use 0/1, pos/neg or positive/negative)."
                            )
                        label = _LABELS[raw_label]
                    split = row[self.split_col].strip().lower() if self.split_col is not None and \
                        self.split_col < len(row) else None
                    yield CsvRow(line_no, row[self.text_col], label, split)
        except csv.Error as exc:
            raise DataSourceError(f"{name} is not a valid CSV file ({exc}).") from None
        except OSError as exc:
            raise DataSourceError(f"Could not read {self.path}: {os_error_reason(exc)}.") from None


def _find_column(columns: list[str], names: tuple[str, ...], path: Path, what: str) -> int:
    for name in names:
        if name in columns:
            return columns.index(name)
    raise DataSourceError(
        f"{path.name} has no {what} column: name one of its columns {' or '.join(repr(n) for n in names[:3])} "
        f"(found {_shown_columns(columns)})."
    )


def _shown_columns(columns: list[str]) -> str:
    """A header's column names for a one-line message: at most 10, each at most 40 characters."""
    shown = [repr(c if len(c) <= 40 else c[:37] + "...") for c in columns[:10]]
    return ", ".join(shown) + (f" and {len(columns) - 10:,} more" if len(columns) > 10 else "") or "none"


def iter_numbered_review_texts(path: Path) -> Iterator[tuple[int, str]]:
    """A .csv's text column (the CSV rules above), or a text file's non-empty lines, as a stream of
    (line in the file, text): the file is checked and a CSV's header read before this returns, then
    texts come one at a time, so a file of any length is scored in bounded memory. Blank lines (and
    CSV rows without text) are skipped; the line numbers say where each text was."""
    path = Path(path)
    if path.suffix.lower() in (".csv", ".tsv"):
        rows = CsvReviews(path, labels=False)
        return ((row.line, row.text) for row in rows if row.text.strip())
    encoding = _check_text_file(path, csv_file=False)

    def lines() -> Iterator[tuple[int, str]]:
        try:
            with open(path, encoding=encoding, errors="replace") as f:
                for number, line in enumerate(bounded_lines(f, path.name), start=1):
                    if line.strip():
                        yield number, line.rstrip("\r\n")
        except OSError as exc:
            raise DataSourceError(f"Could not read {path}: {os_error_reason(exc)}.") from None

    return lines()


def iter_review_texts(path: Path) -> Iterator[str]:
    """The texts of :func:`iter_numbered_review_texts`, without their line numbers."""
    return (text for _, text in iter_numbered_review_texts(path))


def read_review_texts(path: Path) -> list[str]:
    """Every review of :func:`iter_review_texts`, in a list."""
    return list(iter_review_texts(path))


def local_source(spec: str) -> Path | None:
    """The file or folder a data source names, as :func:`load_source` reads it (white space around
    it stripped, ``~`` expanded), or None for a download (``imdb``, ``stanford``). Whoever guards
    the data set against being overwritten compares this path, not the text as typed (a test
    checks that load_source reads the same path)."""
    key = spec.strip()
    if key.lower() in (KERAS_SOURCE, "keras", STANFORD_SOURCE, "aclimdb"):
        return None
    return Path(key).expanduser()


def source_at_hand(spec: str) -> bool:
    """Whether ``spec`` can be opened without a download: a local path that exists, or a download
    source ('imdb', 'stanford') already in the cache."""
    key = spec.strip()
    if not key:
        return False
    folder = paths.downloads_dir()
    if key.lower() in (KERAS_SOURCE, "keras"):
        return (folder / "imdb.npz").is_file() and (folder / "imdb_word_index.json").is_file()
    if key.lower() in (STANFORD_SOURCE, "aclimdb"):
        return (folder / "aclImdb_v1.tar.gz").is_file()
    try:
        return Path(key).expanduser().exists()
    except (OSError, ValueError):
        return False


def trained_on_at_hand(source: str | None, builtin: bool) -> str | None:
    """Where the data set a model records (``source``) is on this computer, or None. A built-in model was
    made in the project's folder and records the path as typed there (``../shared/...``): it is also looked
    for from that folder."""
    if not isinstance(source, str) or not source.strip():
        return None
    if source_at_hand(source):
        return source
    if builtin:
        in_project = paths.resources_dir().parent / source
        if source_at_hand(str(in_project)):
            return str(in_project.resolve())
    return None


def resolved_source(spec: str) -> str:
    """``spec`` as a model records it: a path made absolute (``~`` expanded, ``..`` and links resolved),
    so the record names the same file from any folder; a download source ('imdb', 'stanford') as it is."""
    key = spec.strip()
    if key.lower() in (KERAS_SOURCE, "keras", STANFORD_SOURCE, "aclimdb"):
        return key
    try:
        return str(Path(key).expanduser().resolve())
    except (OSError, RuntimeError, ValueError):  # a link loop, a NUL: left for load_source to refuse
        return key
