"""Models trained with plain Keras come in (``import``), and ours go back out to plain Keras
(``export --format keras``).

The Keras models here are built the way the IMDB tutorial builds them (Embedding ->
LSTM -> Dense sigmoid, fitted for a few steps on made-up ids) and saved with
``model.save`` as ``.keras`` and legacy ``.h5``; the app's probabilities must equal
``model.predict`` on the same ids, padded the Keras way.
"""

import csv
import json
import os
import random
import shutil
import subprocess
import sys
import zipfile

import numpy as np
import pytest

import models.keras_interop as interop
from models.errors import ConfigError, DataSourceError, ModelStoreError, NetworkError
from models.keras_interop import (
    EXPORT_FILES,
    KERAS_WORD_INDEX,
    export_keras,
    file_kind,
    import_keras_model,
    import_model_file,
    readme_code,
)
from models.prediction import Predictor
from models.store import META_FILE, MODEL_FILE, VOCAB_FILE, ModelStore
from models.vocabulary import Vocabulary
from tests.conftest import save_trained
from tests.test_cli import assert_user_error, last_json, run_cli

VOCAB = 40  # the Embedding's input_dim: ranks 1..36 are words, higher ranks out of vocabulary
LENGTH = 12
WORD_INDEX = {f"w{rank}": rank for rank in range(1, 61)}  # Keras' format: word -> rank from 1
ATOL = 1e-5
MEASURED: dict[str, float] = {}  # largest |app - plain Keras| per case, printed with -s


def keras_ids(tokens):
    """What keras.datasets.imdb.load_data(num_words=VOCAB) yields for these words."""
    return [1] + [WORD_INDEX[t] + 3 if t in WORD_INDEX and WORD_INDEX[t] + 3 < VOCAB else 2 for t in tokens]


def sample_reviews(n=30, seed=3):
    """(text, tokens) pairs: known words, words ranked beyond the vocabulary, unknown words; some
    longer than LENGTH (truncated at the front), with the case and <br /> of real reviews."""
    rng = random.Random(seed)
    vocab = list(WORD_INDEX) + ["zebra", "qwerty"]
    out = []
    for i in range(n):
        tokens = [rng.choice(vocab) for _ in range(rng.randint(1, 2 * LENGTH))]
        text = " ".join(t.upper() if j % 5 == 0 else t for j, t in enumerate(tokens))
        if i % 3 == 0:
            text = text.replace(" ", "<br /><br />", 1) + "."
        out.append((text, tokens))
    return out


def keras_predict(model, tokens_list, maxlen):
    from models.keras_runtime import keras

    ids = keras().utils.pad_sequences([keras_ids(t) for t in tokens_list], maxlen=maxlen)
    return model.predict(ids, verbose=0).reshape(-1)


def record(case, diff):
    MEASURED[case] = max(MEASURED.get(case, 0.0), float(diff))
    print(f"max |app - keras| {case}: {diff:.2e}")


