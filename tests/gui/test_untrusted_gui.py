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
