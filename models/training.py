"""``train(config, data, on_progress, should_stop)``: the whole training run, without any GUI.

Progress goes out through a plain callback and a stop request comes in through a
plain predicate, so the Qt worker, the CLI and the tests all drive the same function.
The stop predicate is checked after every training *and* validation batch (Keras
cannot act on a queued signal while ``fit`` blocks its thread).
"""

from __future__ import annotations

import contextlib
import functools
import gc
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from models.config import VALIDATE_ON_SPLIT, TrainingConfig
from models.datasets import Dataset
from models.encoding import encode_split
from models.errors import DataSourceError
from models.families import family_named
from models.keras_runtime import keras
from models.metadata import TRAINED, ModelMetadata, utc_now
from models.vocabulary import Vocabulary, pad_sequences, tokenize

PREPARING, TRAINING, VALIDATING, EPOCH_END, EVALUATING, FINISHED = (
    "preparing", "training", "validating", "epoch_end", "evaluating", "finished",
)


@dataclass(frozen=True)
class TrainingProgress:
    phase: str
    epoch: int = 0  # 1-based; 0 before the first epoch
    epochs: int = 0
    batch: int = 0  # batches done in this epoch
    batches: int = 0  # training batches per epoch
    # TRAINING: Keras' running means of the epoch so far ("loss", "accuracy") and this batch's own
    # values recovered from them ("batch_loss", "batch_accuracy"); EPOCH_END: the epoch's metrics.
    logs: dict[str, float] = field(default_factory=dict)
    samples_per_second: float = 0.0
    elapsed_seconds: float = 0.0
    eta_seconds: float | None = None
    message: str = ""


@dataclass
class TrainingResult:
    model: Any
    vocabulary: Vocabulary
    config: TrainingConfig
    history: dict[str, list[float]]  # per completed epoch: loss, accuracy, val_loss, val_accuracy, seconds
    best_epoch: int | None  # 1-based, by validation accuracy; None when no epoch completed
    test_loss: float | None  # of the best epoch's weights on the test split; None when not measured
    test_accuracy: float | None
    total_seconds: float
    stopped: bool
    data_summary: dict

    @property
    def validated_on(self) -> str:
        """Which reviews chose the best epoch: "split" (held out from training) or "test"."""
        return self.config.validation

    @property
    def validation_accuracy(self) -> float | None:
        """The best epoch's validation accuracy: the figure that chose it."""
        return None if self.best_epoch is None else self.history["val_accuracy"][self.best_epoch - 1]

    @property
    def validation_loss(self) -> float | None:
        return None if self.best_epoch is None else self.history["val_loss"][self.best_epoch - 1]

    @property
    def epochs_completed(self) -> int:
        return len(self.history.get("loss", []))

    @property
    def seconds_per_epoch(self) -> float | None:
        secs = self.history.get("seconds", [])
        return float(np.mean(secs)) if secs else None

    def summary(self) -> dict:
        return {
            "best_epoch": self.best_epoch,
            "epochs_completed": self.epochs_completed,
            "validated_on": self.validated_on,
            "validation_accuracy": self.validation_accuracy,
            "validation_loss": self.validation_loss,
            "test_accuracy": self.test_accuracy,
            "test_loss": self.test_loss,
            "seconds_per_epoch": self.seconds_per_epoch,
            "total_seconds": self.total_seconds,
            "stopped": self.stopped,
        }


ProgressFn = Callable[[TrainingProgress], None]
StopFn = Callable[[], bool]


def prepare_arrays(
    config: TrainingConfig, data: Dataset, should_stop: StopFn | None = None
) -> tuple[Vocabulary, tuple, tuple]:
    """Vocabulary from the training split, then padded ids for train and test (the LSTM family's
    inputs). Tokenizing the full archive takes seconds, so ``should_stop`` is checked every 1,000 reviews."""
    check_both_classes(data)
    if data.train.texts is not None:
        tokens = _each(data.train.texts, tokenize, should_stop)
        vocabulary = Vocabulary.build(tokens, config.vocab_size)
        # Only what the padding keeps is looked up (the last maxlen tokens; the start mark when they all fit).
        x_train = pad_sequences([vocabulary.encode_tokens(t[-config.maxlen:]) for t in tokens], config.maxlen)
    else:
        assert data.keras_word_index is not None
        vocabulary = Vocabulary.from_keras_word_index(data.keras_word_index, config.vocab_size)
        x_train = encode_split(data.train, vocabulary, config.maxlen, data.keras_word_index)
    if data.test.texts is not None:
        x_test = pad_sequences(_each(data.test.texts, lambda t: vocabulary.unpadded_ids(t, config.maxlen), should_stop),
                               config.maxlen)
    else:
        x_test = encode_split(data.test, vocabulary, config.maxlen, data.keras_word_index)
    y_train = data.train.labels.astype(np.float32)
    y_test = data.test.labels.astype(np.float32)
    return vocabulary, (x_train, y_train), (x_test, y_test)