@pytest.fixture(scope="module")
def plain(tmp_path_factory):
    """Small models trained with plain Keras and saved as a tutorial user saves them."""
    folder = tmp_path_factory.mktemp("plain-keras")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SENTIMENT_STUDIO_HOME", str(folder / "home"))
        mp.setenv("KERAS_HOME", str(folder / "home" / "keras"))
        from models.keras_runtime import keras

        k = keras()
        k.utils.set_random_seed(7)
        rng = np.random.default_rng(7)
        x = rng.integers(1, VOCAB, size=(96, LENGTH)).astype("int32")
        y = (x[:, -3:].mean(axis=1) > VOCAB / 2).astype("float32")
        nn = k.layers

        def fit(model, x=x):
            model.compile(optimizer="adam", loss="binary_crossentropy")
            model.fit(x, y, epochs=2, batch_size=16, verbose=0)
            return model

        # The tutorial's model: no Input layer, so Keras declares a float32 input of the fitted shape.
        tutorial = fit(k.Sequential([nn.Embedding(VOCAB, 8), nn.LSTM(8), nn.Dense(1, activation="sigmoid")]))
        tutorial.save(folder / "model.keras")
        tutorial.save(folder / "model.h5")  # legacy HDF5 (Keras warns; that is the point)
        stacked = fit(k.Sequential([k.Input((LENGTH,), dtype="int32"), nn.Embedding(VOCAB, 8),
                                    nn.LSTM(8, return_sequences=True), nn.LSTM(6), nn.Dense(1, activation="sigmoid")]))
        stacked.save(folder / "stacked.h5")
        ids = k.Input((None,), dtype="int32", name="ids")
        h = nn.Bidirectional(nn.LSTM(5))(nn.Embedding(VOCAB, 8, mask_zero=True)(ids))
        bidi = fit(k.Model(ids, nn.Dense(1, activation="sigmoid")(nn.Dropout(0.1)(h))))
        bidi.save(folder / "bidi.keras")

        # Files to refuse.
        k.Sequential([k.Input((LENGTH,), dtype="int32"), nn.Embedding(VOCAB, 4), nn.LSTM(4),
                      nn.Dense(3, activation="softmax")]).save(folder / "softmax3.keras")
        k.Sequential([k.Input((LENGTH, 4)), nn.LSTM(4), nn.Dense(1, activation="sigmoid")]).save(folder / "float.keras")
        k.Sequential([k.Input((LENGTH,), dtype="int32"), nn.Embedding(VOCAB, 4), nn.LSTM(4),
                      nn.Dense(1)]).save(folder / "logits.h5")
        inp = k.Input((LENGTH,), dtype="int32")
        h = nn.LSTM(4)(nn.Embedding(VOCAB, 4)(inp))
        k.Model(inp, [nn.Dense(1, activation="sigmoid")(h), nn.Dense(1, activation="sigmoid")(h)]).save(
            folder / "two_outputs.keras")
    write_keras2_like(folder)
    (folder / "notes.keras").write_text("these are my notes, not a model\n")
    (folder / "word_index.json").write_text(json.dumps(WORD_INDEX))
    (folder / "list.json").write_text(json.dumps(list(WORD_INDEX)))
    (folder / "strings.json").write_text(json.dumps({w: str(r) for w, r in WORD_INDEX.items()}))
    return {"folder": folder, "tutorial": tutorial, "stacked": stacked, "bidi": bidi}


def write_keras2_like(folder):
    """The tutorial model as Keras 2 (tf.keras, TensorFlow <= 2.15) wrote it: ``time_major`` on the LSTM
    and, in a .keras config, the input shape as ``batch_input_shape`` on the first layer (no InputLayer)."""
    import h5py

    def mark_lstm(config):
        for layer in config["config"]["layers"]:
            if layer["class_name"] == "LSTM":
                layer["config"]["time_major"] = False

    shutil.copyfile(folder / "model.h5", folder / "keras2.h5")
    with h5py.File(folder / "keras2.h5", "r+") as f:
        raw = f.attrs["model_config"]
        config = json.loads(raw.decode() if isinstance(raw, bytes) else raw)
        mark_lstm(config)
        f.attrs["model_config"] = json.dumps(config)
    with zipfile.ZipFile(folder / "model.keras") as src, zipfile.ZipFile(folder / "keras2.keras", "w") as out:
        for name in src.namelist():
            data = src.read(name)
            if name == "config.json":
                config = json.loads(data)
                layers = config["config"]["layers"]
                first = layers.pop(0)
                assert first["class_name"] == "InputLayer"
                layers[0]["config"].update(batch_input_shape=first["config"]["batch_shape"], input_length=LENGTH)
                mark_lstm(config)
                data = json.dumps(config)
            elif name == "metadata.json":
                data = json.dumps({**json.loads(data), "keras_version": "2.15.0"})
            out.writestr(name, data)


@pytest.fixture
def store(tmp_path):
    return ModelStore(tmp_path / "models")


def store_state(store):
    """Everything in the store folder, hidden entries included."""
    if not store.root.exists():
        return {}
    return {p.relative_to(store.root).as_posix(): p.read_bytes() if p.is_file() else None
            for p in sorted(store.root.rglob("*"))}


# -- import ---------------------------------------------------------------------------------


