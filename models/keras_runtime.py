"""Imports Keras the one way the app wants it: TensorFlow backend, files under our data dir.

Keras reads ``KERAS_BACKEND`` and ``KERAS_HOME`` once, at import, and writes
``keras.json`` to ``~/.keras`` unless told otherwise; a stray ``keras.json`` or an
installed JAX could otherwise switch the backend under us. So every module that needs
Keras calls :func:`keras` instead of ``import keras``.

TensorFlow also writes notices to the process's stderr while it loads (the absl preamble, "oneDNN
custom operations are on", CPU-instruction and CUDA-driver notes), some of them past
``TF_CPP_MIN_LOG_LEVEL``; :func:`keras` drops those and lets every other line through, so a
user sees nothing on the terminal unless something is wrong.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from types import ModuleType

from models import paths

_lock = threading.Lock()
_keras: ModuleType | None = None
_build: TensorFlowBuild | None = None

# What TensorFlow 2.21 writes to stderr on every start, on a CPU or a GPU machine, with either
# build: information, not a problem (a missing GPU shows in TensorFlowBuild.device instead).
STARTUP_NOTICES = (
    "All log messages before absl::InitializeLog() is called are written to STDERR",
    "oneDNN custom operations are on",
    "This TensorFlow binary is optimized to use available CPU instructions",
    "To enable the following instructions:",
    "Could not find cuda drivers on your machine",
    "failed call to cuInit",
    "Unable to register cuDNN factory",
    "Unable to register cuFFT factory",
    "Unable to register cuBLAS factory",
    "computation placer already registered",
    "TF-TRT Warning: Could not find TensorRT",
)


def configure_environment() -> None:
    """Set the variables Keras and TensorFlow read at import time (idempotent)."""
    os.environ["KERAS_BACKEND"] = "tensorflow"
    home = paths.keras_home()
    with contextlib.suppress(OSError):  # Keras falls back to a temp dir if its home is not writable
        home.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("KERAS_HOME", str(home))
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # hide C++ info chatter and warnings


@contextlib.contextmanager
def quiet_native_stderr() -> Iterator[None]:
    """Hold what is written to file descriptor 2 (C++ code included) while the block runs, then
    write it back without the lines of :data:`STARTUP_NOTICES`. Without a usable descriptor 2
    (a windowed Windows build) the block just runs."""
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    with tempfile.TemporaryFile() as held:
        _flush_stderr()
        os.dup2(held.fileno(), 2)
        try:
            yield
        finally:
            _flush_stderr()
            os.dup2(saved, 2)
            os.close(saved)
            held.seek(0)
            kept = [line for line in held.read().splitlines(keepends=True)
                    if not any(notice.encode() in line for notice in STARTUP_NOTICES)]
            if kept:
                os.write(2, b"".join(kept))


def _flush_stderr() -> None:
    with contextlib.suppress(AttributeError, OSError, ValueError):
        sys.stderr.flush()


@dataclass(frozen=True)
class TensorFlowBuild:
    """Which TensorFlow runs and where: for the About box and ``--self-test``."""

    version: str
    gpu_build: bool  # built with CUDA (the `gpu` extra; read from the library, not from pip's records)
    cuda: str  # CUDA and cuDNN versions of a GPU build, "" for the CPU build
    device: str  # where Keras runs its layers: the first GPU, else the CPU

    def describe(self) -> str:
        build = f"GPU build (CUDA {self.cuda})" if self.gpu_build else "CPU build"
        return f"TensorFlow {self.version}, {build}, running on {self.device}"


def _inspect_build(tf: ModuleType) -> TensorFlowBuild:
    info = tf.sysconfig.get_build_info()
    gpu_build = bool(info.get("is_cuda_build"))
    cuda = f"{info.get('cuda_version', '?')}, cuDNN {info.get('cudnn_version', '?')}" if gpu_build else ""
    gpus = tf.config.list_physical_devices("GPU")  # initializes the devices (and CUDA, in a GPU build)
    if gpus:
        details = tf.config.experimental.get_device_details(gpus[0])
        name = details.get("device_name", "")
        device = f"GPU:0{' (' + name + ')' if name else ''}" + (f" of {len(gpus)} GPUs" if len(gpus) > 1 else "")
    else:
        device = f"the CPU ({os.cpu_count()} cores){', no GPU found' if gpu_build else ''}"
    return TensorFlowBuild(tf.__version__, gpu_build, cuda, device)


def keras() -> ModuleType:
    """The Keras module, imported once, thread-safely (TensorFlow's start-up notices dropped)."""
    global _keras, _build
    if _keras is None:
        with _lock:
            if _keras is None:
                configure_environment()
                with quiet_native_stderr():
                    import keras as _k
                    import tensorflow as tf

                    _build = _inspect_build(tf)
                _keras = _k
    return _keras


def tensorflow_build() -> TensorFlowBuild:
    """The TensorFlow build this process runs (imports it, as :func:`keras` does)."""
    keras()
    assert _build is not None
    return _build


def is_loaded() -> bool:
    return _keras is not None
