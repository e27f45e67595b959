"""The n-gram family: its features, its NumPy engine against Keras, exact explanations, the store."""

from __future__ import annotations

import itertools
import json
import math
import random

import numpy as np
import pytest

from models.config import PRESETS, TrainingConfig
from models.datasets import load_source
from models.errors import ModelStoreError
from models.families import family_named
from models.families.ngram import NumpyNgramClassifier, log_count_ratio, word_shares
from models.families.ngram_features import NgramFeatures, SparseRows
from models.metadata import MetadataError, ModelMetadata
from models.prediction import Predictor
from models.store import ModelStore
from models.training import run_metadata, train
from models.vocabulary import tokenize

WORDS = ["good", "bad", "not", "very", "film", "the", "plot", "great", "awful", "fun"]


def random_tokens(rng: random.Random, n: int) -> list[list[str]]:
    return [[rng.choice(WORDS) for _ in range(rng.randrange(0, 12))] for _ in range(n)]


def naive_rows(features: NgramFeatures, tokenized: list[list[str]]) -> np.ndarray:
    """The feature rows computed the obvious way: every n-gram of every review looked up by its text."""
    index = {f: k for k, f in enumerate(features.features)}
    out = np.zeros((len(tokenized), len(features)), dtype=np.float32)
    for r, tokens in enumerate(tokenized):
        for n in range(1, features.ngrams + 1):
            for i in range(len(tokens) - n + 1):
                k = index.get(" ".join(tokens[i:i + n]))
                if k is not None:
                    out[r, k] += 1
    if features.weighting == "multi_hot":
        return (out > 0).astype(np.float32)
    return out * features.idf


@pytest.mark.parametrize("ngrams, weighting", [(1, "multi_hot"), (2, "multi_hot"), (3, "multi_hot"),
                                               (2, "tf_idf"), (3, "tf_idf")])
def test_features_are_the_most_frequent_ngrams_and_rows_match_a_naive_count(ngrams, weighting):
    rng = random.Random(ngrams)
    tokenized = random_tokens(rng, 300)
    size = 8 if ngrams == 1 else 40  # of 10 words
    features = NgramFeatures.build(tokenized, ngrams, size, "multi_hot")
    if weighting == "tf_idf":
        features = features.with_idf(features.encode_tokens(tokenized))
    counts: dict[str, int] = {}
    for tokens in tokenized:
        for n in range(1, ngrams + 1):
            for i in range(len(tokens) - n + 1):
                key = " ".join(tokens[i:i + n])
                counts[key] = counts.get(key, 0) + 1
    threshold = sorted(counts.values(), reverse=True)[size - 1]
    assert all(counts[f] >= threshold for f in features.features) and len(features) == size
    assert all(f in features.features for f, c in counts.items() if c > threshold)
    fresh = random_tokens(rng, 50)
    np.testing.assert_allclose(features.encode_tokens(fresh).dense(), naive_rows(features, fresh), rtol=1e-6)
    # From raw text by the words' keys (the scoring path): the same rows as from the tokens
    texts = [" ".join(t).upper() + "!" for t in fresh]
    np.testing.assert_allclose(features.encode(texts).dense(), naive_rows(features, fresh), rtol=1e-6)


def test_a_table_whose_words_share_a_key_is_read_word_by_word(monkeypatch):
    from models.families import ngram_features

    tokenized = random_tokens(random.Random(3), 100)
    features = NgramFeatures.build(tokenized, 2, 30, "multi_hot")
    texts = [" ".join(t) for t in tokenized[:20]]
    by_keys = features.encode(texts).dense()
    monkeypatch.setattr(ngram_features, "keys_of_words", lambda words: np.zeros(len(words), dtype=np.int64))
    again = NgramFeatures.build(tokenized, 2, 30, "multi_hot")
    assert again._key_table() is None
    np.testing.assert_array_equal(again.encode(texts).dense(), by_keys)


