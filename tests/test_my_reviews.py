"""The user's own labelled reviews: kept in the data folder across restarts, one entry per text (the
last label counts), undoable, and read from a hostile file without losing its good entries."""

from __future__ import annotations

import json
import os

import pytest

from models import paths
from models.my_reviews import FILE_FORMAT, MAX_REVIEW_CHARS, MyReviews, MyReviewsError


def test_reviews_survive_a_restart_in_the_data_folder():
    mine = MyReviews.load()
    assert mine.count == 0 and mine.problems == []
    mine.add("A slow start, but the ending is wonderful.", "positive")
    mine.add("  Loud, long and empty.  ", 0)
    assert mine.path == paths.data_dir() / "my_reviews.json" and mine.path.is_file()

    again = MyReviews.load()  # what a new process reads
    assert [(r.text, r.label_name) for r in again.reviews] == [
        ("A slow start, but the ending is wonderful.", "positive"), ("Loud, long and empty.", "negative")]
    assert again.counts() == {"positive": 1, "negative": 1} and len(again) == 2
    split = again.split()
    assert split.texts == [r.text for r in again.reviews] and split.labels.tolist() == [1, 0]


def test_the_same_text_again_replaces_its_label_and_undo_and_remove_take_back():
    mine = MyReviews.load()
    mine.add("Not as bad as they say.", "negative")
    mine.add("Great cast.", "positive")
    mine.add("Not as bad as they say.  ", "positive")  # the same text (white space aside): the last label counts
    assert [(r.text, r.label) for r in mine.reviews] == [("Great cast.", 1), ("Not as bad as they say.", 1)]
    assert MyReviews.load().count == 2

    undone = mine.undo()
    assert undone.text == "Not as bad as they say." and MyReviews.load().count == 1
    assert mine.remove("Great cast.").label == 1
    assert MyReviews.load().count == 0
    with pytest.raises(MyReviewsError, match="none of your reviews"):
        mine.undo()
    with pytest.raises(MyReviewsError, match="not among"):
        mine.remove("never added")


@pytest.mark.parametrize("text, label, reason", [
    ("", "positive", "empty"),
    ("!!! ???", "positive", "no words"),
    ("x " * (MAX_REVIEW_CHARS // 2 + 1), "positive", "longer than"),
    (42, "positive", "must be text"),
    ("fine film", "great", "positive or negative"),
    ("fine film", True, "positive or negative"),
])
def test_a_bad_review_or_label_is_refused_and_nothing_is_kept(text, label, reason):
    mine = MyReviews.load()
    with pytest.raises(MyReviewsError, match=reason):
        mine.add(text, label)
    assert mine.count == 0 and not mine.path.exists()


def test_a_hostile_file_loses_only_its_bad_entries():
    path = paths.data_dir() / "my_reviews.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    entries = [
        {"text": "A good one.", "label": "positive", "at": "2026-01-02T03:04:05+00:00"},
        "not an object",
        {"text": ["a", "list"], "label": "positive"},
        {"text": "No label."},
        {"text": "From the future.", "label": "negative", "at": "2999-01-01T00:00:00Z"},
        {"text": "y" * (MAX_REVIEW_CHARS + 1), "label": "negative"},
        {"text": "A bad one.", "label": 0},  # 0/1 are accepted, and no date: now
    ]
    path.write_text(json.dumps({"format": FILE_FORMAT, "version": 1, "reviews": entries}), encoding="utf-8")
    mine = MyReviews.load()
    assert [(r.text, r.label) for r in mine.reviews] == [("A good one.", 1), ("A bad one.", 0)]
    assert [p.split(":")[0] for p in mine.problems] == ["review 2", "review 3", "review 4", "review 5", "review 6"]
    assert "5 of your saved reviews could not be used" in mine.problems_message()
    assert f"They stay in {path} as they are" in mine.problems_message()
    mine.add("A third.", "positive")  # the good entries are kept when it is written again
    again = MyReviews.load()
    assert [r.text for r in again.reviews] == ["A good one.", "A bad one.", "A third."]
    # ... and so are the bad ones, unchanged, for a fix by hand: a save never loses what it could not read
    assert json.loads(path.read_text(encoding="utf-8"))["reviews"][3:] == [entries[i] for i in (1, 2, 3, 4, 5)]
    assert len(again.problems) == 5 and again.unreadable == [entries[i] for i in (1, 2, 3, 4, 5)]


def test_entries_past_the_limit_are_kept_in_the_file(monkeypatch):
    monkeypatch.setattr("models.my_reviews.MAX_REVIEWS", 3)
    path = paths.data_dir() / "my_reviews.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    entries = [{"text": f"Review number {i}.", "label": "positive", "at": "2026-01-02T03:04:05+00:00"}
               for i in range(5)]
    path.write_text(json.dumps({"format": FILE_FORMAT, "version": 1, "reviews": entries}), encoding="utf-8")
    mine = MyReviews.load()
    assert mine.count == 3 and "the first 3 are used" in mine.problems_message()
    mine.undo()
    saved = json.loads(path.read_text(encoding="utf-8"))["reviews"]
    assert [e["text"] for e in saved] == [e["text"] for e in entries[:2] + entries[3:]] and saved[2:] == entries[3:]