@pytest.mark.parametrize("file_name", ["model.keras", "model.h5"])
def test_imported_tutorial_model_scores_exactly_like_plain_keras(plain, store, file_name):
    path = plain["folder"] / file_name
    info = import_keras_model(store, path, word_index=plain["folder"] / "word_index.json")
    assert info.damaged is None and info.name == "model"
    meta = info.metadata.to_json()
    assert meta["kind"] == "imported" and meta["imported"]["from"] == file_name and meta["imported"]["at"]
    assert meta["config"]["maxlen"] == LENGTH and meta["config"]["vocab_size"] == VOCAB  # both read from the model
    assert meta["source_model"]["format"] == (".keras" if file_name.endswith("keras") else ".h5")
    assert sorted(p.name for p in info.path.iterdir()) == sorted([MODEL_FILE, VOCAB_FILE, META_FILE])
    assert zipfile.is_zipfile(info.path / MODEL_FILE)  # stored as .keras, whatever came in
    summary = store.find(info.id).summary()
    assert summary["kind"] == "imported" and summary["imported"]["from"] == file_name

    vocabulary = Vocabulary.load(info.path / VOCAB_FILE)
    assert vocabulary.num_words == VOCAB
    assert vocabulary.id_of("w1") == 4 and vocabulary.id_of("w36") == 39  # rank + 3 ...
    assert vocabulary.id_of("w37") == 2 and vocabulary.id_of("w60") == 2  # ... below num_words, as in training

    samples = sample_reviews()
    expected = keras_predict(plain["tutorial"], [t for _, t in samples], LENGTH)
    for engine in ("auto", "keras"):
        predictor = Predictor.from_store(store, info.id, engine=engine)
        assert predictor.engine == ("numpy" if engine == "auto" else "keras")  # the fast path takes it
        assert predictor.maxlen == LENGTH
        got = np.array([p.probability for p in predictor.predict_many([t for t, _ in samples])])
        record(f"{file_name} ({predictor.engine})", np.max(np.abs(got - expected)))
        np.testing.assert_allclose(got, expected, atol=ATOL, rtol=0)


@pytest.mark.parametrize("file_name", ["keras2.h5", "keras2.keras"])
def test_files_written_by_keras_2_are_read_too(plain, store, file_name):
    from models.keras_runtime import keras

    with pytest.raises(Exception, match="time_major|batch_input_shape"):  # what plain Keras 3 makes of them
        keras().saving.load_model(plain["folder"] / file_name, compile=False)
    info = import_keras_model(store, plain["folder"] / file_name, word_index=plain["folder"] / "word_index.json")
    assert info.metadata.maxlen == LENGTH
    samples = sample_reviews(seed=8)
    expected = keras_predict(plain["tutorial"], [t for _, t in samples], LENGTH)
    got = np.array([p.probability for p in Predictor.from_store(store, info.id).predict_many([t for t, _ in samples])])
    record(file_name, np.max(np.abs(got - expected)))
    np.testing.assert_allclose(got, expected, atol=ATOL, rtol=0)


@pytest.mark.parametrize(
    ("file_name", "maxlen", "expected_len"),
    [("stacked.h5", None, LENGTH), ("bidi.keras", 15, 15), ("bidi.keras", None, 80)],
)
def test_other_architectures_fall_back_to_keras(plain, store, file_name, maxlen, expected_len):
    info = import_keras_model(store, plain["folder"] / file_name, word_index=plain["folder"] / "word_index.json",
                              maxlen=maxlen)
    assert info.metadata.maxlen == expected_len
    predictor = Predictor.from_store(store, info.id)
    assert predictor.engine == "keras" and predictor.maxlen == expected_len
    samples = sample_reviews(seed=5)
    got = np.array([p.probability for p in predictor.predict_many([t for t, _ in samples])])
    model = plain["stacked" if file_name.startswith("stacked") else "bidi"]
    expected = keras_predict(model, [t for _, t in samples], expected_len)
    record(file_name, np.max(np.abs(got - expected)))
    np.testing.assert_allclose(got, expected, atol=ATOL, rtol=0)


