"""The words-v1 tokenizer (models.vocabulary.tokenize) as TensorFlow ops, for a SavedModel that takes raw text.

Every step is the Python one, in the same order, made exact rather than approximated:

1. ``<br />`` and other tags become a space: the same patterns, where Python's Unicode ``\\s`` (which RE2's
   ASCII ``\\s`` is not) is spelled as the explicit class of the code points Python's ``re`` calls white space,
   and ``br`` under re.IGNORECASE as ``[bB][rR]`` (no other code point matches either letter).
2. ``html.unescape``: its own pattern marks each character reference between two 0xFF bytes (never part of
   UTF-8), the text is split there, and each reference is replaced as ``html._replace_charref`` does: the
   2,231 HTML5 names in a hash table, the longest-prefix rule for the 106 names valid without ';', numeric
   references with cp1252 remaps (``html._invalid_charrefs``), U+FFFD for surrogates and numbers past
   U+10FFFF, nothing for ``html._invalid_codepoints``.
3. Backticks and typographic apostrophes become ``'`` and the text is case-folded, per code point, through a
   table of every code point whose ``chr(c).casefold()`` differs (str.casefold is context-free; 1,533 code
   points, 104 of them to two or three). ICU's lower-casing (``tf.strings.lower(encoding="utf-8")``) is not
   casefold ("ß", final sigma, Cherokee); text that is all ASCII is lower-cased byte by byte instead.
4. Words are ``[^\\W_]+(?:'[^\\W_]+)*``: every character that is not such a letter or an apostrophe only
   separates words, so runs of them become a space, with the non-ASCII ones spelled as the explicit ranges of
   code points Python's ``[^\\W_]`` does not match (1,226 ranges: RE2 knows no Python ``\\w``, and ``\\pL|\\pN``
   differs from it); then apostrophes that are not between two letters go, and the rest splits at spaces.

The tables and classes are read from the running Python's ``unicodedata``, ``html.entities`` and ``html``
modules when the graph is built, so the SavedModel tokenizes as the Python that exported it (Unicode data
differ between Python versions: so do the app's own tokens). The ASCII fast path of models.vocabulary is the
Unicode path restricted to ASCII, so one path serves both.

A numeric reference of more than 4,300 decimal digits, on which ``html.unescape`` itself raises ValueError
(int()'s digit limit, Python >= 3.11), is read by both as html.unescape would read it without the limit
(models.vocabulary._unescape). Text that is not UTF-8 (Python never sees it: the app decodes first) is read
with each bad byte as U+FFFD.
"""

from __future__ import annotations

import functools
import html
import html.entities
import re
from typing import Any

import numpy as np

MARK = b"\xff"  # around each character reference while unescaping: a byte UTF-8 never contains
_NOT_FOUND = b"\xff"  # what a table gives for a missing key: not UTF-8, so no entity or code point maps to it
# html._charref, as RE2: same alternatives in the same order (RE2 is leftmost-first as Python's re).
CHARREF = r"&(?:#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?)"
_MAX_CODE_POINT = 0x10FFFF


def _code_point_ranges(matches) -> list[tuple[int, int]]:
    """Ranges of the code points (surrogates excluded) for which ``matches(chr(c))`` holds."""
    out: list[tuple[int, int]] = []
    start = None
    for cp in range(_MAX_CODE_POINT + 2):
        ok = cp <= _MAX_CODE_POINT and not 0xD800 <= cp <= 0xDFFF and matches(chr(cp))
        if ok and start is None:
            start = cp
        elif not ok and start is not None:
            out.append((start, cp - 1))
            start = None
    return out


def _re2_ranges(ranges: list[tuple[int, int]]) -> str:
    return "".join(f"\\x{{{a:x}}}" if a == b else f"\\x{{{a:x}}}-\\x{{{b:x}}}" for a, b in ranges)


def _re2_class(ranges: list[tuple[int, int]]) -> str:
    return f"[{_re2_ranges(ranges)}]"


@functools.lru_cache(maxsize=1)
def patterns() -> dict[str, str]:
    """The RE2 patterns of steps 1 and 4, from this Python's ``re`` (the classes checked code point by code
    point against the patterns models.vocabulary uses)."""
    space = _re2_class(_code_point_ranges(re.compile(r"\s").match))
    word = re.compile(r"[^\W_]")
    other = _re2_class(_code_point_ranges(lambda c: c >= "\x80" and not word.match(c)))
    b = _re2_class(_code_point_ranges(lambda c: re.fullmatch("b", c, re.IGNORECASE) is not None))
    r = _re2_class(_code_point_ranges(lambda c: re.fullmatch("r", c, re.IGNORECASE) is not None))
    return {
        "line_break": f"<{space}*{b}{r}{space}*(?:/{space}*)?>",
        "html_tag": f"<{space}*(?:/{space}*)?[a-zA-Z][^<>]{{0,200}}>",
        # Words are runs of letters joined by single apostrophes. Every other character only separates words, so
        # runs of them become one space (ASCII ones, then the rest: plain classes, which RE2 matches without the
        # cost of a capture group), and apostrophes that are not between two letters become spaces: runs of
        # them first, then those before a space or the end (after these, every apostrophe is followed by a
        # letter), then those after a space or the start. What is left, split at the spaces, is findall's.
        "ascii_separators": r"[\x00-\x26\x28-\x2f\x3a-\x40\x5b-\x60\x7b-\x7f]+",
        "other_separators": f"{other}+",
        "apostrophe_runs": "''+",
        "apostrophe_before_space": "'(?: |$)",
        "apostrophe_after_space": "(?:^| )'",
    }


