"""The Models tab, driven offscreen with a tiny model trained once for the module."""

import zipfile
from dataclasses import replace

import numpy as np
import pytest
from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QDialog, QFileDialog, QMessageBox

from app.background import BackgroundTasks
from app.models_tab import (
    ACCURACY,
    BUILTIN_STATUS,
    CHOSEN_ON,
    CREATED,
    DATA,
    EPOCH,
    NAME,
    PRESET,
    STATUS,
    VAL_ACCURACY,
    ModelsTab,
    format_created,
)
from models.prediction import Predictor
from models.store import ModelInfo, ModelStore
from tests.conftest import save_trained

pytestmark = pytest.mark.gui
TIMEOUT = 30_000


@pytest.fixture(scope="module")
def trained(tiny_training):
    return tiny_training[1]


save = save_trained


@pytest.fixture
def store(tmp_path, trained):
    store = ModelStore(tmp_path / "models")
    save(store, trained, "first")
    save(store, trained, "second")
    return store


@pytest.fixture
def dialogs(monkeypatch):
    """Message boxes answered without blocking; what they said is recorded."""
    shown = {"warning": [], "question": []}

    def warning(parent, title, text, *args, **kwargs):
        shown["warning"].append(text)
        return QMessageBox.StandardButton.Ok

    def question(parent, title, text, *args, **kwargs):
        shown["question"].append(text)
        return shown.get("answer", QMessageBox.StandardButton.Yes)

    monkeypatch.setattr(QMessageBox, "warning", warning)
    monkeypatch.setattr(QMessageBox, "question", question)
    return shown


@pytest.fixture
def make_tab(qtbot):
    def make(store):
        tasks = BackgroundTasks()
        tab = ModelsTab(store, tasks)
        # pytest-qt closes widgets before fixtures are torn down: end every thread first.
        qtbot.addWidget(tab, before_close_func=lambda _: qtbot.waitUntil(tasks.settled,
                                                                            timeout=TIMEOUT))
        return tab

    return make


@pytest.fixture
def tab(make_tab, store):
    return make_tab(store)


def names(tab):
    return [tab.table.item(row, NAME).text() for row in range(tab.table.rowCount())]


def row_of(tab, name):
    return names(tab).index(name)


def select(tab, name):
    tab.table.selectRow(row_of(tab, name))
    return tab.selected_model()


def test_rows_show_the_stored_models(tab, store):
    assert names(tab) == ["second", "first"]  # newest first
    info = store.find("first")
    row = row_of(tab, "first")
    assert tab.table.item(row, CREATED).text() == format_created(info.created)
    assert tab.table.item(row, PRESET).text() == "imdb-lstm"
    assert tab.table.item(row, DATA).text() == "tiny.csv"  # the file name, not the whole path
    results = info.metadata.results
    tested = info.metadata.data["test"]
    assert tab.table.item(row, ACCURACY).text() == f"{results['test_accuracy']:.1%} of {tested:,}"  # with its count
    assert tab.table.item(row, VAL_ACCURACY).text() == f"{results['validation_accuracy']:.1%}"
    assert tab.table.item(row, EPOCH).text() == str(results["best_epoch"])
    assert tab.table.item(row, CHOSEN_ON).text() == "held-out reviews"
    assert tab.selected_model().name == "second"
    assert "learning_rate 0.01" in tab.details.toPlainText()
    assert "Best epoch chosen on held-out training reviews" in " ".join(tab.details.toPlainText().split())
    assert tab.empty_label.isHidden()


def test_created_is_shown_in_local_time():
    assert format_created("2026-01-02T03:04:05.123456+00:00").startswith("2026-01-0")
    assert format_created("") == "unknown" and format_created("yesterday") == "yesterday"


def test_rename_changes_the_store_and_tells_the_window(qtbot, tab, store):
    first = store.find("first")
    with qtbot.waitSignal(tab.models_changed, timeout=TIMEOUT):
        assert tab.rename_model(first.id, "  favourite ")
    assert store.find(first.id).name == "favourite" and "favourite" in names(tab)
    assert tab.selected_model().id == first.id


