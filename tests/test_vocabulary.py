import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.errors import ModelStoreError
from models.vocabulary import OOV_ID, PAD_ID, START_ID, Vocabulary, pad_sequences, tokenize, tokenize_tail


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Great movie!", ["great", "movie"]),
        ("I didn't like it.<br /><br />At ALL", ["i", "didn't", "like", "it", "at", "all"]),
        ("It&#39;s fun &amp; smart", ["it's", "fun", "smart"]),
        ("Don\u2019t", ["don't"]),
        ("<i>italic</i> words", ["italic", "words"]),
        ("snake_case and 10/10", ["snake", "case", "and", "10", "10"]),
        ("Очень хорошо! 很好", ["очень", "хорошо", "很好"]),
        ("!!! ... ???", []),
        ("", []),
    ],
)
def test_tokenize(text, expected):
    assert tokenize(text) == expected


def test_pad_sequences_matches_keras_on_random_inputs():
    import keras

    rng = np.random.default_rng(0)
    for _ in range(50):
        seqs = [list(rng.integers(1, 100, size=rng.integers(0, 30))) for _ in range(rng.integers(1, 8))]
        maxlen = int(rng.integers(1, 25))
        np.testing.assert_array_equal(pad_sequences(seqs, maxlen), keras.utils.pad_sequences(seqs, maxlen=maxlen))


def test_vocabulary_ranks_by_frequency_with_keras_ids():
    texts = [["b", "a", "a"], ["c", "a", "b"], ["d"]]
    vocab = Vocabulary.build(texts, num_words=7)
    # a (3x) -> 4, b (2x) -> 5, c and d (1x, alphabetical) -> 6, 7 -- but 7 >= num_words is dropped
    assert vocab.word_ids == {"a": 4, "b": 5, "c": 6}
    assert vocab.encode_tokens(["a", "d", "zzz"]) == [START_ID, 4, OOV_ID, OOV_ID]


def test_encode_pads_front_and_reports_counts():
    vocab = Vocabulary({"good": 4, "film": 5}, num_words=10)
    e = vocab.encode("Good film, unknownword", maxlen=6)
    assert e.ids.tolist() == [PAD_ID, PAD_ID, START_ID, 4, 5, OOV_ID]
    assert (e.known_tokens, e.oov_tokens, e.truncated) == (2, 1, False)
    assert e.seen_tokens == ["good", "film", "unknownword"]


def test_encode_truncates_front_keeping_the_end():
    vocab = Vocabulary({f"w{i}": i + 4 for i in range(10)}, num_words=20)
    e = vocab.encode(" ".join(f"w{i}" for i in range(10)), maxlen=4)
    assert e.ids.tolist() == [10, 11, 12, 13]  # w6..w9: the last tokens are kept, the start mark is gone
    assert e.truncated and e.seen_tokens == ["w6", "w7", "w8", "w9"]


def test_encode_exactly_fits_with_start_mark():
    vocab = Vocabulary({"a": 4}, num_words=10)
    e = vocab.encode("a a a", maxlen=4)
    assert e.ids.tolist() == [START_ID, 4, 4, 4] and not e.truncated and e.known_tokens == 3


def test_save_load_round_trip(tmp_path):
    vocab = Vocabulary.build([["x", "y", "y"]], num_words=100)
    vocab.save(tmp_path / "v.json")
    assert Vocabulary.load(tmp_path / "v.json") == vocab


def test_keras_word_index_round_trip():
    index = {"the": 1, "and": 2, "film": 3, "rare": 500}
    vocab = Vocabulary.from_keras_word_index(index, num_words=10)
    assert vocab.word_ids == {"the": 4, "and": 5, "film": 6}
    assert vocab.to_keras_word_index() == {"the": 1, "and": 2, "film": 3}


BAD_VOCABULARIES = ["{}", "[1, 2]", '{"format": "sentiment-studio-vocabulary", "version": 9}', "not json"]


@pytest.mark.parametrize("content", BAD_VOCABULARIES)
def test_bad_vocabulary_files_raise_readable_errors(tmp_path, content):
    path = tmp_path / "vocabulary.json"
    path.write_text(content)
    with pytest.raises(ModelStoreError):
        Vocabulary.load(path)


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=400), maxlen=st.integers(1, 100))
def test_any_string_encodes_to_maxlen_ids_in_range(text, maxlen):
    vocab = Vocabulary.build([tokenize("the a of film good bad great awful")], num_words=10)
    e = vocab.encode(text, maxlen)
    assert e.ids.shape == (maxlen,) and e.ids.dtype == np.int32
    assert e.ids.min() >= 0 and e.ids.max() < vocab.num_words
    assert e.known_tokens + e.oov_tokens == len(e.seen_tokens) <= maxlen


