"""Hyperparameters of a training run and the named presets from the reference tutorials."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from models.errors import ConfigError

VALIDATE_ON_TEST = "test"
VALIDATE_ON_SPLIT = "split"

# Model families (models.families): the tutorials' LSTM over word ids, and a linear model over n-grams.
LSTM, NGRAM = "lstm", "ngram"
FAMILY_NAMES = (LSTM, NGRAM)
MULTI_HOT, TF_IDF = "multi_hot", "tf_idf"
NO_SCALING, NBSVM = "none", "nbsvm"

# The specified model's sequence length: it reads the last 80 word ids of a review (the Keras IMDB
# tutorial's). Also the length given to an imported model without a fixed one, and the unit the
# Evaluate tab's "By length" buckets use for models that read whole reviews.
SPECIFIED_MAXLEN = 80
# A review is predicted positive when P(positive) >= this (the app, the CLI and the exports alike).
DEFAULT_THRESHOLD = 0.5

# The fields every run reads, then each family's own (the form and the CLI offer only these; the
# metadata records only these). models.families asks here rather than keeping a copy.
COMMON_FIELDS = ("dropout", "batch_size", "epochs", "validation", "validation_split", "learning_rate", "seed")
FAMILY_FIELDS = {
    LSTM: ("vocab_size", "maxlen", "embedding_dim", "lstm_units", "recurrent_dropout", "jit_compile", "fused_lstm"),
    NGRAM: ("ngrams", "max_features", "weighting", "scaling", "patience"),
}


@dataclass(frozen=True)
class TrainingConfig:
    """Everything that defines a training run. The defaults are the specified model."""

    vocab_size: int = 2000  # Keras' num_words: ids >= this become the out-of-vocabulary id
    maxlen: int = SPECIFIED_MAXLEN  # tokens per review after padding/truncating at the front
    embedding_dim: int = 128
    lstm_units: int = 128
    dropout: float = 0.2
    recurrent_dropout: float = 0.2
    batch_size: int = 32
    epochs: int = 15
    # Which reviews choose the best epoch. "split" (the default): a fraction of the training
    # reviews held out, so the test split is touched once, at the end, for an honest test
    # accuracy. "test": the tutorials' way, validating on the test split itself; its reported
    # test accuracy is then the figure the epoch was chosen by, hence optimistic.
    validation: str = VALIDATE_ON_SPLIT
    validation_split: float = 0.2  # used when validation == "split"
    learning_rate: float = 0.001  # Adam's default
    seed: int = 1337
    # Compile the train and test steps with XLA: same maths, about 1.5-2x faster per step on CPU
    # (tests/benchmarks/training_speed.py). Not a hyperparameter; kept here so runs record it.
    jit_compile: bool = True
    # Train with models.fast_lstm (the same maths and weights as keras.layers.LSTM in fewer, larger
    # products, its backward pass written out); the stored model is a plain keras.layers.LSTM
    # either way. Not a hyperparameter either.
    fused_lstm: bool = True
    # Which kind of network (models.families): "lstm" (the fields above) or "ngram" (the fields below).
    family: str = LSTM
    # ngram: unigrams up to n-grams of this many words, the max_features most frequent in the training
    # split as features, each a 0/1 (multi_hot) or its count times its inverse document frequency (tf_idf),
    # optionally scaled by NBSVM's log-count ratio (Wang and Manning 2012).
    ngrams: int = 2
    max_features: int = 20_000
    weighting: str = MULTI_HOT
    scaling: str = NO_SCALING
    # Stop when validation accuracy has not improved for this many epochs (None: run every epoch).
    patience: int | None = None

    def validated(self) -> TrainingConfig:
        """Return self, or raise ConfigError naming the first bad value and why."""
        problems = validation_problems(self)
        if problems:
            raise ConfigError(problems[0])
        return self

    @property
    def fields_used(self) -> tuple[str, ...]:
        """The fields this config's family reads (the others keep their defaults and are not recorded)."""
        return COMMON_FIELDS + FAMILY_FIELDS.get(self.family, ())

    def to_dict(self) -> dict[str, Any]:
        """The family and its fields: an LSTM run records what it always did, plus ``family``."""
        everything = asdict(self)
        return {"family": self.family, **{name: everything[name] for name in self.fields_used}}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainingConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def with_changes(self, **changes: Any) -> TrainingConfig:
        return replace(self, **changes)