@functools.lru_cache(maxsize=1)
def fold_table() -> np.ndarray:
    """int32 [n, 3]: row c is the code points of ``c`` after models.vocabulary's apostrophe replacements and
    casefold, padded with -1; code points from n on map to themselves."""
    changed: dict[int, str] = {}
    for cp in range(_MAX_CODE_POINT + 1):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        ch = chr(cp)
        folded = ch.replace("`", "'").replace("\u2019", "'").replace("\u2018", "'").casefold()
        if folded != ch:
            changed[cp] = folded
    assert all(len(v) <= 3 and "\u2019" not in v and "\u2018" not in v for v in changed.values())
    table = np.full((max(changed) + 1, 3), -1, dtype=np.int32)
    table[:, 0] = np.arange(len(table), dtype=np.int32)
    for cp, folded in changed.items():
        table[cp] = [ord(c) for c in folded] + [-1] * (3 - len(folded))
    return table


def _numeric_specials() -> dict[int, str]:
    """Numbers html.unescape does not turn into chr(number): cp1252 remaps first, then dropped code points."""
    specials = {num: "" for num in html._invalid_codepoints}  # type: ignore[attr-defined]
    specials.update(html._invalid_charrefs)  # type: ignore[attr-defined]
    return specials


class TextGraph:
    """The tokenizer's tables as TensorFlow resources; build inside a ``tf.Module`` so a SavedModel keeps them.

    ``tokens(text)``: string [batch] -> RaggedTensor of words [batch, (words)], equal to
    ``[models.vocabulary.tokenize(t) for t in text]``."""

    def __init__(self, tf: Any):
        self.tf = tf
        self.patterns = patterns()
        entities = html.entities.html5
        self.entities = _string_table(tf, ["&" + k for k in entities], list(entities.values()))
        legacy = sorted(k for k in entities if not k.endswith(";"))
        self.legacy_lengths = sorted({len(k) for k in legacy}, reverse=True)
        self.legacy = _string_table(tf, ["&" + k for k in legacy], [entities[k] for k in legacy])
        specials = _numeric_specials()
        self.numeric = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(tf.constant(list(specials), tf.int64),
                                                tf.constant(list(specials.values()), tf.string)), _NOT_FOUND)
        hex_digits = "0123456789abcdefABCDEF"
        self.digits = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(tf.constant(list(hex_digits)),
                                                tf.constant([int(d, 16) for d in hex_digits], tf.int64)), 0)
        self.fold = fold_table()  # a constant of the graph that uses it (1.5 MB), not a variable

    def resources(self) -> list:
        """The lookup tables, for a ``tf.Module`` to track (a SavedModel saves what its module tracks)."""
        return [self.entities, self.legacy, self.numeric, self.digits]

    # -- steps ------------------------------------------------------------------------
    def clean(self, text):
        """``models.vocabulary._clean``, after the text is made valid UTF-8."""
        tf = self.tf
        text = tf.strings.unicode_transcode(text, "UTF-8", "UTF-8", errors="replace", replacement_char=0xFFFD)
        text = tf.strings.regex_replace(text, self.patterns["line_break"], " ")
        text = tf.strings.regex_replace(text, self.patterns["html_tag"], " ")
        return self.unescape(text)

    def unescape(self, text):
        """``html.unescape``: pieces alternate text, reference, text, ...; each reference is replaced."""
        tf = self.tf
        marked = tf.strings.regex_replace(text, CHARREF, MARK + b"\\0" + MARK)
        pieces = tf.strings.split(marked, sep=MARK)
        flat = pieces.flat_values
        position = tf.ragged.range(pieces.row_lengths()).flat_values
        is_reference = tf.math.equal(position % 2, 1)
        replaced = tf.where(is_reference, self._replace_references(flat), flat)
        return tf.strings.reduce_join(pieces.with_flat_values(replaced), axis=-1)

    def _replace_references(self, refs):
        tf = self.tf
        numeric = tf.strings.regex_full_match(refs, "&#.*")
        return tf.where(numeric, self._numeric(refs), self._named(refs))

    def _named(self, refs):
        """The whole name if it is an entity, else the longest prefix valid without ';' (at least two letters)
        and the rest as it is, else the reference unchanged."""
        tf = self.tf
        found = self.entities.lookup(refs)
        result = tf.where(tf.math.equal(found, _NOT_FOUND), refs, found)
        unresolved = tf.math.equal(found, _NOT_FOUND)
        sizes = tf.strings.length(refs)
        for length in self.legacy_lengths:  # longest first
            value = self.legacy.lookup(tf.strings.substr(refs, 0, length + 1))
            hit = tf.logical_and(unresolved, tf.math.not_equal(value, _NOT_FOUND))
            rest = tf.strings.substr(refs, tf.minimum(length + 1, sizes), sizes)  # pos beyond the end fails
            result = tf.where(hit, tf.strings.join([value, rest]), result)
            unresolved = tf.logical_and(unresolved, tf.logical_not(hit))
        return result

    def _numeric(self, refs):
        tf = self.tf
        hexadecimal = tf.strings.regex_full_match(refs, "&#[xX].*")
        digits = tf.strings.regex_replace(refs, r"^&#[xX]?0*|;$", "")  # leading zeros change nothing
        length = tf.strings.length(digits)
        # Past 6 hex or 7 decimal digits (without leading zeros) a number exceeds U+10FFFF.
        too_long = tf.where(hexadecimal, length > 6, length > 7)
        digits = tf.where(too_long, "", digits)
        chars = tf.strings.bytes_split(digits)
        values = self.digits.lookup(chars)
        base = tf.where(hexadecimal, tf.constant(16, tf.int64), tf.constant(10, tf.int64))
        place = tf.cast(chars.row_lengths(), tf.int64)[:, None] - 1 - tf.cast(
            tf.ragged.range(chars.row_lengths()), tf.int64)
        weight = tf.math.pow(base[:, None], place)  # ragged: base ** (digits to the right)
        number = tf.reduce_sum(values * weight, axis=1)
        invalid = too_long | (number > _MAX_CODE_POINT) | ((number >= 0xD800) & (number <= 0xDFFF))
        special = self.numeric.lookup(number)
        plain = tf.strings.unicode_encode(
            tf.cast(tf.where(invalid, tf.constant(0x41, tf.int64), number), tf.int32)[:, None], "UTF-8")
        return tf.where(invalid, "\ufffd", tf.where(tf.math.equal(special, _NOT_FOUND), plain, special))

    def fold_case(self, text):
        """Backticks and typographic apostrophes to ``'``, then str.casefold, code point by code point. Text that
        is all ASCII (nine reviews in ten) is lower-cased byte by byte, which is casefold there; only the others
        go through the code-point table."""
        tf = self.tf
        # lower() without an encoding is absl::AsciiStrToLower: A-Z only, whatever the locale.
        folded = tf.strings.regex_replace(tf.strings.lower(text), "`", "'")
        wide = tf.where(tf.logical_not(tf.strings.regex_full_match(text, r"[\x00-\x7f]*")))
        return tf.tensor_scatter_nd_update(folded, wide, self._fold_code_points(tf.gather_nd(text, wide)))

    def _fold_code_points(self, text):
        tf = self.tf
        cps = tf.strings.unicode_decode(text, "UTF-8", errors="replace", replacement_char=0xFFFD)
        flat = cps.flat_values
        fold = tf.constant(self.fold)
        size = tf.shape(fold, out_type=tf.int32)[0]
        rows = tf.gather(fold, tf.minimum(flat, size - 1))
        beyond = flat >= size
        rows = tf.where(beyond[:, None], tf.stack([flat, -tf.ones_like(flat), -tf.ones_like(flat)], axis=1), rows)
        kept = rows >= 0
        per_char = tf.reduce_sum(tf.cast(kept, tf.int64), axis=1)
        lengths = tf.reduce_sum(cps.with_flat_values(per_char), axis=1)
        folded = tf.RaggedTensor.from_row_lengths(tf.boolean_mask(rows, kept), lengths)
        return tf.strings.unicode_encode(folded, "UTF-8")

    def words(self, text):
        """``re.findall("[^\\W_]+(?:'[^\\W_]+)*", text)`` for each text (see ``patterns``)."""
        tf = self.tf
        for step in ("ascii_separators", "other_separators", "apostrophe_runs", "apostrophe_before_space",
                     "apostrophe_after_space"):
            text = tf.strings.regex_replace(text, self.patterns[step], " ")
        return tf.strings.split(text)

    def tokens(self, text):
        return self.words(self.fold_case(self.clean(text)))


def _string_table(tf: Any, keys: list[str], values: list[str]):
    return tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(tf.constant(keys), tf.constant(values)), _NOT_FOUND)
