"""The Evaluate tab: where a model is wrong, and why.

Pick a model (and, to compare, a second one) and a data set; one scoring pass in the background
(models/evaluation.py, with progress, an ETA and Cancel) gives every figure: accuracy, per-class
precision / recall / F1, ROC AUC, log loss, a clickable confusion matrix, ROC, precision-recall and
calibration curves, and accuracy by review length. The threshold slider recomputes all of it from
the stored probabilities, without scoring again; a new pass for other models starts again at the
default threshold (and says so). The table lists the reviews of the chosen cell (or those the two
models disagree on), the most confidently wrong first; selecting one explains its score with the
Predict tab's word highlighting. With two models, a chooser says whose matrix, reviews and
explanations are shown. Export CSV writes the columns of ``evaluate --misclassified`` (models/reports.py).
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSlider,
    QSpinBox,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.background import BackgroundTasks
from app.corrections_ui import LabelsSwitch, identify_quietly
from app.data_source_view import ANY_SOURCE_HINT, DataSourceView
from app.evaluation_plots import EvaluationPlots
from app.explanation_refiner import ExplanationRefiner, needs_refining
from app.explanation_view import ExplanationView, ScoredReview, sentiment_colors
from app.model_cache import ModelCache, ModelPicker, usable_models
from app.results_table import Column, ResultsPanel, text_column
from app.wrapping import WrappingScrollArea
from models import evaluation as ev
from models import reports
from models.corrections import DataIdentity
from models.datasets import Dataset, load_source, trained_on_at_hand
from models.explain import Explanation, explain_stages
from models.prediction import NEGATIVE, POSITIVE, Predictor
from models.store import ModelInfo, ModelStore

SLIDER_STEPS = 1000  # the threshold moves in steps of 0.001
SECOND_MODEL_COLUMNS = (2, 5)  # in the reviews table, the second model's P and prediction: shown when comparing
ORDINALS = ("1st model", "2nd model")  # the metrics' column headers when two are compared (names are long)
SELECT_A_REVIEW = ("Select a review", "Its words appear here, coloured by how they moved the chosen model's score.")

# What the reviews table shows: (label, actual, predicted); None = every wrong review.
SHOW_WRONG, SHOW_FP, SHOW_FN, SHOW_TP, SHOW_TN, SHOW_DISAGREE = range(6)
SHOW_CHOICES = [
    (SHOW_WRONG, "Every review it got wrong", None),
    (SHOW_FP, "False positives (negative reviews called positive)", (0, 1)),
    (SHOW_FN, "False negatives (positive reviews called negative)", (1, 0)),
    (SHOW_TP, "True positives", (1, 1)),
    (SHOW_TN, "True negatives", (0, 0)),
    (SHOW_DISAGREE, "Where the two models disagree", None),
]
CELL_TO_SHOW = {(0, 0): SHOW_TN, (0, 1): SHOW_FP, (1, 0): SHOW_FN, (1, 1): SHOW_TP}
CELL_NAMES = {(0, 0): "true negative", (0, 1): "false positive", (1, 0): "false negative", (1, 1): "true positive"}


@dataclass(frozen=True)
class EvaluationOutcome:
    spec: str
    data: Dataset
    evaluations: list[ev.Evaluation]  # the model, then the one compared with it
    predictors: list[Predictor]
    infos: list[ModelInfo]
    scored: Dataset | None = None  # data, limited as it was scored (the corrections apply to it)
    identity: DataIdentity | None = None  # the data set's, for its corrections (None: not hashed, see problem)
    identity_problem: str | None = None


def _data_key(spec: str) -> tuple:
    """What identifies a data set read from ``spec``: the text, and for a file its size and time."""
    try:
        st = Path(spec).expanduser().stat()
        return spec, st.st_size, st.st_mtime_ns
    except (OSError, ValueError):
        return (spec,)


def _label(value: int) -> str:
    return POSITIVE if value else NEGATIVE


def _figure(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


class EvaluateTab(QWidget):
    status_message = Signal(str)
    running_changed = Signal(bool)
    evaluated = Signal()  # a scoring pass finished and everything shows its results
    _progress = Signal(int, int)  # from the scoring thread, delivered queued
    _phase = Signal(str)

    def __init__(self, store: ModelStore, tasks: BackgroundTasks, parent: QWidget | None = None,
                 cache: ModelCache | None = None):
        super().__init__(parent)
        self.store = store
        self.tasks = tasks
        self.cache = cache or ModelCache(store, tasks, self)
        self.evaluations: list[ev.Evaluation] = []  # on display: on the file's labels or on the corrected ones
        self._scored: list[ev.Evaluation] = []  # the last pass's, on the file's labels
        self._aucs: list[float | None] = []
        self._metrics: list[ev.Metrics] = []
        self._data: tuple[tuple, Dataset] | None = None  # the last data set read (by _data_key), kept
        self._identity: tuple[tuple, DataIdentity | None, str | None] | None = None  # its hash (for corrections)
        self._cancel: threading.Event | None = None
        self._explain_request = 0
        self.refiner = ExplanationRefiner(tasks, self)  # refines a sampled "Why" while it is on display
        self.refiner.finished.connect(lambda: self.explanation.set_refining(False))
        self._predictors: list[Predictor] = []
        self._evaluated_ids: tuple[str, ...] = ()  # the models of the last pass, to know a new choice
        self._progress.connect(self._on_progress)
        self._phase.connect(lambda text: self.panel.set_message(text))
        self._build_ui()
        self.refresh_models()

    # -- layout ---------------------------------------------------------------------------
    def _build_ui(self) -> None:
        self.model_combo = ModelPicker()
        self.model_combo.currentIndexChanged.connect(self._on_model_changed)
        self.compare_combo = ModelPicker(none_text="(no second model)")
        # The Train tab's data view, compact: the field and Browse (this tab's pass reads the data set itself).
        self.data_view = DataSourceView(compact=True)
        self.data_view.source_path.setToolTip("The data set to evaluate on: its test split is scored. "
                                              + ANY_SOURCE_HINT)
        self.model_data_button = QPushButton("The model's &own data")
        self.model_data_button.setToolTip("The data set the model was trained on (its test split)")
        self.model_data_button.clicked.connect(self.use_model_data)
        self.limit_box = QSpinBox()
        self.limit_box.setRange(0, 10_000_000)
        self.limit_box.setSingleStep(1000)
        self.limit_box.setSpecialValueText("all")
        self.limit_box.setToolTip("Score at most this many test reviews, balanced between the labels (all: every one)")
        form = QGridLayout()
        model_label, compare_label, data_label, limit_label = (QLabel("&Model:"), QLabel("Compare &with:"),
                                                               QLabel("&Data:"), QLabel("&Reviews:"))
        for label, buddy in ((model_label, self.model_combo), (compare_label, self.compare_combo),
                             (data_label, self.data_view.source_path), (limit_label, self.limit_box)):
            label.setBuddy(buddy)
        form.addWidget(model_label, 0, 0)
        form.addWidget(self.model_combo, 0, 1)
        form.addWidget(compare_label, 0, 2)
        form.addWidget(self.compare_combo, 0, 3)
        form.addWidget(limit_label, 0, 4)
        form.addWidget(self.limit_box, 0, 5)
        form.addWidget(data_label, 1, 0)
        form.addWidget(self.data_view, 1, 1, 1, 3)
        form.addWidget(self.model_data_button, 1, 4, 1, 2)
        form.setColumnStretch(3, 1)

        # Threshold, metrics and the confusion matrix.
        self.threshold_slider = QSlider(Qt.Orientation.Horizontal)
        self.threshold_slider.setRange(0, SLIDER_STEPS)
        self.threshold_slider.setValue(SLIDER_STEPS // 2)
        self.threshold_slider.setPageStep(SLIDER_STEPS // 20)
        self.threshold_slider.setToolTip("Predict positive when P(positive) is at least this. Everything below "
                                         "follows at once, without scoring again.")
        self.threshold_slider.valueChanged.connect(self._on_threshold)
        self.threshold_label = QLabel()
        # A button that says what it does: a bare "0.5" beside the slider read as a value.
        self.reset_threshold_button = QPushButton(f"Reset to {ev.DEFAULT_THRESHOLD:g}")
        self.reset_threshold_button.setToolTip("Back to the default threshold")
        self.reset_threshold_button.clicked.connect(lambda: self.set_threshold(ev.DEFAULT_THRESHOLD))
        threshold_row = QHBoxLayout()
        threshold_row.addWidget(QLabel("&Threshold:"))
        threshold_row.itemAt(0).widget().setBuddy(self.threshold_slider)
        threshold_row.addWidget(self.threshold_slider, 1)
        threshold_row.addWidget(self.threshold_label)
        threshold_row.addWidget(self.reset_threshold_button)

        self.metrics_table = QTableWidget(0, 1)
        self.metrics_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.metrics_table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        # Sized to its figures, whole (no scroll bars): see _fill_metrics.
        self.metrics_table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.metrics_table.horizontalHeader().setStretchLastSection(True)
        for policy in (self.metrics_table.setHorizontalScrollBarPolicy, self.metrics_table.setVerticalScrollBarPolicy):
            policy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        # The headers are short ("1st model"); the models' full names are in the line above the table.
        self.metrics_table.horizontalHeader().setTextElideMode(Qt.TextElideMode.ElideRight)
        self.models_legend = QLabel()
        self.models_legend.setWordWrap(True)
        self.models_legend.setTextFormat(Qt.TextFormat.RichText)
        self.models_legend.hide()
        self.metrics_table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.metrics_note = QLabel()
        self.metrics_note.setWordWrap(True)
        self.metrics_note.hide()

        self.confusion_table = QTableWidget(2, 2)
        self.confusion_table.setHorizontalHeaderLabels(["Predicted\nnegative", "Predicted\npositive"])
        self.confusion_table.setVerticalHeaderLabels(["Actually\nnegative", "Actually\npositive"])
        self.confusion_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.confusion_table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.confusion_table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.confusion_table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.confusion_table.setToolTip("Click a cell to list its reviews below")
        # Each row holds a two-line cell: the table is never shorter than its header and both rows.
        two_lines = 2 * self.fontMetrics().lineSpacing() + 10
        self.confusion_table.verticalHeader().setMinimumSectionSize(two_lines)
        self.confusion_table.setMinimumHeight(self.confusion_table.horizontalHeader().sizeHint().height()
                                              + 2 * two_lines + 2 * self.confusion_table.frameWidth())
        self.confusion_table.cellClicked.connect(self.select_cell)
        # Which model the matrix, the reviews listed and the Why panel are about, when two are compared.
        self.focus_combo = QComboBox()
        self.focus_combo.setToolTip("The model whose confusion matrix, reviews and explanations are shown")
        self.focus_combo.currentIndexChanged.connect(self._on_focus_changed)
        self.focus_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.focus_combo.setMinimumContentsLength(14)  # the models' names are long: the list shows them whole
        self.focus_combo.hide()
        self.confusion_label = QLabel("Confusion matrix (click a cell to list its reviews):")
        self.confusion_label.setWordWrap(True)

        # Side by side, not stacked: at 1024x700 the metrics, the threshold and the matrix fit the height
        # the plots beside them need anyway (stacked, the matrix's label was drawn over a metric).
        # "Labels: original / corrected": every figure on the file's labels or on your corrections.
        self.labels_switch = LabelsSwitch()
        self.labels_switch.changed.connect(self._on_labels_changed)
        metrics_column = QVBoxLayout()
        metrics_column.addWidget(self.labels_switch)
        metrics_column.addWidget(self.models_legend)
        metrics_column.addWidget(self.metrics_table)
        metrics_column.addWidget(self.metrics_note)
        metrics_column.addStretch(1)
        matrix_column = QVBoxLayout()
        matrix_column.addLayout(threshold_row)
        matrix_column.addWidget(self.confusion_label)
        matrix_column.addWidget(self.focus_combo)
        matrix_column.addWidget(self.confusion_table)
        matrix_column.addStretch(1)
        figures_page = QWidget()
        figures_layout = QHBoxLayout(figures_page)
        figures_layout.setContentsMargins(0, 0, 0, 0)
        figures_layout.addLayout(metrics_column, 1)
        figures_layout.addLayout(matrix_column, 1)
        # Scrolls if the window is smaller still, instead of squeezing the tables over each other.
        self.figures_scroll = WrappingScrollArea(figures_page)
        figures = QGroupBox("Figures")
        figures_box = QVBoxLayout(figures)
        figures_box.setContentsMargins(2, 2, 2, 2)
        figures_box.addWidget(self.figures_scroll)

        # Curves, and accuracy by length.
        self.plots = EvaluationPlots()
        self.length_table = QTableWidget(0, 4)
        self._set_length_columns(1)
        self.length_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.length_table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.length_table.verticalHeader().hide()  # the rows are named by their length
        self.length_note = QLabel()
        self.length_note.setWordWrap(True)
        length_page = QWidget()
        length_layout = QVBoxLayout(length_page)
        length_layout.addWidget(self.length_note)
        length_layout.addWidget(self.length_table, 1)
        self.plots.addTab(length_page, "By length")

        top = QSplitter(Qt.Orientation.Horizontal)
        top.addWidget(figures)
        top.addWidget(self.plots)
        top.setStretchFactor(0, 3)
        top.setStretchFactor(1, 2)
        top.setSizes([800, 600])

        # The reviews, and why one got its score.
        self.evaluate_button = QPushButton("E&valuate")
        self.evaluate_button.setToolTip("Score the data set's test split with the model (and the second one)")
        self.evaluate_button.clicked.connect(self.start)
        self.show_combo = QComboBox()
        for value, text, _ in SHOW_CHOICES:
            self.show_combo.addItem(text, value)
        self.show_combo.currentIndexChanged.connect(self._refresh_reviews)
        self.show_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.show_combo.setMinimumContentsLength(16)
        show_label = QLabel("&Show:")
        show_label.setBuddy(self.show_combo)
        self.suspects_button = QPushButton("Suspect &labels...")
        self.suspects_button.setToolTip("Reviews of this data set whose label looks wrong, and your verdicts on them")
        self.suspects_button.clicked.connect(self.open_suspects)
        self.suspects_dialog = None
        # On the buttons' line: at 1024x700 every line above the table is a review less in view.
        self.panel = ResultsPanel(self._columns(), [self.evaluate_button, self.suspects_button],
                                  "Pick a model and a data set, then press Evaluate.", "evaluation",
                                  trailing=[show_label, self.show_combo])
        self.panel.csv_writer = self._write_csv  # the columns of evaluate --misclassified, by the same writer
        self.panel.cancel_requested.connect(self.cancel)
        self.panel.row_selected.connect(self._on_row_selected)
        reviews_box = QGroupBox("Reviews")
        reviews_layout = QVBoxLayout(reviews_box)
        reviews_layout.addWidget(self.panel, 1)
        self.explanation = ExplanationView(intro="How each word moved the score:", compact=True)
        self.explanation.show_message(*SELECT_A_REVIEW)
        why_box = QGroupBox("Why")
        # A long explanation scrolls; it never takes the figures' height, nor draws a line over another.
        QVBoxLayout(why_box).addWidget(WrappingScrollArea(self.explanation))
        bottom = QSplitter(Qt.Orientation.Horizontal)
        bottom.addWidget(reviews_box)
        bottom.addWidget(why_box)
        bottom.setStretchFactor(0, 3)
        bottom.setStretchFactor(1, 2)
        bottom.setSizes([580, 420])

        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.addWidget(top)
        self.splitter.addWidget(bottom)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        self.splitter.setSizes([520, 340])
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.splitter, 1)
        self._show_threshold()
        self._update_buttons()

    def _columns(self) -> list[Column]:
        """Rows are review indices into the current evaluations. The columns see the tab through a weak
        reference: a strong one would make a cycle (tab -> table model -> columns -> tab) that the garbage
        collector may break on any thread, and a QWidget destroyed off the GUI thread deadlocks."""
        tab = weakref.proxy(self)
        def first(i):
            return tab.evaluations[0]

        def p(k):
            return lambda i: float(tab.evaluations[k].probabilities[i]) if len(tab.evaluations) > k else -1.0

        def said(k):  # model k's prediction at the threshold, "" without a second model
            return lambda i: _label(p(k)(i) >= tab.threshold()) if len(tab.evaluations) > k else ""

        return [
            text_column("Review", lambda i: first(i).texts[i]),
            Column("P(pos.)", lambda i: f"{p(0)(i):.3f}", p(0), "probability", lambda i: f"{p(0)(i):.6f}",
                   align_right=True),
            Column("P (2nd)", lambda i: f"{p(1)(i):.3f}" if len(tab.evaluations) > 1 else "", p(1),
                   "probability_second_model", lambda i: f"{p(1)(i):.6f}" if len(tab.evaluations) > 1 else "",
                   align_right=True),
            Column("Label", lambda i: _label(first(i).labels[i]), lambda i: int(first(i).labels[i]),
                   "true_label", lambda i: _label(first(i).labels[i]), sentiment=lambda i: _label(first(i).labels[i])),
            Column("Predicted", said(0), lambda i: p(0)(i) >= tab.threshold(), "predicted_label", said(0),
                   sentiment=said(0)),
            Column("2nd says", said(1), lambda i: p(1)(i) >= tab.threshold(), "predicted_label_second_model",
                   said(1), sentiment=lambda i: said(1)(i) or None),
            # "cut": longer than the model reads (its front was never read); one column, not two, for width.
            Column("Tokens", lambda i: f"{first(i).lengths[i]:,}" + (", cut" if first(i).cut[i] else ""),
                   lambda i: int(first(i).lengths[i]), "length_tokens", lambda i: int(first(i).lengths[i]),
                   align_right=True),
        ]

    # -- models and data ----------------------------------------------------------------
    def refresh_models(self, select_id: str | None = None) -> None:
        infos, damaged, error = usable_models(self.store)
        if error:
            self.status_message.emit(error)
        self.model_combo.blockSignals(True)
        self.model_combo.set_models(infos, select_id)
        self.model_combo.blockSignals(False)
        self.compare_combo.set_models(infos)
        self.cache.refresh(infos)
        if not self.data_view.source_spec():
            self.use_model_data(quiet=True)
        self._update_buttons()

    def current_model(self) -> ModelInfo | None:
        return self.model_combo.current_model()

    def compared_model(self) -> ModelInfo | None:
        return self.compare_combo.current_model()

    @Slot()
    def _on_model_changed(self) -> None:
        self.use_model_data(quiet=True)
        self._update_buttons()

    def use_model_data(self, quiet: bool = False) -> bool:
        """Put the data set the current model was trained on in the data field, if it is at hand."""
        info = self.current_model()
        recorded = info.metadata.source if info is not None and info.metadata is not None else None
        source = trained_on_at_hand(recorded, info is not None and info.builtin)
        if source is not None:
            self.data_view.set_data_source(source)
            return True
        if not quiet:
            what = f"The data {info.name!r} was trained on ({recorded})" if info and recorded else "This model's data"
            self.panel.set_message(f"{what} is not at hand on this computer: choose a data set.", error=True)
        return False

    def set_data_source(self, spec: str, data: Dataset | None = None) -> None:
        """Evaluate on ``spec`` next; ``data``, if given, is that data set already read (by the Train tab)."""
        self.data_view.set_data_source(spec)
        if data is not None:
            self._data = (_data_key(spec), data)

    # -- threshold ----------------------------------------------------------------------
    def threshold(self) -> float:
        return self.threshold_slider.value() / SLIDER_STEPS

    def set_threshold(self, value: float) -> None:
        self.threshold_slider.setValue(int(round(min(1.0, max(0.0, value)) * SLIDER_STEPS)))

    def _show_threshold(self) -> None:
        self.threshold_label.setText(f"{self.threshold():.3f}")
        self.reset_threshold_button.setEnabled(self.threshold() != ev.DEFAULT_THRESHOLD)
        self.explanation.gauge.set_threshold(self.threshold())

    @Slot(int)
    def _on_threshold(self, _value: int) -> None:
        self._show_threshold()
        self._apply_threshold()

    # -- scoring ------------------------------------------------------------------------
    def is_running(self) -> bool:
        return self._cancel is not None

    @Slot()
    def start(self) -> None:
        """Score the data set's test split with the chosen model(s) in the background."""
        if self._cancel is not None:
            return
        info = self.current_model()
        spec = self.data_view.source_spec()
        if info is None:
            self.panel.set_message("There is no model to evaluate: train or import one first.", error=True)
            return
        if not spec:
            self.panel.set_message(f"Choose a data set to evaluate on: {ANY_SOURCE_HINT}.", error=True)
            return
        infos = [info]
        other = self.compared_model()
        if other is not None and other.id != info.id:
            infos.append(other)
        limit = self.limit_box.value() or None
        # The data set read last is used again only if its file has not changed since.
        known = self._data[1] if self._data is not None and self._data[0] == _data_key(spec) else None
        hashed = self._identity[1:] if known is not None and self._identity and self._identity[0] == self._data[0] \
            else None
        cancel = threading.Event()
        cache, progress, phase = self.cache, self._progress, self._phase

        def job() -> EvaluationOutcome:
            data = known
            if data is None:
                phase.emit(f"Reading {spec} ...")
                data = load_source(spec, progress=phase.emit)
            if cancel.is_set():
                raise ev.EvaluationCancelled("Evaluation cancelled.")
            scored = data.limited(limit) if limit else data
            evaluations, predictors = [], []
            n = len(scored.test)
            for k, model in enumerate(infos):
                phase.emit(f"Scoring {n:,} reviews with {model.name!r} ...")
                predictor = cache.open_now(model)

                def report(done: int, total: int, k: int = k) -> None:
                    progress.emit(k * n + done, len(infos) * total)

                evaluations.append(ev.evaluate(predictor, scored, on_progress=report, should_stop=cancel.is_set))
                predictors.append(predictor)
            identity = hashed or identify_quietly(spec)  # a large file is hashed once, not at every pass
            return EvaluationOutcome(spec, data, evaluations, predictors, infos, scored, *identity)

        self._cancel = cancel
        self._clear_results()  # nothing on display may belong to another pass
        self.panel.begin(f"Evaluating {info.name!r} on {spec} ...")
        self._update_buttons()
        self.running_changed.emit(True)
        self.tasks.run(job, on_success=self._on_done, on_failure=self._on_failed)

    @Slot()
    def cancel(self) -> None:
        if self._cancel is not None:
            self._cancel.set()
            self.panel.set_message("Cancelling ...")

    def open_suspects(self) -> None:
        """The Suspect labels window for the data set evaluated last (app/suspects_view.py)."""
        if self._data is None:
            return
        from app.suspects_view import SuspectLabelsDialog

        if self.suspects_dialog is not None:
            self.suspects_dialog.close()
        self.suspects_dialog = SuspectLabelsDialog(self.store, self.tasks, self._data[0][0], self._data[1], self)
        self.suspects_dialog.finished.connect(self.refresh_corrections)  # its verdicts: the corrected figures
        self.suspects_dialog.show()

    def refresh_corrections(self) -> None:
        """Read the data set's corrections again and show the figures on the labels chosen."""
        self.labels_switch.refresh()
        if self._scored:
            self._on_labels_changed()

    def shutdown(self) -> None:
        """Before the window closes: a running evaluation stops at its next chunk."""
        if self._cancel is not None:
            self._cancel.set()
        if self.suspects_dialog is not None:
            self.suspects_dialog.close()  # its search stops too

    @Slot(int, int)
    def _on_progress(self, done: int, total: int) -> None:
        self.panel.report(done, total)

    def _end(self) -> None:
        self._cancel = None
        self.panel.end()
        self._update_buttons()
        self.running_changed.emit(False)

    def _on_done(self, outcome: EvaluationOutcome) -> None:
        self._end()
        self._data = (_data_key(outcome.spec), outcome.data)
        self._identity = (self._data[0], outcome.identity, outcome.identity_problem)
        self._update_buttons()  # Suspect labels needs the data set just read
        for info, predictor in zip(outcome.infos, outcome.predictors):
            self.cache.keep(info, predictor)
        # A threshold set for other models is not carried over to these: back to the default, and said.
        # Evaluating the same models again keeps it, and says so too.
        ids = tuple(info.id for info in outcome.infos)
        threshold_note = ""
        if self.threshold() != ev.DEFAULT_THRESHOLD:
            if ids != self._evaluated_ids:
                threshold_note = (f" Threshold back to {ev.DEFAULT_THRESHOLD:g} (it was {self.threshold():.3f} "
                                  "for the models evaluated before).")
                self.threshold_slider.blockSignals(True)
                self.set_threshold(ev.DEFAULT_THRESHOLD)
                self.threshold_slider.blockSignals(False)
                self._show_threshold()
            else:
                threshold_note = f" Threshold kept at {self.threshold():.3f}, as set for these models."
        self._evaluated_ids = ids
        self._scored = outcome.evaluations
        self.labels_switch.set_data(outcome.identity, outcome.scored, outcome.identity_problem)
        self._predictors = outcome.predictors
        self._show_labels()
        first = self._scored[0]
        compared = len(self.evaluations) > 1
        self.metrics_table.setColumnCount(len(self.evaluations))
        self.metrics_table.setHorizontalHeaderLabels(list(ORDINALS) if compared else ["Value"])
        for c, e in enumerate(self.evaluations):
            self.metrics_table.horizontalHeaderItem(c).setToolTip(e.model_name)
        self.models_legend.setText(self.plots.models_html(self.evaluations, ORDINALS if compared else None))
        self.models_legend.show()
        self.focus_combo.blockSignals(True)
        self.focus_combo.clear()
        for ordinal, e in zip(ORDINALS, self.evaluations):
            self.focus_combo.addItem(f"{ordinal}: {e.model_name}")
            self.focus_combo.setItemData(self.focus_combo.count() - 1, e.model_name, Qt.ItemDataRole.ToolTipRole)
        self.focus_combo.setCurrentIndex(0)
        self.focus_combo.blockSignals(False)
        self.focus_combo.setVisible(compared)
        self._show_focus()
        self.show_combo.model().item(SHOW_DISAGREE).setEnabled(compared)
        for column in SECOND_MODEL_COLUMNS:
            self.panel.table.setColumnHidden(column, not compared)
        if not compared and self.show_combo.currentData() == SHOW_DISAGREE:
            self.show_combo.setCurrentIndex(SHOW_WRONG)
        self._apply_threshold()
        self.panel.export_name = f"evaluation-{first.model_name}"
        message = f"Evaluated {first.model_name!r} on {first.n:,} test reviews of {outcome.spec}"
        if compared:
            message += f", and {self.evaluations[1].model_name!r} on the same reviews"
        self.status_message.emit(message + "." + threshold_note)
        self.evaluated.emit()

    def _show_labels(self) -> None:
        """The last pass's scores on the labels chosen (the Labels switch), in the curves and the figures."""
        self.evaluations = self.labels_switch.view(self._scored)
        self._aucs = [ev.roc_auc_score(e.labels, e.probabilities) for e in self.evaluations]
        self.plots.show_evaluations(self.evaluations, self._aucs)

    @Slot()
    def _on_labels_changed(self) -> None:
        if not self._scored:
            return
        self._explain_request += 1  # the rows are other reviews now: an explanation on its way is not theirs
        self.explanation.show_message(*SELECT_A_REVIEW)
        self._show_labels()
        self._apply_threshold()

    # -- which model the matrix, the reviews and Why are about ------------------------------------
    def focus(self) -> int:
        """0 for the first model, 1 for the one compared with it."""
        return max(0, min(self.focus_combo.currentIndex(), len(self.evaluations) - 1))

    def set_focus(self, k: int) -> None:
        self.focus_combo.setCurrentIndex(k)

    def _show_focus(self) -> None:
        if len(self.evaluations) > 1:
            self.confusion_label.setText("Confusion matrix (click a cell to list its reviews) of the")
        else:
            self.confusion_label.setText("Confusion matrix (click a cell to list its reviews):")

    @Slot(int)
    def _on_focus_changed(self, _index: int) -> None:
        self._show_focus()
        if self.evaluations:
            self._fill_confusion()
            self._fill_lengths()
            self._refresh_reviews()

    def _on_failed(self, message: str) -> None:
        self._end()
        self.panel.set_message(message, error=True)
        self.status_message.emit(message)

    def _clear_results(self) -> None:
        self.evaluations, self._predictors, self._aucs, self._metrics = [], [], [], []
        self._scored = []
        self.labels_switch.set_data(None, None)
        self._explain_request += 1  # an explanation still on its way belongs to the pass before
        self.metrics_table.setRowCount(0)
        self.metrics_table.setColumnCount(0)  # no header of the pass before either
        self.models_legend.clear()
        self.models_legend.hide()
        self.focus_combo.blockSignals(True)
        self.focus_combo.clear()
        self.focus_combo.blockSignals(False)
        self.focus_combo.hide()
        self._show_focus()
        self.metrics_note.hide()
        for actual in (0, 1):
            for predicted in (0, 1):
                self.confusion_table.setItem(actual, predicted, QTableWidgetItem(""))
        self.length_table.setRowCount(0)
        self.length_note.clear()
        self.plots.reset()
        self.panel.set_rows([])
        self.explanation.show_message(*SELECT_A_REVIEW)

    def _update_buttons(self) -> None:
        running = self._cancel is not None
        self.evaluate_button.setEnabled(not running and self.current_model() is not None)
        self.suspects_button.setEnabled(not running and self._data is not None)
        for widget in (self.model_combo, self.compare_combo, self.data_view, self.limit_box,
                       self.model_data_button):
            widget.setEnabled(not running)

    # -- what the figures show ----------------------------------------------------------
    def metrics(self) -> list[ev.Metrics]:
        """The figures on display, one per model, at the current threshold."""
        return list(self._metrics)

    def _apply_threshold(self) -> None:
        if not self.evaluations:
            return
        t = self.threshold()
        self._metrics = [ev.metrics(e.labels, e.probabilities, t, roc_auc=auc)
                         for e, auc in zip(self.evaluations, self._aucs)]
        self._fill_metrics()
        self._fill_confusion()
        self._fill_lengths()
        self.plots.set_threshold([t] * len(self.evaluations))
        self._refresh_reviews()

    def _fill_metrics(self) -> None:
        rows = [("Accuracy", lambda m: _figure(m.accuracy)),
                ("ROC AUC", lambda m: _figure(m.roc_auc) if m.roc_auc is not None else "undefined"),
                ("Log loss", lambda m: _figure(m.log_loss)),
                ("Precision (positive)", lambda m: _figure(m.per_class[POSITIVE].precision)),
                ("Recall (positive)", lambda m: _figure(m.per_class[POSITIVE].recall)),
                ("F1 (positive)", lambda m: _figure(m.per_class[POSITIVE].f1)),
                ("Precision (negative)", lambda m: _figure(m.per_class[NEGATIVE].precision)),
                ("Recall (negative)", lambda m: _figure(m.per_class[NEGATIVE].recall)),
                ("F1 (negative)", lambda m: _figure(m.per_class[NEGATIVE].f1)),
                ("Reviews", lambda m: f"{m.n:,}"),
                ("Positive / negative", lambda m: f"{m.per_class[POSITIVE].support:,} / "
                                                  f"{m.per_class[NEGATIVE].support:,}")]
        self.metrics_table.setRowCount(len(rows))
        self.metrics_table.setVerticalHeaderLabels([name for name, _ in rows])
        for r, (_, show) in enumerate(rows):
            for c, m in enumerate(self._metrics):
                item = QTableWidgetItem(show(m))
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.metrics_table.setItem(r, c, item)
        table = self.metrics_table  # tall and wide enough for every figure: nothing scrolls or is cut
        table.resizeColumnsToContents()
        table.setMinimumHeight(table.horizontalHeader().sizeHint().height() + table.verticalHeader().length()
                               + 2 * table.frameWidth())
        # Each column as wide as its figures and its header ("2nd model" was elided: the last column
        # stretches, and the length of the header counted it at the width it had then).
        header = table.horizontalHeader()
        columns = sum(max(table.sizeHintForColumn(c), header.sectionSizeHint(c)) for c in range(table.columnCount()))
        table.setMinimumWidth(max(table.verticalHeader().sizeHint().width(), table.verticalHeader().width())
                              + 2 * table.frameWidth() + max(columns, header.length()) + 4)
        notes = [n for n in (self._metrics[0].roc_auc_note,) if n]
        if any(c.precision is None for m in self._metrics for c in m.per_class.values()):
            notes.append("\"-\": undefined at this threshold (no review was predicted in that class).")
        self.metrics_note.setText(" ".join(notes))
        self.metrics_note.setVisible(bool(notes))

    def _fill_confusion(self) -> None:
        m = self._metrics[self.focus()]
        n = max(1, m.n)
        colors = sentiment_colors(self.palette())
        for actual in (0, 1):
            for predicted in (0, 1):
                count = m.confusion[actual][predicted]
                item = QTableWidgetItem(f"{CELL_NAMES[(actual, predicted)]}\n{count:,} ({count / n:.1%})")
                item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                right = actual == predicted
                tint = QColor(colors[POSITIVE if right else NEGATIVE])
                tint.setAlpha(40)
                item.setBackground(QBrush(tint))
                self.confusion_table.setItem(actual, predicted, item)

    def _set_length_columns(self, models: int) -> None:
        """Length, reviews, then accuracy and the share of words cut, one column per model for each."""
        # Two models: "1st" / "2nd" on lines of their own ("Accuracy 2nd model" was cut at 1024 px).
        short = [o.removesuffix(" model") for o in ORDINALS[:models]]
        headers = ["Length\n(tokens)", "Reviews", *(["Accuracy"] if models == 1 else [f"Accuracy\n{o}" for o in short]),
                   *(["Words cut"] if models == 1 else [f"Words\ncut\n{o}" for o in short])]
        self.length_table.setColumnCount(len(headers))
        self.length_table.setHorizontalHeaderLabels(headers)
        # Equal columns, none narrower than the widest header needs: the table scrolls sideways before one is cut.
        header = self.length_table.horizontalHeader()
        header.setMinimumSectionSize(max(header.sectionSizeFromContents(c).width() for c in range(len(headers))))
        for c in range(2, len(headers)):
            what = "accuracy at the current threshold" if c < 2 + models else \
                "mean share of each review's words the model never read (cut at its sequence length)"
            self.length_table.horizontalHeaderItem(c).setToolTip(
                what + ("" if models == 1 else f", {ORDINALS[(c - 2) % models]}: "
                        f"{self.evaluations[(c - 2) % models].model_name}"))

    def _fill_lengths(self) -> None:
        """Accuracy by length of every model evaluated, on the first model's buckets; with two, the better
        accuracy of each bucket is in bold."""
        shown = self.evaluations
        bucket_maxlen = shown[0].maxlen
        per_model = [ev.accuracy_by_length(e, self.threshold(), bucket_maxlen) for e in shown]
        self._set_length_columns(len(shown))
        self.length_table.setRowCount(len(per_model[0]))
        for r, first in enumerate(per_model[0]):
            row = [per_model[i][r] for i in range(len(shown))]
            shares = ["-" if b.share_cut is None else f"{b.share_cut:.0%}" for b in row]
            values = (first.label.removesuffix(" tokens"), f"{first.count:,}", *(_figure(b.accuracy) for b in row),
                      *shares)
            accuracies = [b.accuracy for b in row if b.accuracy is not None]
            best = max(accuracies) if len(accuracies) > 1 and len(set(accuracies)) > 1 else None
            for c, text in enumerate(values):
                item = QTableWidgetItem(text)
                if c:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                if best is not None and 2 <= c < 2 + len(row) and row[c - 2].accuracy == best:
                    font = item.font()
                    font.setBold(True)
                    item.setFont(font)
                self.length_table.setItem(r, c, item)
        notes = [self._reads(e) for e in shown]
        self.length_note.setText(" ".join(notes) + " Accuracy at the current threshold, by length in tokens"
                                 + (" (the better of the two in bold)." if len(shown) > 1 else "."))

    @staticmethod
    def _reads(e: ev.Evaluation) -> str:
        """What one model reads, in a sentence."""
        if e.maxlen is None:  # a family that reads whole reviews (n-grams)
            return f"{e.model_name!r} reads whole reviews: no word is cut."
        cut = float(e.cut.mean()) if e.n else 0.0
        return (f"{e.model_name!r} reads the last {e.maxlen} tokens of a review: {cut:.0%} of these reviews are "
                "longer, and their front was never read.")

    # -- the reviews table --------------------------------------------------------------
    @Slot(int, int)
    def select_cell(self, actual: int, predicted: int) -> None:
        """List the reviews of one confusion cell (a click on the matrix)."""
        self.show_combo.setCurrentIndex(self.show_combo.findData(CELL_TO_SHOW[(actual, predicted)]))
        self.confusion_table.setCurrentCell(actual, predicted)

    def shown_indices(self) -> np.ndarray:
        """The reviews the table lists, in the order of the model's certainty."""
        if not self.evaluations:
            return np.empty(0, dtype=np.int64)
        chosen, t = self.evaluations[self.focus()], self.threshold()
        choice = self.show_combo.currentData()
        if choice == SHOW_DISAGREE:
            if len(self.evaluations) < 2:
                return np.empty(0, dtype=np.int64)
            return ev.disagreements(chosen, self.evaluations[1 - self.focus()], t, t)
        if choice == SHOW_WRONG:
            return chosen.misclassified(t)
        cell = next(c for value, _, c in SHOW_CHOICES if value == choice)
        return chosen.cell(*cell, threshold=t)

    @Slot()
    def _refresh_reviews(self) -> None:
        if not self.evaluations:
            return
        indices = self.shown_indices()
        self.panel.set_rows([int(i) for i in indices])
        name = self.show_combo.currentText()
        whose = f" of the {ORDINALS[self.focus()]}" if len(self.evaluations) > 1 else ""
        self.panel.set_message(f"{name}{whose}: {len(indices):,} of {self.evaluations[0].n:,} reviews at threshold "
                               f"{self.threshold():.3f}, the surest first. Select one to see why.")
        self.explanation.show_message(*SELECT_A_REVIEW)

    @Slot(object)
    def _on_row_selected(self, index: int | None) -> None:
        if index is None or not self.evaluations:
            return
        k = self.focus()
        first = self.evaluations[k]
        review = first.review(index)
        predictor = self._predictors[k]
        self._explain_request += 1
        request = self._explain_request
        predicted = review.predicted(self.threshold())
        verdict = "right" if predicted == review.label else f"wrong: a {CELL_NAMES[(review.label, predicted)]}"
        note = (f"True label: {_label(review.label)}. At threshold {self.threshold():.3f} the model says "
                f"{_label(predicted)} ({verdict}).")
        name = first.model_name
        self.refiner.stop()
        stop = threading.Event()

        def job() -> tuple[ScoredReview, Iterator[Explanation]]:
            stages = explain_stages(predictor, review.text, should_stop=stop.is_set)
            return ScoredReview.of(next(stages), name, review.text), stages

        def refined(explanation: Explanation) -> None:
            if request != self._explain_request or self.explanation.shown() is None:
                self.refiner.stop()  # another review picked, or a message replaced this one
            else:
                self.explanation.show_result(ScoredReview.of(explanation, name, review.text), note,
                                             refining=needs_refining(explanation))

        def shown(outcome: tuple[ScoredReview, Iterator[Explanation]]) -> None:
            result, stages = outcome
            if request == self._explain_request:
                refining = needs_refining(result.explanation)
                self.explanation.show_result(result, note, refining=refining)
                if refining:  # the same method and refinement as the Predict tab
                    self.refiner.start(stages, stop, refined)

        def failed(message: str) -> None:
            if request == self._explain_request:
                self.explanation.show_message("Could not explain this review", message)

        self.tasks.run(job, on_success=shown, on_failure=failed)

    def export_csv(self, path: Path) -> bool:
        return self.panel.export_csv(path)

    def _write_csv(self, path: Path, rows: list[int]) -> int:
        """The listed reviews, in the order shown, as ``evaluate --misclassified`` writes them."""
        second = self.evaluations[1] if len(self.evaluations) > 1 else None
        return reports.write_csv(path, reports.evaluation_header(second is not None),
                                 reports.evaluation_rows(self.evaluations[0], rows, self.threshold(), second))
