"""Both model families through the command line: train, predict (--explain), evaluate, models, export, import."""

import json
import math

import pytest

from tests.test_cli import TINY, assert_user_error, run_cli

NGRAM_TINY = ["--max-features", "300", "--epochs", "3", "--batch-size", "16", "--learning-rate", "0.02"]


def test_ngram_preset_through_every_command(tiny_csv, monkeypatch, tmp_path):
    monkeypatch.setenv("SENTIMENT_STUDIO_HOME", str(tmp_path / "home"))
    proc = run_cli("train", "--data", tiny_csv, "--preset", "ngram", "--scaling", "nbsvm", "--name", "ng",
                   *NGRAM_TINY)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["name"] == "ng" and summary["validated_on"] == "split" and summary["test_accuracy"] > 0.9
    proc = run_cli("train", "--data", tiny_csv, "--epochs", "2", "--name", "lstm", *TINY)
    assert proc.returncode == 0, proc.stderr

    models = {m["name"]: m for m in json.loads(run_cli("models").stdout)}
    assert models["ng"]["family"] == "ngram" and models["lstm"]["family"] == "lstm"

    long_review = "a great film, wonderful acting. " * 200  # 1,000 words: read whole
    proc = run_cli("predict", "--model", "ng", "A great film with wonderful acting", "an awful, boring film",
                   long_review)
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [r["label"] for r in rows] == ["positive", "negative", "positive"] and not rows[2]["truncated"]
    assert rows[2]["known_tokens"] + rows[2]["oov_tokens"] == 1000

    proc = run_cli("predict", "--model", "ng", "--explain", "not a great film, i hated it, truly bad")
    assert proc.returncode == 0, proc.stderr
    e = json.loads(proc.stdout)
    assert e["explanation_method"] == "linear-exact" and e["words_cut"] == 0
    pushes = sum(t["contribution"] for t in e["explanation"])
    logit = math.log(e["probability"] / (1 - e["probability"]))
    base = math.log(e["baseline_probability"] / (1 - e["baseline_probability"]))
    assert pushes == pytest.approx(logit - base, abs=1e-4)  # rounded to 6 decimals in the JSON

    proc = run_cli("evaluate", "--model", "ng", "--data", tiny_csv)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["accuracy"] == pytest.approx(summary["test_accuracy"], abs=1e-6)

    proc = run_cli("export", "ng", tmp_path / "ng.ssmodel")
    assert proc.returncode == 0, proc.stderr
    proc = run_cli("import", tmp_path / "ng.ssmodel", "--name", "ng again")
    assert proc.returncode == 0, proc.stderr
    proc = run_cli("predict", "--model", "ng again", "A great film with wonderful acting")
    assert json.loads(proc.stdout)["probability"] == rows[0]["probability"]

    proc = run_cli("export", "ng", tmp_path / "plain", "--format", "keras")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["maxlen"] is None and {"model.keras", "words_v1.py", "README.txt"} == set(out["files"])


@pytest.mark.parametrize("args, fragment", [
    (["--preset", "ngram", "--maxlen", "40"], "--maxlen is not a setting of the ngram family"),
    (["--preset", "ngram", "--no-xla"], "--no-xla is not a setting of the ngram family"),
    (["--max-features", "500"], "--max-features is not a setting of the lstm family"),
    (["--preset", "ngram", "--ngrams", "4"], "ngrams must be at most 3"),
    (["--preset", "ngram", "--weighting", "bm25"], "invalid choice"),
])
def test_settings_of_another_family_are_refused(args, fragment, tiny_csv, monkeypatch, tmp_path):
    monkeypatch.setenv("SENTIMENT_STUDIO_HOME", str(tmp_path / "home"))
    assert_user_error(run_cli("train", "--data", tiny_csv, *args), fragment)


@pytest.mark.parametrize("model", ["IMDB LSTM (built-in)", "IMDB n-grams (built-in)"])
def test_a_file_whose_last_review_has_no_words_is_refused_in_one_line(model, tmp_path):
    reviews = tmp_path / "reviews.txt"
    reviews.write_text("A great film.\n!!!\n", encoding="utf-8")
    assert_user_error(run_cli("predict", "--model", model, "--file", reviews),
                      "No words to score on line 2 of reviews.txt")