def test_sparse_rows_slice_and_gather_as_dense_rows():
    rng = random.Random(5)
    tokenized = random_tokens(rng, 40)
    rows = NgramFeatures.build(tokenized, 2, 30, "multi_hot").encode_tokens(tokenized)
    dense = rows.dense()
    np.testing.assert_array_equal(rows[5:17].dense(), dense[5:17])
    order = np.array([3, 3, 0, 39, 12])
    np.testing.assert_array_equal(rows[order].dense(), dense[order])
    assert len(rows[10:10]) == 0


def test_the_table_file_round_trips_and_a_damaged_one_is_refused(tmp_path):
    features = NgramFeatures.build([tokenize("not good at all, not good"), tokenize("very good")], 2, 10, "tf_idf")
    features = features.with_idf(features.encode_tokens([["not", "good"]]))
    features.save(tmp_path / "t.json")
    assert NgramFeatures.load(tmp_path / "t.json") == features
    good = features.to_json()
    for damage in ({"format": "x"}, {"tokenizer": "other"}, {"ngrams": 4}, {"ngrams": True},
                   {"weighting": "bm25"}, {"features": []}, {"features": ["good", "good"]},
                   {"features": ["Good"]}, {"features": ["a  b"]}, {"features": ["a b c"]}, {"features": [3]},
                   {"idf": [1.0]}, {"idf": [float("nan")] * len(good["features"])}, {"version": 2}):
        with pytest.raises(ModelStoreError):
            NgramFeatures.from_json({**good, **damage})


def test_nbsvm_ratio_favours_features_of_positive_reviews():
    rows = NgramFeatures.build([["good"], ["good"], ["bad"], ["film"]], 1, 3, "multi_hot").encode_tokens(
        [["good", "film"], ["good"], ["bad", "film"], ["bad"]])
    r = log_count_ratio(rows, np.array([1, 1, 0, 0]))
    features = NgramFeatures.build([["good"], ["good"], ["bad"], ["film"]], 1, 3, "multi_hot").features
    ratio = dict(zip(features, r))
    assert ratio["good"] > 0 > ratio["bad"] and ratio["film"] == pytest.approx(0.0, abs=1e-6)


def test_old_metadata_reads_as_lstm_and_an_unknown_family_is_refused():
    base = {"name": "m", "created": "2026-01-01T00:00:00+00:00"}
    assert ModelMetadata.from_json(base).family == "lstm"
    assert ModelMetadata.from_json({**base, "family": "ngram"}).to_json()["family"] == "ngram"
    with pytest.raises(MetadataError, match="family"):
        ModelMetadata.from_json({**base, "family": "transformer"})


def test_presets_keep_their_configs_and_ngram_is_its_own_family():
    assert PRESETS["imdb-lstm"].config == TrainingConfig() and TrainingConfig().family == "lstm"
    assert PRESETS["ngram"].config.family == "ngram"
    assert "maxlen" in TrainingConfig().to_dict() and "ngrams" not in TrainingConfig().to_dict()
    assert "ngrams" in PRESETS["ngram"].config.to_dict() and "maxlen" not in PRESETS["ngram"].config.to_dict()
    assert family_named(None).name == "lstm"


# -- trained models ---------------------------------------------------------------------------------


TINY_NGRAM = dict(epochs=4, batch_size=16, max_features=300, learning_rate=0.02, dropout=0.2)


@pytest.fixture(scope="module", params=[("multi_hot", "none"), ("tf_idf", "nbsvm")], ids=["multi_hot", "tfidf_nbsvm"])
def trained_store(request, tmp_path_factory):
    from tests.conftest import reviews

    weighting, scaling = request.param
    path = tmp_path_factory.mktemp("ngram-data") / "tiny.csv"
    import csv

    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["review", "sentiment"])
        for text, label in reviews(240):
            writer.writerow([text, "positive" if label else "negative"])
    data = load_source(str(path))
    config = PRESETS["ngram"].config.with_changes(weighting=weighting, scaling=scaling, **TINY_NGRAM)
    result = train(config, data)
    store = ModelStore(tmp_path_factory.mktemp("ngram-store"))
    info = store.save(result.model, result.vocabulary, run_metadata(result, "ngram"), "tiny ngram")
    return store, info, result, data


