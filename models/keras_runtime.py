"""Imports Keras the one way the app wants it: TensorFlow backend, files under our data dir.

Keras reads ``KERAS_BACKEND`` and ``KERAS_HOME`` once, at import, and writes
``keras.json`` to ``~/.keras`` unless told otherwise; a stray ``keras.json`` or an
installed JAX could otherwise switch the backend under us. So every module that needs
Keras calls :func:`keras` instead of ``import keras``.
"""

from __future__ import annotations

import contextlib
import os
import threading
from types import ModuleType

from models import paths

_lock = threading.Lock()
_keras: ModuleType | None = None


def configure_environment() -> None:
    """Set the variables Keras and TensorFlow read at import time (idempotent)."""
    os.environ["KERAS_BACKEND"] = "tensorflow"
    home = paths.keras_home()
    with contextlib.suppress(OSError):  # Keras falls back to a temp dir if its home is not writable
        home.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("KERAS_HOME", str(home))
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # hide C++ info chatter


def keras() -> ModuleType:
    """The Keras module, imported once, thread-safely."""
    global _keras
    if _keras is None:
        with _lock:
            if _keras is None:
                configure_environment()
                import keras as _k

                _keras = _k
    return _keras


def is_loaded() -> bool:
    return _keras is not None