def words_v1(text: str) -> list[str]:
    """The "words-v1" tokenizer as first written (one Unicode pattern for every text): the fast
    paths of models.vocabulary.tokenize must give exactly this."""
    import html

    from models import vocabulary as v

    text = v._HTML_TAG.sub(" ", v._LINE_BREAK.sub(" ", text))
    text = html.unescape(text).translate(str.maketrans({"\u2019": "'", "\u2018": "'", "`": "'"}))
    return v._WORD.findall(text.casefold())


TRICKY = st.sampled_from(["'", "`", "\u2019", "\u2018", "_", "<br />", "<b>", "&amp;", "&eacute;", "&#39;", "É",
                          "ß", "İ", "\u00a0", "3", "Z", "-", " ", "\n"])


@settings(max_examples=300, deadline=None)
@given(text=st.lists(st.one_of(TRICKY, st.text(max_size=6)), max_size=60).map("".join))
def test_tokenize_is_the_words_v1_rule_on_any_text(text):
    assert tokenize(text) == words_v1(text)


@settings(max_examples=200, deadline=None)
@given(words=st.lists(st.sampled_from(["the", "film", "good", "bad", "zyx", "qq", "awful"]), max_size=120),
       maxlen=st.integers(1, 100))
def test_encode_looks_up_only_what_fits_and_says_the_same_as_looking_up_everything(words, maxlen):
    vocab = Vocabulary.build([tokenize("the a of film good bad great awful")], num_words=10)
    e = vocab.encode(" ".join(words), maxlen)
    ids = vocab.encode_tokens(words)  # every token, then cut: the definition
    kept = ids[-maxlen:]
    n_seen = len(kept) - (1 if len(ids) <= maxlen else 0)
    np.testing.assert_array_equal(e.ids, pad_sequences([ids], maxlen)[0])
    assert e.tokens == words and e.seen_tokens == (words[len(words) - n_seen:] if n_seen else [])
    assert e.seen_ids == (kept[len(kept) - n_seen:] if n_seen else [])
    assert e.truncated == (len(ids) > maxlen) and e.oov_tokens == e.seen_ids.count(OOV_ID)
    np.testing.assert_array_equal(vocab.encode_batch([" ".join(words)], maxlen)[0], e.ids)


@settings(max_examples=400, deadline=None)
@given(text=st.lists(st.one_of(TRICKY, st.text(max_size=6), st.sampled_from(["don't", "a''b", "'x'", "é'é"])),
                     max_size=80).map("".join),
       count=st.integers(0, 40))
def test_tokenize_tail_is_the_end_of_tokenize_on_any_text(text, count):
    words = tokenize(text)
    tail, more = tokenize_tail(text, count)
    assert tail == (words[-count:] if count else []) and more == (len(words) > count)


@pytest.mark.parametrize("text", ["word " * 500, "x" * 5000 + " end", "don't " * 300 + "it's", "!" * 3000 + " a b",
                                  "<br />" * 400 + " good film", "a" + "'" * 2000 + "b c"])
def test_tokenize_tail_on_long_reviews_whatever_the_window_cuts(text):
    for count in (1, 5, 80, 81, 600):
        words = tokenize(text)
        assert tokenize_tail(text, count) == (words[-count:], len(words) > count)


@settings(max_examples=200, deadline=None)
@given(words=st.lists(st.sampled_from(["the", "film", "good", "bad", "zyx", "qq", "awful", "!!", "<br />"]),
                      max_size=200),
       maxlen=st.integers(1, 100))
def test_encode_from_the_tail_says_what_encoding_the_whole_review_says(words, maxlen):
    vocab = Vocabulary.build([tokenize("the a of film good bad great awful")], num_words=10)
    text = " ".join(words)
    whole, tail = vocab.encode(text, maxlen), vocab.encode(text, maxlen, whole=False)
    np.testing.assert_array_equal(tail.ids, whole.ids)
    assert tail.tokens is None and (tail.seen_tokens, tail.seen_ids) == (whole.seen_tokens, whole.seen_ids)
    assert (tail.known_tokens, tail.oov_tokens, tail.truncated) == (whole.known_tokens, whole.oov_tokens,
                                                                    whole.truncated)
    np.testing.assert_array_equal(pad_sequences([vocab.unpadded_ids(text, maxlen)], maxlen)[0], whole.ids)


