"""Where a review becomes ids: tokenizing, the frequency-ranked vocabulary, and padding.

Id conventions are Keras' IMDB ones, so a model trained here and one trained on
``keras.datasets.imdb.load_data(num_words=N)`` see the same kind of input:

* 0 = padding, 1 = start of review, 2 = out of vocabulary, 3 = unused;
* a word of frequency rank r (1 = most frequent in the training split) has id r + 3
  (``index_from=3``), so the most frequent word is id 4;
* ids >= ``num_words`` become 2, as ``num_words`` does in ``load_data``.

Padding and truncation follow ``keras.utils.pad_sequences`` defaults: both at the
front, so the *last* ``maxlen`` ids (the end of the review) are kept.
"""

from __future__ import annotations

import html
import itertools
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from models.atomic_write import write_json_atomic
from models.bounded_io import MAX_JSON_BYTES, parse_json, read_own_file
from models.config import limit_problem
from models.errors import ModelStoreError

PAD_ID = 0
START_ID = 1
OOV_ID = 2
INDEX_FROM = 3
TOKENIZER_VERSION = "words-v1"
VOCAB_FORMAT = "sentiment-studio-vocabulary"

# IMDB reviews use <br /> for paragraphs. Both patterns read "spaces, an optional slash and its spaces" as
# `\s*(?:/\s*)?`, not `\s*/?\s*`: the same strings, but the latter can split a run of n spaces between its
# two `\s*` in n ways and backtracked quadratically ("<" then 100,000 spaces took 86 s); this one is linear.
_LINE_BREAK = re.compile(r"<\s*br\s*(?:/\s*)?>", re.IGNORECASE)
_HTML_TAG = re.compile(r"<\s*(?:/\s*)?[a-zA-Z][^<>]{0,200}>")
# A word is a run of letters/digits in any script, with inner apostrophes kept ("don't").
_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)*")
# The same for ASCII text (nine reviews in ten), where [^\W_] is [a-z0-9] once lower-cased: 30% faster.
_ASCII_WORD = re.compile(r"[a-z0-9]+(?:'[a-z0-9]+)*")


# tokenize_tail cuts a window of about this many characters per wanted token off the end, and doubles
# it until enough words are in it: 7 characters took 22,000 of the 25,000 test reviews on the first try.
_TAIL_CHARS_PER_TOKEN = 7


def _clean(text: str) -> str:
    """The review without HTML line breaks, tags and entities, backticks as apostrophes."""
    text = _LINE_BREAK.sub(" ", text)
    text = _HTML_TAG.sub(" ", text)
    return _unescape(text).replace("`", "'")


# html.unescape's own pattern for a character reference (html._charref, Python 3.10-3.13).
_CHARREF = re.compile(r"&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?)")


def _unescape(text: str) -> str:
    """``html.unescape``, also where it raises: a decimal reference of more than 4,300 digits (int()'s limit since
    Python 3.11) made a review (and with it a whole file) fail. Such a number is read as html.unescape reads any
    other: past U+10FFFF it is U+FFFD. Each reference alone is what html.unescape makes of it in place (a match of
    the pattern is a whole match on its own), so the result is html.unescape's without the limit."""
    try:
        return html.unescape(text)
    except ValueError:
        return _CHARREF.sub(_unescape_reference, text)


def _unescape_reference(match: re.Match) -> str:
    reference = match.group(0)
    if reference[1] == "#" and reference[2:3].isdigit():
        digits = reference[2:].rstrip(";").lstrip("0")
        if len(digits) > 7:  # at least 10,000,000 > U+10FFFF
            return "\ufffd"
        reference = "&#" + (digits or "0") + (";" if reference.endswith(";") else "")
    return html.unescape(reference)


def _words(text: str) -> list[str]:
    return (_ASCII_WORD if text.isascii() else _WORD).findall(_prepared(text))


