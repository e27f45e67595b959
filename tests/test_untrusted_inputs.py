"""Data, paths and arguments from elsewhere: bounded, checked, and never a traceback.

Every case runs the real CLI (or the loader) in a child process under a memory cap
(tests/capped.py) on files crafted here, a few MB at most.
"""

from __future__ import annotations

import codecs
import json
import os
import select
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from models.paths import builtin_model_dirs
from tests.capped import ROOT, capped_env, gzip_of_zeros, refused, run_cli, run_python
from tests.conftest import reviews

BUILTIN = builtin_model_dirs()[0]
TOO_LONG = "x" * 300


@pytest.fixture
def csv_file(tmp_path) -> Path:
    path = tmp_path / "reviews.csv"
    path.write_text("text,label\n" + "".join(f'"{t}",{y}\n' for t, y in reviews(40)), encoding="utf-8")
    return path


# -- arguments ----------------------------------------------------------------------------

BAD_ARGUMENTS = {
    "seed below 0": (["--seed", "-1"], "seed must be a whole number from 0 to 4,294,967,295"),
    "seed of 1e20": (["--seed", "1e20"], "'1e20' is not a whole number"),
    "seed beyond NumPy's": (["--seed", str(2**32)], "seed must be a whole number from 0"),
    "limit 0": (["--limit", "0"], "--limit: must be at least 2"),
    "limit negative": (["--limit", "-3"], "--limit: must be at least 2"),
    "epochs 0": (["--epochs", "0"], "epochs must be at least 1"),
    "maxlen a billion": (["--maxlen", "1000000000"], "maxlen must be at most"),
    "dropout nan": (["--dropout", "nan"], "must be a finite number"),
    "learning rate text": (["--learning-rate", "fast"], "'fast' is not a number"),
    "unknown option": (["--epoch", "3", "--colour", "red"], "unrecognized arguments: --colour"),
}


@pytest.mark.parametrize("case", list(BAD_ARGUMENTS))
def test_each_bad_train_argument_is_one_readable_line(tmp_path, csv_file, case):
    extra, fragment = BAD_ARGUMENTS[case]
    refused(run_cli(tmp_path, "train", "--data", csv_file, *extra), fragment)


def test_other_commands_check_their_arguments(tmp_path):
    refused(run_cli(tmp_path, "import", "model.keras", "--maxlen", "0"), "--maxlen: must be at least 1")
    refused(run_cli(tmp_path, "predict"), "Nothing to score")
    refused(run_cli(tmp_path, "frobnicate"), "invalid choice: 'frobnicate'")


# -- paths --------------------------------------------------------------------------------


def _bad_paths(tmp_path: Path) -> dict[str, tuple[str, str]]:
    folder = tmp_path / "a-folder.csv"
    folder.mkdir()
    return {
        "too long": (str(tmp_path / (TOO_LONG + ".csv")), "the path is too long"),
        "a folder": (str(folder), "is a folder"),
        "a device": ("/dev/zero", "is not a regular file"),
        "missing": (str(tmp_path / "nowhere.csv"), "does not exist"),
    }


@pytest.mark.parametrize("kind", ["too long", "a folder", "a device", "missing"])
def test_bad_paths_are_one_readable_line_for_every_command(tmp_path, kind):
    path, fragment = _bad_paths(tmp_path)[kind]
    refused(run_cli(tmp_path, "predict", "--file", path), fragment)
    refused(run_cli(tmp_path, "import", path), fragment)
    if kind != "a folder":  # a folder is a fine --data (an unpacked aclImdb set)
        refused(run_cli(tmp_path, "train", "--data", path), fragment)
    refused(run_cli(tmp_path, "import", BUILTIN / "model.keras", "--word-index", path), fragment)


def test_an_export_to_a_path_too_long_is_one_readable_line(tmp_path):
    refused(run_cli(tmp_path, "export", "IMDB LSTM (built-in)", tmp_path / (TOO_LONG + ".ssmodel")),
            "too long")


# -- the store never follows a link out of itself -----------------------------------------


