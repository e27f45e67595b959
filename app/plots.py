"""Live training curves (pyqtgraph): epoch loss and accuracy, a smoothed per-batch curve, overlays.

Curves are created once and fed with ``setData``. Incoming points only mark the plots
dirty; a 4 Hz timer redraws, so a flood of batch updates cannot freeze the window. A new
batch redraws only the batch plot (the epoch plots change once per epoch), and the batch
curves downsample to the pixels on screen, so a redraw costs the same at epoch 1 and 15.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pyqtgraph as pg
from PySide6.QtCore import QBuffer, QIODevice, Qt, QTimer
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QApplication, QHBoxLayout, QVBoxLayout, QWidget

from models.atomic_write import atomic_write
from models.errors import UserFacingError

TRAIN_COLOR = "#1f77b4"
VAL_COLOR = "#ff7f0e"
BEST_COLOR = "#2ca02c"
OVERLAY_COLORS = ["#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]
SMOOTHING = 0.05  # weight of the newest batch in the exponential moving average
REDRAW_MS = 250  # 4 redraws a second: live enough, and on 2 cores every paint is taken from training
MAX_BATCH_POINTS = 20_000  # beyond this, every other point is dropped (keeps redraws cheap)


def _pen(color: str, width: float = 2, dashed: bool = False) -> pg.QtGui.QPen:
    pen = pg.mkPen(color=color, width=width)
    if dashed:
        pen.setStyle(Qt.PenStyle.DashLine)
    return pen


def themed_plot(title: str) -> pg.PlotWidget:
    """A PlotWidget in the application palette's colours, so it fits light and dark themes alike."""
    palette = QApplication.palette()
    background = palette.color(QPalette.ColorRole.Base)
    foreground = palette.color(QPalette.ColorRole.Text)
    plot = pg.PlotWidget(background=background)
    plot.setTitle(title, color=foreground.name())
    for side in ("left", "bottom"):
        axis = plot.getAxis(side)
        axis.setPen(foreground)
        axis.setTextPen(foreground)
    plot.showGrid(x=True, y=True, alpha=0.2)
    return plot