# The tag patterns as first written: the linear ones in models.vocabulary must match exactly the same strings.
_LINE_BREAK_V1 = re.compile(r"<\s*br\s*/?\s*>", re.IGNORECASE)
_HTML_TAG_V1 = re.compile(r"<\s*/?\s*[a-zA-Z][^<>]{0,200}>")


@settings(max_examples=400, deadline=None)
@given(text=st.lists(st.sampled_from(["<", ">", "/", " ", "\t", "br", "BR", "b", "x y", "<br />", "1", "é"]),
                     max_size=40).map("".join))
def test_tag_patterns_match_what_the_first_ones_matched(text):
    from models import vocabulary as v

    assert v._LINE_BREAK.sub("|", text) == _LINE_BREAK_V1.sub("|", text)
    assert v._HTML_TAG.sub("|", text) == _HTML_TAG_V1.sub("|", text)


@pytest.mark.timeout(120)  # a hang guard, 1000 times what these take: the quadratic patterns took hours on them
@pytest.mark.parametrize("text", [
    "good film <" + " " * 1_000_000,
    "good film </" + " " * 1_000_000,
    "<br" + " " * 1_000_000,
    "< " * 500_000,
    "<" * 1_000_000,
    "&" * 1_000_000,
    "&#" * 500_000,
    "'" * 1_000_000,
    "a'" * 500_000,
    '"' * 1_000_000,
    "<a" + "b" * 1_000_000,
])
def test_tokenizer_is_linear_on_worst_cases(text):
    assert isinstance(tokenize(text), list)
    assert isinstance(tokenize_tail(text, 80)[0], list)


def test_a_numeric_reference_longer_than_ints_digit_limit_is_read_not_raised():
    """html.unescape raises ValueError on ``&#`` and more than 4,300 digits (Python >= 3.11): one such review made a
    whole ``predict --file`` fail. It is read as html.unescape reads any number, without that limit."""
    import sys

    texts = ["good &#" + "1" * 4301 + "; film", "x &#" + "0" * 5000 + "98;c &amp;&#65", "&#" + "0" * 4400]
    assert [tokenize(t) for t in texts] == [["good", "film"], ["x", "bc", "a"], []]
    limit = sys.get_int_max_str_digits()
    sys.set_int_max_str_digits(0)
    try:
        assert [tokenize(t) for t in texts] == [["good", "film"], ["x", "bc", "a"], []]
    finally:
        sys.set_int_max_str_digits(limit)


@settings(max_examples=300, deadline=None)
@given(texts=st.lists(st.lists(st.one_of(TRICKY, st.text(max_size=6), st.sampled_from(
    ["don't", "a''b", "'x'", "é'é", "\U0001d49c\U0001d4b7", "\U0001f600", "ǅ", "Ⅻ", "\n"])), max_size=40).map("".join),
    max_size=6))
def test_word_keys_are_the_keys_of_tokenize_words_on_any_texts(texts):
    """The n-gram family's fast path (models.vocabulary.word_keys: the words of a chunk of reviews as numbers,
    found with NumPy) reads exactly tokenize's words, text by text, with line breaks inside texts too."""
    from models.vocabulary import keys_of_words, word_keys

    keys, lengths = word_keys(texts)
    words = [tokenize(t) for t in texts]
    assert lengths.tolist() == [len(w) for w in words]
    np.testing.assert_array_equal(keys, keys_of_words([w for ws in words for w in ws]))


def test_word_keys_character_rule_is_the_regular_expressions_for_every_character():
    """[^\\W_] of the words-v1 pattern is str.isalnum, which word_keys' table holds, for every code point."""
    from models import vocabulary as v

    table = v._word_chars()
    pattern = re.compile(r"[^\W_]")
    assert all(bool(pattern.match(chr(c))) == bool(table[c]) for c in range(len(table)))
    assert all(bool(pattern.match(chr(c))) == chr(c).isalnum() for c in range(len(table), 0x110000, 97))


def test_word_keys_of_distinct_words_differ_and_do_not_depend_on_the_place():
    from models.vocabulary import keys_of_words, word_keys

    words = ["a", "b", "ab", "ba", "aa", "don't", "dont", "é", "e", "x" * 300, "1", "01"]
    keys = keys_of_words(words)
    assert len(set(keys.tolist())) == len(words) and (keys >= 0).all()
    shifted, _ = word_keys(["!!! " * 50 + " ".join(words)])
    np.testing.assert_array_equal(shifted, keys)