def test_a_symlinked_model_folder_is_damaged_and_rename_and_delete_never_touch_its_target(tmp_path):
    outside = tmp_path / "elsewhere" / "model"
    shutil.copytree(BUILTIN, outside)
    before = (outside / "metadata.json").read_bytes()
    root = tmp_path / "models"
    shutil.copytree(BUILTIN, root / "good")
    os.symlink(outside, root / "linked")
    listing = {m["id"]: m for m in json.loads(run_cli(tmp_path, "models").stdout)}
    assert "is a link" in listing["linked"]["damaged"] and listing["good"]["damaged"] is None
    refused(run_cli(tmp_path, "rename", "linked", "new name"), "cannot be renamed", "link")
    assert (outside / "metadata.json").read_bytes() == before
    deleted = run_cli(tmp_path, "delete", "linked")
    assert deleted.returncode == 0, deleted.stderr
    assert not os.path.lexists(root / "linked") and (outside / "metadata.json").read_bytes() == before
    assert (outside / "model.keras").is_file() and (root / "good" / "model.keras").is_file()


def test_a_metadata_file_linked_to_a_device_is_damaged_not_read(tmp_path):
    root = tmp_path / "models"
    shutil.copytree(BUILTIN, root / "good")
    shutil.copytree(BUILTIN, root / "zero")
    (root / "zero" / "metadata.json").unlink()
    os.symlink("/dev/zero", root / "zero" / "metadata.json")
    listing = {m["id"]: m for m in json.loads(run_cli(tmp_path, "models").stdout)}
    assert "it is a link" in listing["zero"]["damaged"] and listing["good"]["damaged"] is None


# -- rename and delete ------------------------------------------------------------------------


def test_rename_and_delete_from_the_command_line(tmp_path):
    root = tmp_path / "models"
    shutil.copytree(BUILTIN, root / "mine")
    meta = json.loads((root / "mine" / "metadata.json").read_text(encoding="utf-8"))
    (root / "mine" / "metadata.json").write_text(json.dumps({**meta, "name": "mine"}), encoding="utf-8")
    renamed = run_cli(tmp_path, "rename", "mine", "  ours\x1b[0m ")
    assert renamed.returncode == 0 and json.loads(renamed.stdout)["name"] == "ours[0m"
    refused(run_cli(tmp_path, "rename", "IMDB LSTM (built-in)", "x"), "built in and cannot be changed")
    refused(run_cli(tmp_path, "rename", "ours[0m", "\x07"), "at least one visible character")
    refused(run_cli(tmp_path, "delete", "nobody"), "No model called 'nobody'")
    done = run_cli(tmp_path, "delete", "ours[0m")
    assert done.returncode == 0 and json.loads(done.stdout) == {"deleted": "ours[0m", "id": "mine"}
    assert not (root / "mine").exists()
    refused(run_cli(tmp_path, "delete", "IMDB LSTM (built-in)"), "built in")


# -- CSV: one set of rules, byte-order marks accepted ----------------------------------------


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16", "utf-16-le-bom", "utf-16-be-bom"])
def test_csv_with_a_byte_order_mark_trains_and_scores(tmp_path, encoding):
    text = "text;label\n" + "".join(f"{t};{y}\n" for t, y in reviews(20))
    boms = {"utf-16-le-bom": (codecs.BOM_UTF16_LE, "utf-16-le"), "utf-16-be-bom": (codecs.BOM_UTF16_BE, "utf-16-be")}
    path = tmp_path / "excel.csv"
    if encoding in boms:
        bom, codec = boms[encoding]
        path.write_bytes(bom + text.encode(codec))
    else:
        path.write_bytes(text.encode(encoding))
    code = ("import json; from models.datasets import load_csv, read_review_texts; "
            f"d = load_csv({str(path)!r}); t = read_review_texts({str(path)!r}); "
            "print(json.dumps([len(d.train) + len(d.test), len(t), t[0][:12]]))")
    out = run_python(tmp_path, code)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == [20, 20, reviews(20)[0][0][:12]]
    scored = run_cli(tmp_path, "predict", "--file", path)
    assert scored.returncode == 0 and len(scored.stdout.splitlines()) == 20, scored.stderr


def test_training_and_scoring_read_a_csv_by_the_same_rules(tmp_path):
    from models.datasets import load_csv, read_review_texts

    path = tmp_path / "semicolons.csv"
    path.write_text("Review;Sentiment\n\"good; really good\";pos\n\n\"bad film\";neg\n", encoding="utf-8")
    data = load_csv(path)
    assert sorted(data.train.texts + data.test.texts) == ["bad film", "good; really good"]
    assert read_review_texts(path) == ["good; really good", "bad film"]


# -- archives ---------------------------------------------------------------------------------


def _tar_header(name: str, size: int) -> bytes:
    info = tarfile.TarInfo(name)
    info.size = size
    return info.tobuf(format=tarfile.GNU_FORMAT)