def test_an_imported_model_is_evaluated_like_a_trained_one(plain, store, tmp_path):
    from models.datasets import load_csv
    from models.evaluation import evaluate, metrics

    info = import_keras_model(store, plain["folder"] / "model.keras", word_index=plain["folder"] / "word_index.json")
    samples = sample_reviews(40, seed=11)
    path = tmp_path / "reviews.csv"
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["text", "label", "split"])
        w.writerows([[text, i % 2, "test"] for i, (text, _) in enumerate(samples)] + [["w1 w2", 1, "train"]])
    evaluation = evaluate(Predictor.from_store(store, info.id), load_csv(path))
    result = metrics(evaluation.labels, evaluation.probabilities)
    expected = keras_predict(plain["tutorial"], [t for _, t in samples], LENGTH)
    labels = np.arange(len(samples)) % 2
    assert result.n == len(samples) and result.accuracy == pytest.approx(np.mean((expected >= 0.5) == labels))
    np.testing.assert_allclose(evaluation.probabilities, expected, atol=1e-5)


def test_the_app_vocabulary_file_is_a_word_index_too(plain, store):
    first = import_keras_model(store, plain["folder"] / "model.keras", word_index=plain["folder"] / "word_index.json")
    again = import_keras_model(store, plain["folder"] / "model.h5", word_index=first.path / VOCAB_FILE, name="again")
    assert again.name == "again" and again.metadata.word_index["format"] == "sentiment-studio-vocabulary"
    assert Vocabulary.load(again.path / VOCAB_FILE) == Vocabulary.load(first.path / VOCAB_FILE)


