"""The Train tab's hyperparameter form: its rows are the families' config fields, its ranges the limits
training checks (models.config), for every family."""

from __future__ import annotations

import pytest

from app.hyperparameter_form import NOT_IN_FORM, QT_INT_MAX, HyperparameterForm
from models.config import FAMILY_NAMES, PRESETS, field_limits, validation_problems
from models.families import family_named

pytestmark = pytest.mark.gui


@pytest.fixture
def form(qtbot):
    widget = HyperparameterForm()
    qtbot.addWidget(widget)
    widget.show()
    return widget


def first_preset_of(family: str) -> str:
    return next(p.name for p in PRESETS.values() if p.config.family == family)


def rejected(form: HyperparameterForm, name: str, value) -> bool:
    """Whether training refuses ``value`` for ``name`` (a problem that names the field)."""
    return any(p.startswith(f"{name} ") for p in validation_problems(form.config().with_changes(**{name: value})))


@pytest.mark.parametrize("family", FAMILY_NAMES)
def test_every_spin_box_takes_exactly_the_range_training_accepts(form, family):
    form.preset_combo.setCurrentIndex(form.preset_combo.findData(first_preset_of(family)))
    fields = [f for f in family_named(family).config_fields() if f not in NOT_IN_FORM]
    shown = [name for name, box in form.fields.items() if form.model_form.isRowVisible(box)]
    assert set(shown) == {f for f in fields if field_limits(f) is not None}
    for name in shown:
        box, limits = form.fields[name], field_limits(name)
        if limits.whole:
            low = limits.low - 1 if limits.may_be_off else limits.low  # patience: 0 is off
            assert (box.minimum(), box.maximum()) == (low, min(limits.high, QT_INT_MAX)), name
        else:
            unit = 10.0 ** -box.decimals()
            low = limits.low if limits.low_included else limits.low + unit
            high = limits.high if limits.high_included else limits.high - unit
            assert box.minimum() == pytest.approx(low) and box.maximum() == pytest.approx(high), name
        # Both ends of the box are trained; one step past them is refused (where a C int allows it).
        for end in (box.minimum(), box.maximum()):
            box.setValue(end)
            assert not rejected(form, name, getattr(form.config(), name)), (name, end)
        unit = 1 if limits.whole else 10.0 ** -box.decimals()
        if not limits.may_be_off:
            assert rejected(form, name, box.minimum() - unit), name
        if box.maximum() < QT_INT_MAX:
            assert rejected(form, name, box.maximum() + unit), name


def test_the_rows_are_the_families_fields_and_follow_the_preset(form):
    for family in FAMILY_NAMES:
        form.preset_combo.setCurrentIndex(form.preset_combo.findData(first_preset_of(family)))
        assert form.config().family == family
        for name in family_named(family).config_fields():
            if name in NOT_IN_FORM:
                continue
            widget = form.fields.get(name) or form.choices.get(name) or \
                {"validation": form.validation_combo, "jit_compile": form.xla_check}[name]
            assert form.model_form.isRowVisible(widget), (family, name)
    # A field of the LSTMs only is hidden for the n-gram family, and the other way round.
    assert not form.model_form.isRowVisible(form.fields["maxlen"])
    form.preset_combo.setCurrentIndex(form.preset_combo.findData(first_preset_of("lstm")))
    assert not form.model_form.isRowVisible(form.fields["patience"])
    assert not form.model_form.isRowVisible(form.choices["weighting"])
