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
    proc = run_cli("train", "--data", tiny_csv, "--epochs", "4", "--name", "tiny", *TINY)
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
    assert len(proc.stdout.splitlines()) == 2

    proc = run_cli("predict", input="i loved it, a great film, wonderful acting\n")
    assert proc.returncode == 0 and json.loads(proc.stdout)["label"] == "positive"

    proc = run_cli("evaluate", "--model", "tiny", "--data", tiny_csv)
    assert proc.returncode == 0, proc.stderr
    ev = json.loads(proc.stdout)
    assert ev["n"] == 48 and sum(map(sum, ev["confusion"])) == 48
    assert ev["accuracy"] == pytest.approx(summary["test_accuracy"], abs=1e-6)

    proc = run_cli("models")
    assert [(m["name"], m["builtin"], m["family"]) for m in json.loads(proc.stdout)] == [
        ("tiny", False, "lstm"), ("IMDB LSTM (built-in)", True, "lstm"), ("IMDB n-grams (built-in)", True, "ngram")]


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
        rows = list(csv.DictReader(f))
    assert len(rows) == fp + fn == ev["misclassified"]["rows"]
    for row in rows:
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


def test_a_review_that_looks_like_a_formula_is_written_as_text():
    import csv
    import io

    from models.reports import write_csv_rows

    out = io.StringIO()
    write_csv_rows(out, ["review", "probability"], [['=HYPERLINK("http://x","click")', "0.5"], ["- fine", "0.1"],
                                                    ["plain", "0.9"]])
    rows = list(csv.reader(io.StringIO(out.getvalue())))[1:]
    assert rows == [["'=HYPERLINK(\"http://x\",\"click\")", "0.5"], ["'- fine", "0.1"], ["plain", "0.9"]]