def test_a_trained_model_learns_and_records_its_family(trained_store):
    store, info, result, _data = trained_store
    assert result.test_accuracy is not None and result.test_accuracy > 0.9
    assert info.metadata.family == "ngram" and info.summary()["family"] == "ngram"
    assert info.metadata.config["weighting"] == result.config.weighting and "maxlen" not in info.metadata.config


def test_numpy_engine_equals_keras_to_1e5(trained_store):
    store, info, _result, data = trained_store
    numpy_predictor = Predictor.from_store(store, info)
    keras_predictor = Predictor.from_store(store, info, engine="keras")
    assert (numpy_predictor.engine, keras_predictor.engine) == ("numpy", "keras")
    texts = data.test.texts + ["", "not good not good not good", "zzz unknown words only"]
    texts = [t for t in texts if t]
    rows = numpy_predictor.family.encode_chunk(numpy_predictor.vocabulary, texts, None, False).ids
    np.testing.assert_allclose(numpy_predictor.probabilities(rows), keras_predictor.probabilities(rows), atol=1e-5)
    scored = [p.probability for chunk in numpy_predictor.predict_chunks(texts, batch_size=7) for p in chunk]
    np.testing.assert_allclose(scored, keras_predictor.probabilities(rows), atol=1e-5)
    long_review = " ".join(["a great film"] * 400)  # read whole: nothing is cut
    p = numpy_predictor.predict(long_review)
    assert not p.truncated and p.label == "positive" and p.known_tokens + p.oov_tokens == 1200


def test_explanations_add_up_to_the_logit_exactly(trained_store):
    from models.explain import explain_many

    store, info, _result, data = trained_store
    predictor = Predictor.from_store(store, info)
    texts = data.test.texts[:20] + ["very very very good good good film not good", "truly truly truly bad"]
    for text, e in zip(texts, explain_many(predictor, texts)):
        assert e.method == "linear-exact" and e.words_cut == 0
        rows = predictor.family.encode_chunk(predictor.vocabulary, [text], None, False).ids
        logit = float(predictor.model.logits(rows)[0])
        assert e.probability == pytest.approx(1 / (1 + math.exp(-logit)), abs=1e-12)
        assert float(e.contributions().sum()) == pytest.approx(logit - predictor.model.bias, abs=1e-9)
        baseline = e.baseline_probability
        assert math.log(baseline / (1 - baseline)) == pytest.approx(predictor.model.bias, abs=1e-9)
        assert [t.token for t in e.tokens] == tokenize(text)
        json.dumps(e.to_json())


def brute_force_shapley(features: NgramFeatures, kernel: np.ndarray, tokens: list[str]) -> np.ndarray:
    """Shapley values from the definition: v(S) = the logit minus the bias with only the words in S known."""
    occurrences = features.occurrences(tokens)
    n = len(tokens)

    def value(known: frozenset[int]) -> float:
        counts: dict[int, int] = {}
        for o in occurrences:
            if all(p in known for p in range(o.start, o.start + o.length)):
                counts[o.feature] = counts.get(o.feature, 0) + 1
        if features.weighting == "multi_hot":
            return sum(kernel[f] for f in counts)
        return sum(kernel[f] * features.idf[f] * c for f, c in counts.items())

    out = np.zeros(n)
    for i in range(n):
        others = [j for j in range(n) if j != i]
        for size in range(n):
            weight = math.factorial(size) * math.factorial(n - size - 1) / math.factorial(n)
            for subset in itertools.combinations(others, size):
                s = frozenset(subset)
                out[i] += weight * (value(s | {i}) - value(s))
    return out


@pytest.mark.parametrize("weighting", ["multi_hot", "tf_idf"])
@pytest.mark.parametrize("text", ["not good not good", "very very very good", "good film good plot not good",
                                  "the the the the the", "awful not awful"])
