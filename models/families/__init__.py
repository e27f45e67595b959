"""Model families: one object per kind of network, which every part of the app asks instead of
checking types.

A family knows its config fields (models.config.FAMILY_FIELDS, with their limits there), how a
training run turns reviews into its inputs, its Keras network, its NumPy scoring engine, how a
chunk of reviews is encoded for scoring, and how a score is explained. The stored model records
its family in its metadata (``family``; models saved before families existed are ``lstm``).

* ``lstm`` (models.families.lstm): the tutorials' Embedding -> LSTM -> Dense over the last
  ``maxlen`` word ids of a review.
* ``ngram`` (models.families.ngram): one sigmoid unit over the review's n-grams (unigrams and
  bigrams by default), reading the whole review.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from models.config import COMMON_FIELDS, FAMILY_FIELDS, LSTM, NGRAM
from models.errors import ConfigError

if TYPE_CHECKING:
    from models.config import TrainingConfig
    from models.datasets import Dataset, Split
    from models.encoding_worker import EncodedChunk


@dataclass
class PreparedData:
    """A run's inputs as its family encodes them (the whole training split; the caller holds out validation)."""

    vocabulary: Any  # models.vocabulary.Vocabulary, or the n-gram family's NgramFeatures
    x_train: Any
    y_train: Any
    x_test: Any
    y_test: Any
    oov_rate_train: float
    extra: dict[str, Any] = field(default_factory=dict)  # what the family keeps between steps (NBSVM's ratios)


class ModelFamily:
    """What the app needs from a kind of model. Subclasses fill every method."""

    name: str = ""
    title: str = ""
    reads: str = ""  # what the model reads of a review, in a sentence for the window and the CLI

    def config_fields(self) -> tuple[str, ...]:
        return COMMON_FIELDS + FAMILY_FIELDS[self.name]

    def tokens_read(self, config: TrainingConfig) -> int | None:
        """How many tokens of a review (from its end) a model trained with ``config`` reads; None: all of them."""
        return None

    # -- training --------------------------------------------------------------------------
    def prepare(self, config: TrainingConfig, data: Dataset, should_stop) -> PreparedData:
        raise NotImplementedError

    def fit_inputs(self, config: TrainingConfig, prepared: PreparedData, x_train, y_train, x_val, x_test):
        """The training, validation and test inputs as the network takes them, once validation is held out."""
        return x_train, x_val, x_test

    def network(self, config: TrainingConfig, prepared: PreparedData, for_training: bool = False) -> Any:
        raise NotImplementedError

    def input_pipeline(self, x, y, batch_size: int, shuffle: bool = False, seed: int = 0):
        raise NotImplementedError

    def stored_model(self, trained: Any, config: TrainingConfig, prepared: PreparedData) -> Any:
        raise NotImplementedError

    # -- the store -------------------------------------------------------------------------
    def load_vocabulary(self, path) -> Any:
        raise NotImplementedError

    def vocabulary_from_json(self, data: object) -> Any:
        """The vocabulary file's content (an import's), checked; ModelStoreError when it is not one."""
        raise NotImplementedError

    def check_loaded(self, model: Any, vocabulary: Any, name: str) -> int | None:
        """Raise ModelStoreError when the Keras model and the vocabulary do not fit; return maxlen (or None)."""
        raise NotImplementedError

    # -- scoring ---------------------------------------------------------------------------
    def numpy_engine(self, info: Any) -> tuple[Any, Any, int | None]:
        """(engine, vocabulary, maxlen) read without TensorFlow; UnsupportedModel when it cannot."""
        raise NotImplementedError

    def is_numpy_engine(self, model: Any) -> bool:
        raise NotImplementedError

    def encode_chunk(self, vocabulary: Any, texts: list[str], maxlen: int | None, keep_reviews: bool
                     ) -> EncodedChunk:
        raise NotImplementedError

    def uses_worker(self) -> bool:
        """Whether a long stream is tokenized in a second process (models.encoding_worker)."""
        return False

    def encodes_beside_worker(self) -> bool:
        """Whether this process encodes every other chunk of a stream itself, beside the worker: for a family
        whose scoring is cheap beside its encoding, so that this process would otherwise wait for the worker."""
        return False

    def worker_encoder(self, vocabulary: Any, maxlen: int | None):
        """What that process calls on a list of texts (picklable), or None for the LSTM encoding."""
        return None

    def probabilities(self, model: Any, x, batch_size: int = 512):
        raise NotImplementedError

    def start(self, model: Any, x, batch_size: int = 512):
        probs = self.probabilities(model, x, batch_size)
        return lambda: probs

    def evaluation_inputs(self, split: Split, vocabulary: Any, maxlen: int | None,
                          keras_word_index: dict[str, int] | None):
        """(model inputs, each review's length in tokens, whether it was cut) for a split being evaluated."""
        raise NotImplementedError

    def explain(self, predictor: Any, texts: list[str], method: str) -> list[Any]:
        """Each review's first explanation (models.explain.Explanation) by ``method`` where the family
        has a choice (the LSTMs: Shapley values or occlusion); a family with an exact explainer of its
        own gives that whatever is asked."""
        raise NotImplementedError

    def explain_stages(self, predictor: Any, text: str, method: str, should_stop: Any = None) -> Iterator[Any]:
        """The first explanation, then refined ones (models.explain.explain_stages); one, for an exact one."""
        yield self.explain(predictor, [text], method)[0]

    def describe(self, vocabulary: Any, maxlen: int | None) -> str:
        """One line on what a model of this family reads."""
        return self.reads


def family_named(name: str | None) -> ModelFamily:
    """The family called ``name`` (None: ``lstm``, what every model before families was)."""
    from models.families.lstm import LSTM_FAMILY
    from models.families.ngram import NGRAM_FAMILY

    families = {LSTM: LSTM_FAMILY, NGRAM: NGRAM_FAMILY}
    try:
        return families[name or LSTM]
    except KeyError:
        raise ConfigError(f"Unknown model family {name!r}; this version knows {', '.join(families)}.") from None


def family_of_info(info: Any) -> ModelFamily:
    """The family of a stored model (its metadata; ``lstm`` when it has none)."""
    meta = getattr(info, "metadata", None)
    return family_named(meta.family if meta is not None else None)