class TrainingPlots(QWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        pg.setConfigOptions(antialias=True)
        self.loss_plot = self._make_plot("Loss", "epoch")
        self.acc_plot = self._make_plot("Accuracy", "epoch", legend_offset=(-10, -10))  # bottom right: acc rises
        self.batch_plot = self._make_plot("Training batches (smoothed)", "epoch")
        self.loss_plot.setXLink(self.acc_plot)

        self.loss_curve = self.loss_plot.plot([], [], pen=_pen(TRAIN_COLOR), symbol="o", symbolSize=6,
                                              symbolBrush=TRAIN_COLOR, name="loss")
        self.val_loss_curve = self.loss_plot.plot([], [], pen=_pen(VAL_COLOR), symbol="o", symbolSize=6,
                                                  symbolBrush=VAL_COLOR, name="val_loss")
        self.acc_curve = self.acc_plot.plot([], [], pen=_pen(TRAIN_COLOR), symbol="o", symbolSize=6,
                                            symbolBrush=TRAIN_COLOR, name="accuracy")
        self.val_acc_curve = self.acc_plot.plot([], [], pen=_pen(VAL_COLOR), symbol="o", symbolSize=6,
                                                symbolBrush=VAL_COLOR, name="val_accuracy")
        self.batch_loss_curve = self.batch_plot.plot([], [], pen=_pen(TRAIN_COLOR, 1.5), name="loss")
        self.batch_acc_curve = self.batch_plot.plot([], [], pen=_pen(VAL_COLOR, 1.5), name="accuracy")
        for curve in (self.batch_loss_curve, self.batch_acc_curve):
            curve.setDownsampling(auto=True, method="peak")
            curve.setClipToView(True)
        self.best_lines = [pg.InfiniteLine(angle=90, pen=_pen(BEST_COLOR, 1.5, dashed=True), movable=False,
                                           label="best", labelOpts={"position": 0.95, "color": BEST_COLOR})
                           for _ in range(2)]
        for plot, line in zip((self.loss_plot, self.acc_plot), self.best_lines):
            plot.addItem(line)
            line.hide()
        self.overlays: list[tuple[pg.PlotWidget, pg.PlotDataItem]] = []

        top = QHBoxLayout()
        top.addWidget(self.loss_plot)
        top.addWidget(self.acc_plot)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top, 3)
        layout.addWidget(self.batch_plot, 2)

        self.reset()
        self._timer = QTimer(self)
        self._timer.setInterval(REDRAW_MS)
        self._timer.timeout.connect(self._redraw)
        self._timer.start()

    @staticmethod
    def _make_plot(title: str, x_label: str, legend_offset: tuple[int, int] = (-10, 10)) -> pg.PlotWidget:
        plot = themed_plot(title)
        plot.setLabel("bottom", x_label)
        plot.addLegend(offset=legend_offset)
        plot.setMinimumHeight(160)
        return plot

    # -- data -------------------------------------------------------------------------------
    def reset(self) -> None:
        self.history: dict[str, list[float]] = {k: [] for k in ("loss", "accuracy", "val_loss", "val_accuracy")}
        self.batch_x: list[float] = []
        self.batch_loss: list[float] = []
        self.batch_acc: list[float] = []
        self._ema_loss = self._ema_acc = None
        self.best_epoch: int | None = None
        self._dirty = self._batches_dirty = True
        for line in self.best_lines:
            line.hide()

    def add_batch(self, epoch: int, batch: int, batches: int, loss: float, accuracy: float) -> None:
        """One training batch (epoch 1-based); plotted as an exponential moving average."""
        if not (math.isfinite(loss) and math.isfinite(accuracy)):
            return
        a = SMOOTHING
        self._ema_loss = loss if self._ema_loss is None else (1 - a) * self._ema_loss + a * loss
        self._ema_acc = accuracy if self._ema_acc is None else (1 - a) * self._ema_acc + a * accuracy
        self.batch_x.append(epoch - 1 + batch / max(1, batches))
        self.batch_loss.append(self._ema_loss)
        self.batch_acc.append(self._ema_acc)
        if len(self.batch_x) > MAX_BATCH_POINTS:
            self.batch_x, self.batch_loss, self.batch_acc = (v[::2] for v in
                                                             (self.batch_x, self.batch_loss, self.batch_acc))
        self._batches_dirty = True

    def add_epoch(self, logs: dict[str, float]) -> None:
        for key in self.history:
            self.history[key].append(float(logs.get(key, float("nan"))))
        val = self.history["val_accuracy"]
        finite = [(v, i) for i, v in enumerate(val) if math.isfinite(v)]
        if finite:
            best_value = max(v for v, _ in finite)
            self.best_epoch = next(i for v, i in finite if v == best_value) + 1  # ties: the earliest
        self._dirty = True

    def set_history(self, history: dict[str, list[float]]) -> None:
        """Show a finished run's epoch curves (e.g. a stored model's)."""
        self.reset()
        for i in range(len(history.get("loss", []))):
            self.add_epoch({k: history[k][i] for k in self.history if k in history and i < len(history[k])})

    def set_overlays(self, runs: list[tuple[str, dict[str, list[float]]]]) -> None:
        """Dashed validation curves of earlier runs, for comparison."""
        for plot, item in self.overlays:
            plot.removeItem(item)
        self.overlays = []
        for (name, history), color in zip(runs, OVERLAY_COLORS):
            for plot, key in ((self.loss_plot, "val_loss"), (self.acc_plot, "val_accuracy")):
                ys = history.get(key, [])
                if ys:
                    item = plot.plot(list(range(1, len(ys) + 1)), ys, pen=_pen(color, 1.5, dashed=True),
                                     name=f"{name} ({key})")
                    self.overlays.append((plot, item))

    # -- drawing ----------------------------------------------------------------------------
    def _redraw(self) -> None:
        if self._batches_dirty:
            self._batches_dirty = False
            self.batch_loss_curve.setData(self.batch_x, self.batch_loss)
            self.batch_acc_curve.setData(self.batch_x, self.batch_acc)
        if not self._dirty:
            return
        self._dirty = False
        xs = list(range(1, len(self.history["loss"]) + 1))
        step = max(1, math.ceil(len(xs) / 10))  # whole epochs only on the epoch axes
        for plot in (self.loss_plot, self.acc_plot):
            plot.getAxis("bottom").setTickSpacing(step, step)
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
        try:
            with atomic_write(path, "w", newline="", encoding="utf-8") as f:
                w = csv.writer(f)
                w.writerow(["epoch", "loss", "accuracy", "val_loss", "val_accuracy"])
                for i in range(len(self.history["loss"])):
                    w.writerow([i + 1] + [self.history[k][i] for k in ("loss", "accuracy", "val_loss",
                                                                       "val_accuracy")])
        except OSError as exc:
            raise UserFacingError(f"Could not write {path} ({exc.strerror or exc}).") from None