def check_both_classes(data: Dataset) -> None:
    """DataSourceError unless the data has training and test reviews and both labels among the training ones."""
    if len(data.train) == 0 or len(data.test) == 0:
        raise DataSourceError("The data set needs at least one training and one test review.")
    if data.train.labels.min() == data.train.labels.max():
        only = "positive" if data.train.labels[0] else "negative"
        raise DataSourceError(f"The training reviews of {data.source} are all {only}; training needs both classes.")


def _each(items: list, fn: Callable, should_stop: StopFn | None, every: int = 1000) -> list:
    out = []
    for i, item in enumerate(items):
        if should_stop is not None and i % every == 0 and should_stop():
            raise StopRequested
        out.append(fn(item))
    return out


def _nothing_trained(config: TrainingConfig, data: Dataset, vocabulary: Vocabulary | None,
                     started: float) -> TrainingResult:
    """The result of a run stopped before its first training step."""
    history: dict[str, list[float]] = {key: [] for key in ("loss", "accuracy", "val_loss", "val_accuracy", "seconds")}
    return TrainingResult(None, vocabulary or Vocabulary({}, config.vocab_size), config, history, None, None, None,
                          time.perf_counter() - started, True, data.summary())


@contextlib.contextmanager
def collector_out_of_the_way():
    """Python's full garbage collections stop every thread (the window's too) while they walk every
    object: with 5,000 reviews a split in memory they took 36-135 ms each during a run, the GUI's
    longest stalls while training. Inside this block, objects that exist at each ``refreeze()`` (the
    data, its tokens, the built model) are left out of collections; reference counting still frees
    them the moment they are dropped, and the collector takes them back when the block ends."""
    gc.freeze()
    try:
        yield gc.freeze
    finally:
        gc.unfreeze()


def train(
    config: TrainingConfig,
    data: Dataset,
    on_progress: ProgressFn | None = None,
    should_stop: StopFn | None = None,
) -> TrainingResult:
    with collector_out_of_the_way() as refreeze:
        return _train(config, data, on_progress, should_stop, refreeze)


def _train(config: TrainingConfig, data: Dataset, on_progress: ProgressFn | None, should_stop: StopFn | None,
           refreeze: Callable[[], None]) -> TrainingResult:
    config.validated()
    report = on_progress or (lambda p: None)
    stop = should_stop or (lambda: False)
    started = time.perf_counter()

    family = family_named(config.family)
    report(TrainingProgress(PREPARING, epochs=config.epochs, message="Building the vocabulary and encoding reviews"))
    collecting = gc.isenabled()
    gc.disable()  # tokenizing makes a list per review and no cycles: nothing for the collector to find
    try:
        prepared = family.prepare(config, data, stop)
    except StopRequested:
        return _nothing_trained(config, data, None, started)
    finally:
        if collecting:
            gc.enable()
    refreeze()  # the encoded reviews and the vocabulary
    vocabulary = prepared.vocabulary
    x_train, y_train, x_test, y_test = prepared.x_train, prepared.y_train, prepared.x_test, prepared.y_test
    if config.validation == VALIDATE_ON_SPLIT:
        val_idx, train_idx = held_out_indices(config, len(x_train))
        x_val, y_val = x_train[val_idx], y_train[val_idx]
        x_train, y_train = x_train[train_idx], y_train[train_idx]
    else:
        x_val, y_val = x_test, y_test
    fit_train, fit_val, fit_test = family.fit_inputs(config, prepared, x_train, y_train, x_val, x_test)

    if stop():  # importing TensorFlow and building a first model take seconds: skip both
        return _nothing_trained(config, data, vocabulary, started)
    k = keras()
    k.utils.set_random_seed(config.seed)
    report(TrainingProgress(PREPARING, epochs=config.epochs, message="Building the model"))
    model = family.network(config, prepared, for_training=True)
    refreeze()  # TensorFlow's and Keras' objects, now all made
    tracker = _tracker_class()(config, len(x_train), len(x_val), report, stop, started)
    if not stop():
        # On a stop, the completed epochs' history and best weights are in the tracker.
        with contextlib.suppress(StopRequested):
            model.fit(
                family.input_pipeline(fit_train, y_train, config.batch_size, shuffle=True, seed=config.seed),
                epochs=config.epochs,
                # Validation has no backprop and its batch size does not change the result.
                validation_data=family.input_pipeline(fit_val, y_val, validation_batch_size(config)),
                shuffle=False,  # the pipeline shuffles (and fit would warn that it ignores this)
                callbacks=[tracker],
                verbose=0,
            )
    history = tracker.history
    best_epoch = tracker.restore_best(model)
    stopped = tracker.stop_seen or stop()

    test_loss = test_accuracy = None
    if best_epoch is not None:
        if config.validation == VALIDATE_ON_SPLIT:
            if not stopped:
                report(TrainingProgress(EVALUATING, epoch=len(history["loss"]), epochs=config.epochs,
                                        message="Evaluating on the test split"))
                try:
                    test_pipeline = family.input_pipeline(fit_test, y_test, validation_batch_size(config))
                    metrics = model.evaluate(test_pipeline, verbose=0, return_dict=True,
                                             callbacks=[tracker.evaluation_stopper()])
                    test_loss, test_accuracy = float(metrics["loss"]), float(metrics["accuracy"])
                except StopRequested:
                    stopped = True
        else:
            # Validation ran on the test split with these very weights: reuse, don't recompute.
            test_loss = history["val_loss"][best_epoch - 1]
            test_accuracy = history["val_accuracy"][best_epoch - 1]
    total = time.perf_counter() - started
    report(TrainingProgress(FINISHED, epoch=len(history["loss"]), epochs=config.epochs, elapsed_seconds=total,
                            message="Stopped" if stopped else "Finished"))
    summary = data.summary()
    summary["oov_rate_train"] = prepared.oov_rate_train
    return TrainingResult(family.stored_model(model, config, prepared), vocabulary, config, history, best_epoch,
                          test_loss, test_accuracy, total, stopped, summary)