def test_word_shares_are_the_shapley_values(weighting, text):
    rng = np.random.default_rng(0)
    tokenized = [tokenize(t) for t in ["not good", "very very good", "good film", "good plot", "the the the",
                                       "awful not awful", "not awful"]]
    features = NgramFeatures.build(tokenized, 3, 50, "multi_hot")
    if weighting == "tf_idf":
        features = features.with_idf(features.encode_tokens(tokenized))
    kernel = rng.normal(size=len(features))
    tokens = tokenize(text)
    shares, _present = word_shares(features, kernel, tokens)
    np.testing.assert_allclose(shares, brute_force_shapley(features, kernel, tokens), atol=1e-9)


def test_the_model_travels_as_an_ssmodel_and_loads_with_keras(trained_store, tmp_path):
    store, info, _result, data = trained_store
    archive = store.export_archive(info.id, tmp_path / "m.ssmodel")
    other = ModelStore(tmp_path / "other")
    imported = other.import_archive(archive)
    assert imported.metadata.family == "ngram" and imported.damaged is None
    loaded = other.load(imported)
    assert loaded.maxlen is None and loaded.vocabulary == store.load(info).vocabulary
    a = Predictor.from_store(store, info).predict_many(data.test.texts[:30])
    b = Predictor.from_loaded(loaded).predict_many(data.test.texts[:30])
    np.testing.assert_allclose([p.probability for p in a], [p.probability for p in b], atol=1e-5)


def test_a_model_whose_table_does_not_fit_is_refused(trained_store, tmp_path):
    store, info, _result, _data = trained_store
    import shutil

    folder = tmp_path / "copy"
    shutil.copytree(info.path, folder)
    table = json.loads((folder / "vocabulary.json").read_text())
    table["features"] = table["features"][:-1]
    if "idf" in table:
        table["idf"] = table["idf"][:-1]
    (folder / "vocabulary.json").write_text(json.dumps(table))
    copy = ModelStore(tmp_path / "s").find(str(folder))
    with pytest.raises(ModelStoreError, match="feature"):
        ModelStore(tmp_path / "s").load(copy)
    with pytest.raises(Exception, match="feature"):
        Predictor.from_store(ModelStore(tmp_path / "s"), copy, engine="numpy")


def test_engine_reads_only_a_dense_sigmoid_stack(tmp_path):
    from models.keras_runtime import keras
    from models.numpy_lstm import UnsupportedModel

    k = keras()
    model = k.Sequential([k.Input((5,)), k.layers.Dense(2, activation="sigmoid")])
    model.save(tmp_path / "two.keras")
    with pytest.raises(UnsupportedModel):
        NumpyNgramClassifier.from_keras_file(tmp_path / "two.keras")


def test_sparse_rows_scaled():
    rows = SparseRows(np.array([0, 2, 3]), np.array([0, 2, 1], dtype=np.int32), np.ones(3, np.float32), 3)
    np.testing.assert_allclose(rows.scaled(np.array([2.0, 3.0, 4.0], np.float32)).dense(),
                               [[2, 0, 4], [0, 3, 0]])


