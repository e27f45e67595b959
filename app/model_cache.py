"""Stored models, opened once and shared by the tabs, and the picker that chooses one.

Opening a model reads its weights (and may import Keras): seconds, so it happens in the
background, once per model however many tabs ask. A failure is remembered, so a broken model
is not retried on every keystroke, until the user picks it again or the store is re-read.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QComboBox, QWidget
from shiboken6 import isValid

from app.background import BackgroundTasks
from models.prediction import Predictor
from models.store import ModelInfo, ModelStore

ModelKey = tuple[str, str]


def model_key(info: ModelInfo) -> ModelKey:
    # The folder id is stable across renames; the creation time tells a re-created folder apart.
    return info.id, info.created


class ModelCache(QObject):
    """Predictors by model; ``request`` starts a background load and ``loaded`` / ``failed`` say how it went."""

    loaded = Signal(object)  # ModelKey
    failed = Signal(object, str)  # ModelKey, message
    status_message = Signal(str)

    def __init__(self, store: ModelStore, tasks: BackgroundTasks, parent: QObject | None = None):
        super().__init__(parent)
        self.store = store
        self.tasks = tasks
        self._predictors: dict[ModelKey, Predictor] = {}
        self._loading: set[ModelKey] = set()
        self._errors: dict[ModelKey, str] = {}
        self._live: set[ModelKey] | None = None  # the models in the store at the last refresh

    def get(self, info: ModelInfo) -> Predictor | None:
        return self._predictors.get(model_key(info))

    def error(self, info: ModelInfo) -> str | None:
        return self._errors.get(model_key(info))

    def is_loading(self, info: ModelInfo) -> bool:
        return model_key(info) in self._loading

    def retry(self, info: ModelInfo) -> None:
        """Forget a failure, so the next request tries the model again (the user picked it anew)."""
        self._errors.pop(model_key(info), None)

    def request(self, info: ModelInfo) -> Predictor | None:
        """The model's predictor if it is open; otherwise start opening it (once) and return None."""
        key = model_key(info)
        if key in self._predictors:
            return self._predictors[key]
        if key in self._errors or key in self._loading:
            return None
        self._loading.add(key)
        store = self.store
        self.status_message.emit(f"Loading model {info.name!r} ...")
        self.tasks.run(
            # The NumPy engine where the model allows it (no TensorFlow needed), Keras otherwise.
            lambda: Predictor.from_store(store, info),
            on_success=lambda predictor: self._on_loaded(key, predictor),
            on_failure=lambda message: self._on_failed(key, message),
        )
        return None

    def open_now(self, info: ModelInfo) -> Predictor:
        """For a background job: the open predictor, or open it here (on the job's thread). The result is
        not kept; hand it back with ``keep`` on the GUI thread."""
        return self._predictors.get(model_key(info)) or Predictor.from_store(self.store, info)

    def keep(self, info: ModelInfo, predictor: Predictor) -> None:
        key = model_key(info)
        if self._live is None or key in self._live:
            self._predictors.setdefault(key, predictor)

    def refresh(self, infos: list[ModelInfo]) -> None:
        """The store was re-read: drop models that are gone, and let failed ones be tried again (their
        files may have been replaced)."""
        self._live = {model_key(i) for i in infos}
        self._predictors = {k: v for k, v in self._predictors.items() if k in self._live}
        self._errors.clear()

    def _on_loaded(self, key: ModelKey, predictor: Predictor) -> None:
        if not isValid(self):
            return  # the tab that owned this cache closed while the model was loading
        self._loading.discard(key)
        if self._live is not None and key not in self._live:
            return  # deleted while it was loading
        self._predictors[key] = predictor
        self.loaded.emit(key)

    def _on_failed(self, key: ModelKey, message: str) -> None:
        if not isValid(self):
            return
        self._loading.discard(key)
        self._errors[key] = message
        self.failed.emit(key, message)
        self.status_message.emit(message)


class ModelPicker(QComboBox):
    """A drop-down of the usable stored models (damaged ones are left out), by display name, keeping
    the current choice across refreshes. With ``none_text``, a first entry that picks no model."""

    def __init__(self, parent: QWidget | None = None, *, none_text: str | None = None):
        super().__init__(parent)
        self._none_text = none_text
        self._infos: dict[str, ModelInfo] = {}
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.setMinimumContentsLength(24)

    def set_models(self, infos: list[ModelInfo], select_id: str | None = None) -> None:
        wanted = select_id or self.currentData()
        self.blockSignals(True)
        self.clear()
        if self._none_text is not None:
            self.addItem(self._none_text, None)
        for info in infos:
            self.addItem(picker_label(info), info.id)
            self.setItemData(self.count() - 1, model_tooltip(info), Qt.ItemDataRole.ToolTipRole)
        index = self.findData(wanted) if wanted is not None else -1
        if index < 0 and infos and self._none_text is None:
            # The default: the first model not kept from it (store.newest's choice).
            index = next((i for i, info in enumerate(infos) if not info.kept_from_default), 0)
        self.setCurrentIndex(index if index >= 0 else 0 if self.count() else -1)
        self.blockSignals(False)
        self._infos = {info.id: info for info in infos}

    def current_model(self) -> ModelInfo | None:
        model_id = self.currentData()
        return self._infos.get(model_id) if model_id is not None else None

    def select(self, model_id: str) -> bool:
        index = self.findData(model_id)
        if index >= 0:
            self.setCurrentIndex(index)
        return index >= 0

    def models(self) -> list[ModelInfo]:
        return list(self._infos.values())


def picker_label(info: ModelInfo) -> str:
    """A model's name with its family and test accuracy, so the better model is visibly better:
    "IMDB LSTM (built-in) — LSTM, 83.8% test"."""
    marked = info.builtin and "built-in" not in info.name.casefold()
    name = f"{info.name} (built in)" if marked else info.name
    meta = info.metadata
    if meta is None:
        return name
    family = "n-grams" if meta.family == "ngram" else "LSTM"
    accuracy = meta.test_accuracy
    return f"{name} — {family}" + (f", {accuracy:.1%} test" if isinstance(accuracy, float) else "")


def model_name_of(label: str) -> str:
    """The model's name from a picker label (picker_label's inverse, for tests and status lines)."""
    return label.split(" — ")[0]


def model_tooltip(info: ModelInfo) -> str:
    meta = info.metadata
    parts = [f"preset {meta.preset}" if meta and meta.preset else None]
    if meta and isinstance(meta.test_accuracy, (int, float)):
        parts.append(f"test accuracy {meta.test_accuracy:.1%}")
    if info.builtin:
        parts.append("ships with the app")
    return ", ".join(p for p in parts if p) or info.name


def usable_models(store: ModelStore) -> tuple[list[ModelInfo], int, str | None]:
    """(usable models, how many are damaged, an error reading the store or None)."""
    try:
        listing = store.list()
    except OSError as exc:
        return [], 0, f"Could not read the model folder: {exc.strerror or exc}."
    infos = [i for i in listing if i.damaged is None]
    return infos, len(listing) - len(infos), None
