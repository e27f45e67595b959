"""A NumPy forward pass of Embedding -> LSTM -> Dense(sigmoid), read straight from a ``.keras`` file.

Scoring a review this way needs neither TensorFlow nor Keras, so the Predict tab can
score before TensorFlow has finished importing, and one review takes about a
millisecond instead of a ``model.predict`` call. The input projection of all time
steps is one matrix product; only the recurrent product loops over time. The maths
is Keras 3's LSTM at inference (gates i, f, c, o; sigmoid and tanh; dropout inactive),
and the tests check it against Keras to 1e-5.
"""

from __future__ import annotations

import os
import tempfile
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from models.bounded_io import MAX_MODEL_BYTES, TooLarge, UnreadableJson
from models.errors import ModelStoreError
from models.keras_file import KerasFileError, copy_weights, read_summary

# Rows scored together: a block's state and gates (128 x 4U floats) stay in the CPU cache.
# 5,000 reviews on 2 cores: 1.01 s in blocks of 128, 1.64 s of 512, 3.6 s in one block.
BLOCK_ROWS = 128
# Blocks run on a small pool of threads (NumPy releases the GIL in matmul and tanh), each with one
# BLAS thread. OpenBLAS' own threads busy-wait for each other: with another process on one of two
# cores they fell to 190 reviews/s, where one BLAS thread a block kept 3,300/s and a pool of two
# 4,000/s (same load, interleaved rounds; tests/benchmarks/evaluation_speed.py measures the pass).
WORKERS = max(1, min(4, os.cpu_count() or 1))
_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _block_pool() -> ThreadPoolExecutor:
    """The shared pool, made on first use, after limiting BLAS to one thread for this process
    (the app's only large matrix products are this pass's; TensorFlow does not use OpenBLAS)."""
    global _pool
    with _pool_lock:
        if _pool is None:
            threadpool_limits(1, user_api="blas")
            _pool = ThreadPoolExecutor(WORKERS, thread_name_prefix="numpy-lstm")
        return _pool


def lstm_cell(z: np.ndarray, h: np.ndarray, c: np.ndarray, tanh_c: np.ndarray) -> None:
    """One LSTM step in place, in the engine's gate layout (``NumpyLSTMClassifier.__post_init__``):
    ``z`` holds ``h @ recurrent + projected[ids]`` on entry (rows x 4U); ``h`` and ``c`` (rows x U)
    hold the new state on return. ``z`` and ``tanh_c`` are scratch. One tanh for all four gates."""
    u = h.shape[1]
    np.tanh(z, out=z)  # tanh(z/2) for i, f, o (their columns are halved), tanh(z) for the candidate
    sig = z[:, :3 * u]
    sig *= 0.5
    sig += 0.5  # sigmoid(x) = (1 + tanh(x/2)) / 2
    cand = z[:, 3 * u:]
    cand *= z[:, :u]  # i * candidate
    c *= z[:, u:2 * u]  # f * c
    c += cand
    np.tanh(c, out=tanh_c)
    np.multiply(z[:, 2 * u:3 * u], tanh_c, out=h)  # o * tanh(c)


class UnsupportedModel(Exception):
    """The file is not the plain Embedding -> LSTM -> Dense(1, sigmoid) stack this pass handles."""


class ModelTooLarge(ModelStoreError):
    """The file's members or arrays are past models.bounded_io's limits: neither engine may open it."""


def _sigmoid(x: np.ndarray) -> np.ndarray:
    # sigmoid(x) = (1 + tanh(x/2)) / 2: never overflows and is one vectorised call (no masks);
    # the loop below applies the same identity in place.
    return 0.5 * (1.0 + np.tanh(0.5 * x))


