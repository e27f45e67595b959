"""Corrections: kept in the store by the data set's hash, surviving a restart, undoable, exported and imported
as CSV (a hostile CSV loses only its bad rows), never applied to a changed file; and the commands."""

from __future__ import annotations

import csv
import json

import pytest

from models.corrected_training import accuracy_both_ways
from models.corrections import (
    EXCLUDE,
    FLIP,
    RIGHT,
    CorrectionBook,
    CorrectionsError,
    identify,
    load_for,
)
from models.datasets import load_csv, load_source
from tests.test_cli import assert_user_error, run_cli
from tests.test_suspects import write_noisy_csv


@pytest.fixture
def noisy(tmp_path):
    return write_noisy_csv(tmp_path / "noisy.csv", n=40)


def test_corrections_survive_a_restart_and_apply_to_a_copy_of_the_data(noisy):
    data = load_csv(noisy)
    book, message = load_for(str(noisy))
    assert message is None and book.corrections == []
    test_row, other_row = data.test.ids[0], data.test.ids[1]
    train_row = data.train.ids[0]
    book.mark(data.test, "test", test_row, FLIP)
    book.mark(data.test, "test", other_row, EXCLUDE)
    book.mark(data.train, "train", str(train_row), RIGHT)  # a row as typed on the command line
    book.save()

    again, _ = load_for(str(noisy))  # a new process would do just this
    assert [(c.split, c.row, c.action) for c in again.corrections] == [
        ("test", test_row, FLIP), ("test", other_row, EXCLUDE), ("train", train_row, RIGHT)]
    corrected = again.apply(data)
    assert corrected.flipped == {"train": 0, "test": 1} and corrected.excluded == {"train": 0, "test": 1}
    assert corrected.right["train"] == {train_row} and corrected.not_found == 0
    fixed = corrected.dataset
    assert len(fixed.test) == len(data.test) - 1 and other_row not in fixed.test.ids
    i = fixed.test.ids.index(test_row)
    assert fixed.test.labels[i] == 1 - data.test.labels[0]
    assert data.test.labels[0] == load_csv(noisy).test.labels[0]  # the loaded data is untouched
    assert noisy.read_bytes() == write_noisy_csv(noisy.with_name("again.csv"), n=40).read_bytes()  # so is the file
    assert corrected.test_kept.tolist() == [True, False] + [True] * (len(data.test) - 2)


def test_a_new_verdict_on_a_review_replaces_the_old_one_and_undo_takes_back(noisy):
    data = load_csv(noisy)
    book, _ = load_for(str(noisy))
    row = data.test.ids[0]
    book.mark(data.test, "test", row, FLIP)
    book.mark(data.test, "test", row, RIGHT)
    assert [c.action for c in book.corrections] == [RIGHT]
    book.mark(data.test, "test", data.test.ids[1], EXCLUDE)
    assert book.undo().row == data.test.ids[1]  # the last one made
    book.mark(data.test, "test", data.test.ids[2], FLIP)
    assert book.undo(row=str(row)).action == RIGHT  # the one of a row
    assert [c.row for c in book.corrections] == [data.test.ids[2]]
    book.undo()
    with pytest.raises(CorrectionsError, match="no corrections"):
        book.undo()
    with pytest.raises(CorrectionsError, match="has no row 9999"):
        book.mark(data.test, "test", 9999, FLIP)
    with pytest.raises(CorrectionsError, match="row must be"):
        book.mark(data.test, "test", "../../etc/passwd", FLIP)


def test_a_changed_file_gets_no_corrections_and_says_so(noisy):
    data = load_csv(noisy)
    book, _ = load_for(str(noisy))
    book.mark(data.test, "test", data.test.ids[0], FLIP)
    book.save()
    noisy.write_text(noisy.read_text(encoding="utf-8") + "one more great film,1\n", encoding="utf-8")
    changed, message = load_for(str(noisy))
    assert changed.corrections == []
    assert "noisy.csv has changed since 1 correction was made on it" in message
    assert changed.identity.sha256 != book.identity.sha256
    other = noisy.with_name("other.csv")
    other.write_bytes(noisy.read_bytes())
    assert load_for(str(other)) == (CorrectionBook(identify(str(other))), None)  # another file: nothing to say