def test_an_aclimdb_archive_whose_review_expands_to_gigabytes_is_refused(tmp_path):
    bomb = tmp_path / "aclImdb_v1.tar.gz"  # 2 MB that expand to 2 GB: one "review" of zeros
    bomb.write_bytes(gzip_of_zeros(2048, prefix=_tar_header("aclImdb/train/pos/0_9.txt", 2048 << 20)))
    assert bomb.stat().st_size < 4 * 1024**2
    refused(run_cli(tmp_path, "train", "--data", bomb), "aclImdb/train/pos/0_9.txt", "larger than the limit")


def test_an_aclimdb_archive_past_the_total_limit_is_refused(tmp_path, monkeypatch, aclimdb_archive):
    from models import datasets
    from models.errors import DataSourceError

    monkeypatch.setattr(datasets, "MAX_DATASET_TEXT_BYTES", 2000)
    with pytest.raises(DataSourceError, match="review text of .* larger than the limit of 2,000 bytes"):
        datasets.load_source(str(aclimdb_archive))
    monkeypatch.setattr(datasets, "MAX_TAR_STREAM_BYTES", 4000)
    with pytest.raises(DataSourceError, match="uncompressed.* larger than the limit"):
        datasets.load_source(str(aclimdb_archive))


def test_a_keras_file_whose_weights_expand_to_gigabytes_is_refused_before_keras_reads_it(tmp_path):
    from tests.capped import deflate_of_zeros, zip_bytes

    with zipfile.ZipFile(BUILTIN / "model.keras") as zf:
        config = zf.read("config.json")
    for version in ("3.15.1", "2.15.0"):  # an older Keras version: no copy of the file is made in memory
        bomb = tmp_path / f"tutorial-{version}.keras"
        bomb.write_bytes(zip_bytes({"metadata.json": json.dumps({"keras_version": version}).encode(),
                                    "config.json": config,
                                    "model.weights.h5": (3072 << 20, deflate_of_zeros(3072))}))
        refused(run_cli(tmp_path, "import", bomb, "--word-index", BUILTIN / "vocabulary.json"),
                "model.weights.h5", "larger than the limit", "Nothing was imported")


def test_an_h5_file_whose_arrays_expand_to_gigabytes_is_refused(tmp_path):
    import h5py

    path = tmp_path / "tutorial.h5"
    with h5py.File(path, "w") as f:  # chunked, compressed and never written: a few KB on disk
        f.attrs["model_config"] = "{}"
        f.create_dataset("model_weights/embedding/embeddings", shape=(200_000, 2048), dtype="float32",
                         chunks=(1000, 256), compression="gzip")
    assert path.stat().st_size < 1024**2
    refused(run_cli(tmp_path, "import", path, "--word-index", BUILTIN / "vocabulary.json"),
            "its weights (1,562 MB as arrays)", "larger than the limit")


# -- predict --file streams ------------------------------------------------------------------


