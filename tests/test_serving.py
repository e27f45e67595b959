"""The SavedModel export: the tokenizer as TensorFlow ops equals models.vocabulary's, and the exported model,
loaded by a process that imports only TensorFlow, scores as ``predict --file``."""

from __future__ import annotations

import html
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from models.vocabulary import _WORD, tokenize
from tests.test_cli import assert_user_error, run_cli

MAX_CODE_POINT = 0x10FFFF


@pytest.fixture(scope="module")
def graph():
    """(tensorflow, the tokenizer's tables, tokens as one compiled function)."""
    from models.keras_runtime import keras

    keras()
    import tensorflow as tf

    from models.serving.text_graph import TextGraph

    text_graph = TextGraph(tf)
    text_graph.unescape_graph = tf.function(text_graph.unescape, input_signature=[tf.TensorSpec([None], tf.string)])
    tokens = tf.function(text_graph.tokens, input_signature=[tf.TensorSpec([None], tf.string)])
    return tf, text_graph, tokens


def graph_tokens(graph, texts: list[str]) -> list[list[str]]:
    tf, _, tokens = graph
    return [[w.decode("utf-8") for w in row] for row in tokens(tf.constant(texts, tf.string)).to_list()]


def assert_same_tokens(graph, texts: list[str]) -> None:
    got = graph_tokens(graph, texts)
    for text, words in zip(texts, got):
        assert words == tokenize(text), repr(text[:300])


HOSTILE = [
    "", " ", "Hello <br /> World! don't `quote` it\u2019s \u2018so\u2019", "<BR/>a<bR   />b< br>c<br\u3000/\u2028>d",
    "&amp;&lt;&ampfoo; &notit; &notin; &#65;&#x1F600; &#128; &#0; &#xD800; &#99999999; &#1; &#x110000; &#13;",
    "&AElig &AEligx &Aacute &aacute; &eacute&eacute; &copy2024 &#x;&#; & amp; &&amp;amp;",
    "Stra\u00dfe \u03a3\u0391\u03a3 \ufb01ne \u0130stanbul \u13a0\uab70 \u1e9e \u0149 \u01f0",
    "<b>bold</b> < 3 <a href='x'>link</a> <3 <\n/p\n> <p" + "x" * 250 + ">tail",
    "''a''b' 'c'd' e'' 'f rock'n'roll o'clock '", "a' 'b 'c' d'\u3000'e \u2019f\u2019 g\u2018\u2019h '' '",
    "\u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8 123 \uff14\uff15 \u0663",
    "\x00a\x00b\x0bc\x1cd\x85e\xa0f", "caf\u0065\u0301 na\u00efve \u2160\u2161 \u00bd \u00b2 snake_case",
    "&" + "a" * 40 + "; &" + "b" * 31 + "; &#" + "0" * 4290 + "66;", "\U0001F600 emoji \U0001F44D\U0001F3FD ok",
    "<" + " " * 10_000 + "br>" + "&" * 5000 + "'" * 5000, "word " * 20_000,
]


def test_hostile_texts_tokenize_as_in_python(graph):
    assert_same_tokens(graph, HOSTILE)


FRAGMENTS = st.sampled_from([
    "<br />", "<br>", "<BR/>", "< br / >", "<p>", "</div>", "<a href=\"x\">", "<", ">", "&amp;", "&lt", "&notit;",
    "&AEligx", "&#39;", "&#x27;", "&#150;", "&#xd83d;", "&#1114112;", "&#0;", "&", "&#", "&#x", ";", "'", "''",
    "`", "\u2019", "\u2018", "don't", "rock'n'roll", "2024", "\u00df", "\u03a3", "\u0130", "\ufb01", "\u00e9",
    "\u0301", "_", " ", "\n", "\t", "\u3000", "\u00a0", "\U0001F600", "\u4e2d\u6587", "\u0661\u0662",
])
REVIEW = st.lists(st.one_of(FRAGMENTS, st.text(max_size=12)), max_size=30).map("".join)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(REVIEW, min_size=1, max_size=16))
def test_generated_texts_tokenize_as_in_python(graph, texts):
    assert_same_tokens(graph, texts)


REFERENCES = st.lists(st.one_of(FRAGMENTS, st.text(alphabet="&#xX0123456789abcdefABCDEF;lgtampAEligo", max_size=14),
                                st.integers(0, 2 * MAX_CODE_POINT).map(lambda n: f"&#{n}"),
                                st.integers(0, 2 * MAX_CODE_POINT).map(lambda n: f"&#x{n:X};")),
                      max_size=20).map("".join)