# -- the same words as numbers, without a string per word ----------------------------------------------
# For scoring long files (the n-gram family's encode_chunk): each word of tokenize(text) as a 63-bit key, the
# polynomial hash of its characters' code points, computed for a whole chunk of reviews in a few NumPy passes
# over its characters instead of a string per word (findall's). The rule is _WORD's: a word is a run of
# characters for which str.isalnum() holds (the regular expression's [^\W_]) and of apostrophes with such a
# character on both sides, in the text as _words prepares it. tests/test_vocabulary.py checks the keys against
# tokenize's words on hostile and real text and the character table against the regular expression.
_KEY_BASE = np.uint64(1_099_511_628_211)  # odd (FNV's 64-bit prime), so every power of it is invertible
_KEY_INVERSE = np.uint64(pow(int(_KEY_BASE), -1, 1 << 64))
_KEY_MASK = np.uint64((1 << 63) - 1)  # keys are non-negative int64 (KeyTable's keys)
_APOSTROPHE, _BMP = ord("'"), 0x10000
_powers = np.zeros(0, dtype=np.uint64)  # B^(i+1), grown as needed
_inverse_powers = np.zeros(0, dtype=np.uint64)  # B^-(i+1)
_word_char: np.ndarray | None = None  # str.isalnum of each character below U+10000, made at first use


def _word_chars() -> np.ndarray:
    global _word_char
    if _word_char is None:
        _word_char = np.fromiter((chr(c).isalnum() for c in range(_BMP)), dtype=bool, count=_BMP)
    return _word_char


_CACHED_POWERS = 1 << 21  # kept for chunks up to 2 M characters (32 MB); a longer one's are made and dropped


def _powers_for(n: int) -> tuple[np.ndarray, np.ndarray]:
    global _powers, _inverse_powers
    if len(_powers) >= n:
        return _powers, _inverse_powers
    size = max(n, min(2 * len(_powers), _CACHED_POWERS), 1 << 16)
    powers = np.cumprod(np.full(size, _KEY_BASE, dtype=np.uint64))
    inverse = np.cumprod(np.full(size, _KEY_INVERSE, dtype=np.uint64))
    if size <= _CACHED_POWERS:
        _powers, _inverse_powers = powers, inverse
    return powers, inverse