def test_rename_in_place(qtbot, tab, store):
    second = select(tab, "second")
    with qtbot.waitSignal(tab.models_changed, timeout=TIMEOUT):
        tab.table.item(row_of(tab, "second"), NAME).setText("edited")  # what the inline editor commits
    assert store.find(second.id).name == "edited" and "edited" in names(tab)


def test_a_taken_name_gets_a_number(qtbot, tab, store):
    with qtbot.waitSignal(tab.models_changed, timeout=TIMEOUT):
        tab.rename_model(store.find("second").id, "FIRST")
    assert sorted(names(tab)) == ["FIRST (2)", "first"]


def test_an_empty_name_is_refused_with_a_message(qtbot, tab, store, dialogs):
    second = store.find("second")
    with qtbot.assertNotEmitted(tab.models_changed):
        assert not tab.rename_model(second.id, "   ")
    assert dialogs["warning"] == ["A model name cannot be empty."]
    assert store.find(second.id).name == "second" and names(tab) == ["second", "first"]


def test_a_name_posing_as_the_built_in_model_is_refused_with_a_message(qtbot, tmp_path, trained, make_tab,
                                                                        dialogs):
    shipped = save(ModelStore(tmp_path / "shipped"), trained, "IMDB LSTM (built-in)")
    store = ModelStore(tmp_path / "models", builtin=[shipped.path])
    mine = save(store, trained, "mine")
    tab = make_tab(store)
    for name in ("IMDB LSTM (built-in)", "imdb lstm (BUILT-IN)", "My LSTM (built-in)"):
        with qtbot.assertNotEmitted(tab.models_changed):
            assert not tab.rename_model(mine.id, name)
        assert "would look like the model that ships with the app" in dialogs["warning"][-1]
    assert store.find(mine.id).name == "mine" and len(dialogs["warning"]) == 3


def test_delete_asks_first(qtbot, tab, store, dialogs):
    select(tab, "first")
    dialogs["answer"] = QMessageBox.StandardButton.No
    with qtbot.assertNotEmitted(tab.models_changed):
        tab.delete_selected()
    assert "first" in [i.name for i in store.list()]
    assert "Delete the model 'first'?" in dialogs["question"][0]

    dialogs["answer"] = QMessageBox.StandardButton.Yes
    with qtbot.waitSignal(tab.models_changed, timeout=TIMEOUT):
        tab.delete_selected()
    assert [i.name for i in store.list()] == ["second"] and names(tab) == ["second"]


def test_built_in_models_are_read_only(qtbot, tmp_path, trained, make_tab, dialogs):
    shipped = save(ModelStore(tmp_path / "shipped"), trained, "IMDB LSTM (built-in)")
    store = ModelStore(tmp_path / "models", builtin=[shipped.path])
    save(store, trained, "mine")
    tab = make_tab(store)
    assert names(tab) == ["mine", "IMDB LSTM (built-in)"]
    select(tab, "IMDB LSTM (built-in)")
    row = row_of(tab, "IMDB LSTM (built-in)")
    assert tab.table.item(row, STATUS).text() == BUILTIN_STATUS
    meta = shipped.metadata
    # A model saved before results said what chose the epoch: its config says it.
    old_meta = replace(meta, config={**meta.config, "validation": "test"},
                       results={k: v for k, v in meta.results.items() if k not in ("validation_accuracy",
                                                                                    "validated_on")})
    old = ModelInfo(shipped.id, shipped.path, "old", "", old_meta).summary()
    assert old["validated_on"] == "test" and old["validation_accuracy"] == old["test_accuracy"]
    assert not tab.table.item(row, NAME).flags() & Qt.ItemFlag.ItemIsEditable
    assert not tab.delete_button.isEnabled() and not tab.rename_button.isEnabled()
    assert tab.export_button.isEnabled() and tab.open_button.isEnabled()
    with qtbot.assertNotEmitted(tab.models_changed):
        tab.delete_selected()
        assert not tab.rename_model(shipped.id, "renamed")
    assert dialogs["question"] == [] and "built in and cannot be changed" in dialogs["warning"][0]
    assert shipped.path.is_dir() and store.find(shipped.id).name == "IMDB LSTM (built-in)"

    select(tab, "mine")
    assert tab.delete_button.isEnabled() and tab.rename_button.isEnabled()


