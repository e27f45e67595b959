"""The command line, run as a user runs it: a subprocess with its own data directory."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--vocab-size", "64", "--maxlen", "24", "--embedding-dim", "8", "--lstm-units", "8", "--batch-size", "16",
        "--dropout", "0", "--recurrent-dropout", "0", "--learning-rate", "0.01"]


def run_cli(*args, input=None, timeout=300):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "app", *map(str, args)], capture_output=True, text=True,
                          cwd=ROOT, env=env, input=input, timeout=timeout)


def last_json(stdout: str):
    return json.loads(stdout.strip().splitlines()[-1])


def assert_user_error(proc, fragment):
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and fragment in lines[0], proc.stderr


@pytest.fixture(scope="module")
def cli_home(tmp_path_factory):
    return tmp_path_factory.mktemp("cli-home")


def test_train_predict_evaluate_models(tiny_csv, monkeypatch, tmp_path):
    monkeypatch.setenv("SENTIMENT_STUDIO_HOME", str(tmp_path / "home"))
    typed = os.path.relpath(tiny_csv, ROOT)  # as typed in the project's folder: ../../tmp/.../tiny.csv
    proc = run_cli("train", "--data", typed, "--epochs", "4", "--name", "tiny", *TINY)
    assert proc.returncode == 0, proc.stderr
    (line,) = proc.stdout.splitlines()  # stdout is only the JSON (progress is on stderr): pipes into jq
    summary = json.loads(line)
    assert summary["name"] == "tiny" and summary["epochs_completed"] == 4
    assert {"test_accuracy", "validation_accuracy", "best_epoch", "seconds_per_epoch"} <= set(summary)
    assert summary["validated_on"] == "split" and 0 <= summary["validation_accuracy"] <= 1
    assert "Epoch 4/4" in proc.stderr and "Saved as 'tiny'" in proc.stderr

    proc = run_cli("predict", "A great film with wonderful acting", "an awful, boring film")
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [r["label"] for r in rows] == ["positive", "negative"]
    assert set(rows[0]) == {"model", "probability", "label", "known_tokens", "oov_tokens", "truncated"}
    assert {r["model"] for r in rows} == {"tiny"}  # the newest model, named

    reviews = tmp_path / "reviews.txt"
    reviews.write_bytes("truly fun and superb\n\nterrible \xff acting\n".encode("latin-1"))  # invalid UTF-8 too
    proc = run_cli("predict", "--model", "tiny", "--file", reviews)
    assert proc.returncode == 0, proc.stderr
    assert [json.loads(row)["line"] for row in proc.stdout.splitlines()] == [1, 3]  # the blank line skipped

    proc = run_cli("predict", input="i loved it, a great film, wonderful acting\n")
    assert proc.returncode == 0 and json.loads(proc.stdout)["label"] == "positive"

    proc = run_cli("evaluate", "--model", "tiny", "--data", tiny_csv)
    assert proc.returncode == 0, proc.stderr
    ev = json.loads(proc.stdout)
    assert ev["n"] == 48 and sum(map(sum, ev["confusion"])) == 48
    assert ev["accuracy"] == pytest.approx(summary["test_accuracy"], abs=1e-6)

    proc = run_cli("models")
    listed = json.loads(proc.stdout)
    assert [(m["name"], m["builtin"], m["family"]) for m in listed] == [
        ("tiny", False, "lstm"), ("IMDB LSTM (built-in)", True, "lstm"), ("IMDB n-grams (built-in)", True, "ngram")]
    # Recorded as the window records a run: the edited preset as custom, the data as a resolved path.
    assert listed[0]["preset"] == "custom (from imdb-lstm)"
    assert listed[0]["source"] == str(Path(tiny_csv).resolve())


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["train", "--data", "/no/such/file.csv"], "does not exist"),
        (["train", "--data", "{csv}", "--epochs", "0"], "epochs must be at least 1"),
        (["train", "--data", "{csv}", "--dropout", "2"], "dropout must be between"),
        (["predict", "--model", "nope", "hello"], "No model called 'nope'"),
        (["predict", "  "], "empty"),
        (["predict", "!!! ???"], "No words to score in review 1 ('!!! ???')"),
        (["predict", "fine film", "..."], "No words to score in review 2 ('...')"),
        (["train", "--data", "{csv}", "--limit", "0"], "argument --limit: must be at least 2"),
        (["evaluate", "--data", "{csv}", "--limit", "-3"], "argument --limit: must be at least 1; got -3"),
        (["train", "--data", "{csv}", "--preset", "lstm100-5k"], "is now 'lstm100-10k'"),
        (["predict", "--file", "/no/such.txt"], "does not exist"),
        (["evaluate", "--data", "/no/such.csv"], "does not exist"),
    ],
)
def test_user_mistakes_exit_2_with_one_line(args, fragment, tiny_csv, monkeypatch, tmp_path):
    monkeypatch.setenv("SENTIMENT_STUDIO_HOME", str(tmp_path / "empty-home"))
    args = [str(tiny_csv) if a == "{csv}" else a for a in args]
    assert_user_error(run_cli(*args), fragment)


def test_bad_csv_is_a_user_error(tmp_path, monkeypatch):
    monkeypatch.setenv("SENTIMENT_STUDIO_HOME", str(tmp_path / "home"))
    bad = tmp_path / "bad.csv"
    bad.write_text("body,stars\nhello,5\n")
    assert_user_error(run_cli("train", "--data", bad), "no text column")


def test_help_lists_the_commands():
    proc = run_cli("--help")
    assert proc.returncode == 0
    for cmd in ("train", "predict", "evaluate", "models"):
        assert cmd in proc.stdout


def test_evaluate_prints_one_json_object_and_writes_the_misclassified(tiny_csv, monkeypatch, tmp_path):
    import csv

    monkeypatch.setenv("SENTIMENT_STUDIO_HOME", str(tmp_path / "home"))
    wrong_csv = tmp_path / "wrong.csv"
    proc = run_cli("evaluate", "--data", tiny_csv, "--misclassified", wrong_csv)  # the built-in model
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == 1
    ev = json.loads(lines[0])
    assert {"accuracy", "roc_auc", "log_loss", "threshold", "n", "confusion", "per_class", "model"} <= set(ev)
    assert ev["model"] == "IMDB LSTM (built-in)" and ev["threshold"] == 0.5 and ev["n"] == 48
    (tn, fp), (fn, tp) = ev["confusion"]
    assert tn + fp + fn + tp == 48 and ev["accuracy"] == pytest.approx((tn + tp) / 48)
    assert ev["per_class"]["positive"]["support"] == fn + tp
    assert ev["per_class"]["negative"]["recall"] == pytest.approx(tn / (tn + fp))
    with open(wrong_csv, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        rows = list(reader)
    from models.reports import evaluation_header

    assert tuple(reader.fieldnames) == evaluation_header()  # the Evaluate tab's export has the same columns
    assert len(rows) == fp + fn == ev["misclassified"]["rows"]
    assert len({row["review_id"] for row in rows}) == len(rows)
    for row in rows:
        assert 0 <= int(row["review_id"]) < 48 and row["threshold"] == "0.5"
        p = float(row["probability"])
        assert row["true_label"] != row["predicted_label"]
        assert (p >= 0.5) == (row["predicted_label"] == "positive")
    margins = [abs(float(r["probability"]) - 0.5) for r in rows]
    assert margins == sorted(margins, reverse=True)

    strict = json.loads(run_cli("evaluate", "--data", tiny_csv, "--threshold", "0.9").stdout)
    assert strict["threshold"] == 0.9
    assert strict["confusion"][0][1] + strict["confusion"][1][1] <= fp + tp  # fewer predicted positive
    assert strict["roc_auc"] == ev["roc_auc"] and strict["log_loss"] == ev["log_loss"]


@pytest.mark.parametrize("args, fragment", [(["--threshold", "1.5"], "between 0 and 1"),
                                            (["--threshold", "nan"], "between 0 and 1"),
                                            (["--limit", "0"], "at least 1")])
def test_evaluate_refuses_bad_arguments(args, fragment, tiny_csv, monkeypatch, tmp_path):
    monkeypatch.setenv("SENTIMENT_STUDIO_HOME", str(tmp_path / "home"))
    assert_user_error(run_cli("evaluate", "--data", tiny_csv, *args), fragment)


def test_misclassified_never_replaces_the_data_and_a_bad_path_is_refused_before_scoring(tiny_csv, monkeypatch,
                                                                                          tmp_path):
    monkeypatch.setenv("SENTIMENT_STUDIO_HOME", str(tmp_path / "home"))
    before = tiny_csv.read_bytes()
    assert_user_error(run_cli("evaluate", "--data", tiny_csv, "--misclassified", tiny_csv), "the data set itself")
    assert tiny_csv.read_bytes() == before
    for bad in (tmp_path / "no-such-folder" / "wrong.csv", tmp_path, tmp_path / ("x" * 300 + ".csv")):
        proc = run_cli("evaluate", "--data", tiny_csv, "--misclassified", bad)
        assert_user_error(proc, "Could not write")
    proc = run_cli("evaluate", "--data", tiny_csv, "--threshold", "-0")
    assert proc.returncode == 0 and json.loads(proc.stdout)["threshold"] == 0.0


def test_misclassified_is_compared_with_the_data_as_the_reader_opens_it(tiny_csv, aclimdb_folder, monkeypatch,
                                                                        tmp_path):
    """--data "victim.csv " reads victim.csv (the reader strips the spaces): a guard comparing the text
    as typed let --misclassified victim.csv replace a 400-review data set with its 17 misclassified."""
    monkeypatch.setenv("SENTIMENT_STUDIO_HOME", str(tmp_path / "home"))
    before = tiny_csv.read_bytes()
    hard_link, symlink = tmp_path / "hard.csv", tmp_path / "link.csv"
    os.link(tiny_csv, hard_link)
    symlink.symlink_to(tiny_csv)
    for data, output in ((f"{tiny_csv} ", tiny_csv), (f"  {tiny_csv}\t", tiny_csv), (str(tiny_csv), hard_link),
                         (str(symlink), tiny_csv), (f"{aclimdb_folder} ", aclimdb_folder / "train" / "pos" / "x.csv")):
        assert_user_error(run_cli("evaluate", "--data", data, "--misclassified", output), "the data set itself")
    assert tiny_csv.read_bytes() == before and not (aclimdb_folder / "train" / "pos" / "x.csv").exists()


@pytest.mark.parametrize("io_encoding", ["utf-8:strict", None])
def test_bytes_that_are_not_utf8_on_stdin_are_replaced_as_in_a_file(tmp_path, io_encoding):
    """Under a UTF-8 locale such as en_US.UTF-8 Python decodes stdin strictly (PYTHONIOENCODING
    utf-8:strict does the same here, where only C.UTF-8 is installed): predict exited 1 with
    UnicodeDecodeError on one bad byte. Now stdin and --file read the same bytes the same way."""
    raw = b"good film \xff\xfe bad\n\xed\xa0\x80 a second review\r\n"
    (tmp_path / "reviews.txt").write_bytes(raw)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SENTIMENT_STUDIO_HOME": str(tmp_path / "home")}
    if io_encoding:
        env["PYTHONIOENCODING"] = io_encoding
    piped = subprocess.run([sys.executable, "-m", "app", "predict"], input=raw, capture_output=True, cwd=ROOT,
                           env=env, timeout=300)
    assert piped.returncode == 0 and b"Traceback" not in piped.stderr, piped.stderr[-2000:]
    from_file = subprocess.run([sys.executable, "-m", "app", "predict", "--file", tmp_path / "reviews.txt"],
                               capture_output=True, cwd=ROOT, env=env, timeout=300)
    assert from_file.returncode == 0, from_file.stderr[-2000:]
    assert piped.stdout.splitlines() == from_file.stdout.splitlines() and len(piped.stdout.splitlines()) == 2


def test_rows_from_a_file_name_their_lines(tmp_path):
    """Blank lines and rows without text are skipped, so each row of a file (or stdin) says which line it
    scored; a CSV row starts on the line its record starts on (a quoted review may span lines), and a
    text file's review may be one long line (past the first megabyte: not refused as a CSV without lines)."""
    table = tmp_path / "reviews.csv"
    table.write_text('text,label\n"A great film,\nwonderful from start to end",1\n\n"",0\nawful film,0\n',
                     encoding="utf-8")
    proc = run_cli("predict", "typed here", "--file", table)
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(row) for row in proc.stdout.splitlines()]
    assert ["line" in r for r in rows] == [False, True, True] and [r["line"] for r in rows[1:]] == [2, 6]

    long = tmp_path / "long.txt"
    long.write_text("\n" + "a wonderful film " * 150_000 + "\n!!!\n", encoding="utf-8")  # 2.5 MB on line 2
    proc = run_cli("predict", "--file", long)
    assert_user_error(proc, "No words to score on line 3 of long.txt ('!!!')")
    long.write_text("\n" + "a wonderful film " * 150_000 + "\n", encoding="utf-8")
    proc = run_cli("predict", "--file", long)
    assert proc.returncode == 0, proc.stderr
    row = json.loads(proc.stdout)
    assert row["line"] == 2 and row["truncated"] and row["label"] == "positive"

    proc = run_cli("predict", "--explain", input="\ngood fun\n")
    assert proc.returncode == 0 and json.loads(proc.stdout)["line"] == 2


