"""Suspect labels: row ids, out-of-sample probabilities (a stored model, or cross-validation), the ranking,
the choice of model, and the ``suspects`` command."""

from __future__ import annotations

import csv
import json
import random

import numpy as np
import pytest

from models.analysis.fold_model import (
    BagOfWordsLogistic,
    CrossValidationCancelled,
    cross_validated_probabilities,
    stratified_folds,
)
from models.analysis.suspects import choose_model, rank_suspects, suspect_labels, trained_on
from models.datasets import Dataset, Split, load_csv, load_source
from models.errors import UserFacingError
from models.paths import builtin_model_dirs
from models.store import ModelStore
from tests.conftest import make_review, save_trained
from tests.test_cli import assert_user_error, run_cli

FLIPPED_ROWS = (7, 50, 123, 200)  # CSV data rows whose label is written wrong


def write_noisy_csv(path, n: int = 240, flipped=FLIPPED_ROWS, split: str | None = None):
    """Clear reviews (tests/conftest.py's phrases), with the labels of ``flipped`` rows written wrong."""
    rng = random.Random(5)
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["text", "label", *(["split"] if split else [])])
        for row in range(1, n + 1):
            label = row % 2
            written = 1 - label if row in flipped else label
            w.writerow([make_review(label, rng), written, *([split] if split else [])])
    return path


# -- row ids ----------------------------------------------------------------------------------


def test_archive_and_folder_rows_are_the_review_file_names(aclimdb_archive, aclimdb_folder):
    for source in (aclimdb_archive, aclimdb_folder):
        data = load_source(str(source))
        assert data.test.ids is not None and len(data.test.ids) == len(data.test)
        assert all(i.startswith(("test/pos/", "test/neg/")) and i.endswith(".txt") for i in data.test.ids)
        assert data.train.row_id(0).startswith("train/")
        pos = data.test.ids.index("test/pos/3_8.txt")
        assert data.test.labels[pos] == 1
    assert load_source(str(aclimdb_archive)).test.ids == load_source(str(aclimdb_folder)).test.ids


def test_csv_rows_count_from_the_first_data_row(tmp_path):
    path = tmp_path / "rows.csv"
    path.write_text("text,label,split\nfirst,1,test\n,,\nthird,0,train\nfourth,0,test\n", encoding="utf-8")
    data = load_csv(path)
    assert data.test.ids == [1, 4] and data.train.ids == [3]  # the blank second row still counts
    assert data.test.subset(np.array([1])).ids == [4]
    assert data.limited(2).test.ids == [1, 4]


def test_a_source_without_ids_is_known_by_position():
    split = Split(labels=np.array([0, 1], dtype=np.int8), texts=["a", "b"])
    assert [split.row_id(0), split.row_id(1)] == [1, 2]


# -- cross-validation -------------------------------------------------------------------------


def test_stratified_folds_deal_each_label_evenly():
    labels = np.array([0] * 50 + [1] * 31)
    folds = stratified_folds(labels, 5, seed=1)
    for label in (0, 1):
        sizes = np.bincount(folds[labels == label], minlength=5)
        assert sizes.max() - sizes.min() <= 1
    assert np.array_equal(folds, stratified_folds(labels, 5, seed=1))


def test_cross_validation_scores_each_review_with_a_model_that_never_saw_its_label(tmp_path):
    data = load_csv(write_noisy_csv(tmp_path / "noisy.csv", split="train"))
    split = data.train
    probs = cross_validated_probabilities(split, BagOfWordsLogistic(steps=60), folds=4)
    assert probs.shape == (len(split),) and ((probs > 0) & (probs < 1)).all()
    truth = np.array([row % 2 for row in split.ids])
    assert np.mean((probs >= 0.5) == truth) > 0.95  # the model learns the phrases, not the written labels
    # Out of sample: a wrongly written label is not learnt, so the model disagrees with it.
    for row in FLIPPED_ROWS:
        i = split.ids.index(row)
        assert (probs[i] >= 0.5) != bool(split.labels[i])


def test_cross_validation_is_refused_with_too_few_reviews_of_a_label_and_can_be_stopped():
    split = Split(labels=np.array([0, 0, 0, 1], dtype=np.int8), texts=["bad", "awful", "dull", "great"])
    with pytest.raises(UserFacingError, match="needs at least 2 of each"):
        cross_validated_probabilities(split, folds=2)
    many = Split(labels=np.array([0, 1] * 10, dtype=np.int8), texts=["bad film", "great film"] * 10)
    with pytest.raises(CrossValidationCancelled):
        cross_validated_probabilities(many, folds=2, should_stop=lambda: True)


# -- ranking and the choice of model ------------------------------------------------------------