def held_out_indices(config: TrainingConfig, n_train: int) -> tuple[np.ndarray, np.ndarray]:
    """(validation, training) positions in a training split of ``n_train`` reviews: the reviews a run of
    ``config`` holds out to choose its epoch (``validation_split`` of them, chosen by ``seed``), and the rest."""
    order = np.random.default_rng(config.seed).permutation(n_train)
    n_val = max(1, int(round(len(order) * config.validation_split)))
    if n_val >= len(order):
        raise DataSourceError("Too few training reviews to hold some out for validation.")
    return order[:n_val], order[n_val:]


def validation_batch_size(config: TrainingConfig) -> int:
    return max(256, config.batch_size)


def input_pipeline(x: np.ndarray, y: np.ndarray, batch_size: int, shuffle: bool = False):
    """The tf.data pipeline ``fit(x, y, batch_size=..., shuffle=...)`` builds for NumPy arrays,
    the same batches in the same shuffled order, with tf.data's autotuning turned off.

    Autotuning runs a model thread per iterator, and an iterator's destructor waits for that
    thread's current optimisation round. In the app that wait measured 1.2-2.5 s (2 cores, the
    GUI painting beside it), at an epoch boundary or when Stop leaves ``fit`` mid-epoch, so Stop
    took seconds. The pipeline only gathers rows of an in-memory array, so autotuning has
    nothing to win: the parallel map then uses one call per core and prefetch its legacy buffer.
    """
    keras()  # first: it sets the environment TensorFlow and Keras read when imported
    import tensorflow as tf
    from keras.src.trainers.data_adapters.array_data_adapter import ArrayDataAdapter

    dataset = ArrayDataAdapter(x, y, batch_size=batch_size, shuffle=shuffle).get_tf_dataset()
    # Keras' flat_map hides the batch count; state it, so fit knows its steps from the start.
    dataset = dataset.apply(tf.data.experimental.assert_cardinality(-(-len(x) // batch_size)))
    options = tf.data.Options()
    options.autotune.enabled = False
    return dataset.with_options(options)


class StopRequested(Exception):
    """Raised by the tracker callback to leave ``fit`` within the current batch."""


@functools.cache
def _tracker_class() -> type:
    """The Keras callback class, defined once Keras is imported (this module imports it lazily)."""
    return type("TrainingTracker", (_Tracker, keras().callbacks.Callback), {})


class _Tracker:
    """Reports progress, honours the stop flag within one batch, and keeps the best epoch's weights."""

    def __init__(self, config: TrainingConfig, n_train: int, n_val: int, report: ProgressFn, stop: StopFn,
                 started: float):
        super().__init__()
        self.config = config
        self.report = report
        self.stop = stop
        self.started = started
        self.batches = -(-n_train // config.batch_size)
        self.n_train = n_train
        self.running = BatchValues(config.batch_size, n_train)
        self.val_batches = -(-n_val // validation_batch_size(config))
        self.history: dict[str, list[float]] = {k: [] for k in ("loss", "accuracy", "val_loss", "val_accuracy",
                                                                  "seconds")}
        self.stop_seen = False
        self.best_accuracy = -1.0
        self.best_weights: list | None = None
        self.best_epoch: int | None = None
        self.batch_seconds: float | None = None  # the median batch of this epoch (one-off compiles left out)
        self.batch_durations: list[float] = []
        self.compile_seconds = 0.0  # what the first batch took beyond a batch: tracing and compiling the step
        self.val_seconds: float | None = None
        self.epoch = 0

    # -- stop ----------------------------------------------------------------------------
    def _check_stop(self) -> None:
        """Leave ``fit`` at once. Setting ``model.stop_training`` instead would still run the
        epoch's whole validation pass (and its first-call tracing) before ``fit`` returns."""
        if not self.stop_seen and self.stop():
            self.stop_seen = True
        if self.stop_seen:
            raise StopRequested

    def evaluation_stopper(self):
        """A callback for a later ``evaluate`` call that honours the same stop flag."""
        tracker = self

        class StopEvaluation(keras().callbacks.Callback):
            def on_test_batch_end(self, batch, logs=None):
                tracker._check_stop()

        return StopEvaluation()

    # -- epochs and batches -------------------------------------------------------------
    def on_train_begin(self, logs=None):
        if self.config.jit_compile:  # so the seconds before the first batch are explained
            self.report(TrainingProgress(PREPARING, epochs=self.config.epochs,
                                         message="Compiling the training step (XLA, once per run)"))

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch + 1
        self.epoch_started = time.perf_counter()
        self.running = BatchValues(self.config.batch_size, self.n_train)
        self.val_started = None
        self._check_stop()

    def on_train_batch_end(self, batch, logs=None):
        now = time.perf_counter()
        done = batch + 1
        spent = now - self.epoch_started
        # The first batch of a run also traces (and with XLA compiles) the training step, and a short last
        # batch compiles it again: seconds that say nothing of the speed (a 20-s run read "ETA 5:41"). The
        # rate is the median batch, so the ETA is unknown until a second batch has run; later epochs start
        # from the last epoch's rate.
        if done == 1:
            self.batch_durations = []
        last = self.batch_ended if done > 1 else self.epoch_started
        self.batch_ended = now
        self.batch_durations.append(now - last)
        if done > 1:
            self.batch_seconds = float(np.median(self.batch_durations[1:] if self.epoch == 1
                                                 else self.batch_durations))
            if self.epoch == 1 and done == 2:
                self.compile_seconds = max(0.0, self.batch_durations[0] - self.batch_seconds)
        logs = {k: float(v) for k, v in (logs or {}).items()}
        logs.update(self.running.add(done, logs))
        self.report(TrainingProgress(
            TRAINING, self.epoch, self.config.epochs, done, self.batches,
            logs=logs,
            samples_per_second=done * self.config.batch_size / spent if spent > 0 else 0.0,
            elapsed_seconds=now - self.started,
            eta_seconds=self._eta(self.batches - done, validation_left=True),
        ))
        self._check_stop()

    def on_test_begin(self, logs=None):
        self.val_started = time.perf_counter()
        self._check_stop()  # before the first validation batch, which compiles the test step (~1 s)

    def on_test_batch_end(self, batch, logs=None):
        self.report(TrainingProgress(
            VALIDATING, self.epoch, self.config.epochs, self.batches, self.batches,
            elapsed_seconds=time.perf_counter() - self.started,
            eta_seconds=self._eta(0, validation_left=True),
            message=f"Validating: batch {batch + 1} of {self.val_batches}",
        ))
        self._check_stop()

    def on_test_end(self, logs=None):
        if self.val_started is not None and self.epoch > 1:  # epoch 1's also compiled the test step
            self.val_seconds = time.perf_counter() - self.val_started

    def on_epoch_end(self, epoch, logs=None):
        self._check_stop()  # a stop during validation: that epoch is incomplete and not kept
        logs = {k: float(v) for k, v in (logs or {}).items()}
        seconds = time.perf_counter() - self.epoch_started
        for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
            self.history[key].append(logs.get(key, float("nan")))
        self.history["seconds"].append(seconds)
        val_acc = logs.get("val_accuracy", float("nan"))
        if val_acc > self.best_accuracy:  # ties keep the earlier epoch
            self.best_accuracy = val_acc
            self.best_epoch = self.epoch
            self.best_weights = [w.copy() for w in self.model.get_weights()]
        patience = self.config.patience
        if patience is not None and self.best_epoch is not None and self.epoch - self.best_epoch >= patience:
            self.model.stop_training = True  # early stopping: the best epoch's weights are restored after fit
        self.report(TrainingProgress(
            EPOCH_END, self.epoch, self.config.epochs, self.batches, self.batches, logs=logs,
            samples_per_second=self.batches * self.config.batch_size / seconds if seconds > 0 else 0.0,
            elapsed_seconds=time.perf_counter() - self.started,
            eta_seconds=self._eta(0, validation_left=False) if self.batch_seconds is not None
            else seconds * (self.config.epochs - self.epoch),
            message=f"Epoch {self.epoch}/{self.config.epochs}",
        ))

    def _eta(self, batches_left: int, validation_left: bool) -> float | None:
        if self.batch_seconds is None:
            return None
        epochs_after = self.config.epochs - self.epoch
        # Until measured: a validation row costs about a third of a training row (no backprop).
        val = self.val_seconds if self.val_seconds is not None else \
            self.val_batches * validation_batch_size(self.config) / self.config.batch_size * self.batch_seconds / 3
        epoch_seconds = self.batches * self.batch_seconds + val
        # The first validation compiles the test step as the first batch compiled the training step: in a
        # short run those seconds are most of what is left (measured: 7.5 s of a 29-s run).
        first_validation = self.compile_seconds if (self.epoch == 1 and validation_left and self.val_batches
                                                     and self.val_started is None) else 0.0
        return (batches_left * self.batch_seconds + (val if validation_left else 0.0) + first_validation
                + epochs_after * epoch_seconds)

    def restore_best(self, model) -> int | None:
        if self.best_weights is not None:
            model.set_weights(self.best_weights)
        return self.best_epoch


class BatchValues:
    """Each training batch's own loss and accuracy, recovered from the running means Keras reports.

    Keras 3 logs, after batch k of an epoch, the sample-weighted mean of batches 1..k
    (``m_k = sum(n_i v_i) / sum(n_i)``), so batch k's own value is
    ``v_k = (N_k m_k - N_(k-1) m_(k-1)) / n_k`` with N_k the reviews seen so far this epoch and
    n_k this batch's size (``batch_size``, or what is left in the last batch).
    """

    def __init__(self, batch_size: int, n_train: int):
        self.batch_size = batch_size
        self.n_train = n_train
        self.seen = 0  # reviews of this epoch so far
        self.previous: dict[str, float] = {}  # the running means after the previous batch

    def add(self, batch: int, running: dict[str, float]) -> dict[str, float]:
        """``batch`` (1-based) has ended with these running means: {"batch_loss": ..., "batch_accuracy": ...}."""
        size = min(self.batch_size, max(1, self.n_train - (batch - 1) * self.batch_size))
        before, self.seen = self.seen, self.seen + size
        out = {}
        for key in ("loss", "accuracy"):
            if key in running:
                mean_before = self.previous.get(key, 0.0)
                out[f"batch_{key}"] = (self.seen * running[key] - before * mean_before) / size
        self.previous = {k: running[k] for k in ("loss", "accuracy") if k in running}
        return out


def run_metadata(result: TrainingResult, preset_name: str | None, *, source: str | None = None,
                 corrections: dict[str, Any] | None = None) -> ModelMetadata:
    """What the store keeps beside a trained model (config, data, history, results, versions), as the
    typed record ``ModelStore.save`` takes. ``source``: the data set as the user gave it, in place of the
    resolved path training recorded; ``corrections``: the label corrections it was trained with (their
    summary, models.corrected_training). The result itself is never changed: the record holds copies.
    Its name and date are placeholders; the store sets both when it saves."""
    data = dict(result.data_summary)
    if source is not None:
        data["source"] = source
    return ModelMetadata(
        name=preset_name or "model",
        created=utc_now(),
        kind=TRAINED,
        family=result.config.family,
        preset=preset_name,
        config=result.config.to_dict(),
        data=data,
        history={key: list(values) for key, values in result.history.items()},
        results=result.summary(),
        versions=library_versions(),
        corrections=None if corrections is None else dict(corrections),
    )


def library_versions() -> dict[str, str]:
    import platform

    import models

    k = keras()
    versions = {"app": models.__version__, "keras": k.__version__, "numpy": np.__version__,
                "python": platform.python_version()}
    try:
        import tensorflow as tf

        versions["tensorflow"] = tf.__version__
    except ImportError:  # pragma: no cover - TensorFlow is a hard dependency
        pass
    return versions
