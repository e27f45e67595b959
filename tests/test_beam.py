"""beam-predict: the readers (plain Python, always run) and the pipeline on Beam's DirectRunner (the `beam` marker,
skipped unless the beam extra is installed), scoring as ``predict --file`` with bad lines in their own output."""

from __future__ import annotations

import importlib.util
import io
import json
import sys
from pathlib import Path

import pytest

from models.serving import beam_pipeline as bp
from tests.conftest import SHARED_ARCHIVE, reviews
from tests.test_cli import assert_user_error, run_cli

needs_beam = pytest.mark.skipif(importlib.util.find_spec("apache_beam") is None,
                                reason="the beam extra is not installed (pip install -e '.[test,beam]')")


def records(lines: bytes, kind: str = "text", text_column: str | None = None, path: str = "in.txt"):
    stream = io.BytesIO(lines)
    if kind == "csv":
        return list(bp.read_csv(path, stream, text_column))
    return list(bp.read_text_lines(path, stream, kind == "jsonl", text_column))


def test_text_lines_give_reviews_and_each_bad_line_its_reason(monkeypatch):
    monkeypatch.setattr(bp, "MAX_FIELD_CHARS", 40)
    got = records(b"\xef\xbb\xbfgood film\r\n\n   \nbad \xff bytes\n" + b"x" * 100 + b"\nlast\n")
    assert got[0] == ("ok", ("in.txt:1", "good film"))
    assert [(tag, v["source"], v["reason"]) for tag, v in got[1:5]] == [
        (bp.BAD, "in.txt:2", "empty line"), (bp.BAD, "in.txt:3", "empty line"),
        (bp.BAD, "in.txt:4", "not UTF-8 text"), (bp.BAD, "in.txt:5", "longer than 40 bytes")]
    assert got[3][1]["text"] == "bad \ufffd bytes"
    assert got[5] == ("ok", ("in.txt:6", "last"))


def test_json_lines_take_a_text_field():
    got = records(b'{"text": "a fine film"}\n{"review": "old"}\n{"text": 3}\n[1]\nnot json\n\n{"body": "x"}\n',
                  "jsonl")
    assert got[0] == ("ok", ("in.txt:1", "a fine film")) and got[1] == ("ok", ("in.txt:2", "old"))
    assert [v["reason"].split(" (")[0] for _, v in got[2:]] == ["no text field", "no text field", "not JSON",
                                                                 "empty line", "no text field"]
    assert records(b'{"body": "x"}\n', "jsonl", "body") == [("ok", ("in.txt:1", "x"))]


def test_csv_rows_keep_their_first_line_and_quoted_line_breaks():
    data = 'id;Review;label\n1;"great, great film";1\n2;"multi\nline awful";0\n3;;1\n\n4\n5;"bad \udcff";1\n'
    got = records(data.encode("utf-8", "surrogateescape"), "csv", path="in.csv")
    assert got[:2] == [("ok", ("in.csv:2", "great, great film")), ("ok", ("in.csv:3", "multi\nline awful"))]
    assert [(v["source"], v["reason"]) for _, v in got[2:]] == [
        ("in.csv:5", "empty text"), ("in.csv:7", "the row has no text column"), ("in.csv:8", "not UTF-8 text")]
    assert records(b"a,b\n1,2\n", "csv", path="x.csv")[0][1]["reason"].startswith("no text column")
    assert records(b"a,body\n1,two\n", "csv", "body", "x.csv") == [("ok", ("x.csv:2", "two"))]


def test_formats_by_suffix():
    job = bp.BeamJob("m", "in/*", "out")
    assert [job.format_of(p) for p in ("a.CSV", "b.tsv", "c.jsonl", "d.json", "e.txt", "f")] == [
        "csv", "csv", "jsonl", "jsonl", "text", "text"]
    assert bp.BeamJob("m", "in/*", "out", "jsonl").format_of("a.csv") == "jsonl"


def test_without_beam_the_command_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "apache_beam", None)  # import fails as when it is not installed
    with pytest.raises(bp.BeamNotInstalled, match=r"pip install -e '\.\[beam\]'"):
        bp.run(bp.BeamJob("m", "in/*", "out"), [])


# -- the pipeline on the DirectRunner -----------------------------------------------------------------------

