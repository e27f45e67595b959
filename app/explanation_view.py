"""One scored review, explained: the verdict, a probability gauge, and the words the model read
highlighted by how much each pushed the score (models/explain.py), with the line that says how the
pushes add up (from the baseline, every word unknown, to the score). The Predict tab shows the
review being typed with it; the Evaluate tab shows the review picked in its table."""

from __future__ import annotations

import html
import math
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QEvent, QRectF, QSize, Qt, Slot
from PySide6.QtGui import QColor, QFont, QLinearGradient, QPainter, QPalette, QPen
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from app.wrapping import WrappedLabel
from models.config import DEFAULT_THRESHOLD
from models.explain import OCCLUSION, SHAPLEY_EXACT, Explanation, TokenContribution, sentence_pushes
from models.families.ngram import LINEAR_EXACT
from models.prediction import NEGATIVE, POSITIVE, Prediction

EXCERPT_CHARS = 120
TOKENS_LEGEND = (
    "Green words pushed the score towards positive, red words towards negative; the stronger the colour, "
    "the bigger the push (relative to this review's strongest word). Hover a word to see by how much, in "
    "log-odds: a push of 1 multiplies the odds of positive by e (2.7). Each push is the word's Shapley "
    "value: its effect averaged over every set of the other words, so the pushes add up to the score. "
    "Struck-through grey words are not in the model's vocabulary: it reads each of them as the same "
    "unknown word (id 2)."
)
# Under the words, where the window is small too: the short form; the whole legend is its tooltip.
TOKENS_LEGEND_SHORT = (
    "Green words pushed towards positive, red towards negative; the stronger the colour, the bigger the push. "
    "Hover a word for its push (its Shapley value, in log-odds); struck-through grey words are not in the "
    "vocabulary.")
MAX_HIGHLIGHT_MIX = 0.6  # at most this share of sentiment colour in the background (less where contrast needs)
MIN_HIGHLIGHT_MIX = 0.03  # a word with less than 5% of the strongest word's push stays uncoloured
MIN_CONTRAST = 4.5  # WCAG AA for normal text, checked against the highlight
TOP_WORDS = 3
TOP_PHRASES = 3  # phrases listed under the words (n-gram models)
# A word is listed as pushing one way from 0.05 in log-odds (odds times 1.05): "time +0.003" listed as
# "towards positive" in a clearly negative review reads as a claim the numbers do not make.
MIN_LISTED_PUSH = 0.05
SURE_CAP = 0.995  # from this on the rounded percentage would read "100% sure", which no model is
NO_KNOWN_WORD_NOTE = (
    "None of these words are in the model's vocabulary, so the score means little: "
    "the model read only unknown words."
)


def sentiment_colors(palette: QPalette) -> dict[str, QColor]:
    """Green for positive, red for negative, dark or light enough to read on the palette's base."""
    dark = palette.color(QPalette.ColorRole.Base).lightness() < 128
    return {
        POSITIVE: QColor("#5fd27f" if dark else "#1b7f3b"),
        NEGATIVE: QColor("#ff7b72" if dark else "#c0392b"),
    }


def _luminance(color: QColor) -> float:
    def channel(v: float) -> float:
        return v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4

    return 0.2126 * channel(color.redF()) + 0.7152 * channel(color.greenF()) + 0.0722 * channel(color.blueF())


def contrast_ratio(a: QColor, b: QColor) -> float:
    """WCAG contrast ratio of two colours, from 1 (same) to 21 (black on white)."""
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def _mix(base: QColor, color: QColor, amount: float) -> QColor:
    return QColor.fromRgbF(*(b + (c - b) * amount for b, c in (
        (base.redF(), color.redF()), (base.greenF(), color.greenF()), (base.blueF(), color.blueF()))))


def highlight_color(palette: QPalette, contribution: float, scale: float) -> QColor | None:
    """The background of a word that moved the score by ``contribution``: the sentiment colour mixed
    into the text background by the word's share of ``scale`` (the review's strongest push), never so
    strong that the palette's text colour loses contrast on it. None for a word too weak to colour."""
    if scale <= 0:
        return None
    strength = min(1.0, abs(contribution) / scale)
    amount = MAX_HIGHLIGHT_MIX * strength
    if amount < MIN_HIGHLIGHT_MIX:
        return None
    base = palette.color(QPalette.ColorRole.Base)
    text = palette.color(QPalette.ColorRole.Text)
    color = sentiment_colors(palette)[POSITIVE if contribution > 0 else NEGATIVE]
    mixed = _mix(base, color, amount)
    while amount > 0.05 and contrast_ratio(mixed, text) < MIN_CONTRAST:
        amount -= 0.05
        mixed = _mix(base, color, amount)
    return mixed


