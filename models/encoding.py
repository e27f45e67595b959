"""Turns a whole data split into the padded id matrix a model takes."""

from __future__ import annotations

import numpy as np

from models.datasets import Split
from models.vocabulary import INDEX_FROM, OOV_ID, Vocabulary, pad_sequences, tokenize


def encode_split(
    split: Split, vocabulary: Vocabulary, maxlen: int, keras_word_index: dict[str, int] | None = None
) -> np.ndarray:
    """Padded ids, shape (n, maxlen). Keras id sequences are re-mapped through their word index
    into ``vocabulary``, so a model trained on any source can be scored on any other."""
    return encode_split_with_lengths(split, vocabulary, maxlen, keras_word_index)[0]


def encode_split_with_lengths(
    split: Split, vocabulary: Vocabulary, maxlen: int, keras_word_index: dict[str, int] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Padded ids as :func:`encode_split`, and each review's length in tokens (before truncation),
    from the same one tokenizing pass."""
    if split.texts is not None:
        sequences = [vocabulary.encode_tokens(tokenize(t)) for t in split.texts]
        padded = pad_sequences(sequences, maxlen)
    else:
        if split.sequences is None or keras_word_index is None:
            raise ValueError("a split of id sequences needs the Keras word index it was encoded with")
        sequences = split.sequences
        table = keras_id_table(keras_word_index, vocabulary)
        raw = pad_sequences(sequences, maxlen)
        padded = table[np.minimum(raw, len(table) - 1)]
    # Every sequence starts with the start mark, which is not a token of the review.
    lengths = np.fromiter((len(s) - 1 for s in sequences), dtype=np.int32, count=len(sequences))
    return padded, lengths


def keras_id_table(keras_word_index: dict[str, int], vocabulary: Vocabulary) -> np.ndarray:
    """Lookup array: Keras IMDB id -> id in ``vocabulary`` (0, 1, 2 map to themselves)."""
    size = max(keras_word_index.values(), default=0) + INDEX_FROM + 2
    table = np.full(size, OOV_ID, dtype=np.int32)
    table[:3] = [0, 1, 2]
    for word, rank in keras_word_index.items():
        table[rank + INDEX_FROM] = vocabulary.id_of(word)
    return table