def test_the_identity_of_an_archive_and_of_a_folder(aclimdb_archive, aclimdb_folder):
    a, b = identify(str(aclimdb_archive)), identify(str(aclimdb_folder))
    assert len(a.sha256) == len(b.sha256) == 64 and a.name == "aclImdb_small.tar.gz"
    assert identify(str(aclimdb_folder)) == b
    (aclimdb_folder / "test" / "pos" / "0_8.txt").write_text("changed", encoding="utf-8")
    assert identify(str(aclimdb_folder)).sha256 != b.sha256


def test_export_and_import_round_trip(noisy, tmp_path):
    data = load_csv(noisy)
    book, _ = load_for(str(noisy))
    for row, action in zip(data.test.ids[:3], (FLIP, EXCLUDE, RIGHT)):
        book.mark(data.test, "test", row, action)
    out = tmp_path / "corrections.csv"
    assert book.export_csv(out) == 3
    with open(out, newline="", encoding="utf-8") as f:  # every field quoted (reports.write_csv)
        assert next(csv.reader(f)) == ["split", "row", "action", "label", "at"]
    fresh = CorrectionBook(book.identity, root=tmp_path / "elsewhere")
    result = fresh.import_csv(out, data)
    assert (result.added, result.replaced, result.problems) == (3, 0, [])
    assert fresh.corrections == book.corrections
    assert fresh.import_csv(out, data).replaced == 3  # importing again changes nothing


HOSTILE_ROWS = [
    "test,{good},flip,{label},",  # kept
    "test,{good2},label is wrong,{label2},2026-01-02T03:04:05Z",  # kept: the words the GUI shows
    "test,=HYPERLINK(\"http://x\"),flip,positive,",  # a formula, not a row
    "test,99999,flip,positive,",  # no such row
    "test,{good},flip,{wrong_label},",  # the label is not the file's
    "valid,{good},flip,positive,",  # no such split
    "test,{good},delete everything,positive,",  # no such action
    "test,{good},flip,positive,3026-01-01",  # in the future
    "test,-4,flip,positive,",
    "test," + "9" * 300 + ",flip,positive,",  # too long
    "test,{good}",  # too few columns
    "train,test/pos/1_9.txt,flip,positive,",  # a test file in the train split
    "test,{good},flip,{label}," + "x" * 200_000,  # a field longer than csv's default limit
]


def test_a_hostile_csv_loses_only_its_bad_rows(noisy, tmp_path):
    data = load_csv(noisy)
    good, good2 = data.test.ids[0], data.test.ids[1]
    label, label2 = (("positive" if data.test.labels[i] else "negative") for i in (0, 1))
    wrong_label = "negative" if label == "positive" else "positive"
    lines = ["split,row,action,label,at"] + [r.format(good=good, good2=good2, label=label, label2=label2,
                                                      wrong_label=wrong_label) for r in HOSTILE_ROWS]
    path = tmp_path / "hostile.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    book, _ = load_for(str(noisy))
    result = book.import_csv(path, data)
    assert result.added == 2 and len(result.problems) == len(HOSTILE_ROWS) - 2
    assert [c.row for c in book.corrections] == [good, good2] and book.corrections[1].action == FLIP
    assert result.problems[0].startswith("line 4: row must be a data row number")
    assert any("has no row 99999" in p for p in result.problems)
    assert any("labelled" in p and f"not {wrong_label}" in p for p in result.problems)
    assert any("in the future" in p for p in result.problems)
    assert "11 rows skipped" in result.summary() and len(result.summary()) < 3000