def test_rank_suspects_puts_the_surest_doubt_first_and_skips_rows_marked_right():
    split = Split(labels=np.array([1, 0, 1, 0, 1, 0, 1, 0], dtype=np.int8), texts=[f"t{i}" for i in range(8)],
                  ids=[f"test/pos/{i}_9.txt" for i in range(8)])
    probs = np.array([0.9, 0.1, 0.05, 0.2, 0.8, 0.97, 0.7, 0.3])
    flagged, suspects = rank_suspects(split, "test", probs)
    assert [s.row for s in suspects] == ["test/pos/5_9.txt", "test/pos/2_9.txt"]
    assert suspects[0].suspicion == pytest.approx(0.97) and suspects[0].label == 0
    assert flagged == 2
    flagged, suspects = rank_suspects(split, "test", probs, skip_rows={"test/pos/5_9.txt"})
    assert flagged == 2 and [s.row for s in suspects] == ["test/pos/2_9.txt"]
    line = suspects[0].to_json("m")
    assert line == {"row": "test/pos/2_9.txt", "split": "test", "label": "positive", "probability": 0.05,
                    "suspicion": 0.95, "model": "m", "excerpt": "t2"}


def test_the_test_split_is_scored_by_the_most_accurate_model_and_the_train_split_by_cross_validation(
        tiny_training, tmp_path):
    data, result = tiny_training
    store = ModelStore(tmp_path / "models", builtin=builtin_model_dirs())
    assert choose_model(store, data, "test").builtin  # only the built-in model so far
    result.test_accuracy = 0.99  # a stored model better than the built-in one (0.83)
    mine = save_trained(store, result, "mine")
    assert choose_model(store, data, "test").id == mine.id
    assert choose_model(store, data, "train") is None
    assert trained_on(mine, data)  # same file
    with pytest.raises(UserFacingError, match="not out of sample"):
        choose_model(store, data, "train", "mine")
    builtin = store.find("IMDB LSTM (built-in)")
    assert not trained_on(builtin, data)
    assert choose_model(store, data, "train", builtin.id).builtin


def test_suspect_labels_of_a_test_split_with_the_built_in_model(tmp_path):
    data = load_csv(write_noisy_csv(tmp_path / "noisy.csv", split="test"))
    store = ModelStore(tmp_path / "models", builtin=builtin_model_dirs())
    report = suspect_labels(data, "test", store=store)
    # The most accurate model not trained on this data: the built-in n-gram model (0.91 against the LSTM's 0.84).
    assert report.model == "IMDB n-grams (built-in)" and report.reviews == 240
    assert report.flagged == len(report.suspects) > 0
    found = {s.row for s in report.suspects[:10]}
    assert len(found & set(FLIPPED_ROWS)) >= 3  # clear phrases: the built-in model sees through the flips
    assert [s.suspicion for s in report.suspects] == sorted((s.suspicion for s in report.suspects), reverse=True)


# -- the command ------------------------------------------------------------------------------


def test_suspects_command_on_a_training_split(tmp_path):
    path = write_noisy_csv(tmp_path / "noisy.csv", split="train")
    proc = run_cli("suspects", "--data", path, "--split", "train", "--folds", "4", "--limit", "4")
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(lines) == 4
    assert {line["row"] for line in lines} == set(FLIPPED_ROWS)
    assert set(lines[0]) == {"row", "split", "label", "probability", "suspicion", "model", "excerpt"}
    assert lines[0]["model"].startswith("bag-of-words logistic regression") and lines[0]["split"] == "train"
    assert "suspect labels among 240 train reviews" in proc.stderr


@pytest.mark.parametrize("args,fragment", [
    (["--split", "valid"], "invalid choice: 'valid'"),
    (["--split", "test", "--limit", "0"], "must be at least 1"),
    (["--split", "train", "--folds", "1"], "must be at least 2"),
    (["--split", "test", "--model", "nope"], "No model called 'nope'"),
])
def test_suspects_command_refuses_bad_input_in_one_line(tmp_path, args, fragment):
    path = write_noisy_csv(tmp_path / "noisy.csv", n=20)
    assert_user_error(run_cli("suspects", "--data", path, *args), fragment)


def test_suspects_command_refuses_a_missing_file(tmp_path):
    assert_user_error(run_cli("suspects", "--data", tmp_path / "none.csv", "--split", "test"), "does not exist")


def test_suspects_of_keras_id_sequences_show_their_words():
    word_index = {"great": 1, "awful": 2, "film": 3}
    great, awful, film = (rank + 3 for rank in (1, 2, 3))
    labels = np.array([1, 0] * 10, dtype=np.int8)
    labels[4] = 0  # a "great film" labelled negative
    sequences = [[1, great, film] if i % 2 == 0 else [1, awful, film] for i in range(20)]
    split = Split(labels=labels, sequences=sequences)
    data = Dataset(split, split, "imdb", keras_word_index=word_index)
    report = suspect_labels(data, "train", store=ModelStore(), folds=2)
    assert [s.row for s in report.suspects] == [5] and report.suspects[0].text == "great film"