def test_a_review_that_looks_like_a_formula_is_written_as_text():
    import csv
    import io

    from models.reports import write_csv_rows

    out = io.StringIO()
    write_csv_rows(out, ["review", "probability"], [['=HYPERLINK("http://x","click")', "0.5"], ["- fine", "0.1"],
                                                    ["plain", "0.9"]])
    rows = list(csv.reader(io.StringIO(out.getvalue())))[1:]
    assert rows == [["'=HYPERLINK(\"http://x\",\"click\")", "0.5"], ["'- fine", "0.1"], ["plain", "0.9"]]


def test_every_exported_field_is_quoted_so_another_separator_keeps_it_whole():
    """Excel splits on ';' in many locales: a bare ``great film;=1+1`` became a cell starting with '='."""
    import csv
    import io

    from models.reports import write_csv_rows

    out = io.StringIO()
    write_csv_rows(out, ["review", "probability"], [["great film;=1+1", "0.9"], ["=1+1;x", 0.25], ["a\tb", 3]])
    text = out.getvalue()
    assert text.splitlines()[:2] == ['"review","probability"', '"great film;=1+1","0.9"']
    for delimiter in ",;\t":  # split on any separator, no cell starts a formula
        for row in csv.reader(io.StringIO(text), delimiter=delimiter):
            assert not any(cell.startswith(("=", "+", "-", "@")) for cell in row), (delimiter, row)
    assert list(csv.reader(io.StringIO(text)))[2] == ["'=1+1;x", "0.25"]
