"""The training plots: each batch's own values smoothed as TensorBoard does, whole-epoch axes,
nothing clipped, legends outside the curves, values on hover, log-scale loss, overlays."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QEvent
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QApplication

from app.plots import EPOCH_PADDING, EpochAxis, TrainingPlots, smooth

pytestmark = pytest.mark.gui

EPOCHS = [{"loss": 0.5, "accuracy": 0.75, "val_loss": 0.45, "val_accuracy": 0.8},
          {"loss": 0.4, "accuracy": 0.82, "val_loss": 0.42, "val_accuracy": 0.84},
          {"loss": 0.3, "accuracy": 0.88, "val_loss": 0.47, "val_accuracy": 0.83}]


@pytest.fixture
def plots(qtbot):
    widget = TrainingPlots()
    qtbot.addWidget(widget)
    widget.resize(1000, 700)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def test_smoothing_is_tensorboards_debiased_moving_average():
    assert smooth([1.0, 1.0, 1.0], 0.6) == pytest.approx([1.0, 1.0, 1.0])  # no pull towards 0 at the start
    assert smooth([0.0, 10.0], 0.5) == pytest.approx([0.0, 10 * 0.5 / 0.75])
    assert smooth([3.0, 1.0], 0.0) == [3.0, 1.0]


def test_the_batch_curve_is_each_batch_raw_beneath_and_smoothed_over_it(qtbot, plots):
    plots.smoothing.setValue(50)
    for batch, loss in enumerate([0.018, 4.018, 0.018, 4.018], 1):
        plots.add_batch(1, batch, 4, loss, 0.5)
    plots.flush()
    raw_x, raw_y = plots.raw_loss_curve.getData()
    assert list(raw_y) == [0.018, 4.018, 0.018, 4.018] and list(raw_x) == [0.25, 0.5, 0.75, 1.0]
    _, smoothed = plots.batch_loss_curve.getData()
    assert list(smoothed) == pytest.approx(smooth([0.018, 4.018, 0.018, 4.018], 0.5))
    assert plots.raw_loss_curve.opts["pen"].color().alpha() < 100  # faint
    plots.smoothing.setValue(0)
    plots.flush()
    assert list(plots.batch_loss_curve.getData()[1]) == pytest.approx([0.018, 4.018, 0.018, 4.018])
    assert plots.smoothing_value.text() == "0.00"


def test_epoch_axes_tick_whole_epochs_and_are_never_rescaled(qtbot, plots):
    axis = EpochAxis()
    assert axis.tickValues(0.5, 1.5, 400) == [(1, [1.0])]
    assert axis.tickValues(0.0, 0.4, 400) == [(1, [0.0])]
    for (step, values) in [axis.tickValues(0.5, 15.5, 300)[0], axis.tickValues(-0.1, 200, 500)[0]]:
        assert all(v == int(v) for v in values) and step == int(step) and len(values) <= 12
    assert axis.tickStrings([1.0, 2.0], 1, 1) == ["1", "2"]
    # During epoch 1 the batch axis runs 0..1 in epochs, not "epoch (x0.001)"
    plots.add_batch(1, 100, 500, 0.6, 0.7)
    plots.flush()
    qtbot.wait(50)
    bottom = plots.batch_plot.getAxis("bottom")
    assert "x0.001" not in bottom.labelString() and bottom.autoSIPrefix is False
    (x0, x1), _ = plots.batch_plot.getPlotItem().getViewBox().viewRange()
    assert x0 <= 0 and 1 <= x1 < 1.1


def test_first_and_last_epoch_points_are_whole(qtbot, plots):
    for logs in EPOCHS:
        plots.add_epoch(logs)
    plots.flush()
    for plot in (plots.loss_plot, plots.acc_plot):
        (x0, x1), _ = plot.getPlotItem().getViewBox().viewRange()
        assert x0 <= 1 - EPOCH_PADDING + 1e-6 and x1 >= 3 + EPOCH_PADDING - 1e-6


def test_legends_sit_above_the_plots_in_the_text_colour(qtbot, plots):
    for logs in EPOCHS:
        plots.add_epoch(logs)
    text_colour = QApplication.palette().color(QPalette.ColorRole.WindowText)
    for legend, plot in ((plots.loss_legend, plots.loss_plot), (plots.acc_legend, plots.acc_plot),
                         (plots.batch_legend, plots.batch_plot)):
        assert legend.palette().color(QPalette.ColorRole.WindowText) == text_colour
        assert legend.geometry().bottom() <= plot.geometry().top()  # never over a curve
    assert "val_loss" in plots.loss_legend.text() and "kept: epoch 2 (highest val_accuracy)" in plots.acc_legend.text()
    assert "kept: epoch 2 (highest val_accuracy)" in plots.loss_legend.text()  # chosen by accuracy, said on both
    assert plots.loss_plot.getPlotItem().legend is None  # no legend drawn inside the plot


def test_hover_reads_out_the_values(qtbot, plots):
    for logs in EPOCHS:
        plots.add_epoch(logs)
    for batch in range(1, 5):
        plots.add_batch(1, batch, 4, 0.5 + batch / 10, 0.6)
    plots.flush()
    expected = "epoch 2 (kept: highest val_accuracy)\nloss 0.4000\nval_loss 0.4200"
    assert plots.readout_at(plots.loss_plot, 2.3) == expected
    assert plots.readout_at(plots.acc_plot, 9) == "epoch 3\naccuracy 0.8800\nval_accuracy 0.8300"
    assert plots.readout_at(plots.batch_plot, 0.49).startswith("epoch 0.50\nloss 0.7000 (smoothed ")
    view = plots.loss_plot.getPlotItem().getViewBox()
    scene_point = view.mapViewToScene(view.viewRect().center())
    plots._on_mouse_moved(plots.loss_plot, scene_point)
    readout = plots.readouts[plots.loss_plot]
    assert readout.isVisible() and readout.toPlainText().startswith("epoch 2")
    # The mouse leaves the plot: the readout goes (it would cover a curve).
    QApplication.sendEvent(plots.loss_plot.viewport(), QEvent(QEvent.Type.Leave))
    assert not readout.isVisible()


def test_a_new_run_leaves_no_readout_over_the_empty_plots(qtbot, plots):
    for batch in range(1, 5):
        plots.add_batch(1, batch, 4, 0.5, 0.6)
    plots.flush()
    view = plots.batch_plot.getPlotItem().getViewBox()
    plots._on_mouse_moved(plots.batch_plot, view.mapViewToScene(view.viewRect().center()))
    assert plots.readouts[plots.batch_plot].isVisible()
    plots.reset()  # a new run, stopped before its first epoch
    plots.flush()
    assert not any(readout.isVisible() for readout in plots.readouts.values())


def test_loss_on_a_log_scale(qtbot, plots):
    plots.log_loss.setChecked(True)
    assert plots.loss_plot.getAxis("left").logMode and not plots.acc_plot.getAxis("left").logMode
    plots.log_loss.setChecked(False)
    assert not plots.loss_plot.getAxis("left").logMode


def test_an_earlier_run_overlays_its_training_curves_too(qtbot, plots):
    history = {k: [e[k] for e in EPOCHS] for k in EPOCHS[0]}
    plots.set_overlays([("earlier", history)])
    names = sorted(item.name() for _, item in plots.overlays)
    assert names == ["earlier (accuracy)", "earlier (loss)", "earlier (val_accuracy)", "earlier (val_loss)"]
    assert "earlier: training" in plots.loss_legend.text() and "earlier: validation" in plots.acc_legend.text()
    plots.set_overlays([])
    assert plots.overlays == [] and "earlier" not in plots.loss_legend.text()