@dataclass
class NumpyLSTMClassifier:
    embeddings: np.ndarray  # (vocab, E)
    kernel: np.ndarray  # (E, 4U)
    recurrent_kernel: np.ndarray  # (U, 4U)
    bias: np.ndarray  # (4U,)
    dense_kernel: np.ndarray  # (U, 1)
    dense_bias: np.ndarray  # (1,)
    maxlen: int | None = None

    def __post_init__(self) -> None:
        u = self.recurrent_kernel.shape[0]
        self.units = u
        # Gates reordered from Keras' (i, f, c, o) to (i, f, o, c), and the sigmoid gates' columns
        # halved: one tanh over a step's 4U values then gives tanh(z/2) for i, f, o (and
        # sigmoid(z) = (1 + tanh(z/2)) / 2) and tanh(z) for the candidate c.
        order = np.r_[0:2 * u, 3 * u:4 * u, 2 * u:3 * u]
        scale = np.r_[np.full(3 * u, 0.5), np.ones(u)].astype(np.float32)
        # Embedding and input projection fold into one table: row v = (emb[v] @ W + b), reordered, scaled.
        # C order: a row per word, gathered whole at every step (a column-ordered copy made that 5x slower).
        self.projected = np.ascontiguousarray(((self.embeddings @ self.kernel + self.bias)[:, order] * scale),
                                              dtype=np.float32)
        self.recurrent = np.ascontiguousarray((self.recurrent_kernel[:, order] * scale).astype(np.float32))
        self._pool = _block_pool()

    @property
    def vocab_size(self) -> int:
        return int(self.embeddings.shape[0])

    def __call__(self, ids: np.ndarray) -> np.ndarray:
        """P(positive) for each row of padded ids, shape (n,)."""
        ids = np.asarray(ids)
        if len(ids) <= BLOCK_ROWS:
            return self._forward(ids)
        return self.start(ids)()

    def start(self, ids: np.ndarray) -> Callable[[], np.ndarray]:
        """Start scoring ``ids`` on the pool and return at once; calling the result waits for the
        probabilities. The caller can meanwhile prepare the next rows (tokenizing holds the GIL,
        this pass mostly does not)."""
        ids = np.asarray(ids)
        futures = [self._pool.submit(self._forward, ids[i:i + BLOCK_ROWS]) for i in range(0, len(ids), BLOCK_ROWS)]
        return lambda: np.concatenate([f.result() for f in futures]) if futures else np.empty(0)

    def _forward(self, ids: np.ndarray) -> np.ndarray:
        n, steps = ids.shape
        u = self.units
        # Time-major, so each step's slice is contiguous: (T, n, 4U).
        z_in = self.projected[np.clip(ids, 0, self.vocab_size - 1).T]
        h = np.zeros((n, u), dtype=np.float32)
        c = np.zeros((n, u), dtype=np.float32)
        z = np.empty((n, 4 * u), dtype=np.float32)
        tanh_c = np.empty((n, u), dtype=np.float32)
        for t in range(steps):
            np.matmul(h, self.recurrent, out=z)
            z += z_in[t]
            lstm_cell(z, h, c, tanh_c)
        logits = h @ self.dense_kernel + self.dense_bias
        return _sigmoid(logits.astype(np.float64)).reshape(-1)

    @classmethod
    def from_keras_file(cls, path: Path) -> NumpyLSTMClassifier:
        """Read a Keras 3 ``.keras`` zip (config.json + model.weights.h5) without importing Keras.

        Bounded (models.keras_file, models.bounded_io): the zip's members are checked before
        anything is read, the weights are copied to a temporary file with a cap (never read
        into memory whole), and the arrays' sizes are checked before they are loaded.
        Raises ModelTooLarge past a limit, UnsupportedModel for any other stack or layout.
        """
        try:
            import h5py
        except ImportError as exc:  # pragma: no cover
            raise UnsupportedModel("h5py is not installed") from exc
        try:
            summary = read_summary(path)
        except TooLarge as exc:
            raise ModelTooLarge(str(exc)) from None
        except (KerasFileError, UnreadableJson) as exc:
            raise UnsupportedModel(str(exc)) from None
        layers = _layer_stack(summary.config)
        try:
            # A real file opened by name: h5py's Python file-object driver calls back into Python from
            # inside HDF5, which is not safe while another thread (Keras saving a model) uses HDF5.
            with tempfile.TemporaryDirectory(prefix="sentiment-studio-weights-") as tmp:
                weights = Path(tmp) / "model.weights.h5"
                with open(weights, "wb") as out:
                    copy_weights(path, out)
                with h5py.File(weights, "r") as f:
                    groups = f["layers"]
                    cell = groups[layers["LSTM"]]["cell"]["vars"]
                    dense = groups[layers["Dense"]]["vars"]
                    found = [groups[layers["Embedding"]]["vars"]["0"], cell["0"], cell["1"], cell["2"],
                             dense["0"], dense["1"]]
                    _check_array_sizes(found, Path(path).name)
                    emb, kernel, rec, bias, dk, db = (np.asarray(d, dtype=np.float32) for d in found)
        except TooLarge as exc:
            raise ModelTooLarge(str(exc)) from None
        except (KeyError, OSError, ValueError, TypeError, KerasFileError) as exc:
            raise UnsupportedModel(f"unexpected weight layout ({exc})") from None
        if kernel.shape[0] != emb.shape[1] or rec.shape[1] != 4 * rec.shape[0] or dk.shape != (rec.shape[0], 1):
            raise UnsupportedModel("weight shapes do not fit together")
        return cls(emb, kernel, rec, bias, dk, db, maxlen=layers.get("maxlen"))