def test_without_a_word_index_the_keras_cache_is_used(plain, store, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    monkeypatch.delenv("KERAS_HOME", raising=False)
    cache = tmp_path / "user" / ".keras" / "datasets"
    cache.mkdir(parents=True)
    (cache / KERAS_WORD_INDEX).write_text(json.dumps(WORD_INDEX))
    monkeypatch.setattr(interop, "download", lambda *a, **k: pytest.fail("nothing to download"))
    info = import_keras_model(store, plain["folder"] / "model.h5")
    assert str(cache) in info.metadata.word_index["from"]
    assert Vocabulary.load(info.path / VOCAB_FILE) == Vocabulary.from_keras_word_index(WORD_INDEX, VOCAB)


def test_without_a_word_index_it_is_downloaded_to_our_cache(plain, store, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    fetched = []

    def fake_download(url, dest, **kwargs):
        fetched.append((url, dest))
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text(json.dumps(WORD_INDEX))
        return dest

    monkeypatch.setattr(interop, "download", fake_download)
    info = import_keras_model(store, plain["folder"] / "model.keras")
    from models import paths

    assert fetched == [(interop.KERAS_DATASETS_URL + KERAS_WORD_INDEX, paths.downloads_dir() / KERAS_WORD_INDEX)]
    assert Vocabulary.load(info.path / VOCAB_FILE) == Vocabulary.from_keras_word_index(WORD_INDEX, VOCAB)


def test_without_a_word_index_offline_says_which_file_is_needed(plain, store, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "user"))

    def offline(url, dest, **kwargs):
        raise NetworkError("Could not reach storage.googleapis.com to download the data set (no network). More.")

    monkeypatch.setattr(interop, "download", offline)
    before = store_state(store)
    with pytest.raises(DataSourceError) as caught:
        import_keras_model(store, plain["folder"] / "model.keras")
    message = str(caught.value)
    assert "imdb_word_index.json" in message and "--word-index" in message and "no network" in message
    assert str(tmp_path / "user" / ".keras" / "datasets") in message and "\n" not in message
    assert store_state(store) == before


REFUSED = [
    ("softmax3.keras", None, "found an output of 3 values (softmax)"),
    ("float.keras", None, "found a float32 input of shape (None, 12, 4)"),
    ("logits.h5", None, "one output with a linear activation"),
    ("two_outputs.keras", None, "found 2 outputs"),
    ("notes.keras", None, "found a text file"),
    ("model.keras", "list.json", "is not a word index: expected a JSON object mapping each word to its rank"),
    ("model.keras", "strings.json", "is not a word index"),
]


@pytest.mark.parametrize(("file_name", "index", "fragment"), REFUSED)
def test_refused_files_say_what_was_expected_and_found(plain, store, file_name, index, fragment):
    folder = plain["folder"]
    import_keras_model(store, folder / "model.keras", word_index=folder / "word_index.json", name="kept")
    before = store_state(store)
    with pytest.raises((ModelStoreError, DataSourceError)) as caught:
        import_model_file(store, folder / file_name, word_index=folder / (index or "word_index.json"))
    message = str(caught.value)
    assert fragment in message and "\n" not in message
    if index is None:
        assert "expected a Keras model whose input is a sequence of integer word ids" in message
    assert store_state(store) == before  # nothing added, nothing left behind


def test_a_sequence_length_must_fit_the_model(plain, store):
    folder = plain["folder"]
    with pytest.raises(ConfigError, match="reads exactly 12 word ids"):
        import_keras_model(store, folder / "model.keras", word_index=folder / "word_index.json", maxlen=80)
    with pytest.raises(ConfigError, match="between 1 and 10,000"):
        import_keras_model(store, folder / "bidi.keras", word_index=folder / "word_index.json", maxlen=0)
    assert store_state(store) == {}


def test_files_are_told_apart(plain, tmp_path):
    folder = plain["folder"]
    assert file_kind(folder / "model.keras") == file_kind(folder / "model.h5") == "keras"
    assert file_kind(tmp_path / "x.ssmodel") == "archive"
    (tmp_path / "no_suffix").write_bytes((folder / "model.h5").read_bytes())
    assert file_kind(tmp_path / "no_suffix") == "keras"
    assert file_kind(folder / "word_index.json") is None


# -- export ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def trained(tiny_training):
    return tiny_training[1]


@pytest.fixture
def saved(store, trained):
    return save_trained(store, trained)


ROUND_TRIP_TEXTS = [
    "A great film, wonderful acting.<br /><br />I loved it",
    "An awful film. Terrible acting, and the plot was boring and dull",
    "The movie didn't have a stupid story; it was truly fun, with an excellent cast and superb scenes",
    "plot",
    " ".join(["the movie was brilliant and moving"] * 8),  # longer than maxlen: cut at the front
]


def run_readme_lines(folder, texts):
    """The README's lines, run by a plain Python with Keras (not the app) in the export folder."""
    readme = (folder / "README.txt").read_text(encoding="utf-8")
    after = readme.split("Score a review with plain Keras", 1)[1].split("\n\n")[1]  # the block after that line
    lines = [line[4:] for line in after.splitlines()]
    assert lines == readme_code(24).splitlines()  # the README holds exactly the lines we run
    script = "import json as _json, sys as _sys\nfor review in _json.load(open(_sys.argv[1])):\n" + \
        "".join(f"    {line}\n" for line in lines)
    (folder.parent / "reviews.json").write_text(json.dumps(texts))
    env = {k: v for k, v in os.environ.items() if k not in ("SENTIMENT_STUDIO_HOME", "PYTHONPATH")}
    proc = subprocess.run([sys.executable, "-c", script, str(folder.parent / "reviews.json")], cwd=folder,
                          capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return np.array([float(v) for v in proc.stdout.split()])


def test_export_for_plain_keras_round_trips(store, saved, tmp_path):
    folder = tmp_path / "out" / "for-keras"
    done = export_keras(store, saved.name, folder)
    assert done.folder == folder and sorted(p.name for p in folder.iterdir()) == sorted(EXPORT_FILES)
    assert (folder / MODEL_FILE).read_bytes() == (saved.path / MODEL_FILE).read_bytes()
    index = json.loads((folder / "word_index.json").read_text(encoding="utf-8"))
    vocabulary = Vocabulary.load(saved.path / VOCAB_FILE)
    assert index == vocabulary.to_keras_word_index() and min(index.values()) == 1  # Keras' IMDB format
    assert all(isinstance(w, str) and type(r) is int for w, r in index.items())

    plain_keras = run_readme_lines(folder, ROUND_TRIP_TEXTS)
    app = np.array([p.probability for p in Predictor.from_store(store, saved.id).predict_many(ROUND_TRIP_TEXTS)])
    record("export round trip", np.max(np.abs(app - plain_keras)))
    np.testing.assert_allclose(plain_keras, app, atol=ATOL, rtol=0)

    # ... and the exported pair imports back as the same model.
    back = import_keras_model(store, folder / MODEL_FILE, word_index=folder / "word_index.json", name="back")
    again = np.array([p.probability for p in Predictor.from_store(store, back.id).predict_many(ROUND_TRIP_TEXTS)])
    np.testing.assert_allclose(again, app, atol=1e-6, rtol=0)
    assert Vocabulary.load(back.path / VOCAB_FILE) == vocabulary


def test_export_never_replaces_files_unless_asked(store, saved, tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / MODEL_FILE).write_text("my own model")
    with pytest.raises(ModelStoreError, match="already holds model.keras"):
        export_keras(store, saved.id, folder)
    assert sorted(p.name for p in folder.iterdir()) == [MODEL_FILE]
    assert (folder / MODEL_FILE).read_text() == "my own model"
    export_keras(store, saved.id, folder, overwrite=True)
    assert (folder / MODEL_FILE).read_bytes() == (saved.path / MODEL_FILE).read_bytes()
    assert not [p for p in folder.iterdir() if p.name.endswith(".tmp")]
    (tmp_path / "file").write_text("x")
    with pytest.raises(ModelStoreError, match="is a file"):
        export_keras(store, saved.id, tmp_path / "file")


def test_import_model_file_still_takes_our_archives(store, saved, tmp_path):
    archive = store.export_archive(saved.id, tmp_path / "shared.ssmodel")
    info = import_model_file(store, archive, name="copy")
    assert info.name == "copy" and info.metadata.kind == "trained"
    with pytest.raises(ModelStoreError, match="carries its own vocabulary"):
        import_model_file(store, archive, maxlen=20)


# -- the command line ---------------------------------------------------------------------


def test_cli_import_list_predict_export(plain, tmp_path):
    folder = plain["folder"]
    proc = run_cli("import", folder / "model.h5", "--word-index", folder / "word_index.json", "--name", "tutorial")
    assert proc.returncode == 0, proc.stderr
    out = last_json(proc.stdout)
    assert (out["name"], out["kind"], out["vocab_size"], out["maxlen"]) == ("tutorial", "imported", VOCAB, LENGTH)
    assert out["imported"]["from"] == "model.h5"

    listed = json.loads(run_cli("models").stdout)
    assert listed[0]["name"] == "tutorial" and listed[0]["kind"] == "imported"
    assert listed[0]["imported"]["from"] == "model.h5"

    samples = sample_reviews(4, seed=9)
    proc = run_cli("predict", "--model", "tutorial", *[t for t, _ in samples])
    assert proc.returncode == 0, proc.stderr
    got = np.array([json.loads(line)["probability"] for line in proc.stdout.splitlines()])
    np.testing.assert_allclose(got, keras_predict(plain["tutorial"], [t for _, t in samples], LENGTH), atol=ATOL)

    proc = run_cli("export", "tutorial", "--format", "keras", tmp_path / "out")
    assert proc.returncode == 0, proc.stderr
    assert sorted(last_json(proc.stdout)["files"]) == sorted(EXPORT_FILES)
    assert_user_error(run_cli("export", "tutorial", "--format", "keras", tmp_path / "out"), "already holds")
    proc = run_cli("export", "tutorial", tmp_path)  # the default format, into a folder
    assert proc.returncode == 0, proc.stderr
    assert last_json(proc.stdout)["path"] == str(tmp_path / "tutorial.ssmodel")
    assert zipfile.is_zipfile(tmp_path / "tutorial.ssmodel")


@pytest.mark.parametrize(
    ("file_name", "index", "fragment"),
    [
        ("softmax3.keras", "word_index.json", "found an output of 3 values (softmax)"),
        ("float.keras", "word_index.json", "found a float32 input"),
        ("notes.keras", "word_index.json", "found a text file"),
        ("model.keras", "list.json", "is not a word index"),
    ],
)
def test_cli_refusals_exit_2_and_change_nothing(plain, file_name, index, fragment, isolated_home):
    folder = plain["folder"]
    store = ModelStore(isolated_home / "models")
    before = store_state(store)
    assert_user_error(run_cli("import", folder / file_name, "--word-index", folder / index), fragment)
    assert store_state(store) == before


def test_cli_help_lists_import_and_export():
    proc = run_cli("--help")
    assert proc.returncode == 0 and "import" in proc.stdout and "export" in proc.stdout