# (field, minimum, maximum, why) - maxima guard against typos that would exhaust memory.
_LIMITS: list[tuple[str, float, float, str]] = [
    ("vocab_size", 4, 1_000_000, "the vocabulary needs room for the 3 reserved ids plus at least one word"),
    ("maxlen", 1, 10_000, "a review must keep at least one token"),
    ("embedding_dim", 1, 4096, "the embedding needs at least one dimension"),
    ("lstm_units", 1, 4096, "the LSTM needs at least one unit"),
    ("batch_size", 1, 65_536, "a batch holds at least one review"),
    ("epochs", 1, 1000, "training needs at least one epoch"),
    ("ngrams", 1, 3, "n-grams of 1 to 3 words"),
    ("max_features", 1, 1_000_000, "the model needs at least one n-gram feature"),
    ("patience", 1, 1000, "early stopping waits at least one epoch"),
]


# NumPy's seeds (and so Keras') are unsigned 32-bit integers.
SEED_RANGE = (0, 2**32 - 1)

# The fractional fields: (field, minimum, maximum, minimum accepted, maximum accepted, what the range says).
_FLOAT_LIMITS: list[tuple[str, float, float, bool, bool, str]] = [
    ("dropout", 0.0, 1.0, True, False, "between 0 (none) and below 1"),
    ("recurrent_dropout", 0.0, 1.0, True, False, "between 0 (none) and below 1"),
    ("validation_split", 0.0, 1.0, False, False, "between 0 and 1 (exclusive)"),
    ("learning_rate", 0.0, 10.0, False, True, "above 0 and at most 10"),
]
# Whole-number fields that may also be None ("off"): patience None runs every epoch.
_MAY_BE_OFF = ("patience",)


@dataclass(frozen=True)
class FieldLimits:
    """The values training accepts for a numeric field (the form's spin boxes take their ranges from here)."""

    low: float
    high: float
    whole: bool  # a whole number (else a fraction)
    low_included: bool = True
    high_included: bool = True
    may_be_off: bool = False  # None is accepted too (no value: the feature is off)

    def accepts(self, value: float) -> bool:
        above = value >= self.low if self.low_included else value > self.low
        below = value <= self.high if self.high_included else value < self.high
        return above and below


def field_limits(name: str) -> FieldLimits | None:
    """The range training accepts for the numeric field ``name`` (None: not a numeric field with a range)."""
    if name == "seed":
        return FieldLimits(SEED_RANGE[0], SEED_RANGE[1], whole=True)
    for field_name, low, high, _why in _LIMITS:
        if field_name == name:
            return FieldLimits(low, high, whole=True, may_be_off=name in _MAY_BE_OFF)
    for field_name, low, high, low_in, high_in, _words in _FLOAT_LIMITS:
        if field_name == name:
            return FieldLimits(low, high, whole=False, low_included=low_in, high_included=high_in)
    return None


def limit_problem(name: str, value: object) -> str | None:
    """Why ``value`` is outside the range training accepts for the whole-number field ``name``,
    or None when it is inside (or ``name`` has no range); also used to check stored models."""
    for field_name, low, high, why in _LIMITS:
        if field_name != name:
            continue
        if isinstance(value, bool) or not isinstance(value, int):
            return f"{name} must be a whole number, got {value!r}."
        if value < low:
            return f"{name} must be at least {low:g} ({why}); got {value}."
        if value > high:
            return f"{name} must be at most {high:g}; got {value}."
    return None


def validation_problems(config: TrainingConfig) -> list[str]:
    """Readable reasons why ``config`` cannot be trained, empty when it can."""
    problems = [p for name, *_ in _LIMITS
                if (name != "patience" or config.patience is not None)
                and (p := limit_problem(name, getattr(config, name)))]
    if config.family not in FAMILY_NAMES:
        problems.append(f"family must be one of {', '.join(FAMILY_NAMES)}; got {config.family!r}.")
    if config.weighting not in (MULTI_HOT, TF_IDF):
        problems.append(f"weighting must be {MULTI_HOT!r} or {TF_IDF!r}; got {config.weighting!r}.")
    if config.scaling not in (NO_SCALING, NBSVM):
        problems.append(f"scaling must be {NO_SCALING!r} or {NBSVM!r}; got {config.scaling!r}.")
    seed = config.seed
    if isinstance(seed, bool) or not isinstance(seed, int) or not SEED_RANGE[0] <= seed <= SEED_RANGE[1]:
        problems.append(f"seed must be a whole number from {SEED_RANGE[0]} to {SEED_RANGE[1]:,}; got {seed!r}.")
    for name, *_, words in _FLOAT_LIMITS:
        value = getattr(config, name)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not field_limits(name).accepts(value):
            problems.append(f"{name} must be {words}; got {value!r}.")
    if config.validation not in (VALIDATE_ON_TEST, VALIDATE_ON_SPLIT):
        problems.append(f"validation must be 'test' or 'split'; got {config.validation!r}.")
    for name in ("jit_compile", "fused_lstm"):
        if not isinstance(getattr(config, name), bool):
            problems.append(f"{name} must be true or false; got {getattr(config, name)!r}.")
    return problems