def test_predict_prints_the_first_scores_before_its_input_ends(tmp_path):
    """Lines go in through a pipe; the first scores must come out while it is still open."""
    with subprocess.Popen([sys.executable, "-m", "app", "predict"], cwd=ROOT, env=capped_env(tmp_path),
                          stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        try:
            proc.stdin.write("A wonderful film.\n" * 600)  # more than one chunk
            proc.stdin.flush()
            ready, _, _ = select.select([proc.stdout], [], [], 120)
            assert ready, "no output while the input was still open"
            assert json.loads(proc.stdout.readline())["label"] == "positive"
            proc.stdin.write("Two hours I will never get back.\n")
            proc.stdin.close()
            rest = proc.stdout.read().splitlines()
            assert len(rest) == 600 and json.loads(rest[-1])["label"] == "negative"
            assert proc.wait(60) == 0
        finally:
            if proc.poll() is None:
                proc.kill()


def test_predict_output_file_is_written_whole_or_not_at_all(tmp_path, csv_file):
    out = tmp_path / "scores.jsonl"
    done = run_cli(tmp_path, "predict", "--file", csv_file, "--output", out)
    assert done.returncode == 0 and done.stdout == "", done.stderr
    assert "Wrote 40 scores" in done.stderr and len(out.read_text(encoding="utf-8").splitlines()) == 40
    out.write_text("earlier scores\n", encoding="utf-8")
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n", encoding="utf-8")
    refused(run_cli(tmp_path, "predict", "--file", empty, "--output", out), "the file has no reviews")
    refused(run_cli(tmp_path, "predict", "--file", csv_file, "--output", "/dev/null"), "is a device")
    refused(run_cli(tmp_path, "predict", "--file", csv_file, "--output", tmp_path), "it is a folder")
    assert out.read_text(encoding="utf-8") == "earlier scores\n"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_a_million_lines_are_scored_in_bounded_memory(tmp_path):
    """1,000,000 reviews, scored with a small model: the child's peak memory must stay well under 400 MB."""
    from tests.test_reliability import SMALL, small_store

    small_store(tmp_path / "models", "small")
    path = tmp_path / "million.txt"
    path.write_text("good film\nbad plot\nthe film was good\nbad\nfilm\ngood good\nbad film bad\nplot\nok\nx\n"
                    * 100_000, encoding="utf-8")
    assert SMALL.maxlen == 12
    out = tmp_path / "scores.jsonl"
    # VmHWM: this process's peak resident memory (ru_maxrss would carry over the forking parent's).
    code = ("import re; from app.cli import main; "
            f"rc = main(['predict', '--model', 'small', '--file', {str(path)!r}, '--output', {str(out)!r}]); "
            "peak = re.search(r'VmHWM:\\s+(\\d+) kB', open('/proc/self/status').read()).group(1); "
            "print(rc, int(peak) // 1024)")
    done = run_python(tmp_path, code, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    rc, peak_mb = map(int, done.stdout.split())
    assert rc == 0 and peak_mb < 200, peak_mb  # about 50 MB on the development machine
    with open(out, "rb") as f:
        assert sum(1 for _ in f) == 1_000_000


# -- a store that cannot take a trained model ----------------------------------------------


def test_train_keeps_the_model_in_output_when_the_store_cannot_take_it(tmp_path, csv_file):
    (tmp_path / "models").write_text("not a folder", encoding="utf-8")  # root may write anywhere: no chmod
    kept = tmp_path / "kept"
    line = refused(run_cli(tmp_path, "train", "--data", csv_file, "--output", kept, "--epochs", "1", "--vocab-size",
                           "64", "--maxlen", "24", "--embedding-dim", "8", "--lstm-units", "8", "--batch-size", "16",
                           "--dropout", "0", "--recurrent-dropout", "0", "--no-xla", tensorflow=True),
                   "Could not save the model in", f"It was kept in {kept}")
    folder = Path(line.split("It was kept in ")[1].split(" instead")[0])
    assert sorted(p.name for p in folder.iterdir()) == ["metadata.json", "model.keras", "vocabulary.json"]
    scored = run_cli(tmp_path, "predict", "--model", folder, "a great film")
    assert scored.returncode == 0 and json.loads(scored.stdout)["label"] in ("positive", "negative")


def test_without_output_the_model_is_kept_in_a_new_temporary_folder(tmp_path, tiny_training, monkeypatch):
    from app.cli import _keep_elsewhere
    from models.training import run_metadata

    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)  # read TMPDIR again
    _, result = tiny_training
    message = _keep_elsewhere(result, run_metadata(result, "imdb-lstm"), "tiny", None, tmp_path / "store",
                              "Read-only file system")
    assert message.startswith(f"Could not save the model in {tmp_path / 'store'} (Read-only file system). "
                              f"It was kept in {tmp_path}/sentiment-studio-unsaved-")
    (folder,) = tmp_path.glob("sentiment-studio-unsaved-*/tiny-*")
    assert (folder / "model.keras").is_file()


def test_predict_file_shows_a_progress_line_when_stderr_is_a_terminal(tmp_path):
    import pty

    path = tmp_path / "reviews.txt"
    path.write_text("A wonderful film.\n" * 1000, encoding="utf-8")
    main_fd, terminal = pty.openpty()
    try:
        with subprocess.Popen([sys.executable, "-m", "app", "predict", "--file", str(path)], cwd=ROOT,
                              env=capped_env(tmp_path), stdout=subprocess.PIPE, stderr=terminal) as proc:
            os.close(terminal)
            terminal = -1
            lines = proc.stdout.read().splitlines()
            assert proc.wait(120) == 0
        shown = b""
        while select.select([main_fd], [], [], 1)[0]:
            try:
                chunk = os.read(main_fd, 65536)
            except OSError:  # the terminal's other end is closed
                break
            if not chunk:
                break
            shown += chunk
    finally:
        os.close(main_fd)
        if terminal != -1:
            os.close(terminal)
    assert len(lines) == 1000
    assert b"\rScored 32 reviews ..." in shown and shown.endswith(b"\r")  # the line is cleared at the end


# -- the CSV dialect, found from the header in linear time ----------------------------------

CSV_DIALECTS = {
    "comma": ('text,label\n"good, really",1\nbad,0\n', [("good, really", 1), ("bad", 0)]),
    "comma and space": ('text, label\n"good, really", 1\n"bad", 0\n', [("good, really", 1), ("bad", 0)]),
    "semicolon": ("review;sentiment\ngood, fine;pos\n", [("good, fine", 1)]),
    "tab": ("text\tlabel\ngood;x\t1\n", [("good;x", 1)]),
    "bar": ('text|label\n"a ""quoted"" one"|1\n', [('a "quoted" one', 1)]),
    "a doubled quote past 64 KB": ("text,label\n" + "fine,1\n" * 12_000 + '"said ""no""",0\n',
                                   [("fine", 1)] * 12_000 + [('said "no"', 0)]),
}


@pytest.mark.parametrize("case", list(CSV_DIALECTS))
def test_the_csv_delimiter_and_quotes_are_found_from_the_header(tmp_path, case):
    from models.datasets import CsvReviews

    content, expected = CSV_DIALECTS[case]
    path = tmp_path / "reviews.csv"
    path.write_text(content, encoding="utf-8")
    assert [(row.text, row.label) for row in CsvReviews(path, labels=True)] == expected


@pytest.mark.timeout(120)  # a hang guard only (csv.Sniffer took 22 s, and minutes on a busy machine)
@pytest.mark.parametrize("header", ["", "text,label\n"])
def test_a_crafted_csv_head_is_read_in_linear_time(tmp_path, header):
    """A 64 KB head of -'x made csv.Sniffer's patterns backtrack for 22 s; nothing sniffs it now."""
    from models.datasets import CsvReviews
    from models.errors import DataSourceError

    path = tmp_path / "crafted.csv"
    for pattern in ("-'x", "'x-", "x'-", " '-x"):
        body = pattern * (64 * 1024 // len(pattern))
        path.write_text(header + body + ",1\n" + body + ",0\n", encoding="utf-8")
        if header:
            assert [(row.text, row.label) for row in CsvReviews(path, labels=True)] == [(body, 1), (body, 0)]
        else:
            with pytest.raises(DataSourceError, match="has no text column") as refused_csv:
                CsvReviews(path, labels=False)
            assert len(str(refused_csv.value)) < 400  # the 64 KB "column name" is shortened


# -- nothing from outside the store's code writes into the store ----------------------------


def test_no_output_path_may_lie_inside_the_model_store(tmp_path, csv_file):
    """--misclassified <model>/metadata.json, --output <model>/vocabulary.json and an export over the
    model's own model.keras each replaced a stored model's file with something else."""
    model = tmp_path / "models" / "mine"
    shutil.copytree(BUILTIN, model)
    meta = json.loads((BUILTIN / "metadata.json").read_text(encoding="utf-8"))
    (model / "metadata.json").write_text(json.dumps({**meta, "name": "mine"}), encoding="utf-8")
    before = {p.name: p.read_bytes() for p in model.iterdir()}
    (tmp_path / "link").symlink_to(model)  # a way in from outside
    attempts = [
        ("evaluate", "--data", csv_file, "--misclassified", model / "metadata.json"),
        ("predict", "--output", model / "vocabulary.json", "A wonderful film."),
        ("predict", "--output", tmp_path / "link" / "scores.jsonl", "A wonderful film."),
        ("predict", "--output", BUILTIN / "scores.jsonl", "A wonderful film."),  # the built-in model's folder
        ("export", "mine", model / "model.keras", "--force"),
        ("export", "mine", model, "--force"),
        ("export", "mine", model, "--format", "keras", "--force"),
        ("export", "mine", tmp_path / "models", "--format", "keras"),
    ]
    for args in attempts:
        refused(run_cli(tmp_path, *args), "is inside the model store", "Choose a file outside it")
    assert {p.name: p.read_bytes() for p in model.iterdir()} == before
    assert not (BUILTIN / "scores.jsonl").exists() and not (tmp_path / "models" / "model.keras").exists()
    scored = run_cli(tmp_path, "predict", "--model", "mine", "--output", tmp_path / "scores.jsonl", "Fine.")
    assert scored.returncode == 0 and (tmp_path / "scores.jsonl").read_text().count("\n") == 1, scored.stderr