@settings(max_examples=150, deadline=None)
@given(st.lists(REFERENCES, min_size=1, max_size=16))
def test_unescape_is_html_unescape(graph, texts):
    tf, text_graph, _ = graph
    got = [s.decode("utf-8") for s in text_graph.unescape_graph(tf.constant(texts, tf.string)).numpy()]
    assert got == [html.unescape(t) for t in texts]


def test_every_named_and_numeric_reference_unescapes_as_in_python(graph):
    from html.entities import html5

    tf, text_graph, _ = graph
    refs = ["&" + name for name in html5] + ["&" + name + "x;" for name in html5 if not name.endswith(";")]
    refs += [f"&#{n};" for n in range(0, 0x3000)] + [f"&#x{n:x}" for n in range(0xD7F0, 0xE010)]
    refs += [f"&#{n}" for n in (0xFFFE, 0xFFFF, 0x10FFFE, 0x10FFFF, 0x110000, 10**12)]
    got = [s.decode("utf-8") for s in text_graph.unescape(tf.constant(refs)).numpy()]
    assert got == [html.unescape(r) for r in refs]


def test_case_folding_is_str_casefold_for_every_code_point(graph):
    tf, text_graph, _ = graph
    chars = [chr(c) for c in range(MAX_CODE_POINT + 1) if not 0xD800 <= c <= 0xDFFF]
    chunks = ["".join(chars[i:i + 4096]) for i in range(0, len(chars), 4096)]
    got = [s.decode("utf-8") for s in text_graph.fold_case(tf.constant(chunks)).numpy()]
    want = [c.replace("`", "'").replace("\u2019", "'").replace("\u2018", "'").casefold() for c in chunks]
    assert got == want


def test_word_characters_are_pythons_for_every_code_point(graph):
    """Every code point alone between spaces is a word exactly when Python's pattern finds one."""
    tf, text_graph, _ = graph
    chars = [chr(c) for c in range(MAX_CODE_POINT + 1) if not 0xD800 <= c <= 0xDFFF]
    chunks = [" ".join(chars[i:i + 4096]) for i in range(0, len(chars), 4096)]
    got = [[w.decode("utf-8") for w in row] for row in text_graph.words(tf.constant(chunks)).to_list()]
    assert got == [_WORD.findall(c) for c in chunks]


def test_a_numeric_reference_past_pythons_digit_limit(graph):
    """``&#`` and more than 4,300 decimal digits: html.unescape raises there (int()'s limit); the app's tokenizer and
    the graph both read the number as html.unescape does without the limit (past U+10FFFF: U+FFFD, no word)."""
    over = ["a &#" + "1" * 4301 + "; b", "a &#" + "0" * 4400 + "98; b", "&#" + "9" * 5000]
    with pytest.raises(ValueError, match="digits"):
        html.unescape(over[0])
    assert graph_tokens(graph, over) == [tokenize(t) for t in over] == [["a", "b"], ["a", "b", "b"], []]


def test_bytes_that_are_not_utf8_read_as_replacement_characters(graph):
    tf, _, tokens = graph
    raw = [b"good \xff\xfe film", b"caf\xc3", b"\xe2\x80 bad"]
    got = [[w.decode() for w in row] for row in tokens(tf.constant(raw)).to_list()]
    assert got == [tokenize(r.decode("utf-8", "replace")) for r in raw]


@pytest.mark.integration
def test_the_25000_test_reviews_tokenize_as_in_python(graph, shared_archive):
    from models.datasets import load_aclimdb_archive

    texts = load_aclimdb_archive(shared_archive).test.texts
    assert len(texts) == 25_000
    mismatches = 0
    for start in range(0, len(texts), 1000):
        chunk = texts[start:start + 1000]
        mismatches += sum(got != tokenize(t) for t, got in zip(chunk, graph_tokens(graph, chunk)))
    assert mismatches == 0


# -- the exported SavedModel -----------------------------------------------------------------------------

