"""The data set a tab works on: the field and its picker, and in the Train tab also reading it in the
background, its figures, the histogram of its review lengths and the line on your label corrections.

One class for the Train and Evaluate tabs. The Train tab's view (``compact=False``) has the kind of
source (archive, CSV, a download), Load, the figures, the histogram with the marker where the chosen
model cuts reviews, your corrections and "Reviews to use". The Evaluate tab's (``compact=True``) is the
field and Browse only: its evaluation pass reads the data set itself, scoring it in the same job.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Signal, Slot
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.background import BackgroundTasks
from app.corrections_ui import TrainCorrections, identify_quietly
from app.plots import themed_plot
from models.config import TrainingConfig
from models.datasets import KERAS_SOURCE, STANFORD_SOURCE, Dataset, load_source, resolved_source
from models.families import ModelFamily

DOWNLOADS = (KERAS_SOURCE, STANFORD_SOURCE)
SOURCE_KINDS = [
    ("aclImdb archive (.tar.gz) or folder", "archive"),
    ("CSV file (text and label columns)", "csv"),
    ("Keras IMDB (download)", KERAS_SOURCE),
    ("Stanford aclImdb (download)", STANFORD_SOURCE),
]
ANY_SOURCE_HINT = "an aclImdb folder or .tar.gz, a .csv, or 'imdb' / 'stanford' (downloads)"
ANY_SOURCE_FILTER = "Data sets (*.tar.gz *.tgz *.csv *.tsv);;All files (*)"


def data_figures(spec: str, data: Dataset, lengths: np.ndarray) -> str:
    """One line on a data set just read: its reviews per split, the share positive, the median length."""
    s = data.summary()
    return (f"<b>{Path(spec).name if spec not in DOWNLOADS else spec}</b>: "
            f"{s['train']:,} training reviews ({s['train_positive'] / max(1, s['train']):.0%} positive), "
            f"{s['test']:,} test reviews ({s['test_positive'] / max(1, s['test']):.0%} positive). "
            f"Median length {int(np.median(lengths)) if len(lengths) else 0} words.")


class DataSourceView(QWidget):
    """The data field and its picker; the full view (the Train tab's) also reads, counts and plots."""

    status_message = Signal(str)
    loaded = Signal(str)  # the source just read: ``data``, ``data_spec`` and ``lengths`` are its
    load_failed = Signal(str)  # why it could not be read: the view holds no data set now
    loading_changed = Signal(bool)
    limit_changed = Signal()

    def __init__(self, tasks: BackgroundTasks | None = None, compact: bool = False, parent: QWidget | None = None):
        super().__init__(parent)
        if not compact and tasks is None:
            raise ValueError("The full data view reads data sets in the background: it needs the tasks.")
        self.tasks = tasks
        self.compact = compact
        self.data: Dataset | None = None
        self.data_spec: str | None = None
        self.lengths: np.ndarray | None = None  # of the training reviews, in words
        self.loading = False
        self._reader: tuple[ModelFamily, TrainingConfig] | None = None  # what show_reader was told last
        self.source_path = QLineEdit()
        self.browse_button = QPushButton("&Browse..." if compact else "Browse…")
        self.browse_button.clicked.connect(self.browse_data)
        if compact:
            self._build_compact()
        else:
            self._build_full()

    def _build_compact(self) -> None:
        self.source_kind = None
        self.source_path.setPlaceholderText(ANY_SOURCE_HINT)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.source_path, 1)
        row.addWidget(self.browse_button)

    def _build_full(self) -> None:
        self.source_kind = QComboBox()
        for label, key in SOURCE_KINDS:
            self.source_kind.addItem(label, key)
        self.source_kind.currentIndexChanged.connect(self._on_source_kind)
        self.source_path.setPlaceholderText("Path to aclImdb_v1.tar.gz, its folder, or a .csv")
        self.source_path.returnPressed.connect(self.load_data_clicked)
        self.load_button = QPushButton("Load")
        self.load_button.clicked.connect(self.load_data_clicked)
        row = QHBoxLayout()
        row.addWidget(self.source_path, 1)
        row.addWidget(self.browse_button)
        row.addWidget(self.load_button)

        self.data_summary = QLabel("No data loaded yet.")
        self.data_summary.setWordWrap(True)
        self.corrections = TrainCorrections()  # how many, and "Apply my corrections (N)"
        self.length_plot = themed_plot("Training review lengths (words)")
        self.length_plot.setLabel("left", "reviews")
        self.length_plot.setFixedHeight(170)
        self.length_plot.hideButtons()
        self.length_plot.setMouseEnabled(x=False, y=False)
        self.length_plot.hide()  # shown once a data set is loaded
        self.length_hist = self.length_plot.plot([0, 1], [0], stepMode="center", fillLevel=0,
                                                 brush=(31, 119, 180, 120), pen=pg.mkPen("#1f77b4"))
        # Where the chosen model cuts reviews (show_reader); hidden for a family that reads them whole.
        self.maxlen_line = pg.InfiniteLine(angle=90, pen=pg.mkPen("#d62728", width=2), movable=False,
                                           label="maxlen", labelOpts={"position": 0.9, "color": "#d62728",
                                                                      "fill": QApplication.palette().color(
                                                                          QPalette.ColorRole.Base)})
        self.length_plot.addItem(self.maxlen_line)
        # The longest 1% are left out of the bins (they would stretch the axis into one tall spike at its
        # end); this says how many there are and how long they get.
        self.length_overflow = pg.TextItem("", color=QApplication.palette().color(QPalette.ColorRole.Text),
                                           anchor=(1.0, 0.0))
        self.length_plot.addItem(self.length_overflow, ignoreBounds=True)
        self.truncation_note = QLabel("")
        self.truncation_note.setWordWrap(True)
        self.limit_box = QSpinBox()
        self.limit_box.setRange(0, 10_000_000)
        self.limit_box.setSingleStep(1000)
        self.limit_box.setGroupSeparatorShown(True)
        self.limit_box.setSpecialValueText("all")
        self.limit_box.setSuffix(" per split")
        self.limit_box.setToolTip("Train and test on at most this many reviews of each split, balanced between "
                                  "the labels (as the command line's --limit): a first run in seconds. 0 = all.")
        self.limit_box.valueChanged.connect(self._on_limit)
        limit_row = QHBoxLayout()
        limit_label = QLabel("&Reviews to use")
        limit_label.setBuddy(self.limit_box)
        limit_row.addWidget(limit_label)
        limit_row.addWidget(self.limit_box, 1)
        self.limit_note = QLabel("")  # a problem with it, said here beside the box in the form's own words
        self.limit_note.setWordWrap(True)
        self.limit_note.setStyleSheet("color: #d62728")
        self.limit_note.hide()

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.source_kind)
        layout.addLayout(row)
        layout.addWidget(self.data_summary)
        layout.addWidget(self.corrections)
        layout.addWidget(self.length_plot)
        layout.addWidget(self.truncation_note)
        layout.addLayout(limit_row)
        layout.addWidget(self.limit_note)

    # -- the source -------------------------------------------------------------------------------
    def _on_source_kind(self, _: int) -> None:
        downloads = self.source_kind.currentData() in DOWNLOADS
        self.source_path.setEnabled(not downloads)
        self.browse_button.setEnabled(not downloads)
        if downloads:
            self.source_path.setText("")
            self.source_path.setPlaceholderText("Downloaded to your cache when you press Load")

    def set_data_source(self, spec: str) -> None:
        """Show ``spec`` (a path, 'imdb' or 'stanford') as the chosen source without reading it."""
        if self.source_kind is None:
            self.source_path.setText(spec)
        elif spec.lower() in DOWNLOADS:
            self.source_kind.setCurrentIndex(self.source_kind.findData(spec.lower()))
        else:
            is_csv = spec.lower().endswith((".csv", ".tsv"))
            self.source_kind.setCurrentIndex(self.source_kind.findData("csv" if is_csv else "archive"))
            self.source_path.setText(spec)

    def source_spec(self) -> str:
        key = self.source_kind.currentData() if self.source_kind is not None else None
        return key if key in DOWNLOADS else self.source_path.text().strip()

    @Slot()
    def browse_data(self) -> None:
        """Pick a file; the full view reads it at once."""
        if self.source_kind is None:
            start = self.source_path.text().strip() or str(Path.home())
            path, _ = QFileDialog.getOpenFileName(self, "Data set to evaluate on", start, ANY_SOURCE_FILTER)
        elif self.source_kind.currentData() == "csv":
            path, _ = QFileDialog.getOpenFileName(self, "Open a CSV of reviews", "", "CSV files (*.csv *.tsv)")
        else:
            path, _ = QFileDialog.getOpenFileName(
                self, "Open the aclImdb archive", "", "aclImdb archive (*.tar.gz *.tgz *.tar);;All files (*)")
        if path:
            self.source_path.setText(path)
            if not self.compact:
                self.load_data(path)

    # -- reading (the full view) ------------------------------------------------------------------
    @Slot()
    def load_data_clicked(self) -> None:
        spec = self.source_spec()
        if not spec:
            self.status_message.emit("Choose a data set first: an aclImdb archive or folder, a CSV, or a download.")
            return
        self.load_data(spec)

    def load_data(self, spec: str) -> None:
        """Read ``spec`` in the background: ``loaded`` or ``load_failed`` when done."""
        if self.loading:
            return
        if spec.lower() not in DOWNLOADS:
            # Resolved, so the remembered source still works when the app starts in another folder.
            spec = resolved_source(spec)
            self.source_path.setText(spec)
        self._set_loading(True)
        self.data_summary.setText(f"Loading {spec} …")
        self.status_message.emit(f"Loading {spec} …")

        def work():
            data = load_source(spec)
            return spec, data, data.train.lengths(), *identify_quietly(spec)  # hashed once, here

        self.tasks.run(work, self._on_data_loaded, self._on_data_failed)

    def _set_loading(self, loading: bool) -> None:
        self.loading = loading
        self.loading_changed.emit(loading)

    def _on_data_loaded(self, payload) -> None:
        spec, data, lengths, identity, problem = payload
        self.loading = False
        self.corrections.set_identity(identity, problem)
        self.data, self.data_spec, self.lengths = data, spec, lengths
        self.data_summary.setText(data_figures(spec, data, lengths))
        if len(lengths):
            top = max(10, int(np.percentile(lengths, 99)))
            counts, edges = np.histogram(lengths[lengths <= top], bins=60, range=(0, top))
            self.length_hist.setData(edges, counts)
            longer = int(np.sum(lengths > top))
            self.length_overflow.setText(f"not shown: {longer:,} longer than {top:,}\n(up to {int(lengths.max()):,} "
                                         "words)" if longer else "")
            self.length_overflow.setPos(top, max(1, int(counts.max())))
            self.length_plot.show()
        self._show_note()
        s = data.summary()
        self.status_message.emit(f"Loaded {s['train'] + s['test']:,} reviews.")
        self.loading_changed.emit(False)
        self.loaded.emit(spec)

    def _on_data_failed(self, message: str) -> None:
        self.loading = False
        # The previous data set's figures would read as this one's: clear them with it.
        self.data, self.data_spec, self.lengths = None, None, None
        self.corrections.set_identity(None)
        self.length_hist.setData([0, 1], [0])
        self.length_overflow.setText("")
        self.length_plot.hide()
        self.truncation_note.setText("")
        self.data_summary.setText(f"<span style='color:#d62728'>{message}</span>")
        self.status_message.emit(message)
        self.loading_changed.emit(False)
        self.load_failed.emit(message)

    def refresh_corrections(self) -> None:
        """Read the corrections again (verdicts given in the Evaluate tab since), unless a read is under way."""
        if not self.compact and not self.loading:
            self.corrections.refresh()

    # -- what the model reads of it ---------------------------------------------------------------
    def show_reader(self, family: ModelFamily, config: TrainingConfig) -> None:
        """Mark where a model of ``family`` trained with ``config`` cuts reviews, and say how many it cuts;
        a family that reads whole reviews has no marker, and the note says what it reads."""
        self._reader = family, config
        cut_at = family.tokens_read(config)
        self.maxlen_line.setVisible(cut_at is not None)
        if cut_at is not None:
            self.maxlen_line.setValue(cut_at)
        self._show_note()

    def _show_note(self) -> None:
        reader = self._reader
        if reader is None or self.lengths is None or not len(self.lengths):
            return
        family, config = reader
        cut_at = family.tokens_read(config)
        if cut_at is None:
            self.truncation_note.setText(
                f"None is cut: this model reads {family.reads} (the longest review here has "
                f"{int(self.lengths.max()):,} words).")
        else:
            cut = float(np.mean(self.lengths > cut_at))
            self.truncation_note.setText(
                f"{cut:.0%} of training reviews are longer than {cut_at} words; the model sees only their "
                f"last {cut_at} tokens.")

    # -- how many reviews -------------------------------------------------------------------------
    def limit(self) -> int | None:
        """Reviews to use per split; None for all of them."""
        return self.limit_box.value() or None

    def limit_problem(self) -> str | None:
        """What is wrong with "Reviews to use", in the form's words; None when it can be used."""
        if self.limit_box.value() == 1:  # 0 is "all"; a balanced sample needs a review of each label
            return "Reviews to use: at least 2 per split (one of each label), or 0 for all of them."
        return None

    def _on_limit(self, _: int) -> None:
        problem = self.limit_problem()
        self.limit_note.setText(problem or "")
        self.limit_note.setVisible(problem is not None)
        self.limit_changed.emit()