def muted_color(palette: QPalette) -> QColor:
    return palette.color(QPalette.ColorRole.PlaceholderText)


def signed(value: float) -> str:
    """A contribution as shown: sign always, a real minus sign, three decimals."""
    return f"{value:+.3f}".replace("-", "\u2212")


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "\u2026"


def confidence_text(probability: float) -> str:
    """How sure the verdict is, e.g. "83% sure"; never "100%": above 99.5% it says "> 99.5% sure"."""
    sure = max(probability, 1 - probability)
    return "> 99.5% sure" if sure >= SURE_CAP else f"{sure:.0%} sure"


def verdict_text(probability: float, label: str) -> str:
    return f"{label.capitalize()}  ({confidence_text(probability)})"


def probability_text(probability: float) -> str:
    """A probability as the panel shows it: three decimals, more near 0 or 1 so it never reads 0.000."""
    for digits in (3, 4, 5, 6):
        shown = f"{probability:.{digits}f}"
        if 0 < float(shown) < 1:
            return shown
    return f"{probability:.2g}"


def adds_up_text(explanation: Explanation) -> str:
    """The line under the gauge that says where the score came from, e.g. "From 0.435 with every word
    unknown to 0.003: these pushes add up to the difference, in log-odds (-5.70)"."""
    base, score = probability_text(explanation.baseline_probability), probability_text(explanation.probability)
    if not explanation.adds_up:
        return (f"From {base} with every word unknown to {score}. Occlusion: each push is the change when only "
                "that word is read as unknown; the pushes do not add up to the difference.")
    return (f"From {base} with every word unknown to {score}: these pushes add up to the difference, "
            f"in log-odds ({f'{explanation.total_push():+.2f}'.replace('-', chr(0x2212))}).")


def method_text(explanation: Explanation, refining: bool = False) -> str:
    """How the pushes were computed, in words (the panel's small print)."""
    known = sum(1 for t in explanation.tokens if t.known)
    if explanation.method == SHAPLEY_EXACT:
        return (f"Shapley values, exact: all {2 ** known:,} subsets of the {known:,} known "
                f"word{'s' if known != 1 else ''} scored.")
    if explanation.method == OCCLUSION:
        return "Occlusion: one word at a time read as unknown."
    if explanation.sampled:
        text = (f"Shapley values estimated from {explanation.samples:,} orderings of the {known:,} known words "
                f"(largest uncertainty ±{explanation.max_standard_error():.2f}, one standard error)")
        return text + (": refining…" if refining else ".")
    if explanation.method == LINEAR_EXACT:
        return ("Shapley values, exact: the model adds up the weights of the review's words and word pairs, so "
                "each word gets its own weight and half of each pair it is in.")
    return f"{explanation.method} values."


@dataclass(frozen=True)
class ScoredReview:
    prediction: Prediction
    total_words: int  # tokens in the whole review, before truncation
    model_name: str
    explanation: Explanation | None = None  # each seen token's contribution to the score
    text: str = ""  # the review as written, for the sums per sentence ("" where not kept)

    @property
    def words_cut(self) -> int:
        return max(0, self.total_words - len(self.prediction.tokens))

    @classmethod
    def of(cls, explanation: Explanation, model_name: str, text: str = "") -> ScoredReview:
        return cls(explanation.prediction, explanation.words_cut + len(explanation.tokens), model_name,
                   explanation, text)