@pytest.mark.parametrize("content,fragment", [
    (b"\x00\x01binary" * 100, "not a text file"),
    (b"row,action\n1,flip\n", "no split, label column"),
    (b"split,row,action,label\n" + b"x" * (17 * 1024 * 1024) + b"\n", "longer than"),
    (b"", "no split, row, action, label column"),
])
def test_a_csv_that_is_not_corrections_is_refused_whole(noisy, tmp_path, content, fragment):
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    book, _ = load_for(str(noisy))
    with pytest.raises(CorrectionsError, match=fragment):
        book.import_csv(path)
    with pytest.raises(CorrectionsError, match="does not exist"):
        book.import_csv(tmp_path / "missing.csv")


def test_a_damaged_store_file_loses_only_its_bad_entries(noisy):
    data = load_csv(noisy)
    book, _ = load_for(str(noisy))
    book.mark(data.test, "test", data.test.ids[0], FLIP)
    book.save()
    stored = json.loads(book.path.read_text(encoding="utf-8"))
    stored["corrections"] += [{"split": "test", "row": True, "action": "flip", "label": "positive"}, "junk", None]
    book.path.write_text(json.dumps(stored), encoding="utf-8")
    again, _ = load_for(str(noisy))
    assert len(again.corrections) == 1 and len(again.problems) == 3
    again.mark(data.test, "test", data.test.ids[1], FLIP)  # a save keeps the damaged items as they were
    again.save()
    assert json.loads(book.path.read_text(encoding="utf-8"))["corrections"][2:] == stored["corrections"][1:]
    assert len(load_for(str(noisy))[0].problems) == 3
    book.path.write_text("{not json", encoding="utf-8")
    with pytest.raises(CorrectionsError, match="damaged"):
        load_for(str(noisy))


def test_accuracy_on_the_original_and_the_corrected_labels(noisy):
    data = load_csv(noisy)
    book, _ = load_for(str(noisy))
    labels = data.test.labels
    book.mark(data.test, "test", data.test.ids[0], FLIP)
    book.mark(data.test, "test", data.test.ids[1], EXCLUDE)
    corrected = book.apply(data)
    # A model that predicts the file's labels except the first two reviews.
    probs = labels.astype(float).copy()
    probs[:2] = 1 - probs[:2]
    original, fixed = accuracy_both_ways(probs, labels, corrected)
    assert original == pytest.approx((len(labels) - 2) / len(labels))
    assert fixed == 1.0  # the first review is now labelled as predicted; the second is left out
    corrected.test_kept[:] = False
    assert accuracy_both_ways(probs, labels, corrected)[1] is None


# -- the commands -----------------------------------------------------------------------------