def _check_array_sizes(datasets: list, what: str) -> None:
    """The arrays as float32, plus the folded input table (vocabulary x 4U), must fit MAX_MODEL_BYTES:
    an HDF5 dataset can be stored compressed, so its file size says nothing about its size in memory."""
    shapes = [tuple(int(n) for n in d.shape) for d in datasets]
    total = sum(int(np.prod(s, dtype=np.float64)) * 4 for s in shapes)
    if len(shapes[0]) == 2 and len(shapes[1]) == 2:
        total += shapes[0][0] * shapes[1][1] * 4
    if total > MAX_MODEL_BYTES:
        raise TooLarge(f"{what}: its weights ({total / 1024**2:,.0f} MB as arrays)", MAX_MODEL_BYTES)


def _layer_stack(config: dict) -> dict:
    """Check the architecture and return the weight-group names of its layers (Keras 3 names
    them by class in snake case: ``embedding``, ``lstm``, ``dense``)."""
    if config.get("class_name") != "Sequential":
        raise UnsupportedModel("not a Sequential model")
    layers = [layer for layer in config.get("config", {}).get("layers", []) if layer.get("class_name") != "InputLayer"]
    kinds = [layer.get("class_name") for layer in layers]
    if kinds != ["Embedding", "LSTM", "Dense"]:
        raise UnsupportedModel(f"layers are {kinds}, not Embedding, LSTM, Dense")
    emb_cfg, lstm_cfg, dense_cfg = (layer.get("config", {}) for layer in layers)
    wanted = {"activation": "tanh", "recurrent_activation": "sigmoid", "use_bias": True,
              "return_sequences": False, "go_backwards": False}
    for key, value in wanted.items():
        if lstm_cfg.get(key, value) != value:
            raise UnsupportedModel(f"LSTM {key} is {lstm_cfg.get(key)!r}")
    if emb_cfg.get("mask_zero"):
        raise UnsupportedModel("masked embeddings are not handled")
    if dense_cfg.get("units") != 1 or dense_cfg.get("activation") != "sigmoid" or not dense_cfg.get("use_bias", True):
        raise UnsupportedModel("the output is not one sigmoid unit")
    shape = (layers[0].get("build_config") or {}).get("input_shape") or []
    return {"Embedding": "embedding", "LSTM": "lstm", "Dense": "dense",
            "maxlen": shape[1] if len(shape) == 2 and isinstance(shape[1], int) else None}
