"""The Evaluate tab's curves (pyqtgraph): ROC, precision-recall and calibration, one curve per model,
with the current threshold marked on each model's ROC and precision-recall curve.

Curves come from models/evaluation.py, computed once per scoring pass; moving the threshold only
moves the markers (``set_threshold``). Each plot's legend is a line of text above it, as on the Train
tab: drawn inside, it covered calibration points and ran past the plot at 1024x700."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QTabWidget, QVBoxLayout, QWidget

from app.plots import legend_html, themed_plot
from models import evaluation as ev

MODEL_COLORS = ("#1f77b4", "#ff7f0e")  # the model evaluated, the one compared with it
DIAGONAL_COLOR = "#888888"


def _square(plot: pg.PlotWidget, x_label: str, y_label: str) -> None:
    plot.setLabel("bottom", x_label)
    plot.setLabel("left", y_label)
    plot.setXRange(0, 1, padding=0.02)
    plot.setYRange(0, 1, padding=0.02)
    plot.setLimits(xMin=-0.05, xMax=1.05, yMin=-0.05, yMax=1.05)
    plot.setMouseEnabled(x=False, y=False)
    plot.hideButtons()


class EvaluationPlots(QTabWidget):
    """Tabs of curves: ROC, precision-recall, calibration."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        pg.setConfigOptions(antialias=True)
        self.roc_plot = themed_plot("ROC curve")
        _square(self.roc_plot, "false-positive rate", "true-positive rate (recall)")
        self.pr_plot = themed_plot("Precision-recall (positive class)")
        _square(self.pr_plot, "recall", "precision")
        self.calibration_plot = themed_plot("Calibration (reliability)")
        _square(self.calibration_plot, "predicted P(positive), mean of the bin", "share really positive")
        chance = pg.mkPen(DIAGONAL_COLOR, width=1, style=pg.QtCore.Qt.PenStyle.DashLine)
        for plot in (self.roc_plot, self.calibration_plot):
            plot.plot([0, 1], [0, 1], pen=chance)
        self.legends = [QLabel() for _ in range(3)]  # ROC, precision-recall, calibration: above each plot
        for legend in self.legends:
            legend.setWordWrap(True)
            legend.setTextFormat(Qt.TextFormat.RichText)
        self.roc_curves, self.pr_curves, self.calibration_curves = [], [], []
        self.roc_markers, self.pr_markers = [], []
        for color in MODEL_COLORS:
            pen = pg.mkPen(color, width=2)
            self.roc_curves.append(self.roc_plot.plot([], [], pen=pen))
            self.pr_curves.append(self.pr_plot.plot([], [], pen=pen))
            for curve in (self.roc_curves[-1], self.pr_curves[-1]):  # 25,000 points: draw what the pixels show
                curve.setDownsampling(auto=True, method="peak")
            self.calibration_curves.append(self.calibration_plot.plot([], [], pen=pen, symbol="o", symbolSize=7,
                                                                       symbolBrush=color))
            for plot, markers in ((self.roc_plot, self.roc_markers), (self.pr_plot, self.pr_markers)):
                marker = pg.ScatterPlotItem(size=11, brush=pg.mkBrush(color), pen=pg.mkPen("k", width=1))
                plot.addItem(marker)
                markers.append(marker)
        for plot, legend, title in ((self.roc_plot, self.legends[0], "ROC"),
                                    (self.pr_plot, self.legends[1], "Precision-recall"),
                                    (self.calibration_plot, self.legends[2], "Calibration")):
            page = QWidget()
            layout = QVBoxLayout(page)
            layout.setContentsMargins(4, 4, 4, 4)
            layout.setSpacing(2)
            layout.addWidget(legend)
            layout.addWidget(plot, 1)
            self.addTab(page, title)
        self._evaluations: list[ev.Evaluation] = []

    def show_evaluations(self, evaluations: list[ev.Evaluation], aucs: list[float | None]) -> None:
        """Draw the curves of one or two evaluations (the threshold markers follow ``set_threshold``)."""
        self._evaluations = evaluations
        entries: list[list[tuple[str, str, Qt.PenStyle]]] = [[], [], []]
        for i in range(len(MODEL_COLORS)):
            curves = (self.roc_curves[i], self.pr_curves[i], self.calibration_curves[i])
            if i >= len(evaluations):
                for curve in curves:
                    curve.setData([], [])
                self.roc_markers[i].setData([], [])
                self.pr_markers[i].setData([], [])
                continue
            e = evaluations[i]
            roc = ev.roc_curve(e.labels, e.probabilities)
            pr = ev.precision_recall_curve(e.labels, e.probabilities)
            bins = [b for b in ev.calibration(e.labels, e.probabilities) if b.count]
            self.roc_curves[i].setData(roc.x, roc.y)
            self.pr_curves[i].setData(pr.x, pr.y)
            self.calibration_curves[i].setData([b.mean_probability for b in bins], [b.positive_rate for b in bins])
            auc = aucs[i]
            solid, color = Qt.PenStyle.SolidLine, MODEL_COLORS[i]
            entries[0].append((f"{e.model_name}: AUC " + (f"{auc:.3f}" if auc is not None else "undefined (one class)"),
                               color, solid))
            entries[1].append((e.model_name, color, solid))
            ece = ev.expected_calibration_error(ev.calibration(e.labels, e.probabilities))
            entries[2].append((f"{e.model_name}: calibration error " + (f"{ece:.3f}" if ece is not None else "-"),
                               color, solid))
        for legend, shown in zip(self.legends, entries):
            legend.setText("<br>".join(legend_html([entry]) for entry in shown))
            legend.setVisible(bool(shown))

    @staticmethod
    def models_html(evaluations: list[ev.Evaluation], ordinals: tuple[str, ...] | None) -> str:
        """The models by name, each in its curves' colour, ``ordinals`` ("1st model", ...) before them."""
        return "<br>".join(legend_html([(f"{ordinals[i]}: {e.model_name}" if ordinals else e.model_name,
                                         MODEL_COLORS[i], Qt.PenStyle.SolidLine)])
                           for i, e in enumerate(evaluations))

    def set_threshold(self, thresholds: list[float]) -> None:
        """Mark each model's operating point at its threshold."""
        for i, e in enumerate(self._evaluations):
            fpr, tpr, precision = ev.operating_point(e.labels, e.probabilities, thresholds[i])
            self.roc_markers[i].setData(*_point(fpr, tpr))
            self.pr_markers[i].setData(*_point(tpr, precision))

    def reset(self) -> None:
        """No curves (a new scoring pass is running, or it failed)."""
        self.show_evaluations([], [])


def _point(x: float | None, y: float | None) -> tuple[np.ndarray, np.ndarray]:
    if x is None or y is None:
        return np.empty(0), np.empty(0)
    return np.array([x]), np.array([y])
