"""Data sources: the Stanford aclImdb release, Keras' IMDB download, and CSV files.

Each returns a :class:`Dataset` of a train and a test split with 0/1 labels
(1 = positive). Text sources carry review texts; Keras' IMDB carries Keras' own id
sequences plus its word index, exactly as ``keras.datasets.imdb.load_data`` does.
"""

from __future__ import annotations

import csv
import gzip
import json
import pickle
import re
import tarfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from models import paths
from models.download import download
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

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def subset(self, indices: np.ndarray) -> Split:
        return Split(
            labels=self.labels[indices],
            texts=[self.texts[i] for i in indices] if self.texts is not None else None,
            sequences=[self.sequences[i] for i in indices] if self.sequences is not None else None,
        )

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
        if not limit:
            return self
        if limit < 2:
            raise DataSourceError("--limit must be at least 2 (one review of each label).")
        rng = np.random.default_rng(seed)
        return Dataset(
            _balanced_subset(self.train, limit, rng),
            _balanced_subset(self.test, limit, rng),
            self.source,
            self.keras_word_index,
        )


def _balanced_subset(split: Split, limit: int, rng: np.random.Generator) -> Split:
    if len(split) <= limit:
        return split
    pos = rng.permutation(np.flatnonzero(split.labels == 1))
    neg = rng.permutation(np.flatnonzero(split.labels == 0))
    n_pos = min(len(pos), max(limit // 2, limit - len(neg)))
    chosen = np.concatenate([pos[:n_pos], neg[: limit - n_pos]])
    return split.subset(np.sort(chosen))


# -- source selection -----------------------------------------------------------------


def load_source(spec: str, *, progress: Progress | None = None) -> Dataset:
    """Open what the user named: ``imdb`` (Keras download), ``stanford`` (archive download),
    an aclImdb folder or ``.tar.gz``, or a ``.csv`` file."""
    key = spec.strip()
    if key.lower() in (KERAS_SOURCE, "keras"):
        return load_keras_imdb(progress=progress)
    if key.lower() in (STANFORD_SOURCE, "aclimdb"):
        return download_stanford(progress=progress)
    path = Path(key).expanduser()
    if not path.exists():
        raise DataSourceError(
            f"{path} does not exist. Give an aclImdb folder or .tar.gz archive, a .csv file, "
            f"or '{KERAS_SOURCE}' to download Keras' IMDB data."
        )
    if path.is_dir():
        return load_aclimdb_folder(path, progress=progress)
    if path.suffix.lower() in (".csv", ".tsv"):
        return load_csv(path)
    return load_aclimdb_archive(path, progress=progress)


# -- Stanford aclImdb -------------------------------------------------------------------

# <anything>/train/pos/123_9.txt - the unlabelled "unsup" folder is ignored.
_MEMBER = re.compile(r"(?:^|/)(train|test)/(pos|neg)/(\d+)_(\d+)\.txt$")


def _collect(items: Iterator[tuple[str, bytes]], source: str) -> Dataset:
    found: dict[str, list[tuple[int, int, str]]] = {"train": [], "test": []}
    for name, raw in items:
        m = _MEMBER.search(name)
        if not m:
            continue
        split, label, review_id = m.group(1), m.group(2), int(m.group(3))
        text = raw.decode("utf-8", errors="replace")
        found[split].append((review_id, 1 if label == "pos" else 0, text))
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
            labels=np.array([r[1] for r in rows], dtype=np.int8), texts=[r[2] for r in rows]
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
        with tarfile.open(path, mode="r|*") as archive:  # stream mode: one sequential pass
            for count, member in enumerate(archive, start=1):
                if progress and count % 5000 == 0:
                    progress(f"Reading {path.name}: {count:,} files")
                if member.isfile() and _MEMBER.search(member.name):
                    f = archive.extractfile(member)
                    if f is not None:
                        yield member.name, f.read()

    try:
        if not _looks_like_tar(path):
            raise DataSourceError(
                f"{path.name} is not a readable archive. Give an aclImdb .tar.gz, its unpacked folder, "
                "or a .csv file."
            )
        return _collect(members(), str(path))
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
                    if file.suffix == ".txt":
                        yield f"{split}/{label}/{file.name}", file.read_bytes()

    try:
        return _collect(files(), str(path))
    except OSError as exc:
        raise DataSourceError(f"Could not read {path}: {exc.strerror or exc}.") from None


def download_stanford(*, progress: Progress | None = None, url: str = STANFORD_URL) -> Dataset:
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


def read_word_index(path: Path) -> dict[str, int]:
    """A Keras word index: a JSON object of word -> frequency rank (from 1)."""
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError) as exc:
        raise DataSourceError(f"{Path(path).name} is not a readable JSON word index ({exc}).") from None
    if not isinstance(data, dict) or not all(
        isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool) for k, v in data.items()
    ):
        raise DataSourceError(
            f"{Path(path).name} is not a word index: expected a JSON object mapping each word to its rank."
        )
    return data


# -- CSV --------------------------------------------------------------------------------

TEXT_COLUMNS = ("text", "review", "sentence", "content", "comment")
LABEL_COLUMNS = ("label", "sentiment", "polarity", "target", "class")
SPLIT_COLUMNS = ("split", "set", "subset")
_LABELS = {"1": 1, "0": 0, "pos": 1, "neg": 0, "positive": 1, "negative": 0, "1.0": 1, "0.0": 0}