@pytest.fixture(scope="module", params=["IMDB LSTM (built-in)", "IMDB n-grams (built-in)"], ids=["lstm", "ngram"])
def saved_model(request, tmp_path_factory):
    from models.paths import builtin_model_dirs
    from models.serving.export import export_saved_model
    from models.store import ModelStore

    store = ModelStore(tmp_path_factory.mktemp("beam-home"), builtin=builtin_model_dirs())
    return export_saved_model(store, request.param, tmp_path_factory.mktemp("beam") / "model")


def review_texts(n: int) -> list[str]:
    """n test reviews of the IMDB archive where it is at hand (on one line each), else generated ones."""
    if SHARED_ARCHIVE.exists():
        from models.datasets import load_aclimdb_archive

        texts = load_aclimdb_archive(SHARED_ARCHIVE).test.texts[::25][:n]
        return [" ".join(t.split()) for t in texts]
    return [text for text, _ in reviews(n, seed=7)]


@pytest.mark.beam
@needs_beam
def test_direct_runner_scores_as_predict_file_with_bad_lines_apart(saved_model, tmp_path):
    texts = review_texts(2000)
    inputs = tmp_path / "in"
    inputs.mkdir()
    good = inputs / "reviews.txt"
    good.write_text("\n".join(texts) + "\n", encoding="utf-8")
    with open(good, "ab") as f:
        f.write(b"\n!!! ???\nnot \xff UTF-8\n")
    (inputs / "more.jsonl").write_text('{"text": "A wonderful film."}\n{"text": 5}\n', encoding="utf-8")
    (inputs / "more.csv").write_text('review,label\n"Dreadful, dull\nand long.",0\n', encoding="utf-8")
    out = tmp_path / "out" / "scores"
    proc = run_cli("beam-predict", "--saved-model", saved_model.folder, "--input", inputs / "*", "--output", out,
                   "--batch-size", "128", "--direct_num_workers", "1")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["model"] == saved_model.name and summary["state"] == "DONE"
    assert (summary["scored"], summary["bad"]) == (len(texts) + 2, 4)
    scored = [json.loads(line) for p in sorted(out.parent.glob("scores-0*.jsonl"))
              for line in p.read_text(encoding="utf-8").splitlines()]
    errors = [json.loads(line) for p in sorted(out.parent.glob("scores-errors-*.jsonl"))
              for line in p.read_text(encoding="utf-8").splitlines()]
    n = len(texts)
    assert sorted((e["source"].rsplit("/", 1)[1], e["reason"]) for e in errors) == sorted([
        (f"reviews.txt:{n + 1}", "empty line"), (f"reviews.txt:{n + 2}", "no words to score (only punctuation or "
                                                                           "symbols)"),
        (f"reviews.txt:{n + 3}", "not UTF-8 text"), ("more.jsonl:2", "no text field (text or review or sentence) "
                                                                     "holding a string")])
    by_source = {s["source"].rsplit("/", 1)[1]: s for s in scored}
    assert by_source["more.csv:2"]["text"] == "Dreadful, dull\nand long."

    plain = tmp_path / "plain.txt"
    plain.write_text("\n".join(texts) + "\n", encoding="utf-8")
    predicted = run_cli("predict", "--model", saved_model.name, "--file", plain)
    assert predicted.returncode == 0, predicted.stderr
    expected = [json.loads(line) for line in predicted.stdout.splitlines()]
    assert len(expected) == n
    worst = 0.0
    for number, want in enumerate(expected, start=1):
        got = by_source[f"reviews.txt:{number}"]
        assert got["text"] == texts[number - 1] and got["model"] == want["model"]
        assert got["label"] == want["label"] or abs(want["probability"] - 0.5) < 1e-5
        worst = max(worst, abs(got["probability"] - want["probability"]))
    assert worst <= 1e-5


@pytest.mark.beam
@needs_beam
def test_beam_predict_refuses_what_it_cannot_use(saved_model, tmp_path):
    (tmp_path / "a.txt").write_text("fine\n", encoding="utf-8")
    assert_user_error(run_cli("beam-predict", "--saved-model", tmp_path, "--input", tmp_path / "a.txt",
                              "--output", tmp_path / "o"), "not a SavedModel")
    assert_user_error(run_cli("beam-predict", "--saved-model", saved_model.folder, "--input", tmp_path / "none-*.txt",
                              "--output", tmp_path / "o"), "matches no file")


def test_unknown_options_are_refused_outside_beam_predict():
    assert_user_error(run_cli("models", "--runner", "DirectRunner"), "unrecognized arguments")


def test_the_bundle_leaves_beam_out():
    spec = (Path(__file__).resolve().parents[1] / "build.spec").read_text(encoding="utf-8")
    assert '"apache_beam"' in spec
