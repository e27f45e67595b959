"""The Train tab's hyperparameter form: the preset, then the fields of the preset's model family.

The rows are the families' config fields (``ModelFamily.config_fields``); each spin box takes its range
from the limits training checks (``models.config.field_limits``), so the form accepts exactly what a run
accepts. Only the words are the form's own (labels, steps, decimals, the choices' names). Choosing a
preset fills the form and shows the rows of its family only.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from models.config import (
    DEFAULT_PRESET,
    FAMILY_NAMES,
    MULTI_HOT,
    NBSVM,
    NO_SCALING,
    PRESETS,
    TF_IDF,
    VALIDATE_ON_SPLIT,
    VALIDATE_ON_TEST,
    FieldLimits,
    TrainingConfig,
    field_limits,
    preset_label,
    validation_problems,
)
from models.families import ModelFamily, family_named

QT_INT_MAX = 2**31 - 1  # a QSpinBox holds a C int: the seed's range (to 2**32 - 1) is cut here

# What the form calls each field, in the order it shows them; a field no family lists gets no row.
LABELS = {
    "vocab_size": "Vocabulary size",
    "maxlen": "Sequence length",
    "embedding_dim": "Embedding size",
    "lstm_units": "LSTM units",
    "batch_size": "Batch size",
    "epochs": "Epochs",
    "seed": "Random seed",
    "ngrams": "Words per n-gram (up to)",
    "max_features": "N-gram features",
    "patience": "Early stopping patience (0 = off)",
    "dropout": "Dropout",
    "recurrent_dropout": "Recurrent dropout",
    "validation_split": "Validation fraction",
    "learning_rate": "Learning rate (Adam)",
    "weighting": "Feature values",
    "scaling": "Feature scaling",
    "validation": "Validate on",
    "jit_compile": "",
}
# Fractions: (step, decimals).
STEPS = {"dropout": (0.05, 2), "recurrent_dropout": (0.05, 2), "validation_split": (0.05, 2),
         "learning_rate": (0.0005, 5)}
# Fields chosen from a list: (shown, value), ...
CHOICES = {
    "weighting": [("Present or not (multi-hot)", MULTI_HOT), ("Count x idf (TF-IDF)", TF_IDF)],
    "scaling": [("None", NO_SCALING), ("NBSVM log-count ratio", NBSVM)],
}
# Config fields that are how a run is carried out and have no row: always their default.
NOT_IN_FORM = ("fused_lstm",)


def form_fields() -> list[str]:
    """Every family's config fields, in the form's order (then any the form has no words for)."""
    listed: list[str] = []
    for name in FAMILY_NAMES:
        listed += [f for f in family_named(name).config_fields() if f not in listed and f not in NOT_IN_FORM]
    return [f for f in LABELS if f in listed] + [f for f in listed if f not in LABELS]


def spin_range(limits: FieldLimits, decimals: int = 0) -> tuple[float, float]:
    """The spin box range for ``limits``: an excluded end moves in by the box's smallest step; a field
    that may be off starts one below its minimum (that value is "off"); a whole number stops at a C int."""
    unit = 10.0 ** -decimals
    low = limits.low if limits.low_included else limits.low + unit
    high = limits.high if limits.high_included else limits.high - unit
    if limits.whole:
        low, high = int(low) - (1 if limits.may_be_off else 0), min(int(high), QT_INT_MAX)
    return low, high


class HyperparameterForm(QGroupBox):
    """The preset, the family's fields and where validation comes from; ``edited`` on every change."""

    edited = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__("Model and training", parent)
        self._setting_preset = False
        self.preset_combo = QComboBox()
        # Titles as long as the n-gram presets' are elided where space is short: the window fits 1024 px.
        self.preset_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.preset_combo.setMinimumContentsLength(26)
        for p in PRESETS.values():
            self.preset_combo.addItem(p.title, p.name)
            self.preset_combo.setItemData(self.preset_combo.count() - 1, f"Tutorial: {p.reference}",
                                          Qt.ItemDataRole.ToolTipRole)
        self.preset_combo.currentIndexChanged.connect(lambda _: self.apply_preset(self.preset_combo.currentData()))
        form = QFormLayout()
        self.model_form = form
        form.addRow("Preset", self.preset_combo)
        self.family_label = QLabel("")
        self.family_label.setWordWrap(True)
        form.addRow("Reads", self.family_label)
        self.fields: dict[str, QSpinBox | QDoubleSpinBox] = {}
        self.choices: dict[str, QComboBox] = {}
        self.validation_combo: QComboBox | None = None
        self.xla_check: QCheckBox | None = None
        self._rows: dict[str, QWidget] = {}
        for name in form_fields():
            widget = self._field_widget(name, LABELS.get(name, name))
            self._rows[name] = widget
            form.addRow(LABELS.get(name, name), widget)
        self.config_problem = QLabel("")
        self.config_problem.setWordWrap(True)
        self.config_problem.setStyleSheet("color: #d62728")
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.config_problem)
        self.apply_preset(DEFAULT_PRESET)

    def _field_widget(self, name: str, label: str) -> QWidget:
        if name == "validation":
            combo = self.validation_combo = QComboBox()
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(26)
            combo.addItem("Held-out training reviews", VALIDATE_ON_SPLIT)
            combo.addItem("Test split (the tutorials' way; test accuracy optimistic)", VALIDATE_ON_TEST)
            combo.setToolTip(
                "Which reviews choose the best epoch. Held out from training (the default), the test split is "
                "scored once at the end: an honest test accuracy. The tutorials validated on the test split "
                "itself; choose that to reproduce their figures, knowing the test accuracy then chose the epoch.")
            combo.currentIndexChanged.connect(self._on_edited)
            return combo
        if name == "jit_compile":
            check = self.xla_check = QCheckBox("Compile with XLA (faster, same maths)")
            check.setChecked(True)
            return check
        if name in CHOICES:
            combo = QComboBox()
            for shown, value in CHOICES[name]:
                combo.addItem(shown, value)
            combo.currentIndexChanged.connect(self._on_edited)
            self.choices[name] = combo
            return combo
        limits = field_limits(name)
        if limits is None:
            raise ValueError(f"The form has no widget for the config field {name!r}.")
        if limits.whole:
            box = QSpinBox()
            low, high = spin_range(limits)
            box.setRange(low, high)
            box.setGroupSeparatorShown(True)
            box.setToolTip(f"{label}: a whole number from {low:,} to {high:,}")
        else:
            step, decimals = STEPS.get(name, (0.01, 2))
            box = QDoubleSpinBox()
            box.setDecimals(decimals)
            low, high = spin_range(limits, decimals)
            box.setRange(low, high)
            box.setSingleStep(step)
            box.setToolTip(f"{label}: from {low:g} to {high:g}")
        box.valueChanged.connect(self._on_edited)
        self.fields[name] = box
        return box

    # -- the preset and its family ------------------------------------------------------------
    def apply_preset(self, name: str) -> None:
        """Fill the form with preset ``name`` and show its family's fields."""
        self._setting_preset = True
        try:
            index = self.preset_combo.findData(name)
            if index >= 0 and index != self.preset_combo.currentIndex():
                self.preset_combo.setCurrentIndex(index)
            config = PRESETS[name].config
            for field, box in self.fields.items():
                value = getattr(config, field)
                box.setValue(box.minimum() if value is None else value)  # patience: its lowest value is off
            for field, combo in self.choices.items():
                combo.setCurrentIndex(combo.findData(getattr(config, field)))
            if self.validation_combo is not None:
                self.validation_combo.setCurrentIndex(self.validation_combo.findData(config.validation))
            self._show_family_fields(config)
        finally:
            self._setting_preset = False
        self._on_edited()

    def family(self) -> ModelFamily:
        return family_named(PRESETS[self.preset_combo.currentData() or DEFAULT_PRESET].config.family)

    def _show_family_fields(self, config: TrainingConfig) -> None:
        """The rows of the preset's family's fields only (ModelFamily.config_fields)."""
        family = family_named(config.family)
        used = set(family.config_fields())
        self.family_label.setText(family.reads[:1].upper() + family.reads[1:] + ".")
        for name, widget in self._rows.items():
            self.model_form.setRowVisible(widget, name in used)

    def config(self) -> TrainingConfig:
        values = {}
        for name, box in self.fields.items():
            off = field_limits(name).may_be_off and box.value() == box.minimum()
            values[name] = None if off else box.value()
        values.update({name: combo.currentData() for name, combo in self.choices.items()})
        if self.validation_combo is not None:
            values["validation"] = self.validation_combo.currentData()
        if self.xla_check is not None:
            values["jit_compile"] = self.xla_check.isChecked()
        return TrainingConfig(family=self.family().name, **values)

    def preset_name(self) -> str:
        """The chosen preset's name, or "custom (from NAME)" once a hyperparameter differs from it."""
        return preset_label(self.preset_combo.currentData(), self.config())

    def problems(self) -> list[str]:
        return validation_problems(self.config())

    @Slot()
    def _on_edited(self, *_: object) -> None:
        if self._setting_preset:
            return
        config = self.config()
        problems = validation_problems(config)
        self.config_problem.setText(problems[0] if problems else "")
        if "validation_split" in self.fields:
            self.fields["validation_split"].setEnabled(config.validation == VALIDATE_ON_SPLIT)
        self.edited.emit()
