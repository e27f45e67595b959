"""Models with metadata that fails the schema, in the Models tab and the Predict tab's picker:
each shows as damaged with its reason, never breaks the listing, never becomes the default."""

from __future__ import annotations

import json
import shutil

import pytest

from app.background import BackgroundTasks
from app.model_cache import model_name_of
from app.models_tab import NAME, STATUS, ModelsTab
from app.predict_tab import PredictTab
from models import paths
from models.paths import builtin_model_dirs
from models.store import ModelStore

pytestmark = pytest.mark.gui
TIMEOUT = 30_000
BUILTIN = builtin_model_dirs()[0]
META = json.loads((BUILTIN / "metadata.json").read_text(encoding="utf-8"))
BAD = {
    "wrong-types": {**META, "name": "wrong types", "results": [1, 2], "config": "big"},
    "future": {**META, "name": "from the future", "created": "2999-01-01T00:00:00+00:00"},
    "huge-maxlen": {**META, "name": "huge", "config": {**META["config"], "maxlen": 10**9}},
    "bad-version": {**META, "name": "bad version", "format_version": "x"},
}


@pytest.fixture
def store(tmp_path):
    root = tmp_path / "models"
    shutil.copytree(BUILTIN, root / "good")
    (root / "good" / "metadata.json").write_text(json.dumps({**META, "name": "good"}), encoding="utf-8")
    for folder, meta in BAD.items():
        shutil.copytree(BUILTIN, root / folder)
        (root / folder / "metadata.json").write_text(json.dumps(meta), encoding="utf-8")
    return ModelStore(root, builtin=[BUILTIN])


def _finish(qtbot, tasks):
    return lambda _: qtbot.waitUntil(tasks.settled, timeout=TIMEOUT)


def test_the_models_tab_lists_each_damaged_model_with_its_reason(qtbot, store):
    tasks = BackgroundTasks()
    tab = ModelsTab(store, tasks)
    qtbot.addWidget(tab, before_close_func=_finish(qtbot, tasks))
    rows = {tab.table.item(r, NAME).text(): tab.table.item(r, STATUS).text() for r in range(tab.table.rowCount())}
    assert rows["good"] == "" and rows["IMDB LSTM (built-in)"].startswith("Built in")
    assert "config must be a JSON object, not str" in rows["wrong-types"]
    assert "created is in the future" in rows["future"]
    assert "maxlen must be at most" in rows["huge-maxlen"]
    assert "no valid format version" in rows["bad-version"]
    for folder in BAD:
        tab.table.selectRow(list(rows).index(folder))
        assert "Cannot be used" in tab.details.toPlainText() and not tab.export_button.isEnabled()


def test_the_predict_tab_offers_only_usable_models_and_the_newest_good_one_first(qtbot, store):
    tasks = BackgroundTasks()
    tab = PredictTab(store, tasks)
    qtbot.addWidget(tab, before_close_func=_finish(qtbot, tasks))
    qtbot.waitUntil(lambda: "vocabulary" in tab.model_status.text() and tasks.active() == 0, timeout=TIMEOUT)
    offered = [model_name_of(tab.model_combo.itemText(i)) for i in range(tab.model_combo.count())]
    assert offered[0] == "good" and not any(name in offered for name in ("wrong types", "from the future", "huge"))


def test_the_windows_save_dialogs_never_write_into_the_model_store(qtbot, store, no_dialogs, monkeypatch):
    """A CSV of reviews or the training plots saved as a model's file would damage it."""
    from PySide6.QtWidgets import QFileDialog

    from app.results_table import ResultsPanel, text_column
    from app.training_tab import TrainingTab
    from models.errors import UserFacingError

    model = store.root / "good"
    before = {p.name: p.read_bytes() for p in model.iterdir()}
    panel = ResultsPanel([text_column("Review", lambda r: r)])
    qtbot.addWidget(panel)
    panel.set_rows(["A wonderful film."])
    window_model = paths.models_dir() / "mine"  # the store the window opens (tests point it at a temporary home)
    shutil.copytree(BUILTIN, window_model)
    assert not panel.export_csv(window_model / "vocabulary.json")
    assert "is inside the model store" in panel.message.text()
    assert (window_model / "vocabulary.json").read_bytes() == (BUILTIN / "vocabulary.json").read_bytes()
    assert panel.export_csv(store.root.parent / "reviews.csv")  # outside: written

    tasks = BackgroundTasks()
    tab = TrainingTab(store, tasks)
    qtbot.addWidget(tab, before_close_func=lambda _: (tab.shutdown(10_000), _finish(qtbot, tasks)(_)))
    tab.plots.add_epoch({"loss": 0.5, "accuracy": 0.7, "val_loss": 0.6, "val_accuracy": 0.65})
    for export, name in ((tab.run_view.export_png, "model.keras"), (tab.run_view.export_csv, "metadata.json")):
        monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, n=name, **k: (str(model / n), ""))
        export()
        assert no_dialogs[-1][0] == "warning" and "is inside the model store" in no_dialogs[-1][1]
    assert {p.name: p.read_bytes() for p in model.iterdir()} == before

    models = ModelsTab(store, tasks)  # its exports go through the store, which refuses its own folder too
    qtbot.addWidget(models)
    with pytest.raises(UserFacingError, match="is inside the model store"):
        store.export_archive("good", model / "model.keras")
    assert {p.name: p.read_bytes() for p in model.iterdir()} == before


def test_a_folder_of_deeply_nested_json_is_listed_as_damaged_in_the_models_tab(qtbot, store):
    """[ x 100,000 in metadata.json raised RecursionError through the listing and stopped the window."""
    shutil.copytree(BUILTIN, store.root / "deep")
    (store.root / "deep" / "metadata.json").write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    tasks = BackgroundTasks()
    tab = ModelsTab(store, tasks)
    qtbot.addWidget(tab, before_close_func=_finish(qtbot, tasks))
    rows = {tab.table.item(r, NAME).text(): tab.table.item(r, STATUS).text() for r in range(tab.table.rowCount())}
    assert "nests arrays or objects more than 64 deep" in rows["deep"] and rows["good"] == ""
