"""The one place that decides where Sentiment Studio keeps its files.

Everything lives under ``platformdirs.user_data_dir("SentimentStudio")`` unless the
``SENTIMENT_STUDIO_HOME`` environment variable points elsewhere (tests point it at a
temporary folder so they never touch the real home directory).
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "SentimentStudio"
HOME_ENV = "SENTIMENT_STUDIO_HOME"


def data_dir() -> Path:
    """Root of the user's data: models, downloads and Keras' own files."""
    override = os.environ.get(HOME_ENV)
    root = Path(override) if override else Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))
    return root


def models_dir() -> Path:
    return data_dir() / "models"


def downloads_dir() -> Path:
    """Where downloaded data sets are cached (user-writable, never inside a bundle)."""
    override = os.environ.get(HOME_ENV)
    if override:
        return Path(override) / "downloads"
    return Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False)) / "downloads"


def keras_home() -> Path:
    """Keras writes ``keras.json`` and caches here instead of ``~/.keras``."""
    return data_dir() / "keras"


def resources_dir() -> Path:
    """The project's resources/ folder, or its copy inside a PyInstaller bundle."""
    import sys

    bundled = getattr(sys, "_MEIPASS", None)
    if bundled:
        return Path(bundled) / "resources"
    return Path(__file__).resolve().parent.parent / "resources"


BUILTIN_MODEL_FOLDERS = ("default_model", "ngram_model")


def builtin_model_dirs() -> list[Path]:
    """Read-only models shipped with the app: the specified LSTM first (what the Predict tab opens on at
    first and the CLI's default with an empty store), then the n-gram model."""
    return [folder for name in BUILTIN_MODEL_FOLDERS if (folder := resources_dir() / name).is_dir()]
