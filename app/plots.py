"""Live training curves (pyqtgraph): epoch loss and accuracy, each batch's own values, overlays.

Curves are created once and fed with ``setData``. Incoming points only mark the plots
dirty; a 4 Hz timer redraws, so a flood of batch updates cannot freeze the window. A new
batch redraws only the batch plot (the epoch plots change once per epoch), and the batch
curves downsample to the pixels on screen, so a redraw costs the same at epoch 1 and 15.

What TensorBoard users expect: the batch plot shows each batch's own loss and accuracy
(recovered from Keras' running means in ``models.training.BatchValues``), faint, with
TensorBoard's debiased exponential moving average over it (the smoothing slider); the
epoch axes tick whole epochs only; hovering a plot reads out the values under the mouse;
the loss can be shown on a log scale. Legends sit above the plots, in the palette's text
colour, so they never cover a curve.
"""

from __future__ import annotations

import bisect
import html
import math
from pathlib import Path

import pyqtgraph as pg
from PySide6.QtCore import QBuffer, QEvent, QIODevice, QObject, QPointF, Qt, QTimer
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import (
    QApplication,
    QCheckBox,
    QGraphicsItem,
    QHBoxLayout,
    QLabel,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from models.atomic_write import atomic_write
from models.errors import UserFacingError
from models.reports import write_csv

TRAIN_COLOR = "#1f77b4"
VAL_COLOR = "#ff7f0e"
BEST_COLOR = "#2ca02c"
OVERLAY_COLORS = ["#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]
DEFAULT_SMOOTHING = 0.6  # TensorBoard's default weight of the past in its moving average
RAW_ALPHA = 70  # the raw batch curve, faint beneath the smoothed one (0-255)
REDRAW_MS = 250  # 4 redraws a second: live enough, and on 2 cores every paint is taken from training
MAX_BATCH_POINTS = 20_000  # beyond this, every other point is dropped (keeps redraws cheap)
EPOCH_PADDING = 0.5  # of an epoch, either side of the first and last, so their points are whole


def _pen(color: str, width: float = 2, style: Qt.PenStyle = Qt.PenStyle.SolidLine, alpha: int = 255):
    qcolor = QColor(color)
    qcolor.setAlpha(alpha)
    pen = pg.mkPen(color=qcolor, width=width)
    pen.setStyle(style)
    return pen


def smooth(values: list[float], weight: float) -> list[float]:
    """TensorBoard's smoothing: an exponential moving average, debiased so the first points are not
    pulled towards 0 (``last = w * last + (1 - w) * v``, shown as ``last / (1 - w ** n)``)."""
    out, last = [], 0.0
    for n, value in enumerate(values, 1):
        last = weight * last + (1 - weight) * value
        out.append(last / (1 - weight ** n) if weight > 0 else value)
    return out


class EpochAxis(pg.AxisItem):
    """An axis in epochs: whole-number ticks only, never rescaled to "(x0.001)"."""

    def __init__(self, orientation: str = "bottom"):
        super().__init__(orientation)
        self.enableAutoSIPrefix(False)

    def tickValues(self, min_value: float, max_value: float, size: float):
        low, high = math.ceil(min_value), math.floor(max_value)
        if high < low:
            return []
        most = max(2, int(size / 45))  # ticks at least ~45 px apart
        step = next((s for s in (1, 2, 5, 10, 20, 50, 100, 200, 500) if (high - low) / s < most), 1000)
        first = math.ceil(low / step) * step
        return [(step, [float(v) for v in range(first, high + 1, step)])]

    def tickStrings(self, values, scale, spacing):
        return [str(int(round(v))) for v in values]


def themed_plot(title: str, axis_items: dict | None = None) -> pg.PlotWidget:
    """A PlotWidget in the application palette's colours, so it fits light and dark themes alike."""
    palette = QApplication.palette()
    background = palette.color(QPalette.ColorRole.Base)
    foreground = palette.color(QPalette.ColorRole.Text)
    plot = pg.PlotWidget(background=background, axisItems=axis_items)
    plot.setTitle(title, color=foreground.name())
    for side in ("left", "bottom"):
        axis = plot.getAxis(side)
        axis.setPen(foreground)
        axis.setTextPen(foreground)
        # Drawn once into a pixmap and re-drawn only when its range or size changes: replaying an axis
        # (ticks, labels, grid) took 6 ms at every paint of a live curve, and on 2 cores that is training time.
        axis.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
    plot.showGrid(x=True, y=True, alpha=0.2)
    return plot


_GLYPHS = {Qt.PenStyle.SolidLine: "\u2501\u2501", Qt.PenStyle.DashLine: "\u254d\u254d",
           Qt.PenStyle.DotLine: "\u2505\u2505"}


def legend_html(entries: list[tuple[str, str, Qt.PenStyle]]) -> str:
    """A legend line: a coloured line sample per entry, its name in the label's own (palette) colour."""
    return " &nbsp; ".join(f"<span style='color:{color}'><b>{_GLYPHS[style]}</b></span>&nbsp;{html.escape(name)}"
                           for name, color, style in entries)


class TrainingPlots(QWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        pg.setConfigOptions(antialias=True)
        self.loss_plot = themed_plot("Loss", {"bottom": EpochAxis()})
        self.acc_plot = themed_plot("Accuracy", {"bottom": EpochAxis()})
        self.batch_plot = themed_plot("Training batches (each batch, smoothed)", {"bottom": EpochAxis()})
        for plot in (self.loss_plot, self.acc_plot, self.batch_plot):
            plot.setLabel("bottom", "epoch")
            plot.setMinimumHeight(150)
            plot.getPlotItem().getViewBox().setDefaultPadding(0.06)  # a point at the top or bottom stays whole
        self.loss_plot.setXLink(self.acc_plot)

        def epoch_curve(plot, color, name):
            return plot.plot([], [], pen=_pen(color), symbol="o", symbolSize=6, symbolBrush=color,
                             symbolPen=color, name=name)

        self.loss_curve = epoch_curve(self.loss_plot, TRAIN_COLOR, "loss")
        self.val_loss_curve = epoch_curve(self.loss_plot, VAL_COLOR, "val_loss")
        self.acc_curve = epoch_curve(self.acc_plot, TRAIN_COLOR, "accuracy")
        self.val_acc_curve = epoch_curve(self.acc_plot, VAL_COLOR, "val_accuracy")
        self.raw_loss_curve = self.batch_plot.plot([], [], pen=_pen(TRAIN_COLOR, 1, alpha=RAW_ALPHA))
        self.raw_acc_curve = self.batch_plot.plot([], [], pen=_pen(VAL_COLOR, 1, alpha=RAW_ALPHA))
        self.batch_loss_curve = self.batch_plot.plot([], [], pen=_pen(TRAIN_COLOR, 2), name="loss")
        self.batch_acc_curve = self.batch_plot.plot([], [], pen=_pen(VAL_COLOR, 2), name="accuracy")
        for curve in (self.raw_loss_curve, self.raw_acc_curve, self.batch_loss_curve, self.batch_acc_curve):
            curve.setDownsampling(auto=True, method="peak")
            curve.setClipToView(True)
        self.best_lines = [pg.InfiniteLine(angle=90, pen=_pen(BEST_COLOR, 1.5, Qt.PenStyle.DashLine), movable=False)
                           for _ in range(2)]
        for plot, line in zip((self.loss_plot, self.acc_plot), self.best_lines):
            plot.addItem(line)
            line.hide()
        self.overlays: list[tuple[pg.PlotWidget, pg.PlotDataItem]] = []
        self._overlay_legend: list[tuple[str, str, Qt.PenStyle]] = []

        self.loss_legend, self.acc_legend, self.batch_legend = QLabel(), QLabel(), QLabel()
        for label in (self.loss_legend, self.acc_legend, self.batch_legend):
            label.setWordWrap(True)
            label.setTextFormat(Qt.TextFormat.RichText)
        self.readouts = {}
        for plot in (self.loss_plot, self.acc_plot, self.batch_plot):
            readout = pg.TextItem("", color=QApplication.palette().color(QPalette.ColorRole.Text),
                                  fill=QApplication.palette().color(QPalette.ColorRole.Base), border=None)
            readout.setZValue(100)
            readout.hide()
            plot.addItem(readout, ignoreBounds=True)
            self.readouts[plot] = readout
            plot.scene().sigMouseMoved.connect(lambda pos, plot=plot: self._on_mouse_moved(plot, pos))
            plot.installEventFilter(self)  # the readout goes when the mouse leaves the plot
            plot.viewport().installEventFilter(self)

        self.smoothing = QSlider(Qt.Orientation.Horizontal)
        self.smoothing.setRange(0, 99)  # weight 0.00-0.99, as TensorBoard's slider
        self.smoothing.setValue(round(DEFAULT_SMOOTHING * 100))
        self.smoothing.setToolTip("Smoothing of the batch curves: TensorBoard's debiased exponential moving "
                                  "average (0 = the raw batches). The raw curve stays faint beneath.")
        self.smoothing_value = QLabel()
        self.smoothing.valueChanged.connect(self._on_smoothing)
        self.log_loss = QCheckBox("Log-scale loss")
        self.log_loss.setToolTip("Show the loss axes on a logarithmic scale")
        self.log_loss.toggled.connect(self._on_log_loss)
        controls = QHBoxLayout()
        controls.addWidget(QLabel("Smoothing"))
        controls.addWidget(self.smoothing, 1)
        controls.addWidget(self.smoothing_value)
        controls.addSpacing(12)
        controls.addWidget(self.log_loss)

        def boxed(legend: QLabel, plot: pg.PlotWidget) -> QVBoxLayout:
            box = QVBoxLayout()
            box.setSpacing(0)
            box.addWidget(legend)
            box.addWidget(plot, 1)
            return box

        top = QHBoxLayout()
        top.addLayout(boxed(self.loss_legend, self.loss_plot))
        top.addLayout(boxed(self.acc_legend, self.acc_plot))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top, 3)
        batch_box = boxed(self.batch_legend, self.batch_plot)
        batch_box.addLayout(controls)
        layout.addLayout(batch_box, 2)

        self.reset()
        self._on_smoothing(self.smoothing.value())
        self._timer = QTimer(self)
        self._timer.setInterval(REDRAW_MS)
        self._timer.timeout.connect(self._redraw)
        self._timer.start()

    # -- data -------------------------------------------------------------------------------
    def reset(self) -> None:
        self.history: dict[str, list[float]] = {k: [] for k in ("loss", "accuracy", "val_loss", "val_accuracy")}
        self.batch_x: list[float] = []
        self.batch_loss: list[float] = []  # each batch's own value
        self.batch_acc: list[float] = []
        self.best_epoch: int | None = None
        self._dirty = self._batches_dirty = True
        for line in self.best_lines:
            line.hide()
        self.hide_readouts()  # a readout of the last run's values must not stay over an empty plot
        self._update_legends()

    def hide_readouts(self) -> None:
        for readout in self.readouts.values():
            readout.hide()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Leave:
            for plot, readout in self.readouts.items():
                if watched is plot or watched is plot.viewport():
                    readout.hide()
        return super().eventFilter(watched, event)

    @property
    def smoothing_weight(self) -> float:
        return self.smoothing.value() / 100

    def add_batch(self, epoch: int, batch: int, batches: int, loss: float, accuracy: float) -> None:
        """One training batch's own loss and accuracy (epoch 1-based), at x = epoch - 1 + batch / batches."""
        if not (math.isfinite(loss) and math.isfinite(accuracy)):
            return
        self.batch_x.append(epoch - 1 + batch / max(1, batches))
        self.batch_loss.append(loss)
        self.batch_acc.append(accuracy)
        if len(self.batch_x) > MAX_BATCH_POINTS:
            self.batch_x, self.batch_loss, self.batch_acc = (v[::2] for v in
                                                             (self.batch_x, self.batch_loss, self.batch_acc))
        self._batches_dirty = True

    def smoothed_batches(self) -> tuple[list[float], list[float]]:
        w = self.smoothing_weight
        return smooth(self.batch_loss, w), smooth(self.batch_acc, w)

    def add_epoch(self, logs: dict[str, float]) -> None:
        for key in self.history:
            self.history[key].append(float(logs.get(key, float("nan"))))
        val = self.history["val_accuracy"]
        finite = [(v, i) for i, v in enumerate(val) if math.isfinite(v)]
        if finite:
            best_value = max(v for v, _ in finite)
            self.best_epoch = next(i for v, i in finite if v == best_value) + 1  # ties: the earliest
        self._dirty = True
        self._update_legends()

    def set_history(self, history: dict[str, list[float]]) -> None:
        """Show a finished run's epoch curves (e.g. a stored model's)."""
        self.reset()
        for i in range(len(history.get("loss", []))):
            self.add_epoch({k: history[k][i] for k in self.history if k in history and i < len(history[k])})

    def set_overlays(self, runs: list[tuple[str, dict[str, list[float]]]]) -> None:
        """Earlier runs for comparison: their training curves dotted, their validation curves dashed."""
        for plot, item in self.overlays:
            plot.removeItem(item)
        self.overlays = []
        self._overlay_legend = []
        for (name, history), color in zip(runs, OVERLAY_COLORS):
            for plot, key, style in ((self.loss_plot, "loss", Qt.PenStyle.DotLine),
                                     (self.loss_plot, "val_loss", Qt.PenStyle.DashLine),
                                     (self.acc_plot, "accuracy", Qt.PenStyle.DotLine),
                                     (self.acc_plot, "val_accuracy", Qt.PenStyle.DashLine)):
                ys = history.get(key, [])
                if ys:
                    item = plot.plot(list(range(1, len(ys) + 1)), ys, pen=_pen(color, 1.5, style),
                                     name=f"{name} ({key})")
                    self.overlays.append((plot, item))
            self._overlay_legend += [(f"{name}: training", color, Qt.PenStyle.DotLine),
                                     (f"{name}: validation", color, Qt.PenStyle.DashLine)]
        self._dirty = True
        self._update_legends()

    # -- legends, hover, options ------------------------------------------------------------
    def _update_legends(self) -> None:
        # The kept epoch is chosen by validation accuracy (models/training.py), which need not be where the
        # validation loss is lowest: the legend says so on both plots.
        best = [(f"kept: epoch {self.best_epoch} (highest val_accuracy)", BEST_COLOR, Qt.PenStyle.DashLine)] \
            if self.best_epoch else []
        solid = Qt.PenStyle.SolidLine
        self.loss_legend.setText(legend_html([("loss", TRAIN_COLOR, solid), ("val_loss", VAL_COLOR, solid)]
                                             + best + self._overlay_legend))
        self.acc_legend.setText(legend_html([("accuracy", TRAIN_COLOR, solid), ("val_accuracy", VAL_COLOR, solid)]
                                            + best + self._overlay_legend))
        self.batch_legend.setText(legend_html([("loss", TRAIN_COLOR, solid), ("accuracy", VAL_COLOR, solid)])
                                  + " &nbsp; (faint: each batch; bold: smoothed)")

    def readout_at(self, plot: pg.PlotWidget, x: float) -> str:
        """The values nearest to ``x`` (in epochs) on ``plot``, as the hover text shows them."""
        if plot is self.batch_plot:
            if not self.batch_x:
                return ""
            i = min(bisect.bisect_left(self.batch_x, x), len(self.batch_x) - 1)
            if i > 0 and x - self.batch_x[i - 1] < self.batch_x[i] - x:
                i -= 1
            loss, acc = self.smoothed_batches()
            return (f"epoch {self.batch_x[i]:.2f}\nloss {self.batch_loss[i]:.4f} (smoothed {loss[i]:.4f})\n"
                    f"accuracy {self.batch_acc[i]:.4f} (smoothed {acc[i]:.4f})")
        n = len(self.history["loss"])
        if not n:
            return ""
        epoch = min(max(1, round(x)), n)
        keys = ("loss", "val_loss") if plot is self.loss_plot else ("accuracy", "val_accuracy")
        lines = [f"epoch {epoch}" + (" (kept: highest val_accuracy)" if epoch == self.best_epoch else "")]
        lines += [f"{key} {self.history[key][epoch - 1]:.4f}" for key in keys]
        return "\n".join(lines)

    def _on_mouse_moved(self, plot: pg.PlotWidget, scene_pos: QPointF) -> None:
        readout = self.readouts[plot]
        view = plot.getPlotItem().getViewBox()
        if not view.sceneBoundingRect().contains(scene_pos):
            readout.hide()
            return
        point = view.mapSceneToView(scene_pos)
        text = self.readout_at(plot, point.x())
        if not text:
            readout.hide()
            return
        readout.setText(text)
        (x0, x1), (y0, y1) = view.viewRange()
        # Keep the box inside the plot: left of the mouse in the right half, below it in the top half.
        readout.setAnchor((1.0 if point.x() > (x0 + x1) / 2 else 0.0, 0.0 if point.y() > (y0 + y1) / 2 else 1.0))
        readout.setPos(point)
        readout.show()

    def _on_smoothing(self, value: int) -> None:
        self.smoothing_value.setText(f"{value / 100:.2f}")
        self._batches_dirty = True

    def _on_log_loss(self, on: bool) -> None:
        self.loss_plot.setLogMode(y=on)
        self._dirty = True

    # -- drawing ----------------------------------------------------------------------------
    def _redraw(self) -> None:
        if self._batches_dirty:
            self._batches_dirty = False
            loss, acc = self.smoothed_batches()
            self.raw_loss_curve.setData(self.batch_x, self.batch_loss)
            self.raw_acc_curve.setData(self.batch_x, self.batch_acc)
            self.batch_loss_curve.setData(self.batch_x, loss)
            self.batch_acc_curve.setData(self.batch_x, acc)
            last = self.batch_x[-1] if self.batch_x else 1.0
            self.batch_plot.setXRange(0, max(1, math.ceil(last - 1e-9)), padding=0.02)
        if not self._dirty:
            return
        self._dirty = False
        n = max([len(self.history["loss"])] + [len(item.getData()[0] or []) for _, item in self.overlays])
        xs = list(range(1, len(self.history["loss"]) + 1))
        self.loss_plot.setXRange(1 - EPOCH_PADDING, max(1, n) + EPOCH_PADDING, padding=0)
        self.loss_curve.setData(xs, self.history["loss"])
        self.val_loss_curve.setData(xs, self.history["val_loss"])
        self.acc_curve.setData(xs, self.history["accuracy"])
        self.val_acc_curve.setData(xs, self.history["val_accuracy"])
        for line in self.best_lines:
            if self.best_epoch is not None:
                line.setValue(self.best_epoch)
                line.show()
            else:
                line.hide()

    def flush(self) -> None:
        """Redraw now (tests and exports)."""
        self._dirty = self._batches_dirty = True
        self._redraw()

    # -- export -----------------------------------------------------------------------------
    def export_png(self, path: Path) -> None:
        self.flush()
        buffer = QBuffer()
        buffer.open(QIODevice.OpenModeFlag.WriteOnly)
        if not self.grab().save(buffer, "PNG"):
            raise UserFacingError(f"Could not draw the plots into {path.name}.")
        try:
            with atomic_write(path) as f:  # whole or not at all, as every file the app writes
                f.write(bytes(buffer.data()))
        except OSError as exc:
            raise UserFacingError(f"Could not write {path} ({exc.strerror or exc}).") from None

    def export_csv(self, path: Path) -> None:
        keys = ("loss", "accuracy", "val_loss", "val_accuracy")
        try:  # the one CSV writer of the app (models.reports): quoting and encoding as every export
            write_csv(path, ["epoch", *keys],
                      ([i + 1] + [self.history[k][i] for k in keys] for i in range(len(self.history["loss"]))))
        except OSError as exc:
            raise UserFacingError(f"Could not write {path} ({exc.strerror or exc}).") from None
