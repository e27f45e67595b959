"""Turns a whole data split into the padded id matrix a model takes."""

from __future__ import annotations

import numpy as np

from models.datasets import Split
from models.vocabulary import INDEX_FROM, OOV_ID, Vocabulary, pad_sequences


def encode_split(
    split: Split, vocabulary: Vocabulary, maxlen: int, keras_word_index: dict[str, int] | None = None
) -> np.ndarray:
    """Padded ids, shape (n, maxlen). Keras id sequences are re-mapped through their word index
    into ``vocabulary``, so a model trained on any source can be scored on any other."""
    if split.texts is not None:
        return vocabulary.encode_batch(split.texts, maxlen)
    if split.sequences is None or keras_word_index is None:
        raise ValueError("a split of id sequences needs the Keras word index it was encoded with")
    table = keras_id_table(keras_word_index, vocabulary)
    padded = pad_sequences(split.sequences, maxlen)
    return table[np.minimum(padded, len(table) - 1)]


def keras_id_table(keras_word_index: dict[str, int], vocabulary: Vocabulary) -> np.ndarray:
    """Lookup array: Keras IMDB id -> id in ``vocabulary`` (0, 1, 2 map to themselves)."""
    size = max(keras_word_index.values(), default=0) + INDEX_FROM + 2
    table = np.full(size, OOV_ID, dtype=np.int32)
    table[:3] = [0, 1, 2]
    for word, rank in keras_word_index.items():
        table[rank + INDEX_FROM] = vocabulary.id_of(word)
    return table
