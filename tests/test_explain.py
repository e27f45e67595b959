"""Explaining a score by occlusion, checked on the shipped built-in model (what users get)."""

import numpy as np
import pytest

from models.errors import EmptyReviewError
from models.explain import Explanation, explain, explain_many, logit, occlusion_rows
from models.paths import builtin_model_dirs
from models.prediction import NEGATIVE, POSITIVE, Predictor
from models.store import ModelStore
from models.vocabulary import OOV_ID

# A positive and a negative review of everyday length where one word carries the verdict.
GREAT = ("I watched this film last night with my family. The story is simple but the acting is great and "
         "the music fits every scene. I would happily watch it again.")
AWFUL = "The cast is awful, the script is lazy and the ending made me groan."


@pytest.fixture(scope="module")
def predictor(tmp_path_factory):
    store = ModelStore(tmp_path_factory.mktemp("empty-store"), builtin=builtin_model_dirs())
    predictor = Predictor.from_store(store)
    assert predictor.engine == "numpy"
    return predictor


def contribution_of(explanation: Explanation, word: str) -> float:
    (value,) = [t.contribution for t in explanation.tokens if t.token == word]
    return value


def test_the_verdict_word_carries_the_largest_contribution_of_its_sign(predictor):
    pos = explain(predictor, GREAT)
    assert pos.prediction.label == POSITIVE
    assert pos.top_positive()[0].token == "great"
    assert contribution_of(pos, "great") > 2 * pos.top_positive()[1].contribution

    neg = explain(predictor, AWFUL)
    assert neg.prediction.label == NEGATIVE
    assert neg.top_negative()[0].token == "awful"
    assert contribution_of(neg, "awful") < 2 * neg.top_negative()[1].contribution < 0


def test_the_score_is_the_one_predict_gives_and_tokens_are_in_reading_order(predictor):
    for text in (GREAT, AWFUL, "meh"):
        e = explain(predictor, text)
        p = predictor.predict(text)
        assert e.probability == pytest.approx(p.probability, abs=1e-6)
        assert (e.prediction.label, e.prediction.tokens, e.prediction.ids) == (p.label, p.tokens, p.ids)
        assert [t.token for t in e.tokens] == p.tokens and [t.id for t in e.tokens] == p.ids


# Clearly negative and clearly positive reviews (P below 0.03 or above 0.98): the words a reader
# takes for the verdict push the way a reader expects, and are among the strongest. Measured as
# differences of probabilities they nearly vanish at this confidence (a few thousandths).
CLEARLY_NEGATIVE = [
    "Terrible. A boring waste of time.",
    "This movie is terrible, boring and a complete waste of time.",
    "What a waste of time. The plot is boring, the acting is terrible and the ending is worse.",
    "I hated this film. It is boring, the acting is terrible, and it is a total waste of two hours.",
]
CLEARLY_POSITIVE = [
    "A superb film with wonderful acting. The best movie of the year.",
    "Wonderful! The cast is superb and the script is the best I have read in years.",
]


@pytest.mark.parametrize(("text", "words", "sign"), [(t, ("terrible", "waste", "boring"), -1) for t in CLEARLY_NEGATIVE]
                         + [(t, ("superb", "wonderful", "best"), 1) for t in CLEARLY_POSITIVE])
def test_at_high_confidence_the_verdict_words_have_the_expected_sign(predictor, text, words, sign):
    e = explain(predictor, text)
    assert (e.probability < 0.03) if sign < 0 else (e.probability > 0.98)
    strongest = {t.token for t in (e.top_negative(4) if sign < 0 else e.top_positive(4))}
    for word in words:
        assert np.sign(contribution_of(e, word)) == sign, word
        assert word in strongest, (word, strongest)
    # the same strongest word as a difference of probabilities: a sliver of the log-odds figure
    top = (e.top_negative if sign < 0 else e.top_positive)(1)[0]
    k = e.tokens.index(top)
    assert abs(e.probability - e.without(k)) < 0.1 * abs(top.contribution)


def test_a_contribution_is_the_drop_when_the_word_is_read_as_unknown(predictor):
    e = explain(predictor, AWFUL)
    k = [t.token for t in e.tokens].index("awful")
    enc = predictor.vocabulary.encode(AWFUL, predictor.maxlen)
    row = enc.ids.copy()
    row[predictor.maxlen - len(enc.seen_ids) + k] = OOV_ID  # the seen tokens are the end of the padded row
    assert row.tolist().count(OOV_ID) == enc.oov_tokens + 1
    without = float(predictor.probabilities(row[None, :])[0])
    assert e.without(k) == pytest.approx(without, abs=1e-6)
    assert e.tokens[k].contribution == pytest.approx(logit(e.probability) - logit(without), abs=1e-4)  # log-odds
    assert e.without(k) - e.probability > 0.5  # without "awful" the review is far less negative


def test_shared_prefix_pass_equals_scoring_every_row(predictor):
    long_review = " ".join([GREAT, AWFUL] * 6)  # truncated: the last 80 tokens
    for text in (GREAT, AWFUL, long_review, "a zyzzyva quixotic film"):
        e = explain(predictor, text)
        enc = predictor.vocabulary.encode(text, predictor.maxlen)
        first = predictor.maxlen - len(enc.seen_ids)
        positions = np.array([first + k for k, i in enumerate(enc.seen_ids) if i != OOV_ID])
        probs = predictor.probabilities(occlusion_rows(enc.ids, positions))
        known = [t.contribution for t in e.tokens if t.known]
        np.testing.assert_allclose(known, logit(probs[0]) - logit(probs[1:]), atol=1e-4)


