"""``sentiment-studio --self-test``: prove that this build really starts and predicts.

Made for the PyInstaller bundle (``dist/sentiment-studio/sentiment-studio --self-test``)
but runs the same from source (``python -m app --self-test``). In order, it checks:

1. environment: stdout and stderr exist (a windowed build gets null writers); nothing
   imported Keras or TensorFlow before the app configured it; the Keras backend is pinned
   to TensorFlow; the user's models, downloads and Keras home are outside the bundle.
2. window: the main window opens (offscreen unless ``QT_QPA_PLATFORM`` says otherwise),
   imports TensorFlow in the background as the app does, and closes cleanly.
3. numpy-engine: the built-in model scores a positive and a negative review right with
   the NumPy fast path (``Predictor.from_store``).
4. keras-engine: the same with ``engine="keras"``, so the frozen TensorFlow is really run,
   and both engines agree; the line names the TensorFlow build (CPU or GPU, version) and the
   device it runs on.
5. training: two epochs of a tiny model on made-up reviews, saved to a temporary store,
   reloaded and scored (Keras' fit, autograph and the .keras format, frozen).
6. no-stray-files: Keras did not create ``~/.keras``.

One line per check on stdout; a failed check prints what failed and its traceback.
Exit status 0 only if every check passed, else 1. Nothing is written to the user's model
store or window settings: the window and the trained model use a temporary folder.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path

POSITIVE_REVIEW = ("A wonderful, moving film with brilliant acting and a superb story. "
                   "I loved every minute of it and will watch it again.")
NEGATIVE_REVIEW = ("An awful, boring film. The acting was terrible, the plot was stupid "
                   "and I hated it. A complete waste of time.")


def _process_started() -> float | None:
    """Wall-clock time this process started (Linux: from /proc), for the time-to-window figure."""
    try:
        with open("/proc/self/stat", encoding="ascii") as f:
            start_ticks = int(f.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/uptime", encoding="ascii") as f:
            uptime = float(f.read().split()[0])
        return time.time() - uptime + start_ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, AttributeError):
        return None


def _bundle_dir() -> Path | None:
    bundled = getattr(sys, "_MEIPASS", None)
    return Path(bundled).resolve() if bundled else None


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder)
    except ValueError:
        return False
    return True


class SelfTest:
    def __init__(self, out: Callable[[str], None]):
        self.out = out
        self.started = time.time()
        self.process_started = _process_started()
        self.tmp = Path(tempfile.mkdtemp(prefix="sentiment-studio-self-test-"))
        self.keras_dir_existed = (Path.home() / ".keras").exists()
        self.modules_at_start = {m for m in ("keras", "tensorflow") if m in sys.modules}
        self.failed: list[str] = []

    # -- the checks ---------------------------------------------------------------------------
    def check_environment(self) -> str:
        from models import keras_runtime, paths

        missing = [name for name in ("stdout", "stderr") if getattr(sys, name) is None]
        if missing:
            raise AssertionError(f"sys.{' and sys.'.join(missing)} is None (app.gui.ensure_std_streams did not run)")
        if self.modules_at_start:
            raise AssertionError(f"imported before the app configured Keras: {sorted(self.modules_at_start)}")
        keras_runtime.configure_environment()
        if os.environ.get("KERAS_BACKEND") != "tensorflow":
            raise AssertionError(f"KERAS_BACKEND is {os.environ.get('KERAS_BACKEND')!r}, not 'tensorflow'")
        bundle = _bundle_dir()
        places = {"models": paths.models_dir(), "downloads": paths.downloads_dir(),
                  "keras home": Path(os.environ["KERAS_HOME"])}
        if bundle is not None:
            inside = [f"{what} ({where})" for what, where in places.items() if _inside(where, bundle)]
            if inside:
                raise AssertionError(f"inside the bundle {bundle}: {', '.join(inside)}")
        return (f"{'frozen, bundle ' + str(bundle) if bundle else 'from source'}; "
                f"models in {places['models']}, downloads in {places['downloads']}")

    def check_window(self) -> str:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        from app.qt_platform import check_platform_libraries

        problem = check_platform_libraries()
        if problem is not None:  # as run_gui does: a readable failure, not Qt's abort
            raise AssertionError(problem.removeprefix("error: "))
        from PySide6.QtCore import QSettings, QTimer, qInstallMessageHandler
        from PySide6.QtWidgets import QApplication

        from app.gui import create_application
        from app.main_window import MainWindow
        from models.paths import builtin_model_dirs
        from models.store import ModelStore

        def qt_message(mode, context, message: str) -> None:
            # The offscreen plugin says this for every top-level window; on a screen it never does.
            if "This plugin does not support propagateSizeHints" not in message:
                print(message, file=sys.stderr, flush=True)

        qInstallMessageHandler(qt_message)
        app = self.app = create_application([sys.argv[0]])
        # An error dialog (TensorFlow failed to load, a model failed to open) is modal and
        # nobody is there to click it: note what it says, close it, and fail.
        dialogs: list[str] = []

        def close_dialogs() -> None:
            dialog = QApplication.activeModalWidget()
            if dialog is not None:
                text = dialog.text() if hasattr(dialog, "text") else ""
                dialogs.append(f"{dialog.windowTitle()}: {text}".strip(": "))
                dialog.close()

        guard = self.dialog_guard = QTimer()
        guard.timeout.connect(close_dialogs)
        guard.start(200)
        settings = QSettings(str(self.tmp / "settings.ini"), QSettings.Format.IniFormat)
        window = MainWindow(ModelStore(root=self.tmp / "window-models", builtin=builtin_model_dirs()), settings)
        window.show()
        deadline = time.monotonic() + 10
        while not window.isVisible() and time.monotonic() < deadline:
            QApplication.processEvents()
        QApplication.processEvents()
        if not window.isVisible():
            raise AssertionError("the main window did not show within 10 s")
        shown = time.time()
        title = window.windowTitle()
        # As run_gui does: TensorFlow is imported in the background once the window is up (the
        # Predict tab also opens the newest model in the background); wait for all of it.
        window.start_keras_import_soon()
        deadline = time.monotonic() + 120
        while (not window.keras_ready or window.tasks.active()) and not dialogs and time.monotonic() < deadline:
            QApplication.processEvents()
            time.sleep(0.01)
        if dialogs:
            raise AssertionError(f"the window showed an error: {'; '.join(dialogs)}")
        if not window.keras_ready:
            raise AssertionError(f"TensorFlow did not load in the background: {window.keras_label.text()!r}")
        if window.tasks.active():
            raise AssertionError(f"{window.tasks.active()} background task(s) still running after 120 s")
        ready = time.time()
        if not window.close():
            raise AssertionError("the main window refused to close")
        QApplication.processEvents()
        if window.isVisible():
            raise AssertionError("the main window is still visible after close()")
        guard.stop()
        window.deleteLater()
        QApplication.processEvents()
        start = self.process_started or self.started
        return (f"{title!r} shown {shown - start:.2f} s after the process started (platform "
                f"{app.platformName()}), TensorFlow loaded in the background by {ready - start:.1f} s, "
                f"closed cleanly")

    def _check_scores(self, engine: str) -> tuple[str, list[float]]:
        from models.config import DEFAULT_THRESHOLD
        from models.paths import builtin_model_dirs
        from models.prediction import Predictor
        from models.store import ModelStore

        if not builtin_model_dirs():
            raise AssertionError("the built-in model (resources/default_model) is missing")
        store = ModelStore(root=self.tmp / "empty-store", builtin=builtin_model_dirs())
        info = store.newest()
        predictor = Predictor.from_store(store, info, **({} if engine == "numpy" else {"engine": engine}))
        if predictor.engine != engine:
            raise AssertionError(f"asked for the {engine} engine, got {predictor.engine}")
        pos, neg = (p.probability for p in predictor.predict_many([POSITIVE_REVIEW, NEGATIVE_REVIEW]))
        if not (pos > DEFAULT_THRESHOLD > neg):
            raise AssertionError(f"wrong labels: positive review {pos:.3f}, negative review {neg:.3f}")
        return f"{info.name!r}: positive review {pos:.4f}, negative review {neg:.4f}", [pos, neg]

    def check_numpy_engine(self) -> str:
        detail, self.numpy_scores = self._check_scores("numpy")
        return detail

    def check_keras_engine(self) -> str:
        from models.keras_runtime import keras

        k = keras()
        if k.backend.backend() != "tensorflow":
            raise AssertionError(f"Keras runs on {k.backend.backend()!r}, not TensorFlow")
        detail, scores = self._check_scores("keras")
        numpy_scores = getattr(self, "numpy_scores", None)
        if numpy_scores is not None:
            gap = max(abs(a - b) for a, b in zip(scores, numpy_scores))
            if gap > 1e-4:
                raise AssertionError(f"the Keras and NumPy engines differ by {gap:.2g}")
            detail += f"; agrees with NumPy to {gap:.1e}"
        from models.keras_runtime import tensorflow_build

        return f"{detail} ({tensorflow_build().describe()}; Keras {k.__version__})"

    def check_training(self) -> str:
        import numpy as np

        from models.config import TrainingConfig
        from models.datasets import Dataset, Split
        from models.prediction import Predictor
        from models.store import ModelStore
        from models.training import run_metadata, train

        good = ["a great film", "wonderful acting", "i loved it", "brilliant and moving"]
        bad = ["an awful film", "terrible acting", "i hated it", "boring and dull"]
        rng = np.random.default_rng(0)

        def split(n: int) -> Split:
            labels = np.arange(n) % 2
            texts = [" ".join(rng.choice(good if y else bad, 3)) + " the movie was" for y in labels]
            return Split(labels=labels.astype(np.int8), texts=texts)

        config = TrainingConfig(vocab_size=64, maxlen=16, embedding_dim=8, lstm_units=8, dropout=0.0,
                                recurrent_dropout=0.0, batch_size=16, epochs=2, learning_rate=0.02)
        result = train(config, Dataset(split(96), split(32), "self-test"))
        if result.epochs_completed != config.epochs:
            raise AssertionError(f"trained {result.epochs_completed} of {config.epochs} epochs")
        store = ModelStore(root=self.tmp / "models")
        info = store.save(result.model, result.vocabulary, run_metadata(result, None), "self-test")
        predictor = Predictor.from_store(store, info, engine="keras")
        prob = predictor.predict("a great film, wonderful acting").probability
        xla = "XLA" if getattr(result.model, "jit_compile", False) else "no XLA"
        return (f"2 epochs ({xla}), val_accuracy {result.history['val_accuracy'][-1]:.3f}; saved, reloaded "
                f"and scored ({prob:.3f})")

    def check_no_stray_files(self) -> str:
        keras_dir = Path.home() / ".keras"
        if not self.keras_dir_existed and keras_dir.exists() and \
                Path(os.environ.get("KERAS_HOME", "")).resolve() != keras_dir.resolve():
            raise AssertionError(f"Keras created {keras_dir} (KERAS_HOME was not set before it was imported)")
        return "no ~/.keras written"

    # -- running ------------------------------------------------------------------------------
    def run(self) -> int:
        checks = [
            ("environment", self.check_environment),
            ("window", self.check_window),
            ("numpy-engine", self.check_numpy_engine),
            ("keras-engine", self.check_keras_engine),
            ("training", self.check_training),
            ("no-stray-files", self.check_no_stray_files),
        ]
        self.out(f"Sentiment Studio self-test ({sys.executable})")
        for name, check in checks:
            started = time.perf_counter()
            try:
                detail = check()
            except BaseException as exc:
                if isinstance(exc, KeyboardInterrupt):
                    raise
                self.failed.append(name)
                self.out(f"FAIL {name} ({time.perf_counter() - started:.1f} s): {type(exc).__name__}: {exc}")
                self.out(traceback.format_exc().rstrip())
            else:
                self.out(f"ok   {name} ({time.perf_counter() - started:.1f} s): {detail}")
        import shutil

        shutil.rmtree(self.tmp, ignore_errors=True)
        total = time.time() - (self.process_started or self.started)
        if self.failed:
            self.out(f"self-test FAILED: {', '.join(self.failed)} ({total:.1f} s since the process started)")
            return 1
        self.out(f"self-test passed: {len(checks)} checks, {total:.1f} s since the process started")
        return 0


def run_self_test() -> int:
    def out(line: str) -> None:
        print(line, flush=True)

    return SelfTest(out).run()
