"""The main window: Train, Predict and Models tabs, menus, shortcuts, saved window state, clean close."""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QSettings, QStandardPaths, Qt, QTimer, QUrl, Slot
from PySide6.QtGui import QAction, QCloseEvent, QDesktopServices, QKeySequence, QShortcut
from PySide6.QtWidgets import QLabel, QMainWindow, QMessageBox, QTabWidget

from app.background import BackgroundTasks
from app.evaluate_tab import EvaluateTab
from app.model_cache import ModelCache
from app.models_tab import ModelsTab
from app.predict_tab import PredictTab
from app.settings_file import (
    byte_array,
    int_in_range,
    prepare_settings_file,
    read_setting,
    report,
    session_settings_file,
    text,
)
from app.training_tab import CANCEL, DISCARD, SAVE, TrainingTab, ask_save_discard_cancel
from models import __version__, keras_runtime, paths
from models.store import ModelStore

TAB_TRAIN, TAB_PREDICT, TAB_EVALUATE, TAB_MODELS = range(4)
MAX_GEOMETRY_BYTES = 4096  # saveGeometry writes 66 bytes


class MainWindow(QMainWindow):
    def __init__(self, store: ModelStore, settings: QSettings | None = None):
        super().__init__()
        self.store = store
        self.settings = settings or app_settings()
        self._may_close = False  # set once unsaved work is saved or discarded
        self.tasks = BackgroundTasks(self)
        self.keras_ready = keras_runtime.is_loaded()
        self.setWindowTitle("Sentiment Studio")

        # One cache of open models for every tab that scores, so a model loads once.
        self.model_cache = ModelCache(store, self.tasks, self)
        self.train_tab = TrainingTab(store, self.tasks)
        self.predict_tab = PredictTab(store, self.tasks, cache=self.model_cache)
        self.evaluate_tab = EvaluateTab(store, self.tasks, cache=self.model_cache)
        self.models_tab = ModelsTab(store, self.tasks)
        self.tabs = QTabWidget()
        self.tabs.addTab(self.train_tab, "&Train")
        self.tabs.addTab(self.predict_tab, "&Predict")
        self.tabs.addTab(self.evaluate_tab, "&Evaluate")
        self.tabs.addTab(self.models_tab, "&Models")
        self.setCentralWidget(self.tabs)

        self.keras_label = QLabel("")
        self.training_label = QLabel("")  # a running training, seen from every tab
        self.statusBar().addPermanentWidget(self.training_label)
        self.statusBar().addPermanentWidget(self.keras_label)
        self.train_tab.running_changed.connect(self._on_training_running)
        self.train_tab.run_progress.connect(self.training_label.setText)
        for tab in (self.train_tab, self.predict_tab, self.evaluate_tab, self.models_tab, self.model_cache):
            tab.status_message.connect(self.show_status)
        self.train_tab.model_saved.connect(self._on_model_saved)
        self.train_tab.evaluate_requested.connect(self.evaluate_model)
        self.train_tab.data_source_changed.connect(lambda spec: self.settings.setValue("data/source", spec))
        self.models_tab.models_changed.connect(self._on_models_changed)
        self.predict_tab.model_saved.connect(self._on_model_added_by_predict)

        self._build_menus()
        self._build_shortcuts()
        self._restore_state()
        self._on_models_changed()

    # -- menus and shortcuts ------------------------------------------------------------------
    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        self._action(file_menu, "&Open data set…", self._open_data, QKeySequence.StandardKey.Open)
        file_menu.addSeparator()
        self._action(file_menu, "&Import model…", self.models_tab.import_model_dialog, "Ctrl+I")
        self._action(file_menu, "&Export model…", self.models_tab.export_selected_dialog, "Ctrl+E")
        self._action(file_menu, "Open the &data folder", self.open_data_folder)
        file_menu.addSeparator()
        self._action(file_menu, "&Quit", self.close, QKeySequence.StandardKey.Quit)

        train_menu = self.menuBar().addMenu("T&raining")
        self.train_action = self._action(train_menu, "&Train", self._train, "Ctrl+T")
        self.stop_action = self._action(train_menu, "&Stop", self.train_tab.stop_training)
        train_menu.addSeparator()
        self._action(train_menu, "Export plots as &PNG…", self.train_tab.run_view.export_png)
        self._action(train_menu, "Export history as &CSV…", self.train_tab.run_view.export_csv)

        help_menu = self.menuBar().addMenu("&Help")
        self._action(help_menu, "&About Sentiment Studio", self.about)

    def _action(self, menu, text, slot, shortcut=None) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(slot)
        menu.addAction(action)
        return action

    def _build_shortcuts(self) -> None:
        for keys in ("Ctrl+Return", "Ctrl+Enter"):
            QShortcut(QKeySequence(keys), self, activated=self._predict, context=Qt.ShortcutContext.WindowShortcut)
        QShortcut(QKeySequence(Qt.Key.Key_Escape), self, activated=self.train_tab.stop_training,
                  context=Qt.ShortcutContext.WindowShortcut)

    @Slot()
    def _train(self) -> None:
        self.tabs.setCurrentIndex(TAB_TRAIN)
        self.train_tab.start_training()

    @Slot()
    def _predict(self) -> None:
        self.tabs.setCurrentIndex(TAB_PREDICT)
        self.predict_tab.predict_now()

    @Slot()
    def _open_data(self) -> None:
        self.tabs.setCurrentIndex(TAB_TRAIN)
        self.train_tab.browse_data()

    @Slot()
    def open_data_folder(self) -> None:
        folder = paths.data_dir()
        folder.mkdir(parents=True, exist_ok=True)
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))

    @Slot()
    def about(self) -> None:
        runtime = keras_runtime.tensorflow_build().describe() if self.keras_ready else "TensorFlow is loading."
        QMessageBox.about(
            self, "About Sentiment Studio",
            f"<b>Sentiment Studio {__version__}</b><p>Train an LSTM sentiment classifier on IMDB reviews, "
            "watch it learn, and score your own reviews.</p>"
            f"<p>{runtime}</p><p>Models are kept in {paths.models_dir()}.</p>")

    # -- status -------------------------------------------------------------------------------
    @Slot(str)
    def show_status(self, message: str) -> None:
        self.statusBar().showMessage(message, 10_000)

    def start_keras_import_soon(self) -> None:
        """After the window has painted: import TensorFlow in the background."""
        QTimer.singleShot(50, self.start_keras_import)

    def start_keras_import(self) -> None:
        """Import TensorFlow off the GUI thread, after the window is up."""
        if self.keras_ready:
            self._keras_loaded(None)
            return
        self.keras_label.setText("Loading TensorFlow …")
        self.tasks.run(keras_runtime.keras, self._keras_loaded, self._keras_failed)

    def _keras_loaded(self, _) -> None:
        self.keras_ready = True
        self.keras_label.setText("TensorFlow ready")
        self.show_status("Ready.")

    def _keras_failed(self, message: str) -> None:
        self.keras_label.setText("TensorFlow failed to load")
        QMessageBox.critical(self, "TensorFlow failed to load",
                             f"Training and prediction are unavailable: {message}")

    @Slot(str)
    def evaluate_model(self, model_id: str) -> None:
        """Open the Evaluate tab on a model and the Train tab's data set (already read), and score it."""
        self.tabs.setCurrentIndex(TAB_EVALUATE)
        self.evaluate_tab.refresh_models(select_id=model_id)
        chosen = self.evaluate_tab.current_model()
        if chosen is None or chosen.id != model_id:  # deleted since: never evaluate another model instead
            self.train_tab.refresh_compare_runs()  # forgets it: "Evaluate this model" goes off
            message = "The model this training saved is no longer in the store (deleted): nothing was evaluated."
            self.evaluate_tab.panel.set_message(message, error=True)
            self.show_status(message)
            return
        if self.train_tab.data is not None and self.train_tab.data_spec:
            self.evaluate_tab.set_data_source(self.train_tab.data_spec, self.train_tab.data)
        self.evaluate_tab.start()

    @Slot(str)
    def _on_model_saved(self, model_id: str) -> None:
        self.models_tab.refresh()
        self.predict_tab.refresh_models(select_id=model_id)
        self.evaluate_tab.refresh_models()

    @Slot(str)
    def _on_model_added_by_predict(self, model_id: str) -> None:
        """A fine-tuned copy (the Predict tab has listed and, when it is the default, chosen it)."""
        self.models_tab.refresh()
        self.evaluate_tab.refresh_models()
        self.train_tab.refresh_compare_runs()

    @Slot()
    def _on_models_changed(self) -> None:
        self.predict_tab.refresh_models()
        self.evaluate_tab.refresh_models()
        self.train_tab.refresh_compare_runs()

    # -- state ----------------------------------------------------------------------------------
    def _restore_state(self) -> None:
        # settings.ini may have been written by anyone: every value is checked (settings_file).
        geometry = read_setting(self.settings, "window/geometry", byte_array(MAX_GEOMETRY_BYTES), "a window geometry")
        if geometry is None or not self.restoreGeometry(geometry):
            if geometry is not None:
                report("ignored window/geometry (not a geometry this Qt can restore); reset")
                self.settings.remove("window/geometry")
            self.resize(1280, 820)
        tab = read_setting(self.settings, "window/tab", int_in_range(0, self.tabs.count() - 1),
                           f"a tab number 0-{self.tabs.count() - 1}")
        self.tabs.setCurrentIndex(TAB_TRAIN if tab is None else tab)
        source = read_setting(self.settings, "data/source", text(), "a data set path")
        if source:
            self.train_tab.set_data_source(source)

    def _save_state(self) -> None:
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/tab", self.tabs.currentIndex())
        self.settings.sync()

    @Slot(bool)
    def _on_training_running(self, running: bool) -> None:
        self.tabs.setTabText(TAB_TRAIN, "&Train (running)" if running else "&Train")
        if running:
            self.training_label.setText("Training …")
        else:
            self.training_label.setText("")

    def closeEvent(self, event: QCloseEvent) -> None:
        # While a question is open the training is held (paused after its batch): it cannot finish and
        # save itself behind the dialog, and the answer alone decides what is kept.
        if not self._may_close and self.train_tab.has_unsaved_work():
            running = self.train_tab.run_in_progress()
            self.train_tab.hold()
            answer = ask_save_discard_cancel(
                self, "Unsaved model", "A trained model has not been saved. Save its best epoch before quitting?"
                + (" The training is paused; Save or Discard stops it." if running else ""))
            self.train_tab.release(answer)
            if answer == CANCEL:
                event.ignore()
                return
            if answer == SAVE:
                event.ignore()  # close again once saved; stay open if the save failed
                self.train_tab.save_then(self._close_after_save)
                return
        elif not self._may_close and self.train_tab.run_in_progress():
            self.train_tab.hold()
            answer = QMessageBox.question(
                self, "Training is running", "Stop the training and quit? No epoch has finished yet, so there "
                "is nothing to save.",
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, QMessageBox.StandardButton.No)
            yes = answer == QMessageBox.StandardButton.Yes
            self.train_tab.release(DISCARD if yes else CANCEL)
            if not yes:
                event.ignore()
                return
        self._save_state()
        self.hide()  # gone at once, even while a stopped run finishes a TensorFlow compilation
        self.train_tab.shutdown()
        self.predict_tab.shutdown()
        self.evaluate_tab.shutdown()
        self.tasks.wait_all()
        event.accept()

    def _close_after_save(self, saved: bool) -> None:
        if saved:
            self._may_close = True
            self.close()


def app_settings() -> QSettings:
    """Window settings: under ``SENTIMENT_STUDIO_HOME`` when it is set (with everything else), else the
    file Qt uses for the organisation and application names. The file is checked before QSettings
    opens it (settings_file.prepare_settings_file): QSettings reads it whole in its constructor."""
    home = os.environ.get(paths.HOME_ENV)
    if home:
        path = Path(home) / "settings.ini"
    else:
        # What QSettings() opens on Linux, named here so it is checked first (and never its fallbacks).
        config = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.GenericConfigLocation)
        path = Path(config) / QCoreApplication.organizationName() / f"{QCoreApplication.applicationName()}.conf"
    usable = prepare_settings_file(path)
    if usable is None:  # no usable file: a new one in a temporary folder, not remembered after this session
        usable = session_settings_file()
    return QSettings(str(usable), QSettings.Format.IniFormat)