def test_export_to_plain_keras_takes_raw_strings_and_scores_as_the_app(trained_store, tmp_path):
    """The exported folder, used as its README says, in a fresh interpreter without the app on its path."""
    import subprocess
    import sys

    from models.keras_interop import export_keras

    store, info, _result, data = trained_store
    done = export_keras(store, info.id, tmp_path / "export")
    assert [p.name for p in done.files] == ["model.keras", "words_v1.py", "README.txt"] and done.maxlen is None
    texts = data.test.texts[:40] + ["Not good. Not good at all!", "A GREAT film &amp; wonderful acting<br />loved it"]
    (tmp_path / "export" / "reviews.json").write_text(json.dumps(texts))
    readme = (tmp_path / "export" / "README.txt").read_text()
    assert "import keras, words_v1" in readme
    script = ("import json, keras, words_v1\n"
              "model = keras.saving.load_model('model.keras')\n"
              "texts = json.load(open('reviews.json'))\n"
              "print(json.dumps(model.predict(keras.ops.convert_to_tensor(texts), verbose=0)[:, 0].tolist()))\n")
    env = {k: v for k, v in __import__("os").environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run([sys.executable, "-c", script], cwd=tmp_path / "export", capture_output=True, text=True,
                          env={**env, "TF_CPP_MIN_LOG_LEVEL": "2"}, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    plain = json.loads(proc.stdout.strip().splitlines()[-1])
    app = [p.probability for p in Predictor.from_store(store, info).predict_many(texts)]
    np.testing.assert_allclose(plain, app, atol=1e-5)


def test_the_keras_tokenizer_gives_the_apps_words():
    from models.families.words_v1_keras import words_v1
    from tests.conftest import SHARED_ARCHIVE

    texts = ["Don't 'quoted' rock'n'roll a''b &amp; <br/>x&lt;br&gt; Caf\u00e9 na\u00efve \u2019tis ``",
             "_under_score 3.5",
             "Stra\u00dfe &#8217;s &#61514; end<BR />start", "''", "<i>Great</i> <a href='x'>film</a>"]
    if SHARED_ARCHIVE.exists():
        texts += load_source(str(SHARED_ARCHIVE)).test.texts[:2000]
    out = [s.decode("utf-8") for s in words_v1(np.array(texts, dtype=object)).numpy()]
    assert [o.split() for o in out] == [tokenize(t) for t in texts]


def test_a_long_stream_is_tokenized_in_the_worker_with_the_same_scores(trained_store, monkeypatch):
    """Past WORKER_AFTER reviews, chunks go to the worker and, every other one, are encoded here beside it."""
    from models import prediction
    from tests.conftest import reviews
    from tests.test_encoding_worker import ReadyWorker

    ReadyWorker.made = []
    monkeypatch.setattr(prediction, "EncodingWorker", ReadyWorker)  # started and ready before the stream goes on
    monkeypatch.setattr(prediction, "WORKER_AFTER", 100)
    store, info, _result, _data = trained_store
    predictor = Predictor.from_store(store, info)
    texts = [t for t, _ in reviews(6000, seed=7)]
    here: list[int] = []
    encode_here = predictor.family.encode_chunk
    monkeypatch.setattr(predictor.family, "encode_chunk", lambda v, t, *a: here.append(len(t)) or encode_here(v, t, *a))
    streamed = [p.probability for chunk in predictor.predict_chunks(iter(texts), details=False) for p in chunk]
    monkeypatch.undo()
    [worker] = ReadyWorker.made
    before_worker = 3  # chunks of 32, 64 and 128 reviews read before the 100th: all encoded here
    assert worker.results >= 4 and abs((len(here) - before_worker) - worker.results) <= 1
    assert sum(here) + 512 * worker.results >= len(texts) and not worker.is_alive()
    rows = predictor.family.encode_chunk(predictor.vocabulary, texts, None, False).ids
    np.testing.assert_allclose(streamed, predictor.probabilities(rows), rtol=0, atol=1e-12)


def test_the_savedmodel_on_raw_text_scores_as_the_numpy_engine(trained_store, tmp_path):
    """Both weightings (multi-hot; TF-IDF with NBSVM ratios): n-grams, counts and IDF computed in the graph."""
    import tensorflow as tf

    from models.serving.export import export_saved_model

    store, info, _result, data = trained_store
    done = export_saved_model(store, info.id, tmp_path / "saved")
    assert done.family == "ngram"
    texts = data.test.texts + ["Not good. Not good at all! not good", "A GREAT film &amp; wonderful acting<br />loved",
                               " ".join(["a great film"] * 400), "zzz qqq", "!!!"]
    served = tf.saved_model.load(str(done.folder)).signatures["serving_default"](text=tf.constant(texts))
    predictor = Predictor.from_store(store, info)
    rows = predictor.family.encode_chunk(predictor.vocabulary, texts, None, False).ids
    np.testing.assert_allclose(served["probability"].numpy(), predictor.probabilities(rows), atol=1e-6)
    assert served["words"].numpy().tolist() == [len(tokenize(t)) for t in texts]
    assert served["label"].numpy().tolist()[-2:] == [b"positive" if p >= 0.5 else b"negative"
                                                     for p in predictor.probabilities(rows)[-2:]]