def test_a_damaged_folder_shows_as_damaged(qtbot, tab, store, dialogs):
    (store.root / "broken").mkdir()
    tab.refresh()
    row = row_of(tab, "broken")
    status = tab.table.item(row, STATUS)
    assert status.text() == "Damaged: metadata.json is missing"
    assert "metadata.json is missing" in tab.table.item(row, NAME).toolTip()
    healthy = tab.table.item(row_of(tab, "first"), NAME)
    assert tab.table.item(row, NAME).foreground().color() != healthy.foreground().color()  # greyed
    select(tab, "broken")
    assert not tab.export_button.isEnabled() and not tab.rename_button.isEnabled()
    assert tab.delete_button.isEnabled()  # the user can clear it away
    assert "Cannot be used" in tab.details.toPlainText()
    with qtbot.waitSignal(tab.models_changed, timeout=TIMEOUT):
        tab.delete_selected()
    assert not (store.root / "broken").exists()


def test_export_then_import_gives_a_second_usable_model(qtbot, tab, store, tmp_path, monkeypatch):
    first = select(tab, "first")
    dest = tmp_path / "shared"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(dest), ""))
    messages = []
    tab.status_message.connect(messages.append)
    tab.export_selected_dialog()
    exported = tmp_path / "shared.ssmodel"  # the extension is added
    qtbot.waitUntil(lambda: tab.tasks.active() == 0 and exported.exists(), timeout=TIMEOUT)
    assert zipfile.is_zipfile(exported) and f"Exported the model to {exported}." in messages

    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(exported), ""))
    with qtbot.waitSignal(tab.models_changed, timeout=TIMEOUT):
        tab.import_model_dialog()
    assert sorted(names(tab)) == ["first", "first (2)", "second"]
    imported = tab.selected_model()
    assert imported.name == "first (2)" and imported.id != first.id and imported.damaged is None
    assert "Imported 'first (2)'." in messages

    texts = ["a great film, wonderful acting", "an awful film, terrible acting"]
    original = Predictor.from_loaded(store.load(first.id)).predict_many(texts)
    copy = Predictor.from_loaded(store.load(imported.id)).predict_many(texts)
    np.testing.assert_allclose([p.probability for p in copy], [p.probability for p in original], atol=1e-6)


def test_cancelled_dialogs_do_nothing(qtbot, tab, monkeypatch):
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: ("", ""))
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: ("", ""))
    with qtbot.assertNotEmitted(tab.models_changed):
        tab.import_model_dialog()
        tab.export_selected_dialog()
    assert tab.tasks.active() == 0


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda path: path.write_text("not a model"), "is not a Sentiment Studio model file"),
        (lambda path: zipfile.ZipFile(path, "w").close(), "it holds nothing"),
        (lambda path: _zip(path, {"model.keras": b"x", "notes.txt": b"y"}), "it holds model.keras, notes.txt"),
    ],
)
def test_bad_import_files_are_refused_with_a_message(qtbot, tab, store, tmp_path, dialogs, make, message):
    bad = tmp_path / "bad.ssmodel"
    make(bad)
    before = sorted(p.name for p in store.root.iterdir())
    with qtbot.assertNotEmitted(tab.models_changed, wait=100):
        tab.import_file(bad)
        qtbot.waitUntil(lambda: bool(dialogs["warning"]), timeout=TIMEOUT)
    assert message in dialogs["warning"][0] and "bad.ssmodel" in dialogs["warning"][0]
    assert sorted(p.name for p in store.root.iterdir()) == before and names(tab) == ["second", "first"]


def _zip(path, members):
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)


def test_export_failure_is_a_message(qtbot, tab, store, tmp_path, dialogs):
    tab.export_model(store.find("first").id, tmp_path / "no such folder" / "x.ssmodel")
    qtbot.waitUntil(lambda: bool(dialogs["warning"]), timeout=TIMEOUT)
    assert "Could not export the model to" in dialogs["warning"][0]


def test_open_folder_opens_the_models_folder(tab, store, monkeypatch):
    opened = []
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: opened.append(url) or True)
    info = select(tab, "first")
    tab.open_selected_folder()
    assert opened == [QUrl.fromLocalFile(str(info.path))]