def test_corrections_commands(noisy, tmp_path, monkeypatch):
    monkeypatch.setenv("SENTIMENT_STUDIO_HOME", str(tmp_path / "home"))
    data = load_source(str(noisy))
    row = data.test.ids[0]
    proc = run_cli("corrections", "mark", "--data", noisy, "--split", "test", "--row", row, "--action", "flip")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["row"] == row
    run_cli("corrections", "mark", "--data", noisy, "--split", "test", "--row", data.test.ids[1], "--action", "right")
    proc = run_cli("corrections", "list", "--data", noisy)
    assert [json.loads(line)["action"] for line in proc.stdout.splitlines()] == ["flip", "right"]
    assert "2 corrections of noisy.csv: 1 flipped, 0 excluded, 1 marked right" in proc.stderr
    out = tmp_path / "mine.csv"
    assert json.loads(run_cli("corrections", "export", "--data", noisy, out).stdout)["exported"] == 2
    proc = run_cli("corrections", "undo", "--data", noisy)
    assert json.loads(proc.stdout)["left"] == 1
    proc = run_cli("corrections", "import", "--data", noisy, out)
    assert json.loads(proc.stdout) == {"added": 1, "replaced": 1, "skipped": 0, "total": 2}
    # The review marked right is not suggested; the command says so.
    proc = run_cli("suspects", "--data", noisy, "--split", "test")
    assert proc.returncode == 0, proc.stderr
    assert "Applied 2 corrections" in proc.stderr
    assert data.test.ids[1] not in [json.loads(line)["row"] for line in proc.stdout.splitlines()]
    # evaluate --corrections: the same scores against the corrected labels too (one review flipped).
    proc = run_cli("evaluate", "--data", noisy, "--corrections")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    fixed = out["corrected_labels"]
    assert fixed["flipped"] == 1 and fixed["excluded"] == 0 and fixed["n"] == out["n"]
    assert abs(fixed["accuracy"] - out["accuracy"]) == pytest.approx(1 / out["n"])
    assert_user_error(run_cli("corrections", "mark", "--data", noisy, "--split", "test", "--row", "12345",
                              "--action", "flip"), "has no row 12345")
    assert_user_error(run_cli("corrections", "import", "--data", noisy, tmp_path / "none.csv"), "does not exist")
    assert_user_error(run_cli("corrections", "frobnicate", "--data", noisy), "invalid choice")
    noisy.write_text(noisy.read_text(encoding="utf-8") + "one more great film,1\n", encoding="utf-8")
    proc = run_cli("corrections", "list", "--data", noisy)
    assert proc.returncode == 0 and "has changed since 2 corrections were made on it" in proc.stderr
    assert_user_error(run_cli("train", "--data", noisy, "--corrections", "--epochs", "1"), "has changed since")
    assert_user_error(run_cli("evaluate", "--data", noisy, "--corrections"), "has changed since")


@pytest.mark.parametrize("family", ["lstm", "ngram"])
def test_train_with_corrections_reports_test_accuracy_on_both_labellings(tmp_path, monkeypatch, family):
    from tests.test_cli import TINY
    from tests.test_cli_families import NGRAM_TINY

    settings = ["--epochs", "3", *TINY] if family == "lstm" else ["--preset", "ngram", *NGRAM_TINY]

    monkeypatch.setenv("SENTIMENT_STUDIO_HOME", str(tmp_path / "home"))
    path = write_noisy_csv(tmp_path / "noisy.csv", n=200)
    data = load_csv(path)
    book, _ = load_for(str(path))
    flipped = [row for row in data.test.ids if row in (7, 50, 123)]  # the rows written wrong, in the test split
    for row in [r for r in data.test.ids if r not in flipped][:3]:
        book.mark(data.test, "test", row, EXCLUDE)
    for row in flipped:
        book.mark(data.test, "test", row, FLIP)
    book.mark(data.train, "train", data.train.ids[0], FLIP)
    book.save()
    proc = run_cli("train", "--data", path, "--corrections", "--name", "fixed", *settings)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    c = out["corrections"]
    assert c["flipped"] == {"train": 1, "test": len(flipped)} and c["excluded"] == {"train": 0, "test": 3}
    assert c["dataset_sha256"] == book.identity.sha256 and c["not_applied"] == 0
    n = len(data.test)
    assert 0 <= c["test_accuracy_original_labels"] <= 1
    # Training tested on the corrected split: the same figure as the corrected labelling, within one review
    # (Keras counts P = 0.5 as negative, the app as positive).
    assert abs(out["test_accuracy"] - c["test_accuracy_corrected_labels"]) <= 1 / (n - 3) + 1e-9
    assert "on the file's labels" in proc.stderr and "on the corrected ones" in proc.stderr
    models = json.loads(run_cli("models").stdout)
    meta = json.loads((tmp_path / "home" / "models" / next(m["id"] for m in models if m["name"] == "fixed")
                       / "metadata.json").read_text(encoding="utf-8"))
    assert meta["corrections"] == c  # the model remembers what it was trained on
    assert meta["data"]["test"] == n - 3 and meta["family"] == family
    path.unlink()
    assert_user_error(run_cli("train", "--data", write_noisy_csv(tmp_path / "clean.csv", n=40), "--corrections"),
                      "no corrections of clean.csv")