SCORE_WITH_TENSORFLOW_ONLY = textwrap.dedent("""
    import json, sys
    import tensorflow as tf
    serve = tf.saved_model.load(sys.argv[1]).signatures["serving_default"]
    lines = open(sys.argv[2], encoding="utf-8").read().splitlines()
    out = []
    for start in range(0, len(lines), 100):
        got = serve(text=tf.constant(lines[start:start + 100]))
        out += [{"probability": float(p), "label": l.decode(), "words": int(w)}
                for p, l, w in zip(got["probability"].numpy(), got["label"].numpy(), got["words"].numpy())]
    ours = sorted({m.split(".")[0] for m in sys.modules} & {"models", "app"})
    print(json.dumps({"scores": out, "imported": ours}))
""")


BUILT_IN = {"lstm": "IMDB LSTM (built-in)", "ngram": "IMDB n-grams (built-in)"}


@pytest.fixture(scope="module", params=sorted(BUILT_IN))
def exported(request, tmp_path_factory):
    """Each built-in model exported with the CLI, once for the module (its own data directory)."""
    name = BUILT_IN[request.param]
    home = tmp_path_factory.mktemp("serving-home")
    folder = tmp_path_factory.mktemp("export") / request.param
    env_home = {"SENTIMENT_STUDIO_HOME": str(home)}
    proc = run_cli_env(env_home, "export", name, folder, "--saved-model")
    assert proc.returncode == 0, proc.stderr
    return folder, env_home, proc, name


def run_cli_env(env: dict[str, str], *args):
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        return run_cli(*args)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def review_file(path: Path) -> Path:
    lines = [
        "A wonderful film, one of the best I have seen this year.",
        "Two hours I will never get back. Dreadful acting &amp; a stupid plot.<br /><br />Avoid.",
        "It's not bad\u2019 but `not` good either \u2014 caf\u00e9 STRASSE Stra\u00dfe",
        "&lt;3 this movie &#x1F600; &notit; 10/10",
        " ".join(["great"] * 50 + ["terrible"] * 100),  # past maxlen: the end is kept
        "ok",
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_export_says_how_to_serve_and_writes_a_savedmodel(exported):
    folder, _, proc, name = exported
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    family = {v: k for k, v in BUILT_IN.items()}[name]
    assert out["format"] == "saved-model" and out["family"] == family and Path(out["path"]) == folder
    hint = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(hint) == 1 and "docker run" in hint[0] and "tensorflow/serving" in hint[0] and str(folder) in hint[0]
    assert (folder / "saved_model.pb").is_file() and (folder / "variables").is_dir()
    info = json.loads((folder / "assets.extra" / "sentiment_studio.json").read_text(encoding="utf-8"))
    assert info["name"] == name and info["family"] == family and info["tokenizer"] == "words-v1"


def test_a_process_with_only_tensorflow_scores_as_predict_file(exported, tmp_path):
    folder, env_home, _, name = exported
    reviews = review_file(tmp_path / "reviews.txt")
    script = tmp_path / "score.py"
    script.write_text(SCORE_WITH_TENSORFLOW_ONLY, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run([sys.executable, str(script), str(folder), str(reviews)], capture_output=True, text=True,
                          cwd=tmp_path, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    served = json.loads(proc.stdout.strip().splitlines()[-1])
    assert served["imported"] == []
    predicted = run_cli_env(env_home, "predict", "--model", name, "--file", reviews)
    assert predicted.returncode == 0, predicted.stderr
    expected = [json.loads(line) for line in predicted.stdout.splitlines()]
    assert len(served["scores"]) == len(expected) == 6
    for got, want, text in zip(served["scores"], expected, reviews.read_text(encoding="utf-8").splitlines()):
        assert got["probability"] == pytest.approx(want["probability"], abs=1e-5)
        assert got["label"] == want["label"]
        assert got["words"] == len(tokenize(text))


def test_export_refuses_a_folder_in_use_and_a_format(exported, tmp_path):
    folder, env_home, _, name = exported
    assert_user_error(run_cli_env(env_home, "export", name, folder, "--saved-model"), "not empty")
    assert_user_error(run_cli_env(env_home, "export", name, tmp_path / "x", "--saved-model",
                                  "--format", "keras"), "--saved-model")


def test_every_family_has_an_in_graph_scorer():
    from models.families import LSTM, NGRAM
    from models.serving.export import DEFAULT_FAMILY, FAMILY_SCORERS, served_name

    assert DEFAULT_FAMILY in FAMILY_SCORERS and set(FAMILY_SCORERS) == {LSTM, NGRAM}
    assert served_name("IMDB LSTM (built-in)") == "IMDB-LSTM-built-in"
    assert served_name("\u00e9t\u00e9 / 2024") == "t-2024" and served_name("///") == "model"