def test_unknown_words_contribute_nothing_and_cut_words_are_counted(predictor):
    e = explain(predictor, "Zyzzyva was a great film")
    assert [(t.token, t.known) for t in e.tokens][:2] == [("zyzzyva", False), ("was", True)]
    assert e.tokens[0].contribution == 0.0
    long_review = " ".join(["the movie was great"] * 25)  # 100 words; the model reads the last 80
    e = explain(predictor, long_review)
    assert e.words_cut == 20 and len(e.tokens) == 80 and e.prediction.truncated


def test_json_has_the_contributions_in_reading_order_and_the_top_words(predictor):
    e = explain(predictor, GREAT)
    data = e.to_json()
    assert [d["token"] for d in data["explanation"]] == e.prediction.tokens
    assert set(data["explanation"][0]) == {"token", "contribution", "known"}
    assert data["top_positive"][0] == {"token": "great", "contribution": round(contribution_of(e, "great"), 6)}
    assert all(d["contribution"] < 0 for d in data["top_negative"]) and len(data["top_positive"]) <= 5
    assert data["words_cut"] == 0


def test_many_reviews_at_once_and_empty_reviews(predictor):
    both = explain_many(predictor, [GREAT, AWFUL])
    assert [e.prediction.label for e in both] == [POSITIVE, NEGATIVE]
    assert explain(predictor, "!!!").tokens == []  # nothing the model can read: no contributions
    with pytest.raises(EmptyReviewError):
        explain(predictor, "   ")


# What this 2,000-word, 80-token LSTM does with negation, measured (not what we would like it to do).
# "not" on its own is one of its strongest negative words. Before a positive word it flips that
# word's contribution: "great" and "good" push towards negative in "not great" / "not good", and
# the review becomes negative. "not boring" is understood too. "not bad" is not: the review stays
# negative and "bad" keeps pushing it down.
@pytest.mark.parametrize(
    ("plain", "negated", "word", "plain_label", "negated_label"),
    [
        ("This movie is great.", "This movie is not great.", "great", POSITIVE, NEGATIVE),
        ("This movie is good.", "This movie is not good.", "good", POSITIVE, NEGATIVE),
        ("The film was boring.", "The film was not boring.", "boring", NEGATIVE, NEGATIVE),
    ],
)
def test_negation_flips_the_sign_of_the_negated_word(predictor, plain, negated, word, plain_label, negated_label):
    before, after = explain(predictor, plain), explain(predictor, negated)
    assert (before.prediction.label, after.prediction.label) == (plain_label, negated_label)
    was, now = contribution_of(before, word), contribution_of(after, word)
    assert abs(was) > 0.2 and abs(now) > 0.02 and np.sign(was) != np.sign(now)
    not_ = contribution_of(after, "not")
    assert np.sign(not_) == np.sign(now)  # "not" pushes the same way as the flipped word
    if negated_label == plain_label:  # "not boring": P(positive) rises a lot but stays under 0.5
        assert after.probability > before.probability + 0.2


def test_not_bad_is_still_read_as_negative(predictor):
    before, after = explain(predictor, "This movie is bad."), explain(predictor, "This movie is not bad.")
    assert before.prediction.label == after.prediction.label == NEGATIVE
    assert contribution_of(before, "bad") < -0.3 and contribution_of(after, "bad") < -0.1  # no flip
    assert after.top_negative()[0].token == "bad"


def test_the_keras_engine_gives_the_same_explanation(predictor, tmp_path):
    slow = Predictor.from_store(ModelStore(tmp_path, builtin=builtin_model_dirs()), engine="keras")
    assert slow.engine == "keras"
    fast_ones, slow_ones = explain_many(predictor, [AWFUL, "not good"]), explain_many(slow, [AWFUL, "not good"])
    for fast_e, slow_e in zip(fast_ones, slow_ones):
        assert slow_e.probability == pytest.approx(fast_e.probability, abs=1e-5)
        np.testing.assert_allclose(slow_e.contributions(), fast_e.contributions(), atol=1e-5)


def test_cli_predict_explain_adds_the_contributions(tmp_path, monkeypatch):
    import json

    from tests.test_cli import run_cli

    monkeypatch.setenv("SENTIMENT_STUDIO_HOME", str(tmp_path / "home"))  # no models: the built-in one scores
    proc = run_cli("predict", "--explain", GREAT, AWFUL)
    assert proc.returncode == 0, proc.stderr
    pos, neg = (json.loads(line) for line in proc.stdout.splitlines())
    assert {"probability", "label", "explanation", "top_positive", "top_negative", "words_cut"} <= set(pos)
    assert pos["label"] == POSITIVE and pos["top_positive"][0]["token"] == "great"
    assert neg["label"] == NEGATIVE and neg["top_negative"][0]["token"] == "awful"
    assert [d["token"] for d in neg["explanation"]] == ["the", "cast", "is", "awful", "the", "script", "is", "lazy",
                                                        "and", "the", "ending", "made", "me", "groan"]
    assert {"token": "lazy", "contribution": 0.0, "known": False} in neg["explanation"]
    proc = run_cli("predict", GREAT)
    assert json.loads(proc.stdout)["probability"] == pytest.approx(pos["probability"], abs=2e-6)
    assert "explanation" not in json.loads(proc.stdout)
