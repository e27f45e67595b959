"""A stored model's metadata (``metadata.json``): one typed, versioned record, checked where it is read.

Every read of a model folder and every import goes through :meth:`ModelMetadata.from_json`,
so the rest of the app can trust what it gets: the types of every field, ``maxlen`` and
the vocabulary size within the ranges training accepts (models.config), dates that parse
and are not in the future, a display name without control characters. A file that fails
raises :class:`MetadataError` with the reason, and the store lists that model as damaged.

Version 1 is what every release so far writes. Top-level keys this version does not know
are kept as they are (``extra``), so a rename never drops what a newer feature stored.

Writers build the record too: training (models.training.run_metadata), Keras import and an
archive import hand the store a ``ModelMetadata``, never a dict, and the store checks it
through the same schema before it writes it (a record that would not read back is refused).
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import Any

from models.config import FAMILY_NAMES, LSTM, limit_problem

METADATA_VERSION = 1
TRAINED, IMPORTED = "trained", "imported"
MAX_NAME_CHARS = 120
MAX_TEXT_CHARS = 4096  # any other string field
MAX_HISTORY_EPOCHS = 1000  # models.config's epoch limit
# A date may be this far ahead of this computer's clock (another machine's clock, a time zone slip).
CLOCK_SKEW = timedelta(hours=1)

Scalar = str | int | float | bool | None


class MetadataError(ValueError):
    """metadata.json does not follow the schema; the message is the reason, for the user."""


def clean_name(name: str, limit: int = MAX_NAME_CHARS) -> str:
    """A display name: control and format characters removed, runs of white space made one space."""
    kept = "".join(" " if ch.isspace() else ch for ch in name if unicodedata.category(ch)[0] != "C" or ch.isspace())
    return re.sub(r"\s+", " ", kept).strip()[:limit].strip()


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")  # orders quick saves too


def checked_date(value: object, what: str, now: datetime | None = None) -> str:
    """An ISO 8601 date as UTC text; not in the future (beyond CLOCK_SKEW)."""
    if not isinstance(value, str) or not value.strip():
        raise MetadataError(f"{what} is not a date (got {_shown(value)})")
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise MetadataError(f"{what} is not a date (got {_shown(value)})") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    moment = moment.astimezone(timezone.utc)
    if moment > (now or datetime.now(timezone.utc)) + CLOCK_SKEW:
        raise MetadataError(f"{what} is in the future ({moment:%Y-%m-%d %H:%M} UTC)")
    return moment.isoformat(timespec="microseconds")


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _text(value: object, what: str, limit: int = MAX_TEXT_CHARS) -> str:
    if not isinstance(value, str):
        raise MetadataError(f"{what} must be text, not {type(value).__name__}")
    return clean_name(value, limit)


def _scalar(value: object, what: str) -> Scalar:
    if value is None or isinstance(value, (bool, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str):
        return value[:MAX_TEXT_CHARS]
    raise MetadataError(f"{what} must be a single value, not {type(value).__name__}")


def _number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# The fields the app reads, with what each must be (None is always allowed: not recorded).
# Other fields of these sections may hold any JSON: they are kept, never interpreted.
_FIELDS: dict[str, dict[str, tuple[Any, str]]] = {
    "config": {
        "dropout": (_number, "a number"), "recurrent_dropout": (_number, "a number"),
        "learning_rate": (_number, "a number"), "validation_split": (_number, "a number"),
        "validation": (lambda v: isinstance(v, str), "text"),
        **{k: (lambda v: isinstance(v, bool), "true or false") for k in ("jit_compile", "fused_lstm")},
        "seed": (_whole, "a whole number"),
        **{k: (lambda v: isinstance(v, str), "text") for k in ("family", "weighting", "scaling")},
    },
    "data": {
        "source": (lambda v: isinstance(v, str), "text"),
        **{k: (lambda v: _whole(v) and v >= 0, "a whole number from 0")
           for k in ("train", "test", "train_positive", "test_positive")},
        "oov_rate_train": (_number, "a number"),
    },
    "results": {
        **{k: (lambda v: _number(v) and 0.0 <= v <= 1.0, "between 0 and 1")
           for k in ("test_accuracy", "validation_accuracy")},
        "validated_on": (lambda v: isinstance(v, str), "text"),
        "best_epoch": (lambda v: _whole(v) and 1 <= v <= MAX_HISTORY_EPOCHS, "a whole number from 1"),
        "epochs_completed": (lambda v: _whole(v) and 0 <= v <= MAX_HISTORY_EPOCHS, "a whole number from 0"),
        **{k: (_number, "a number") for k in ("test_loss", "seconds_per_epoch", "total_seconds")},
        "stopped": (lambda v: isinstance(v, bool), "true or false"),
    },
    "word_index": {"from": (lambda v: isinstance(v, str), "text"), "words": (_whole, "a whole number"),
                   "format": (lambda v: isinstance(v, str), "text")},
}


def _section(data: Mapping[str, Any], key: str, *, scalars_only: bool = False) -> dict[str, Any]:
    """A JSON object whose known fields are checked (_FIELDS, and training's ranges for the
    config's sizes); {} when absent. With ``scalars_only`` every value must be a single value."""
    value = data.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise MetadataError(f"{key} must be a JSON object, not {type(value).__name__}")
    fields = _FIELDS.get(key, {})
    out: dict[str, Any] = {}
    for name, item in value.items():
        if isinstance(item, float) and not math.isfinite(item):
            item = None  # NaN or infinity written by Python's json: not a value
        check = fields.get(name)
        if item is not None and check is not None and not check[0](item):
            raise MetadataError(f"{key}.{name} must be {check[1]} (got {_shown(item)})")
        if key == "config" and (problem := limit_problem(name, item)) and item is not None:
            raise MetadataError(f"config: {problem.rstrip('.')}")
        out[name] = _scalar(item, f"{key}.{name}") if scalars_only or check is not None else item
    return out


def _history(data: Mapping[str, Any]) -> dict[str, list[float]]:
    value = data.get("history")
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise MetadataError(f"history must be a JSON object, not {type(value).__name__}")
    out: dict[str, list[float]] = {}
    for name, series in value.items():
        if not isinstance(series, list) or len(series) > MAX_HISTORY_EPOCHS or not all(
                isinstance(v, (int, float)) and not isinstance(v, bool) for v in series):
            raise MetadataError(f"history.{name} must be a list of at most {MAX_HISTORY_EPOCHS} numbers")
        out[name] = [float(v) for v in series]
    return out


@dataclass(frozen=True)
class ImportedFrom:
    """Where an imported model came from: its file's name and when it was brought in."""

    source: str
    at: str

    def to_json(self) -> dict[str, str]:
        return {"from": self.source, "at": self.at}


@dataclass(frozen=True)
class ModelMetadata:
    name: str
    created: str  # ISO 8601, UTC
    kind: str = TRAINED
    family: str = LSTM  # models.families: "lstm" (also every model saved before families) or "ngram"
    preset: str | None = None
    config: dict[str, Scalar] = field(default_factory=dict)  # hyperparameters (TrainingConfig's fields)
    data: dict[str, Scalar] = field(default_factory=dict)  # the data set's source and counts
    history: dict[str, list[float]] = field(default_factory=dict)  # per-epoch metrics
    results: dict[str, Scalar] = field(default_factory=dict)  # test accuracy, best epoch, ...
    versions: dict[str, Scalar] = field(default_factory=dict)  # libraries it was made with
    imported: ImportedFrom | None = None
    word_index: dict[str, Scalar] | None = None  # imported models: where their words came from
    source_model: dict[str, Any] | None = None  # imported models: the file's format and layers
    # The label corrections the model was trained with (models.corrected_training's summary: counts, the
    # data set's identity, both test accuracies), as train --corrections and the Train tab record them.
    corrections: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # keys this version does not know, kept as they are
    format_version: int = METADATA_VERSION

    # -- what the app reads -------------------------------------------------------------
    @property
    def maxlen(self) -> int | None:
        return self.config.get("maxlen")  # type: ignore[return-value]  # checked to be an int

    @property
    def vocab_size(self) -> int | None:
        return self.config.get("vocab_size")  # type: ignore[return-value]

    @property
    def source(self) -> str | None:
        value = self.data.get("source")
        return value if isinstance(value, str) else None

    def _count(self, key: str) -> int | None:
        value = self.data.get(key)  # checked on reading to be a whole number from 0
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    @property
    def train_reviews(self) -> int | None:
        """How many reviews it was trained on (the held-out validation reviews included)."""
        return self._count("train")

    @property
    def train_positive(self) -> int | None:
        return self._count("train_positive")

    @property
    def test_reviews(self) -> int | None:
        """How many test reviews its test accuracy was measured on."""
        return self._count("test")

    @property
    def test_accuracy(self) -> float | None:
        return self.results.get("test_accuracy")  # type: ignore[return-value]

    @property
    def best_epoch(self) -> int | None:
        return self.results.get("best_epoch")  # type: ignore[return-value]

    @property
    def validated_on(self) -> str | None:
        """Which reviews chose the best epoch: "split" (held out from training) or "test" (the tutorials'
        way). Models saved before the results said so have it in their config."""
        value = self.results.get("validated_on") or self.config.get("validation")
        return value if value in ("split", "test") else None

    @property
    def validation_accuracy(self) -> float | None:
        """The best epoch's validation accuracy; for a model validated on the test split, its test accuracy."""
        value = self.results.get("validation_accuracy")
        if value is None and self.validated_on == "test":
            value = self.test_accuracy  # one figure: it chose the epoch and was reported
        return value if isinstance(value, float) else None

    @property
    def imported_keras(self) -> bool:
        """A model trained with plain Keras and imported (not a .ssmodel from another store)."""
        return self.kind == IMPORTED and self.imported is not None

    def with_name(self, name: str) -> ModelMetadata:
        return replace(self, name=clean_name(name))

    # -- JSON -----------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        """The JSON object, its sections copies (a caller that changes the object leaves the record as it is)."""
        out: dict[str, Any] = {**self.extra, "kind": self.kind, "family": self.family, "preset": self.preset,
                               "config": dict(self.config),
                               "data": dict(self.data),
                               "history": {key: list(values) for key, values in self.history.items()},
                               "results": dict(self.results),
                               "versions": dict(self.versions)}
        if self.imported is not None:
            out["imported"] = self.imported.to_json()
        if self.word_index is not None:
            out["word_index"] = dict(self.word_index)
        if self.source_model is not None:
            out["source_model"] = dict(self.source_model)
        if self.corrections is not None:
            out["corrections"] = dict(self.corrections)
        out.update(name=self.name, created=self.created, format_version=self.format_version)
        return out

    @classmethod
    def from_json(cls, data: object, *, fallback_name: str = "model") -> ModelMetadata:
        """The checked record, or MetadataError with the first problem found."""
        if not isinstance(data, dict):
            raise MetadataError(f"it is not a JSON object (found {type(data).__name__})")
        version = data.get("format_version", 1)
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise MetadataError(f"it has no valid format version (got {_shown(version)})")
        if version > METADATA_VERSION:
            raise MetadataError("it was written by a newer version of Sentiment Studio; update the app to use it")
        raw_name = data.get("name")
        name = _text(raw_name, "name", MAX_NAME_CHARS) if raw_name is not None else ""
        kind = data.get("kind", TRAINED)
        if kind not in (TRAINED, IMPORTED):
            raise MetadataError(f"kind must be {TRAINED!r} or {IMPORTED!r} (got {_shown(kind)})")
        family = data.get("family", LSTM)
        if family not in FAMILY_NAMES:
            raise MetadataError(f"its model family {_shown(family)} is not one this version knows "
                                f"({', '.join(FAMILY_NAMES)}); it may be from a newer version of Sentiment Studio")
        preset = data.get("preset")
        if preset is not None:
            preset = _text(preset, "preset", MAX_NAME_CHARS)
        config = _section(data, "config")
        results = _section(data, "results")
        imported = None
        if data.get("imported") is not None:
            raw = data["imported"]
            if not isinstance(raw, dict):
                raise MetadataError(f"imported must be a JSON object, not {type(raw).__name__}")
            imported = ImportedFrom(_text(raw.get("from", ""), "imported.from"),
                                    checked_date(raw.get("at"), "imported.at"))
        # Anything but a JSON object under "corrections" is kept as it is, as every unknown key, never read.
        corrections = data.get("corrections") if isinstance(data.get("corrections"), dict) else None
        known = {"format_version", "name", "created", "kind", "family", "preset", "config", "data", "history",
                 "results", "versions", "imported", "word_index", "source_model",
                 *(("corrections",) if corrections is not None else ())}
        return cls(
            name=name or clean_name(fallback_name) or "model",
            created=checked_date(data.get("created"), "created"),
            kind=kind,
            family=family,
            preset=preset,
            config=config,
            data=_section(data, "data"),
            history=_history(data),
            results=results,
            versions=_section(data, "versions", scalars_only=True),
            imported=imported,
            word_index=_section(data, "word_index") if data.get("word_index") is not None else None,
            source_model=(_section(data, "source_model")
                          if data.get("source_model") is not None else None),
            corrections=corrections,
            extra={k: v for k, v in data.items() if k not in known},
            format_version=METADATA_VERSION,
        )
