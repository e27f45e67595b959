"""Memory stays flat on hostile inputs: each attack runs in a child process under a memory cap
(tests/capped.py), so a regression fails instead of swapping."""

from __future__ import annotations

import json

import pytest

from tests.capped import ROOT, refused, run_cli

LONG_REVIEW_MB = 10


def write_long_reviews(path, count: int, megabytes: int = LONG_REVIEW_MB) -> None:
    """A short first review (a file must have a line break in its first megabyte), then ``count``
    reviews of ``megabytes`` MB each, words from both labels."""
    words = (b"great awful film plot boring superb the and it was " * (megabytes * 1024 * 1024 // 51 + 1))
    line = words[: megabytes * 1024 * 1024]
    with open(path, "wb") as f:
        f.write(b"a short first review\n")
        for i in range(count):
            f.write(line + b" %d\n" % i)


def test_predict_a_file_of_long_reviews_holds_a_few_of_them_at_a_time(tmp_path):
    # 40 reviews of 10 MB: a first chunk of 32 of them (320 MB) before chunks were bounded by their size
    # too (MemoryError under this cap); now a chunk ends at 4 MB (models.prediction.MAX_CHUNK_CHARS).
    path = tmp_path / "long.txt"
    write_long_reviews(path, 40)
    done = run_cli(tmp_path, "predict", "--file", path, cap_mb=400)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(lines) == 41 and all(0 <= line["probability"] <= 1 for line in lines)


def test_chunks_bounded_by_size_score_as_chunks_bounded_by_count(monkeypatch):
    from models import prediction
    from models.paths import builtin_model_dirs
    from models.store import ModelStore

    predictor = prediction.Predictor.from_store(ModelStore(builtin=builtin_model_dirs()))
    texts = [("a superb film " if i % 3 else "boring awful plot ") * (1 + i % 40) + str(i) for i in range(300)]
    by_count = [p.probability for chunk in predictor.predict_chunks(texts) for p in chunk]
    monkeypatch.setattr(prediction, "MAX_CHUNK_CHARS", 500)
    sizes = []
    by_size = []
    for chunk in predictor.predict_chunks(iter(texts)):
        sizes.append(len(chunk))
        by_size.extend(p.probability for p in chunk)
    assert sum(sizes) == 300 and max(sizes) < 32  # ended by size, none lost or repeated
    # Different chunkings: the same scores within float32 rounding, not bit for bit.
    assert by_size == pytest.approx(by_count, abs=1e-6)


def write_labelled_csv(path, rows: int, review_chars: int, split_column: bool = False) -> None:
    filler = ("superb acting " * (review_chars // 14 + 1))[:review_chars]
    with open(path, "w", encoding="utf-8") as f:
        f.write("text,label" + (",split" if split_column else "") + "\n")
        for i in range(rows):
            label = "positive" if i % 3 else "negative"
            f.write(f"review {i} {filler},{label}" + ((",test" if i % 4 == 0 else ",train") if split_column else "")
                    + "\n")


@pytest.mark.parametrize("split_column", [False, True])
@pytest.mark.parametrize("limit", [2, 7, 100, 5000])
def test_a_csv_limited_while_read_keeps_the_reviews_limiting_it_afterwards_keeps(tmp_path, split_column, limit):
    from models.datasets import load_csv

    path = tmp_path / "reviews.csv"
    write_labelled_csv(path, 1000, 30, split_column)
    afterwards, while_read = load_csv(path).limited(limit), load_csv(path, limit=limit)
    for name in ("train", "test"):
        expected, got = getattr(afterwards, name), getattr(while_read, name)
        assert got.texts == expected.texts and got.labels.tolist() == expected.labels.tolist()


def test_evaluate_with_a_limit_reads_a_big_csv_in_bounded_memory(tmp_path):
    # 3,000 reviews of 100 KB (300 MB): read whole, then limited (MemoryError under this cap); now only
    # the 2 x 100 chosen reviews' texts are kept.
    path = tmp_path / "big.csv"
    write_labelled_csv(path, 3000, 100_000)
    done = run_cli(tmp_path, "evaluate", "--data", path, "--limit", "100", cap_mb=400)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout)["accuracy"] >= 0


def write_word_index(path, entries: int) -> None:
    """Entries as short as JSON allows ("ab12":1), so 7 million fit in the 64 MB a JSON file may have."""
    alphabet = [bytes([c]) for c in b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"]
    with open(path, "wb") as f:
        f.write(b"{")
        for n in range(entries):
            key = b"".join(alphabet[(n // 62 ** k) % 62] for k in range(4))
            f.write((b"," if n else b"") + b'"' + key + b'":1')
        f.write(b"}")


def test_a_word_index_of_millions_of_entries_is_refused_before_it_is_parsed(tmp_path):
    # 7 million entries in 63 MB: 1.73 GB once parsed (peak RSS of import before the bound).
    index = tmp_path / "huge_index.json"
    write_word_index(index, 7_000_000)
    model = ROOT / "resources" / "default_model" / "model.keras"
    refused(run_cli(tmp_path, "import", model, "--word-index", index, cap_mb=512),
            "huge_index.json has more than 1,000,000 entries")


def test_the_word_index_bound_counts_items_not_commas_in_words():
    from models.datasets import MAX_WORD_INDEX_ENTRIES, bounded_word_index
    from models.errors import DataSourceError

    def index(entries: int, word: str = "w") -> bytes:
        return ("{" + ",".join(f'"{word}{i}":{i + 1}' for i in range(entries)) + "}").encode()

    assert bounded_word_index(index(MAX_WORD_INDEX_ENTRIES + 1), "ok.json")
    assert bounded_word_index(index(1000, word="a,b,c,") * 1, "commas in words.json")
    with pytest.raises(DataSourceError, match="more than 1,000,000 entries"):
        bounded_word_index(index(MAX_WORD_INDEX_ENTRIES + 20), "big.json")
    with pytest.raises(DataSourceError):  # a list of words (a vocabulary.json) is bounded too
        bounded_word_index(b'{"words": [' + b",".join([b'"w"'] * (MAX_WORD_INDEX_ENTRIES + 20)) + b"]}", "v.json")