def test_an_empty_store_says_how_to_get_a_model(tmp_path, make_tab):
    tab = make_tab(ModelStore(tmp_path / "nothing"))
    assert tab.table.rowCount() == 0 and not tab.empty_label.isHidden()
    assert "Train tab" in tab.empty_label.text()
    assert not any(b.isEnabled() for b in (tab.rename_button, tab.delete_button, tab.export_button, tab.open_button))
    assert tab.import_button.isEnabled()


# -- models trained with plain Keras ---------------------------------------------------------


@pytest.fixture(scope="module")
def keras_files(tmp_path_factory):
    """A tutorial-style model saved by plain Keras as .h5, its word index, and a file that is no model."""
    from models.keras_runtime import keras

    folder = tmp_path_factory.mktemp("keras-files")
    k = keras()
    k.utils.set_random_seed(3)
    model = k.Sequential([k.layers.Embedding(30, 4), k.layers.LSTM(4), k.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy")
    x = np.random.default_rng(3).integers(1, 30, size=(32, 10)).astype("int32")
    model.fit(x, (x[:, -1] > 15).astype("float32"), epochs=1, batch_size=16, verbose=0)
    model.save(folder / "tutorial.h5")
    (folder / "imdb_word_index.json").write_text('{"great": 1, "awful": 2, "film": 3}')
    (folder / "notes.keras").write_text("not a model")
    return folder


def accept_keras_dialog(monkeypatch, word_index=None, name="", maxlen=0):
    from app.models_tab import KerasImportDialog

    shown = []

    def exec_(dialog):
        shown.append(dialog)
        dialog.word_index_edit.setText(str(word_index or ""))
        dialog.name_edit.setText(name)
        dialog.maxlen_spin.setValue(maxlen)
        return QDialog.DialogCode.Accepted.value

    monkeypatch.setattr(KerasImportDialog, "exec", exec_)
    return shown


def test_a_keras_model_is_imported_through_its_dialog(qtbot, tab, store, keras_files, monkeypatch):
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(keras_files / "tutorial.h5"), ""))
    shown = accept_keras_dialog(monkeypatch, keras_files / "imdb_word_index.json", "from keras")
    with qtbot.waitSignal(tab.models_changed, timeout=TIMEOUT):
        tab.import_model_dialog()
    assert len(shown) == 1 and shown[0].name_edit.placeholderText() == "tutorial"
    info = tab.selected_model()
    assert info.name == "from keras" and info.metadata.kind == "imported"
    assert info.metadata.maxlen == 10  # the model's own length
    status = tab.table.item(row_of(tab, "from keras"), STATUS).text()
    assert status.startswith("Imported from tutorial.h5, ")
    details = tab.details.toPlainText()
    assert "Imported from" in details and "imdb_word_index.json (3 words)" in details
    assert Predictor.from_store(store, info.id).predict("a great film").label in ("positive", "negative")


def test_the_keras_dialog_gives_its_choices(qtbot, keras_files):
    from app.models_tab import KerasImportDialog

    dialog = KerasImportDialog(keras_files / "tutorial.h5")
    qtbot.addWidget(dialog)
    assert dialog.options() == {"word_index": None, "maxlen": None, "name": None}  # the defaults
    dialog.word_index_edit.setText(str(keras_files / "imdb_word_index.json"))
    dialog.maxlen_spin.setValue(120)
    dialog.name_edit.setText("  mine ")
    assert dialog.options() == {"word_index": keras_files / "imdb_word_index.json", "maxlen": 120, "name": "mine"}


def test_cancelling_the_keras_dialog_imports_nothing(qtbot, tab, store, keras_files, monkeypatch):
    from app.models_tab import KerasImportDialog

    monkeypatch.setattr(KerasImportDialog, "exec", lambda dialog: QDialog.DialogCode.Rejected.value)
    with qtbot.assertNotEmitted(tab.models_changed, wait=100):
        tab.import_file(keras_files / "tutorial.h5")
    assert tab.tasks.active() == 0 and names(tab) == ["second", "first"]


