import functools
import http.server
import json
import threading

import numpy as np
import pytest

from models.datasets import Dataset, load_csv, load_keras_imdb, load_source, read_keras_imdb
from models.download import download
from models.errors import DataSourceError, NetworkError
from tests.conftest import string_io_csv


def test_aclimdb_archive_read_without_unpacking(aclimdb_archive):
    data = load_source(str(aclimdb_archive))
    assert data.summary() == {"source": str(aclimdb_archive), "train": 12, "test": 12,
                              "train_positive": 6, "test_positive": 6}
    assert all(isinstance(t, str) and t for t in data.train.texts)


def test_aclimdb_folder_and_archive_agree(aclimdb_folder, aclimdb_archive):
    a, b = load_source(str(aclimdb_folder)), load_source(str(aclimdb_archive))
    assert a.train.texts == b.train.texts and a.test.labels.tolist() == b.test.labels.tolist()
    # the parent folder of aclImdb works too
    assert load_source(str(aclimdb_folder.parent)).train.texts == a.train.texts


def test_truncated_archive(aclimdb_archive, tmp_path):
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(aclimdb_archive.read_bytes()[: aclimdb_archive.stat().st_size // 2])
    with pytest.raises(DataSourceError, match="truncated or damaged"):
        load_source(str(cut))


def test_archive_that_is_not_aclimdb(tmp_path):
    import tarfile

    other = tmp_path / "other.tar.gz"
    (tmp_path / "x.txt").write_text("hello")
    with tarfile.open(other, "w:gz") as tar:
        tar.add(tmp_path / "x.txt", arcname="stuff/x.txt")
    with pytest.raises(DataSourceError, match="not an aclImdb data set"):
        load_source(str(other))


def test_file_that_is_not_an_archive(tmp_path):
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"\x00\x01 not an archive" * 10)
    with pytest.raises(DataSourceError, match="not a readable archive"):
        load_source(str(junk))


def test_missing_path():
    with pytest.raises(DataSourceError, match="does not exist"):
        load_source("/no/such/place.tar.gz")


def test_limited_is_balanced_and_seeded(aclimdb_archive):
    data = load_source(str(aclimdb_archive))
    small = data.limited(4, seed=3)
    assert len(small.train) == 4 and small.train.labels.sum() == 2
    assert small.train.texts == data.limited(4, seed=3).train.texts


# -- CSV ------------------------------------------------------------------------------------


def write(tmp_path, rows, name="data.csv"):
    path = tmp_path / name
    path.write_text(string_io_csv(rows), encoding="utf-8")
    return path


def test_csv_labels_and_seeded_split(tmp_path):
    rows = [["Text", "Label"]] + [[f"review {i}", ["pos", "neg", "1", "0", "positive", "negative"][i % 6]]
                                   for i in range(50)]
    data = load_csv(write(tmp_path, rows))
    assert len(data.train) == 40 and len(data.test) == 10
    assert load_csv(write(tmp_path, rows)).test.texts == data.test.texts  # same seed, same split


def test_csv_split_column(tmp_path):
    rows = [["text", "label", "split"], ["a", "1", "train"], ["b", "0", "train"], ["c", "1", "test"],
            ["d", "0", "test"]]
    data = load_csv(write(tmp_path, rows))
    assert data.train.texts == ["a", "b"] and data.test.texts == ["c", "d"]


@pytest.mark.parametrize(
    "rows, fragment",
    [
        ([["body", "label"], ["x", "1"]], "no text column"),
        ([["text", "stars"], ["x", "1"]], "no label column"),
        ([["text", "label"], ["x", "3"], ["y", "0"]], "not binary"),
        ([["text", "label"], ["x", "1"]], "at least 2"),
    ],
)
def test_bad_csv(tmp_path, rows, fragment):
    with pytest.raises(DataSourceError, match=fragment):
        load_csv(write(tmp_path, rows))


def test_empty_csv(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("")
    with pytest.raises(DataSourceError, match="empty"):
        load_csv(path)


# -- Keras' IMDB through a local stand-in for the download -------------------------------------


@pytest.fixture
def keras_standin(tmp_path):
    """imdb.npz + imdb_word_index.json in Keras' formats, served over HTTP on localhost."""
    rng = np.random.default_rng(0)
    folder = tmp_path / "served"
    folder.mkdir()

    def ragged(n):
        arr = np.empty(n, dtype=object)
        for i in range(n):
            arr[i] = list(rng.integers(1, 30, size=rng.integers(3, 12)).tolist())
        return arr

    np.savez(folder / "imdb.npz", x_train=ragged(20), y_train=rng.integers(0, 2, 20),
             x_test=ragged(10), y_test=rng.integers(0, 2, 10))
    (folder / "imdb_word_index.json").write_text(json.dumps({f"w{r}": r for r in range(1, 30)}))
    handler = functools.partial(QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield folder, f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def test_keras_imdb_download_matches_keras_load_data(keras_standin, monkeypatch, isolated_home):
    folder, url = keras_standin
    data = load_keras_imdb(base_url=url, sha256=None)
    assert (isolated_home / "downloads" / "imdb.npz").exists()
    assert isinstance(data, Dataset) and data.keras_word_index["w1"] == 1

    # Keras' own loader on the same file (its download step pointed at the stand-in file).
    import keras.src.datasets.imdb as keras_imdb

    monkeypatch.setattr(keras_imdb, "get_file", lambda **kw: str(folder / "imdb.npz"))
    # num_words: with None, Keras caps at the largest id seen and turns that id itself into OOV.
    (x_train, y_train), (x_test, y_test) = keras_imdb.load_data(num_words=10**6)
    assert data.train.sequences == [list(map(int, x)) for x in x_train]
    assert data.test.sequences == [list(map(int, x)) for x in x_test]
    assert data.train.labels.tolist() == y_train.tolist() and data.test.labels.tolist() == y_test.tolist()


def test_keras_imdb_checksum_mismatch_is_refused(keras_standin):
    _, url = keras_standin
    with pytest.raises(NetworkError, match="checksum"):
        load_keras_imdb(base_url=url)  # the real Keras checksum does not match the stand-in


def test_no_network_names_the_offline_alternative(tmp_path):
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(NetworkError, match="aclImdb"):
        download(f"http://127.0.0.1:{port}/imdb.npz", tmp_path / "imdb.npz", timeout=2)
    assert not (tmp_path / "imdb.npz").exists() and not (tmp_path / "imdb.npz.part").exists()


def test_http_error_is_readable(keras_standin, tmp_path):
    _, url = keras_standin
    with pytest.raises(NetworkError, match="404"):
        download(url + "missing.npz", tmp_path / "m.npz")


def test_damaged_keras_file(tmp_path):
    (tmp_path / "imdb.npz").write_bytes(b"garbage")
    (tmp_path / "wi.json").write_text("{}")
    with pytest.raises(DataSourceError, match="damaged"):
        read_keras_imdb(tmp_path / "imdb.npz", tmp_path / "wi.json")


def test_a_csv_of_one_class_loads_for_evaluation_and_training_refuses_it(tmp_path, tiny_config):
    from models.training import prepare_arrays

    path = tmp_path / "positive.csv"
    path.write_text("text,label\n" + "".join(f"review {i},pos\n" for i in range(10)), encoding="utf-8")
    data = load_csv(path)
    assert len(data.train) + len(data.test) == 10 and data.test.labels.min() == 1
    with pytest.raises(DataSourceError, match="all positive; training needs both classes"):
        prepare_arrays(tiny_config, data)


def test_a_split_column_is_honoured_even_when_every_row_has_the_same_split(tmp_path):
    path = tmp_path / "test-only.csv"
    path.write_text("text,label,split\n" + "".join(f"review {i},{i % 2},test\n" for i in range(30)), encoding="utf-8")
    data = load_csv(path)
    assert len(data.test) == 30 and len(data.train) == 0  # evaluated whole, not cut to a fifth


@pytest.mark.timeout(120)  # a hang guard: the scan was quadratic on unclosed strings (146 s for 160 KB)
@pytest.mark.parametrize("raw", [b'"' + b'\\"' * 2_000_000 + b"," * 1_100_000,
                                 b"{" + b"," * 1_100_000 + b'"' + b'\\"' * 2_000_000])
def test_counting_word_index_entries_is_linear_on_unclosed_strings(raw):
    from models.datasets import bounded_word_index
    from models.errors import DataSourceError

    with pytest.raises(DataSourceError):
        bounded_word_index(raw, "index.json")


def test_a_word_index_with_commas_inside_its_words_is_counted_by_its_entries():
    from models.datasets import MAX_WORD_INDEX_ENTRIES, bounded_word_index

    raw = b'{"' + b"," * (MAX_WORD_INDEX_ENTRIES + 100) + b'": 4}'
    assert bounded_word_index(raw, "index.json") is raw


def test_a_built_in_models_relative_source_is_found_from_the_project_folder(tmp_path, monkeypatch):
    from models import paths
    from models.datasets import trained_on_at_hand

    project = tmp_path / "project"
    (project / "resources").mkdir(parents=True)
    data = tmp_path / "shared" / "reviews.csv"
    data.parent.mkdir()
    data.write_text("review,sentiment\na great film,positive\n", encoding="utf-8")
    monkeypatch.setattr(paths, "resources_dir", lambda: project / "resources")
    elsewhere = tmp_path / "a" / "b"
    elsewhere.mkdir(parents=True)
    monkeypatch.chdir(elsewhere)  # "../shared/reviews.csv" is not there, seen from here
    assert trained_on_at_hand("../shared/reviews.csv", builtin=True) == str(data.resolve())
    assert trained_on_at_hand("../shared/reviews.csv", builtin=False) is None
    assert trained_on_at_hand(str(data), builtin=False) == str(data)
    assert trained_on_at_hand(None, builtin=True) is None and trained_on_at_hand("  ", builtin=True) is None