class ProbabilityGauge(QWidget):
    """A bar from 0 (negative, left) to 1 (positive, right) with a marker at the probability and a
    dotted line at the decision threshold."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._value: float | None = None
        self._threshold = DEFAULT_THRESHOLD
        self.setMinimumHeight(26)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setAccessibleName("Probability that the review is positive")

    def value(self) -> float | None:
        return self._value

    def setValue(self, value: float | None) -> None:
        self._value = None if value is None else min(1.0, max(0.0, float(value)))
        self.setToolTip("" if self._value is None else f"P(positive) = {self._value:.3f}")
        self.update()

    def set_threshold(self, threshold: float) -> None:
        self._threshold = min(1.0, max(0.0, float(threshold)))
        self.update()

    def sizeHint(self) -> QSize:
        return QSize(240, 26)

    def paintEvent(self, event: Any) -> None:
        palette = self.palette()
        colors = sentiment_colors(palette)
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        track = QRectF(self.rect()).adjusted(6, 7, -6, -7)
        radius = track.height() / 2
        if self._value is None:
            painter.setBrush(palette.color(QPalette.ColorRole.Mid))
        else:
            gradient = QLinearGradient(track.topLeft(), track.topRight())
            for stop, color in ((0.0, colors[NEGATIVE]), (self._threshold, palette.color(QPalette.ColorRole.Mid)),
                                (1.0, colors[POSITIVE])):
                faded = QColor(color)
                faded.setAlpha(150)
                gradient.setColorAt(stop, faded)
            painter.setBrush(gradient)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.drawRoundedRect(track, radius, radius)
        # The decision threshold.
        painter.setPen(QPen(palette.color(QPalette.ColorRole.WindowText), 1, Qt.PenStyle.DotLine))
        mid = track.left() + self._threshold * track.width()
        painter.drawLine(int(mid), int(track.top()) - 3, int(mid), int(track.bottom()) + 3)
        if self._value is not None:
            x = track.left() + self._value * track.width()
            color = colors[POSITIVE if self._value >= self._threshold else NEGATIVE]
            painter.setPen(QPen(palette.color(QPalette.ColorRole.Base), 2))
            painter.setBrush(color)
            r = self.height() / 2 - 2
            painter.drawEllipse(QRectF(x - r, self.height() / 2 - r, 2 * r, 2 * r))
        painter.end()


class ExplanationView(QWidget):
    """The verdict, the gauge, what the model read (highlighted) and the words that moved it most."""

    def __init__(self, parent: QWidget | None = None, *, intro: str = "What the model read, and which words "
                 "moved the score:", compact: bool = False):
        super().__init__(parent)
        self._shown: ScoredReview | None = None
        self._extra_note = ""  # a line about where the review came from (the Evaluate tab's true label)
        self.result_title = QLabel()
        title_font = QFont(self.result_title.font())
        if title_font.pointSizeF() > 0:
            title_font.setPointSizeF(title_font.pointSizeF() * 1.6)
        title_font.setBold(True)
        self.result_title.setFont(title_font)
        self.gauge = ProbabilityGauge()
        ends = QHBoxLayout()
        ends.addWidget(QLabel("0 \u00b7 negative"))
        ends.addStretch(1)
        ends.addWidget(QLabel("positive \u00b7 1"))
        self.score_label = WrappedLabel()
        self.score_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        # Where the score came from: baseline, score, and that the pushes add up (models/explain.py).
        self.adds_up_label = WrappedLabel()
        self.adds_up_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.method_label = WrappedLabel()
        self._refining = False
        self.note_label = WrappedLabel()
        self.note_label.hide()
        seen_row = QHBoxLayout()
        intro_label = WrappedLabel(intro)
        if compact:  # a narrow panel: the intro on its own line, wrapped, and the switches under it
            seen_row.addStretch(1)
        else:  # beside the switches, wrapped where the column is narrow (the Predict tab at 1024 px)
            seen_row.addWidget(intro_label, 1)
        self.per_sentence = QCheckBox("Per &sentence")
        self.per_sentence.setToolTip("Each sentence's pushes summed: the sums add up to the score's difference "
                                     "from the baseline too")
        self.per_sentence.toggled.connect(self.render)
        seen_row.addWidget(self.per_sentence)
        self.show_ids = QCheckBox("Show word &ids")
        self.show_ids.toggled.connect(self.render)
        seen_row.addWidget(self.show_ids)
        self.tokens_view = QTextBrowser()
        self.tokens_view.setOpenLinks(False)
        self.tokens_view.setAccessibleName("The words the model read, coloured by how they moved the score")
        # The words that moved the score most, in words as well as colour.
        self.top_words_label = WrappedLabel()
        self.top_words_label.setTextFormat(Qt.TextFormat.RichText)
        self.top_words_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.tokens_legend = WrappedLabel(TOKENS_LEGEND_SHORT)
        self.tokens_legend.setToolTip(TOKENS_LEGEND)
        if compact:  # where space is short, the legend is only the words' tooltip
            self.tokens_legend.hide()
            self.tokens_view.setToolTip(TOKENS_LEGEND)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.result_title)
        layout.addWidget(self.gauge)
        layout.addLayout(ends)
        layout.addWidget(self.score_label)
        layout.addWidget(self.adds_up_label)
        layout.addWidget(self.note_label)
        if compact:
            layout.addWidget(intro_label)
        layout.addLayout(seen_row)
        layout.addWidget(self.tokens_view, 1)
        layout.addWidget(self.top_words_label)
        layout.addWidget(self.method_label)
        layout.addWidget(self.tokens_legend)

    def shown(self) -> ScoredReview | None:
        """The score, with its explanation, on display now (None while a message is shown)."""
        return self._shown

    def show_message(self, title: str, detail: str = "") -> None:
        """A calm message in place of a result (empty box, no model, loading, a failure)."""
        self._shown = None
        self.result_title.setStyleSheet(f"color: {muted_color(self.palette()).name()};")
        self.result_title.setText(title)
        self.gauge.setValue(None)
        self.score_label.clear()
        self.adds_up_label.clear()
        self.method_label.clear()
        self.note_label.setText(detail)
        self.note_label.setVisible(bool(detail))
        self.tokens_view.clear()
        self.top_words_label.clear()

    def show_result(self, result: ScoredReview, extra_note: str = "", refining: bool = False) -> None:
        """Show a scored review; ``refining`` says a sampled explanation is being refined in the background
        (a later ``show_result`` with the refined one replaces it)."""
        self._shown = result
        self._extra_note = extra_note
        self._refining = refining
        self.render()

    def set_refining(self, refining: bool) -> None:
        if refining != self._refining:
            self._refining = refining
            self.render()

    def refining(self) -> bool:
        return self._refining and self._shown is not None

    @Slot()
    def render(self) -> None:
        result = self._shown
        if result is None:
            return
        p = result.prediction
        palette = self.palette()
        color = sentiment_colors(palette)[p.label]
        self.result_title.setStyleSheet(f"color: {color.name()};")
        self.result_title.setText(verdict_text(p.probability, p.label))
        self.gauge.setValue(p.probability)
        seen = len(p.tokens)
        self.score_label.setText(
            f"P(positive) = {p.probability:.3f} with {result.model_name!r}. "
            f"Read {seen:,} word{'s' if seen != 1 else ''}: {p.known_tokens:,} known, "
            f"{p.oov_tokens:,} not in the vocabulary."
        )
        notes = [self._extra_note] if self._extra_note else []
        if p.known_tokens == 0:
            notes.append(NO_KNOWN_WORD_NOTE)
        if p.truncated:
            notes.append(
                f"The review has {result.total_words:,} words; the model reads only the last {seen:,}, "
                f"so the first {result.words_cut:,} were cut."
            )
        self.note_label.setText("\n".join(notes))
        self.note_label.setVisible(bool(notes))
        explanation = result.explanation
        self.adds_up_label.setText(adds_up_text(explanation) if explanation is not None and explanation.tokens else "")
        self.method_label.setText(method_text(explanation, self._refining) if explanation is not None else "")
        muted = muted_color(palette).name()
        self.method_label.setStyleSheet(f"color: {muted};")
        sentences = self.sentences_html(result, palette) if self.per_sentence.isChecked() else None
        self.per_sentence.setEnabled(explanation is not None and explanation.adds_up and bool(result.text))
        self.tokens_view.setHtml(sentences if sentences is not None else self.tokens_html(result, palette))
        self.top_words_label.setText(self.top_words_html(result.explanation, palette))

    def tokens_html(self, result: ScoredReview, palette: QPalette) -> str:
        """The seen words as highlighted text: the colour says which way and how much each moved the score."""
        p = result.prediction
        muted = muted_color(palette).name()
        explained = result.explanation.tokens if result.explanation is not None else \
            [TokenContribution(t, i, 0.0) for t, i in zip(p.tokens, p.ids)]
        # Relative to this review's strongest word, with no floor: a review the model is sure of still
        # shows which of its words made it so.
        scale = max((abs(t.contribution) for t in explained), default=0.0)
        parts = []
        if result.words_cut:
            cut_tip = (f"The model reads only the last {len(p.tokens):,} words: the first {result.words_cut:,} "
                       "were cut and play no part in the score.")
            parts.append(f'<i style="color:{muted}" title="{html.escape(cut_tip)}">'
                         f"[{result.words_cut:,} words cut] \u2026</i>")
        show_ids = self.show_ids.isChecked()
        for index, t in enumerate(explained):
            word = html.escape(t.token)
            if not t.known:
                tip = (f"\u201c{t.token}\u201d is not in the model's vocabulary: it is read as the unknown "
                       "word (id 2), so it adds nothing of its own.")
                word = f'<span style="color:{muted}; text-decoration: line-through">{word}</span>'
            elif result.explanation is None:
                tip = ""
            else:
                tip = push_tooltip(result.explanation, index)
                background = highlight_color(palette, t.contribution, scale)
                if background is not None:
                    word = f'<span style="background-color:{background.name()}">{word}</span>'
            if show_ids:
                word += f'<sub style="color:{muted}">{t.id}</sub>'
            parts.append(f'<span title="{html.escape(tip)}">{word}</span>' if tip else word)
        return f"<p style='line-height: 150%'>{' '.join(parts)}</p>"

    def sentences_html(self, result: ScoredReview, palette: QPalette) -> str | None:
        """Each sentence the model read with the sum of its words' pushes, coloured like a word (None when
        the sentences cannot be matched to the words read, or the method does not add up)."""
        if result.explanation is None or not result.text:
            return None
        sentences = sentence_pushes(result.text, result.explanation)
        if not sentences:
            return None
        muted = muted_color(palette).name()
        scale = max(abs(s.push) for s in sentences)
        rows = []
        if result.words_cut:
            rows.append(f'<p style="color:{muted}"><i>[{result.words_cut:,} words cut]</i></p>')
        for sentence in sentences:
            background = highlight_color(palette, sentence.push, scale)
            style = f"background-color:{background.name()}; " if background is not None else ""
            shown = ("\u2026 " if sentence.cut else "") + excerpt(sentence.text, 300)
            tip = (f"The {sentence.words:,} word{'s' if sentence.words != 1 else ''} of this sentence that the model "
                   f"read pushed the score by {signed(sentence.push)} in log-odds together"
                   + (" (its front was cut)." if sentence.cut else "."))
            rows.append(f'<p title="{html.escape(tip)}"><span style="{style}font-family: monospace">'
                        f"<b>{signed(sentence.push)}</b></span>&nbsp; {html.escape(shown)}</p>")
        return "".join(rows)

    def top_words_html(self, explanation: Explanation | None, palette: QPalette) -> str:
        """The words that moved the score most, in words, for those who do not tell red from green."""
        if explanation is None or not explanation.tokens:
            return ""
        colors = sentiment_colors(palette)
        lines = []
        for label, top in (("towards positive", explanation.top_positive(TOP_WORDS)),
                           ("towards negative", explanation.top_negative(TOP_WORDS))):
            strong = [t for t in top if abs(t.contribution) >= MIN_LISTED_PUSH]
            color = colors[POSITIVE if label.endswith(POSITIVE) else NEGATIVE].name()
            words = ", ".join(f'<span style="color:{color}"><b>{html.escape(t.token)}</b> '
                              f"{signed(t.contribution)}</span>" for t in strong) or "no word"
            lines.append(f"Pushed {label}: {words}")
        # A model over word pairs (n-grams) weighs a phrase as a whole ("not good"); each of its words above
        # holds its share. The phrases that weigh most, by their whole weight:
        phrases = sorted((ph for ph in explanation.phrases if abs(ph.weight) >= MIN_LISTED_PUSH),
                         key=lambda ph: -abs(ph.weight))[:TOP_PHRASES]
        if phrases:
            listed = ", ".join(
                f'<span style="color:{colors[POSITIVE if ph.weight > 0 else NEGATIVE].name()}">'
                f"<b>\u201c{html.escape(ph.text)}\u201d</b> {signed(ph.weight)}</span>" for ph in phrases)
            lines.append(f"Phrases, weighed whole (shared among their words above): {listed}")
        return "<br>".join(lines)

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        # A light/dark switch: re-pick readable colours (not during construction).
        if event.type() == QEvent.Type.PaletteChange and hasattr(self, "tokens_view"):
            self.render()


def push_tooltip(explanation: Explanation, index: int) -> str:
    """What hovering a known word says: its push in log-odds, with its uncertainty when sampled."""
    t = explanation.tokens[index]
    error = explanation.standard_error(index)
    size = signed(t.contribution) + (f" \u00b1 {error:.3f}" if error is not None else "")
    if explanation.method == OCCLUSION:
        without = 1.0 / (1.0 + math.exp(-_clamp(_logit_of(explanation.probability) - t.contribution)))
        return (f"\u201c{t.token}\u201d moved the score by {size} in log-odds (occlusion): read as an unknown "
                f"word instead, P(positive) would be {without:.3f}.")
    factor = math.exp(_clamp(t.contribution))
    odds = f"multiplies the odds of positive by {factor:.2f}" if t.contribution >= 0 else \
        f"divides the odds of positive by {1 / factor:.2f}"
    uncertainty = " (\u00b1 one standard error: the value is estimated from sampled orderings)" \
        if error is not None else ""
    return (f"\u201c{t.token}\u201d pushed the score by {size} in log-odds{uncertainty}: on average over every set "
            f"of the other words, reading it rather than the unknown word {odds}.")


def _clamp(x: float) -> float:
    return max(-700.0, min(700.0, x))


def _logit_of(probability: float) -> float:
    p = min(max(probability, 1e-7), 1 - 1e-7)
    return math.log(p / (1 - p))