@dataclass(frozen=True)
class Preset:
    name: str
    title: str
    config: TrainingConfig
    reference: str  # what the source tutorial reported, for the results table
    # How the tutorial chose its figure: "test" for those that validated on the test split.
    # ``--validation test`` reproduces them; the preset itself validates on held-out training reviews.
    tutorial_validation: str = VALIDATE_ON_TEST


DEFAULT_PRESET = "imdb-lstm"

PRESETS: dict[str, Preset] = {
    p.name: p
    for p in [
        Preset(
            "imdb-lstm",
            "IMDB LSTM (specified model)",
            TrainingConfig(),
            "val_acc 0.835 at epochs 1-2 (best), final test accuracy 0.813, loss 1.145",
        ),
        Preset(
            "keras-small-10k",
            "10k words, 200 tokens, LSTM 64, 5 epochs",
            TrainingConfig(
                vocab_size=10_000, maxlen=200, embedding_dim=64, lstm_units=64, dropout=0.0,
                recurrent_dropout=0.0, batch_size=64, epochs=5, validation=VALIDATE_ON_SPLIT,
                validation_split=0.2,
            ),
            '"strong accuracy" (no figure given)',
            tutorial_validation=VALIDATE_ON_SPLIT,
        ),
        Preset(
            "lstm100-10k",
            "10k words, 500 tokens, LSTM 100, 10 epochs",
            TrainingConfig(
                vocab_size=10_000, maxlen=500, embedding_dim=32, lstm_units=100, dropout=0.0,
                recurrent_dropout=0.0, batch_size=64, epochs=10,
            ),
            "test accuracy 0.8515",
        ),
        Preset(
            "lstm100-5k-dropout",
            "5k words, 500 tokens, LSTM 100 + dropout, 3 epochs",
            TrainingConfig(
                vocab_size=5000, maxlen=500, embedding_dim=32, lstm_units=100, dropout=0.2,
                recurrent_dropout=0.2, batch_size=64, epochs=3,
            ),
            "test accuracy 0.8663",
        ),
        Preset(
            "ngram",
            "n-grams: words and word pairs, NBSVM-scaled, one sigmoid unit (reads whole reviews)",
            TrainingConfig(
                family=NGRAM, ngrams=2, max_features=20_000, weighting=MULTI_HOT, scaling=NBSVM,
                dropout=0.5, batch_size=128, epochs=15, patience=2, learning_rate=0.001, validation_split=0.1,
                jit_compile=False,
            ),
            "Keras' bag of bigrams (TextVectorization multi_hot, 20,000 features) 0.9046 (issue 25); NBSVM with "
            "bigrams (Wang and Manning 2012) 0.9122",
            tutorial_validation=VALIDATE_ON_SPLIT,
        ),
        Preset(
            "ngram-50k",
            "n-grams as ngram, 50,000 features (about 3x slower per epoch, +0.2 points)",
            TrainingConfig(
                family=NGRAM, ngrams=2, max_features=50_000, weighting=MULTI_HOT, scaling=NBSVM,
                dropout=0.5, batch_size=128, epochs=15, patience=2, learning_rate=0.001, validation_split=0.1,
                jit_compile=False,
            ),
            "NBSVM with bigrams (Wang and Manning 2012) 0.9122",
            tutorial_validation=VALIDATE_ON_SPLIT,
        ),
    ]
}


# Names a preset had before, and why it changed: asked for, they are refused with the new name.
RENAMED_PRESETS = {
    "lstm100-5k": ("lstm100-10k", "its tutorial uses a 10,000-word vocabulary, not 5,000"),
}


def preset(name: str) -> Preset:
    try:
        return PRESETS[name]
    except KeyError:
        if name in RENAMED_PRESETS:
            new, why = RENAMED_PRESETS[name]
            raise ConfigError(f"The preset {name!r} is now {new!r} ({why}). Use --preset {new}.") from None
        raise ConfigError(
            f"Unknown preset {name!r}. Choose one of: {', '.join(PRESETS)}."
        ) from None


# How a run is carried out, not what it trains: a change here leaves a run the preset's.
_HOW_IT_RUNS = {"jit_compile": True, "fused_lstm": True}


def preset_label(name: str, config: TrainingConfig) -> str:
    """How a run of ``config`` started from preset ``name`` is recorded (the window and the CLI alike):
    the preset's name while it trains exactly what the preset does, else "custom (from NAME)"."""
    chosen = preset(name).config.with_changes(**_HOW_IT_RUNS)
    return name if config.with_changes(**_HOW_IT_RUNS) == chosen else f"custom (from {name})"