def test_a_file_of_a_newer_app_is_left_alone():
    path = paths.data_dir() / "my_reviews.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    content = json.dumps({"format": FILE_FORMAT, "version": 99, "reviews": [], "what_v99_keeps": {}}).encode()
    path.write_bytes(content)
    with pytest.raises(MyReviewsError, match="saved by a newer Sentiment Studio .*version 99"):
        MyReviews.load()
    assert path.read_bytes() == content


@pytest.mark.parametrize("content, match", [
    (b"{not json", "not JSON"),
    (b"\xff\xfe\x00garbage", "not JSON"),
    (json.dumps({"reviews": []}).encode(), "not a file of your reviews"),
    (json.dumps([1, 2, 3]).encode(), "not a file of your reviews"),
    (b"[" * 100_000 + b"]" * 100_000, "not JSON"),
])
def test_a_file_that_is_not_ours_is_refused_with_one_line(content, match):
    path = paths.data_dir() / "my_reviews.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    with pytest.raises(MyReviewsError, match=match) as caught:
        MyReviews.load()
    assert "\n" not in str(caught.value)
    assert path.read_bytes() == content  # never overwritten by a load


def test_a_file_that_is_too_large_a_folder_or_a_link_is_refused(tmp_path):
    path = paths.data_dir() / "my_reviews.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        f.truncate(64 * 1024 * 1024 + 1)  # sparse: no disk used
    with pytest.raises(MyReviewsError, match="larger than"):
        MyReviews.load()
    path.unlink()
    path.mkdir()
    with pytest.raises(MyReviewsError, match="cannot be read"):
        MyReviews.load()
    path.rmdir()
    target = tmp_path / "elsewhere.json"
    target.write_text(json.dumps({"format": FILE_FORMAT, "reviews": []}), encoding="utf-8")
    os.symlink(target, path)
    with pytest.raises(MyReviewsError, match=r"cannot be read \(.*: it is a link \(the app's own files are never"):
        MyReviews.load()


def test_a_change_that_cannot_be_saved_is_taken_back(monkeypatch):
    import errno

    import models.my_reviews as my_reviews

    mine = MyReviews.load()
    mine.add("Kept before the disk filled.", "positive")

    def full_disk(path, data, indent=None):
        raise OSError(errno.ENOSPC, "No space left on device")

    with monkeypatch.context() as patched:
        patched.setattr(my_reviews, "write_json_atomic", full_disk)
        with pytest.raises(MyReviewsError, match="Could not save your reviews .*No space left"):
            mine.add("Added after it.", "negative")
        assert [r.text for r in mine.reviews] == ["Kept before the disk filled."]
        with pytest.raises(MyReviewsError, match="Could not save"):
            mine.undo()
        assert mine.count == 1
    assert [r.text for r in MyReviews.load().reviews] == ["Kept before the disk filled."]