def _run_keys(points: np.ndarray, inside: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The key of every maximal run of ``inside`` in ``points`` (code points), and where each run starts."""
    edges = np.diff(inside.view(np.int8), prepend=np.int8(0), append=np.int8(0))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    if not len(starts):
        return np.zeros(0, dtype=np.int64), starts
    # Prefix sums of c_i * B^(i+1) (wrapping mod 2^64); a run's part times B^-(start+1) is the same wherever
    # the run is: sum_j c_(start+j) * B^j.
    powers, inverse = _powers_for(len(points))
    weighted = points.astype(np.uint64)  # a copy, multiplied in place
    weighted *= powers[:len(points)]
    prefix = np.zeros(len(points) + 1, dtype=np.uint64)
    np.cumsum(weighted, out=prefix[1:])
    del weighted
    keys = ((prefix[ends] - prefix[starts]) * inverse[starts]) & _KEY_MASK
    return keys.astype(np.int64), starts


def word_keys(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """The keys of ``tokenize(text)``'s words for every text, in order, and the number of words of each
    (``keys_of_words(tokenize(text))`` for each, without a string per word)."""
    prepared = [_prepared(_clean(t)) for t in texts]
    joined = "\n".join(prepared)  # a character outside every word between texts: no word spans two
    if joined.isascii():
        points = np.frombuffer(joined.encode("ascii"), dtype=np.uint8)
        word = _word_chars()[points]
    else:
        points = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32)
        word = _word_chars()[np.minimum(points, _BMP - 1)]
        astral = np.flatnonzero(points >= _BMP)  # emoji and rarer scripts: asked one by one
        word[astral] = [chr(c).isalnum() for c in points[astral].tolist()]
    inside = word.copy()
    quotes = np.flatnonzero(points[1:-1] == _APOSTROPHE) + 1
    inside[quotes] = word[quotes - 1] & word[quotes + 1]
    keys, starts = _run_keys(points, inside)
    text_ends = np.cumsum(np.fromiter(map(len, prepared), dtype=np.int64, count=len(prepared)) + 1)
    lengths = np.bincount(np.searchsorted(text_ends, starts, side="right"), minlength=len(texts))
    return keys, lengths.astype(np.int64)


def _prepared(text: str) -> str:
    """What _words splits: lower-cased (case-folded with typographic apostrophes as ' where not ASCII)."""
    if text.isascii():
        return text.lower()
    return text.replace("\u2019", "'").replace("\u2018", "'").casefold()


def keys_of_words(words: Sequence[str]) -> np.ndarray:
    """The key of each word (a token of ``tokenize``: no white space in it), as ``word_keys`` makes them."""
    if not words:
        return np.zeros(0, dtype=np.int64)
    points = np.frombuffer(" ".join(words).encode("utf-32-le"), dtype=np.uint32)
    keys, _ = _run_keys(points, points != 32)
    return keys


def tokenize(text: str) -> list[str]:
    """Split a review into lower-case words, ignoring HTML line breaks, tags and punctuation.
    Typographic apostrophes and backticks count as apostrophes."""
    return _words(_clean(text))


def tokenize_tail(text: str, count: int) -> tuple[list[str], bool]:
    """``tokenize(text)[-count:]`` and whether the review has more than ``count`` tokens, without
    splitting the whole of a long review: the words are read from a window at the end of the text.

    Exact: a word's end depends only on the characters after it, so every word found in the
    window except its first (which may be the tail of a word cut in two) is a word of the whole
    text; when the window holds more than ``count`` words, the last ``count`` are the answer."""
    text = _clean(text)
    window = _TAIL_CHARS_PER_TOKEN * (count + 1)
    while window < len(text):
        words = _words(text[-window:])
        if len(words) > count:
            return words[len(words) - count:], True
        window *= 2
    words = _words(text)
    return words[max(0, len(words) - count):], len(words) > count


def pad_sequences(sequences: Sequence[Sequence[int]], maxlen: int) -> np.ndarray:
    """``keras.utils.pad_sequences(seqs, maxlen)`` with its defaults, without importing Keras."""
    out = np.zeros((len(sequences), maxlen), dtype=np.int32)
    for row, seq in enumerate(sequences):
        tail = seq[-maxlen:] if len(seq) > maxlen else seq
        if len(tail):
            out[row, maxlen - len(tail):] = tail
    return out


@dataclass(frozen=True)
class EncodedReview:
    """One review as the model sees it."""

    ids: np.ndarray  # shape (maxlen,), int32
    tokens: list[str] | None  # every token of the review, before truncation (None: not split whole)
    seen_tokens: list[str]  # the tokens behind the non-padding ids (the start mark excluded)
    seen_ids: list[int]
    known_tokens: int  # seen tokens that are in the vocabulary
    oov_tokens: int  # seen tokens that became the out-of-vocabulary id
    truncated: bool  # the front of the review was cut to fit maxlen


class Vocabulary:
    """Word -> id map with Keras' IMDB conventions, capped at ``num_words``."""

    def __init__(self, word_ids: dict[str, int], num_words: int):
        self.num_words = int(num_words)
        # Only ids below num_words can ever be emitted; drop the rest to keep files small.
        self.word_ids = {w: i for w, i in word_ids.items() if INDEX_FROM < i < self.num_words}

    def __len__(self) -> int:
        return len(self.word_ids)

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Vocabulary)
            and self.num_words == other.num_words
            and self.word_ids == other.word_ids
        )

    @classmethod
    def build(cls, tokenized_texts: Iterable[Sequence[str]], num_words: int) -> Vocabulary:
        """Rank words by frequency in the training texts (ties: alphabetical, for determinism)."""
        counts: Counter[str] = Counter()
        for tokens in tokenized_texts:
            counts.update(tokens)
        ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        keep = max(0, num_words - INDEX_FROM - 1)
        return cls({w: rank + INDEX_FROM for rank, (w, _) in enumerate(ranked[:keep], start=1)}, num_words)

    @classmethod
    def from_keras_word_index(cls, word_index: dict[str, int], num_words: int) -> Vocabulary:
        """From Keras' ``imdb_word_index.json`` (word -> frequency rank from 1)."""
        return cls({w: int(r) + INDEX_FROM for w, r in word_index.items()}, num_words)

    def to_keras_word_index(self) -> dict[str, int]:
        return {w: i - INDEX_FROM for w, i in self.word_ids.items()}

    def id_of(self, token: str) -> int:
        return self.word_ids.get(token, OOV_ID)

    def words_by_id(self) -> dict[int, str]:
        return {i: w for w, i in self.word_ids.items()}

    def encode_tokens(self, tokens: Sequence[str]) -> list[int]:
        """Start mark then one id per token, unpadded (what ``load_data`` yields per review)."""
        return [START_ID, *map(self.word_ids.get, tokens, itertools.repeat(OOV_ID, len(tokens)))]

    def encode(self, text: str, maxlen: int, whole: bool = True) -> EncodedReview:
        """The review as the model sees it. ``whole=False`` splits only the end of a long review into
        words (models.vocabulary.tokenize_tail): the same ids and counts, but ``tokens`` is None."""
        if whole:
            tokens: list[str] | None = tokenize(text)
            truncated = len(tokens) + 1 > maxlen  # the start mark counts
            # Only the tokens that fit are looked up: the start mark then every token, or the last maxlen.
            n_seen = maxlen if truncated else len(tokens)
            seen_tokens = tokens[len(tokens) - n_seen:] if n_seen else []
        else:
            tokens = None
            seen_tokens, more = tokenize_tail(text, maxlen)
            truncated = more or len(seen_tokens) == maxlen
            n_seen = len(seen_tokens)
        ids = self.encode_tokens(seen_tokens)  # the start mark, then the seen tokens' ids
        seen_ids = ids[1:]
        kept = seen_ids if truncated else ids
        oov = seen_ids.count(OOV_ID)
        return EncodedReview(
            ids=pad_sequences([kept], maxlen)[0],
            tokens=tokens,
            seen_tokens=seen_tokens,
            seen_ids=seen_ids,
            known_tokens=n_seen - oov,
            oov_tokens=oov,
            truncated=truncated,
        )

    def unpadded_ids(self, text: str, maxlen: int) -> list[int]:
        """What padding to ``maxlen`` keeps of ``encode_tokens(tokenize(text))``: the start mark and the
        ids of the last ``maxlen`` tokens (the mark is cut when they fill maxlen)."""
        return self.encode_tokens(tokenize_tail(text, maxlen)[0])

    def encode_batch(self, texts: Iterable[str], maxlen: int) -> np.ndarray:
        return pad_sequences([self.unpadded_ids(t, maxlen) for t in texts], maxlen)

    # -- files -------------------------------------------------------------------------
    def to_json(self) -> dict:
        words: list[str | None] = [None] * max(0, self.num_words - INDEX_FROM - 1)
        for w, i in self.word_ids.items():
            words[i - INDEX_FROM - 1] = w
        return {
            "format": VOCAB_FORMAT,
            "version": 1,
            "tokenizer": TOKENIZER_VERSION,
            "num_words": self.num_words,
            "index_from": INDEX_FROM,
            "words": words,  # words[k] has id k + 4 (frequency rank k + 1)
        }

    @classmethod
    def from_json(cls, data: object) -> Vocabulary:
        """A vocabulary file's content, checked: format, version, tokenizer, a size within the range
        training accepts (models.config), and a word list that fits that size."""
        if not isinstance(data, dict) or data.get("format") != VOCAB_FORMAT:
            raise ModelStoreError("This file is not a Sentiment Studio vocabulary.")
        version = data.get("version", 1)
        if isinstance(version, bool) or not isinstance(version, int):
            raise ModelStoreError(f"The vocabulary file is damaged (version {version!r} is not a number).")
        if version > 1:
            raise ModelStoreError(
                "This vocabulary was written by a newer version of Sentiment Studio; update the app to use it."
            )
        if data.get("tokenizer", TOKENIZER_VERSION) != TOKENIZER_VERSION or data.get("index_from", INDEX_FROM) \
                != INDEX_FROM:
            raise ModelStoreError("The vocabulary was made with another tokenizer or id layout than this app's.")
        num_words, words = data.get("num_words"), data.get("words")
        problem = limit_problem("vocab_size", num_words)
        if problem:
            raise ModelStoreError(f"The vocabulary file is damaged ({problem.replace('vocab_size', 'num_words')})")
        if not isinstance(words, list) or len(words) > num_words - INDEX_FROM - 1:
            raise ModelStoreError(f"The vocabulary file is damaged (its words must be a list of at most "
                                  f"{num_words - INDEX_FROM - 1:,} for {num_words:,} ids).")
        if not all(w is None or isinstance(w, str) for w in words):
            raise ModelStoreError("The vocabulary file is damaged (a word is neither text nor null).")
        return cls({w: k + INDEX_FROM + 1 for k, w in enumerate(words) if w is not None}, num_words)

    def save(self, path: Path) -> None:
        write_json_atomic(path, self.to_json(), indent=None)

    @classmethod
    def load(cls, path: Path) -> Vocabulary:
        """A vocabulary file in a model folder: read bounded, never through a link (models.bounded_io)."""
        try:
            data = parse_json(read_own_file(path, MAX_JSON_BYTES))
        except FileNotFoundError:
            raise ModelStoreError(f"The vocabulary file {path.name} is missing.") from None
        except (OSError, ValueError) as exc:  # a link, not a file, too large, not JSON
            raise ModelStoreError(f"The vocabulary file {path.name} cannot be read ({exc}).") from None
        return cls.from_json(data)