def test_a_file_that_is_no_keras_model_is_refused_with_a_message(qtbot, tab, store, keras_files, dialogs,
                                                                 monkeypatch):
    accept_keras_dialog(monkeypatch, keras_files / "imdb_word_index.json")
    before = sorted(p.name for p in store.root.iterdir())
    with qtbot.assertNotEmitted(tab.models_changed, wait=100):
        tab.import_file(keras_files / "notes.keras")
        qtbot.waitUntil(lambda: bool(dialogs["warning"]), timeout=TIMEOUT)
    assert "notes.keras cannot be used: expected a Keras model" in dialogs["warning"][0]
    assert "found a text file" in dialogs["warning"][0]
    assert sorted(p.name for p in store.root.iterdir()) == before


def test_export_for_plain_keras_writes_a_folder(qtbot, tab, store, tmp_path, dialogs, monkeypatch):
    from app.models_tab import KERAS_EXPORT_FILTER

    select(tab, "first")
    folder = tmp_path / "for-keras"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(folder), KERAS_EXPORT_FILTER))
    messages = []
    tab.status_message.connect(messages.append)
    tab.export_selected_dialog()
    qtbot.waitUntil(lambda: tab.tasks.active() == 0 and (folder / "README.txt").exists(), timeout=TIMEOUT)
    assert sorted(p.name for p in folder.iterdir()) == ["README.txt", "model.keras", "word_index.json"]
    assert any("Exported the model for plain Keras" in m for m in messages)

    dialogs["answer"] = QMessageBox.StandardButton.No  # the files are there now: asked, and declined
    tab.export_selected_dialog()
    assert "already holds model.keras, word_index.json, README.txt" in dialogs["question"][0]
    assert tab.tasks.active() == 0


@pytest.mark.parametrize("family", ["lstm", "ngram"])
def test_export_for_tensorflow_serving_writes_a_savedmodel_that_scores_as_the_app(qtbot, family, make_tab, store,
                                                                                   tmp_path, dialogs, monkeypatch):
    from app.models_tab import SERVING_EXPORT_FILTER
    from models.paths import builtin_model_dirs

    name = "first"
    if family == "ngram":
        store, name = ModelStore(tmp_path / "with-built-ins", builtin=builtin_model_dirs()), "IMDB n-grams (built-in)"
    tab = make_tab(store)
    assert select(tab, name).metadata.family == family
    assert tab.serving_button.isEnabled()
    folder = tmp_path / "for-serving"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(folder), SERVING_EXPORT_FILTER))
    messages = []
    tab.status_message.connect(messages.append)
    tab.export_serving_dialog()
    qtbot.waitUntil(lambda: tab.tasks.active() == 0 and any("Exported a SavedModel" in m for m in messages),
                    timeout=120_000)
    assert dialogs["warning"] == []
    assert (folder / "saved_model.pb").is_file()
    assert any("docker run" in m and "tensorflow/serving" in m for m in messages)

    import tensorflow as tf

    texts = ["a great film, wonderful acting", "an awful film. terrible acting &amp; a stupid story"]
    served = tf.saved_model.load(str(folder)).signatures["serving_default"](text=tf.constant(texts))
    expected = Predictor.from_store(store, name).predict_many(texts)
    assert np.allclose(served["probability"].numpy(), [p.probability for p in expected], atol=1e-5)

    dialogs["answer"] = QMessageBox.StandardButton.No  # the folder is in use now: asked, and declined
    tab.export_serving_dialog()
    assert "is not empty" in dialogs["question"][0]
    assert tab.tasks.active() == 0


def test_picker_tooltips_read_the_typed_record(tmp_path):
    from app.model_cache import model_tooltip
    from models.metadata import ModelMetadata, utc_now

    meta = ModelMetadata("m", utc_now(), preset="ngram", results={"test_accuracy": 0.9046})
    assert model_tooltip(ModelInfo("id", tmp_path, "m", meta.created, meta)) == "preset ngram, test accuracy 90.5%"
    builtin = ModelInfo("id", tmp_path, "b", meta.created, replace(meta, preset=None, results={}), builtin=True)
    assert model_tooltip(builtin) == "ships with the app"
    assert model_tooltip(ModelInfo("id", tmp_path, "damaged", "", None, damaged="why")) == "damaged"
