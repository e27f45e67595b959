"""Fine-tuning a copy of a stored model on the user's own reviews, with a before/after the user can trust.

The copy learns for a few epochs from the user's reviews (models.my_reviews) mixed with a rehearsal
sample of the training reviews the model learnt from (its metadata names the data set), so it does not
forget them. Before and after are measured the same way, on the same reviews: the validation reviews
the original run held out (models.training.held_out_indices with the run's own seed; never rehearsed)
and the fixed test split. The copy is saved as a new model, "<original> + N of my reviews"; the
original's files are only read. When the test accuracy drops by more than MAX_TEST_DROP_POINTS the
result says so and the copy is kept out of the default choice (``fine_tuned.made_default`` false in its
metadata: models.store.ModelStore.newest passes it over).

Every family with a Keras network fine-tunes the same way (its own inputs, pipeline and scoring: the
LSTM and the n-gram family alike). A model whose metadata names no data set, or whose data set is not
on this computer or has changed since, is refused with a message saying so: without it there is
nothing to rehearse and no validation or test split to measure.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from models.config import DEFAULT_THRESHOLD, TrainingConfig
from models.datasets import Dataset, Split, load_source, source_at_hand, trained_on_at_hand
from models.errors import ConfigError, DataSourceError, ModelStoreError, UserFacingError
from models.metadata import MAX_NAME_CHARS, METADATA_VERSION, MetadataError, ModelMetadata, clean_name, utc_now
from models.store import FINE_TUNED_KEY, LoadedModel, ModelInfo, ModelStore

MAX_TEST_DROP_POINTS = 0.5  # percentage points of test accuracy a fine-tuned copy may lose and still be the default
_BUILTIN_MARK = "(built-in)"
_MEASURE_CHUNK = 1024  # reviews scored between two looks at the stop flag

Progress = Callable[[str], None]
StopFn = Callable[[], bool]


class FineTuneError(UserFacingError):
    """Fine-tuning cannot run (no reviews, no data set, a stop); the message says why."""


@dataclass(frozen=True)
class FineTuneSettings:
    epochs: int = 3
    rehearsal_per_review: int = 10  # training reviews rehearsed per review of the user's
    min_rehearsal: int = 100
    max_rehearsal: int = 5000
    batch_size: int = 32
    learning_rate: float | None = None  # None: the one the model was trained with
    seed: int = 0

    def rehearsal_size(self, my_reviews: int, available: int) -> int:
        wanted = max(self.min_rehearsal, self.rehearsal_per_review * my_reviews)
        return int(min(wanted, self.max_rehearsal, available))


@dataclass(frozen=True)
class Accuracy:
    validation: float  # on the validation reviews (see FineTuneResult.validation_held_out)
    test: float  # on the test split
    mine: float  # on the user's reviews, with the labels the user gave (what fine-tuning learns from)

    def to_json(self) -> dict[str, float]:
        return {"validation_accuracy": self.validation, "test_accuracy": self.test, "my_reviews_accuracy": self.mine}


@dataclass
class FineTuneResult:
    original: ModelInfo
    saved: ModelInfo
    my_reviews: int
    rehearsal: int
    epochs: int
    before: Accuracy
    after: Accuracy
    validation_reviews: int
    test_reviews: int
    # True when the original run held these validation reviews out of its training; False when it
    # trained on every training review (it chose its epoch on the test split, the tutorials' way).
    validation_held_out: bool
    source: str

    @property
    def test_change_points(self) -> float:
        return (self.after.test - self.before.test) * 100.0

    @property
    def validation_change_points(self) -> float:
        return (self.after.validation - self.before.validation) * 100.0

    @property
    def dropped(self) -> bool:
        return drops_too_much(self.before.test, self.after.test)

    @property
    def made_default(self) -> bool:
        return not self.dropped

    def warning(self) -> str | None:
        if not self.dropped:
            return None
        return (f"Test accuracy dropped by {-self.test_change_points:.2f} points (more than {MAX_TEST_DROP_POINTS} "
                f"point): {self.saved.name!r} is saved but is not made the default model; "
                f"{self.original.name!r} stays the one the app opens on.")

    def summary(self) -> dict[str, Any]:
        return {
            "original": self.original.name, "saved": self.saved.name, "saved_id": self.saved.id,
            "my_reviews": self.my_reviews, "rehearsal": self.rehearsal, "epochs": self.epochs,
            "before": self.before.to_json(), "after": self.after.to_json(),
            "validation_reviews": self.validation_reviews, "test_reviews": self.test_reviews,
            "validation_held_out": self.validation_held_out,
            "test_change_points": round(self.test_change_points, 4), "made_default": self.made_default,
            "source": self.source,
        }


def drops_too_much(before: float, after: float) -> bool:
    """Whether test accuracy fell by more than MAX_TEST_DROP_POINTS percentage points (a hair of float
    rounding is not a drop: 0.5 point exactly is allowed)."""
    return (before - after) * 100.0 > MAX_TEST_DROP_POINTS + 1e-9


def fine_tuned_name(original: str, my_reviews: int) -> str:
    """"<original> + N of my reviews" (a built-in model's "(built-in)" left out: the copy is the user's),
    the original part shortened so the whole fits a model name."""
    base = clean_name(original.replace(_BUILTIN_MARK, " ")) or "model"
    suffix = f" + {my_reviews:,} of my reviews"  # "+ 1 of my reviews": one of them
    room = MAX_NAME_CHARS - len(suffix)
    if len(base) > room:
        base = base[:room - 3].rstrip() + "..."
    return base + suffix


# -- the training data ----------------------------------------------------------------------------


def training_data_for(info: ModelInfo, data: Dataset | None = None, progress: Progress | None = None) -> Dataset:
    """The data set ``info`` was trained on, as it was (its metadata's source and counts): ``data`` when
    given (already read), else read from the source. DataSourceError when it is unknown, not on this
    computer, or not the same reviews any more."""
    meta = info.metadata
    source = meta.source if meta is not None else None
    if not source:
        raise DataSourceError(f"The model {info.name!r} does not say which data set it was trained on (an imported "
                              "model?): fine-tuning needs a sample of its training reviews to rehearse, and its "
                              "validation and test reviews to measure before and after.")
    if data is None:
        source = trained_on_at_hand(source, info.builtin) or source
        if not source_at_hand(source):
            raise DataSourceError(f"The model {info.name!r} was trained on {source}, which is not on this computer "
                                  "(moved, deleted or not downloaded): fine-tuning needs it, to rehearse its training "
                                  "reviews and to measure before and after. Put it back there, then try again.")
        if progress:
            progress(f"Reading {source} (the data set {info.name!r} was trained on) ...")
        data = load_source(source, progress=progress)
    expected = {key: meta.data.get(key) for key in ("train", "test", "train_positive", "test_positive")}
    if all(isinstance(v, int) for v in expected.values()):
        found = data.summary()
        if any(found[key] != expected[key] for key in expected):
            limit = max(expected["train"], expected["test"])  # a run on a --limit subset: the same subset
            if limit < max(found["train"], found["test"]) and limit >= 2:
                data = data.limited(limit)
                found = data.summary()
        if any(found[key] != expected[key] for key in expected):
            # name what was read: the recorded source, or another copy the user picked
            changed = "any more" if data.source == source else f"({source})"
            raise DataSourceError(
                f"{data.source} is not the data set {info.name!r} was trained on {changed}: the model learnt from "
                f"{expected['train']:,} training and {expected['test']:,} test reviews, this one has "
                f"{found['train']:,} and {found['test']:,}. Fine-tuning needs the same reviews.")
    return data


# -- fine-tuning ----------------------------------------------------------------------------------


def fine_tune(store: ModelStore, original: ModelInfo, reviews: Split, *, data: Dataset | None = None,
              settings: FineTuneSettings | None = None, on_progress: Progress | None = None,
              should_stop: StopFn | None = None) -> FineTuneResult:
    """Fine-tune a copy of ``original`` on ``reviews`` (the user's, as a Split with texts) mixed with a
    rehearsal sample of its training reviews; measure before and after; save the copy. FineTuneError
    (nothing saved) when stopped."""
    settings = settings or FineTuneSettings()
    report = on_progress or (lambda message: None)
    stop = should_stop or (lambda: False)
    if original.damaged:
        raise ModelStoreError(f"The model {original.name!r} cannot be used: {original.damaged}.")
    if reviews.texts is None or len(reviews) == 0:
        raise FineTuneError("There are none of your reviews to learn from yet: mark a prediction as wrong first.")
    meta = original.metadata
    assert meta is not None  # a model without metadata is listed as damaged
    try:  # the run's seed, held-out share and learning rate, from an untrusted file
        config = TrainingConfig.from_dict({k: v for k, v in meta.config.items() if k != "family"}).validated()
    except (ConfigError, TypeError) as exc:
        raise FineTuneError(f"The model {original.name!r} cannot be fine-tuned: its details say {exc}") from None
    data = training_data_for(original, data, report)
    _check_stop(stop)

    report(f"Opening {original.name!r} ...")
    from models.keras_runtime import keras

    # Seeded before the network is built: its dropout layers draw their seeds when they are made.
    keras().utils.set_random_seed(settings.seed)
    loaded = store.load(original)
    family = loaded.family
    report("Encoding the reviews ...")
    x_train = _inputs(loaded, data.train, data)
    x_test = _inputs(loaded, data.test, data)
    x_mine = _inputs(loaded, reviews, data)
    val_idx, rest_idx = _held_out(config, len(data.train))
    x_val, y_val = x_train[val_idx], data.train.labels[val_idx]
    _check_stop(stop)

    report(f"Measuring {original.name!r} before fine-tuning ...")
    model = loaded.model
    before = _measured(family, model, stop, (x_val, y_val), (x_test, data.test.labels), (x_mine, reviews.labels))

    rng = np.random.default_rng(settings.seed)
    n_rehearsal = settings.rehearsal_size(len(reviews), len(rest_idx))
    rehearsal_idx = np.sort(rng.choice(rest_idx, size=n_rehearsal, replace=False))
    x_fit = _concat(x_train[rehearsal_idx], x_mine)
    y_fit = np.concatenate([data.train.labels[rehearsal_idx], reviews.labels]).astype(np.float32)
    _fit(model, family, x_fit, y_fit, settings, settings.learning_rate or config.learning_rate, report, stop)

    report("Measuring the fine-tuned copy ...")
    after = _measured(family, model, stop, (x_val, y_val), (x_test, data.test.labels), (x_mine, reviews.labels))

    held_out = meta.validated_on != "test"
    name = fine_tuned_name(original.name, len(reviews))
    dropped = drops_too_much(before.test, after.test)
    report(f"Saving {name!r} ...")
    saved = store.save(_copy_of(model), loaded.vocabulary,
                       _metadata(original, settings, len(reviews), n_rehearsal, before, after, held_out,
                                 not dropped, len(val_idx), len(data.test)), name)
    return FineTuneResult(original, saved, len(reviews), n_rehearsal, settings.epochs, before, after,
                          len(val_idx), len(data.test), held_out, str(meta.source))


def _check_stop(stop: StopFn) -> None:
    if stop():
        raise FineTuneError("Fine-tuning was stopped; nothing was saved.")


def _inputs(loaded: LoadedModel, split: Split, data: Dataset) -> Any:
    return loaded.family.evaluation_inputs(split, loaded.vocabulary, loaded.maxlen, data.keras_word_index)[0]


def _held_out(config: TrainingConfig, n_train: int) -> tuple[np.ndarray, np.ndarray]:
    from models.training import held_out_indices

    return held_out_indices(config, n_train)


def _accuracy(family: Any, model: Any, x: Any, labels: np.ndarray, stop: StopFn) -> float:
    """Accuracy at 0.5, scored a chunk at a time so a stop is heard within a second or so (the test split
    of the LSTM takes half a minute)."""
    right = 0
    for start in range(0, len(labels), _MEASURE_CHUNK):
        _check_stop(stop)
        probabilities = family.probabilities(model, x[start:start + _MEASURE_CHUNK])
        truth = np.asarray(labels[start:start + _MEASURE_CHUNK]) == 1
        right += int(np.sum((probabilities >= DEFAULT_THRESHOLD) == truth))
    _check_stop(stop)
    return right / len(labels) if len(labels) else float("nan")


def _measured(family: Any, model: Any, stop: StopFn, *sets: tuple[Any, np.ndarray]) -> Accuracy:
    return Accuracy(*(_accuracy(family, model, x, labels, stop) for x, labels in sets))


def _concat(a: Any, b: Any) -> Any:
    """Two blocks of a family's inputs one after the other (padded ids, or sparse n-gram rows)."""
    if isinstance(a, np.ndarray):
        return np.concatenate([a, b])
    from models.families.ngram_features import SparseRows

    indptr = np.concatenate([a.indptr, b.indptr[1:] + a.indptr[-1]])
    return SparseRows(indptr, np.concatenate([a.indices, b.indices]), np.concatenate([a.values, b.values]),
                      a.n_features)


def _fit(model: Any, family: Any, x: Any, y: np.ndarray, settings: FineTuneSettings, learning_rate: float,
         report: Progress, stop: StopFn) -> None:
    from models.keras_runtime import keras
    from models.training import StopRequested

    k = keras()
    # No XLA: compiling would take longer than these few steps.
    model.compile(loss="binary_crossentropy", optimizer=k.optimizers.Adam(learning_rate=learning_rate),
                  metrics=["accuracy"], jit_compile=False)

    class Watch(k.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            report(f"Fine-tuning: epoch {epoch + 1} of {settings.epochs} ({len(y):,} reviews) ...")

        def on_train_batch_end(self, batch, logs=None):
            if stop():
                raise StopRequested

    try:
        model.fit(family.input_pipeline(x, y, settings.batch_size, shuffle=True, seed=settings.seed),
                  epochs=settings.epochs, shuffle=False,  # the pipeline shuffles
                  callbacks=[Watch()], verbose=0)
    except StopRequested:
        raise FineTuneError("Fine-tuning was stopped; nothing was saved.") from None


def _copy_of(model: Any) -> Any:
    """The fine-tuned network without its optimizer: what every stored model is."""
    from models.keras_runtime import keras

    copy = keras().models.clone_model(model)
    copy.set_weights(model.get_weights())
    return copy


def _metadata(original: ModelInfo, settings: FineTuneSettings, my_reviews: int, rehearsal: int, before: Accuracy,
              after: Accuracy, held_out: bool, made_default: bool, n_val: int, n_test: int) -> ModelMetadata:
    """The copy's record: the original's, with this run's results and a ``fine_tuned`` section (kept as an
    extra field). Its name and date are placeholders; the store sets both when it saves."""
    from models.training import library_versions

    meta = original.metadata
    assert meta is not None
    record = meta.to_json()
    record.pop("imported", None)
    record["kind"] = "trained"
    record["results"] = {
        "test_accuracy": after.test,
        # A figure on reviews the original learnt from is no validation figure: left out then.
        "validation_accuracy": after.validation if held_out else None,
        "validated_on": meta.validated_on,
        "epochs_completed": settings.epochs,
    }
    record["versions"] = library_versions()
    record[FINE_TUNED_KEY] = {
        "from": {"name": original.name, "id": original.id, "created": original.created},
        "at": utc_now(),
        "my_reviews": my_reviews, "rehearsal": rehearsal, "epochs": settings.epochs,
        "batch_size": settings.batch_size, "seed": settings.seed,
        "before": before.to_json(), "after": after.to_json(),
        "validation_reviews": n_val, "test_reviews": n_test, "validation_held_out": held_out,
        "made_default": made_default,
    }
    try:
        return ModelMetadata.from_json({**record, "created": utc_now(), "format_version": METADATA_VERSION})
    except MetadataError as exc:
        raise FineTuneError(f"The fine-tuned copy's details cannot be written: {exc}.") from None