def load_csv(path: Path, *, test_fraction: float = 0.2, seed: int = 0) -> Dataset:
    """A CSV with a text and a label column; an optional split column (train/test), else a seeded split."""
    csv.field_size_limit(MAX_FIELD_CHARS)
    _check_text_file(path)
    try:
        with open(path, newline="", encoding="utf-8", errors="replace") as f:
            sample = f.read(64 * 1024)
            f.seek(0)
            try:
                dialect = csv.Sniffer().sniff(sample, delimiters=",;\t|")
            except csv.Error:
                dialect = csv.excel
            reader = csv.reader(f, dialect)
            header = next(reader, None)
            if not header:
                raise DataSourceError(f"{path.name} is empty.")
            columns = [h.strip().lower() for h in header]
            text_col = _find_column(columns, TEXT_COLUMNS, path, "text")
            label_col = _find_column(columns, LABEL_COLUMNS, path, "label")
            split_col = next((columns.index(c) for c in SPLIT_COLUMNS if c in columns), None)
            texts: list[str] = []
            labels: list[int] = []
            in_test: list[bool] = []
            for line_no, row in enumerate(reader, start=2):
                if not row or all(not cell.strip() for cell in row):
                    continue
                if len(row) <= max(text_col, label_col):
                    raise DataSourceError(f"{path.name}, line {line_no}: the row has too few columns.")
                raw_label = row[label_col].strip().lower()
                if raw_label not in _LABELS:
                    raise DataSourceError(
                        f"{path.name}, line {line_no}: label {row[label_col]!r} is not binary "
                        "(use 0/1, pos/neg or positive/negative)."
                    )
                texts.append(row[text_col])
                labels.append(_LABELS[raw_label])
                if split_col is not None and split_col < len(row):
                    in_test.append(row[split_col].strip().lower() in ("test", "validation", "val", "dev"))
    except csv.Error as exc:
        raise DataSourceError(f"{path.name} is not a valid CSV file ({exc}).") from None
    except OSError as exc:
        raise DataSourceError(f"Could not read {path}: {exc.strerror or exc}.") from None

    labels_arr = np.array(labels, dtype=np.int8)
    if len(labels_arr) < 2:
        raise DataSourceError(f"{path.name} has {len(labels_arr)} labelled reviews; at least 2 are needed.")
    # One class is a valid data set to evaluate on (training refuses it: models/training.py).
    if split_col is not None and len(in_test) == len(texts) and any(in_test) and not all(in_test):
        test_mask = np.array(in_test)
    else:
        order = np.random.default_rng(seed).permutation(len(texts))
        n_test = max(1, int(round(len(texts) * test_fraction)))
        test_mask = np.zeros(len(texts), dtype=bool)
        test_mask[order[:n_test]] = True
    whole = Split(labels=labels_arr, texts=texts)
    return Dataset(whole.subset(np.flatnonzero(~test_mask)), whole.subset(np.flatnonzero(test_mask)), str(path))


MAX_FIELD_CHARS = 16 * 1024 * 1024  # one review; bounds memory on a file with no line breaks


def _check_text_file(path: Path) -> None:
    """Refuse binary files and files without line breaks before parsing: a CSV reader would
    otherwise pull a multi-GB "line" into memory."""
    try:
        with open(path, "rb") as f:
            head = f.read(1024 * 1024)
    except OSError as exc:
        raise DataSourceError(f"Could not read {path}: {exc.strerror or exc}.") from None
    if b"\x00" in head[:65536]:
        raise DataSourceError(f"{path.name} is not a text file (it holds binary data): give a CSV of reviews.")
    if len(head) == 1024 * 1024 and b"\n" not in head and b"\r" not in head:
        raise DataSourceError(f"{path.name} has no line break in its first megabyte: it is not a CSV of reviews.")


def _find_column(columns: list[str], names: tuple[str, ...], path: Path, what: str) -> int:
    for name in names:
        if name in columns:
            return columns.index(name)
    raise DataSourceError(
        f"{path.name} has no {what} column: name one of its columns {' or '.join(repr(n) for n in names[:3])} "
        f"(found {', '.join(repr(c) for c in columns) or 'none'})."
    )


def read_review_texts(path: Path) -> list[str]:
    """A .csv's text column, or a text file's non-empty lines."""
    if not path.exists():
        raise DataSourceError(f"{path} does not exist.")
    _check_text_file(path)
    if path.suffix.lower() in (".csv", ".tsv"):
        csv.field_size_limit(MAX_FIELD_CHARS)
        try:
            with open(path, newline="", encoding="utf-8", errors="replace") as f:
                reader = csv.reader(f, delimiter="\t" if path.suffix.lower() == ".tsv" else ",")
                header = [h.strip().lower() for h in next(reader, [])]
                col = next((header.index(c) for c in TEXT_COLUMNS if c in header), None)
                if col is None:
                    raise DataSourceError(f"{path.name} has no text column (name one 'text' or 'review').")
                return [row[col] for row in reader if len(row) > col and row[col].strip()]
        except csv.Error as exc:
            raise DataSourceError(f"{path.name} is not a valid CSV file ({exc}).") from None
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return [line.rstrip("\r\n") for line in f if line.strip()]
    except OSError as exc:
        raise DataSourceError(f"Could not read {path}: {exc.strerror or exc}.") from None


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
