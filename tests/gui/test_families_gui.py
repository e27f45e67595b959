"""Both model families in the window: the Train tab's form follows the preset's family, pickers show each
model's family and test accuracy, the Predict tab says what the model reads."""

from __future__ import annotations

import pytest

from app.background import BackgroundTasks
from app.model_cache import model_name_of
from app.predict_tab import PredictTab
from app.training_tab import TrainingTab
from models.paths import builtin_model_dirs
from models.store import ModelStore

pytestmark = pytest.mark.gui
TIMEOUT = 60_000


@pytest.fixture
def train_tab(qtbot, tmp_path, no_dialogs):
    tasks = BackgroundTasks()
    widget = TrainingTab(ModelStore(tmp_path / "models"), tasks)
    qtbot.addWidget(widget)
    widget.show()
    yield widget
    assert widget.shutdown(10_000)
    qtbot.waitUntil(tasks.settled, timeout=10_000)


def test_the_form_shows_the_fields_of_the_presets_family(train_tab):
    form, fields = train_tab.form.model_form, train_tab.form.fields
    assert form.isRowVisible(fields["maxlen"]) and not form.isRowVisible(fields["max_features"])
    assert train_tab.config().family == "lstm" and train_tab.preset_name() == "imdb-lstm"
    train_tab.form.preset_combo.setCurrentIndex(train_tab.form.preset_combo.findData("ngram"))
    assert not form.isRowVisible(fields["maxlen"]) and not form.isRowVisible(train_tab.form.xla_check)
    assert form.isRowVisible(fields["max_features"]) and form.isRowVisible(train_tab.form.choices["scaling"])
    assert "whole review" in train_tab.form.family_label.text()
    config = train_tab.config()
    assert config.family == "ngram" and config.scaling == "nbsvm" and config.patience == 2
    assert train_tab.preset_name() == "ngram"
    train_tab.form.fields["max_features"].setValue(30_000)
    assert train_tab.preset_name() == "custom (from ngram)" and train_tab.config().max_features == 30_000
    train_tab.form.preset_combo.setCurrentIndex(train_tab.form.preset_combo.findData("imdb-lstm"))
    assert train_tab.config().family == "lstm" and train_tab.preset_name() == "imdb-lstm"


def test_the_predict_picker_shows_family_and_accuracy_and_opens_on_the_lstm(qtbot, tmp_path):
    tasks = BackgroundTasks()
    tab = PredictTab(ModelStore(tmp_path / "models", builtin=builtin_model_dirs()), tasks)
    qtbot.addWidget(tab, before_close_func=lambda _: qtbot.waitUntil(tasks.settled, timeout=TIMEOUT))
    labels = [tab.model_combo.itemText(i) for i in range(tab.model_combo.count())]
    assert [model_name_of(label) for label in labels] == ["IMDB LSTM (built-in)", "IMDB n-grams (built-in)"]
    assert labels[0].endswith("LSTM, 83.8% test") and "n-grams, 9" in labels[1]
    assert tab.model_combo.currentIndex() == 0  # the specified LSTM first
    qtbot.waitUntil(lambda: "vocabulary" in tab.model_status.text(), timeout=TIMEOUT)
    tab.model_combo.setCurrentIndex(1)
    qtbot.waitUntil(lambda: "whole review" in tab.model_status.text(), timeout=TIMEOUT)
    with qtbot.waitSignal(tab.prediction_ready, timeout=TIMEOUT) as blocker:
        tab.set_text("Not good at all. A boring, awful film.")
    prediction = blocker.args[0]
    assert prediction.label == "negative" and not prediction.truncated
    # The n-gram model weighs "not good" as a phrase: listed as a whole under the words, with its weight.
    qtbot.waitUntil(lambda: tab.explanation.shown() is not None
                    and tab.explanation.shown().explanation is not None, timeout=TIMEOUT)
    explanation = tab.explanation.shown().explanation
    assert explanation.method == "linear-exact" and explanation.phrases
    heaviest = max(explanation.phrases, key=lambda ph: abs(ph.weight))
    text = tab.explanation.top_words_label.text()
    assert "Phrases, weighed whole" in text and f"\u201c{heaviest.text}\u201d" in text
    phrases = {ph.text: ph.weight for ph in explanation.phrases}
    assert phrases.get("not good", 0) < 0  # "not good" pushes down as a phrase


def test_an_ngram_model_through_train_evaluate_and_models(qtbot, tmp_path, tiny_csv, no_dialogs):
    """Trained in the Train tab (curves per epoch, no cut marker), evaluated beside the built-in LSTM (both
    by length), shown with its family in the Models tab."""
    from app.evaluate_tab import EvaluateTab
    from app.models_tab import ModelsTab

    store = ModelStore(tmp_path / "models", builtin=builtin_model_dirs())
    tasks = BackgroundTasks()
    train = TrainingTab(store, tasks)
    qtbot.addWidget(train)
    train.show()
    form = train.form
    form.preset_combo.setCurrentIndex(form.preset_combo.findData("ngram"))
    train.set_data_source(str(tiny_csv))
    with qtbot.waitSignal(train.data_source_changed, timeout=TIMEOUT):
        train.load_data_clicked()
    for name, value in {"max_features": 300, "epochs": 3, "batch_size": 16, "learning_rate": 0.02}.items():
        form.fields[name].setValue(value)
    train.name_edit.setText("gui n-grams")
    with qtbot.waitSignal(train.model_saved, timeout=120_000) as saved:
        train.train_button.click()
    info = store.find(saved.args[0])
    assert info.metadata.family == "ngram" and info.metadata.config["max_features"] == 300
    train.plots.flush()
    xs, _ = train.plots.val_acc_curve.getData()
    assert list(xs) == list(range(1, info.metadata.results["epochs_completed"] + 1))  # one point per epoch
    assert f"test accuracy {info.metadata.results['test_accuracy']:.1%}" in train.summary.text()
    assert train.shutdown(10_000)

    evaluate = EvaluateTab(store, tasks)
    qtbot.addWidget(evaluate)
    evaluate.refresh_models(info.id)
    evaluate.compare_combo.select(next(i.id for i in evaluate.compare_combo.models() if i.metadata.family == "lstm"))
    evaluate.set_data_source(str(tiny_csv))
    with qtbot.waitSignal(evaluate.evaluated, timeout=TIMEOUT):
        evaluate.evaluate_button.click()
    mine, lstm = evaluate.evaluations
    assert mine.model_name == "gui n-grams" and mine.maxlen is None and not mine.cut.any() and lstm.maxlen == 80
    assert abs(evaluate.metrics()[0].accuracy - info.metadata.results["test_accuracy"]) < 1e-6
    note = evaluate.length_note.text()
    assert "'gui n-grams' reads whole reviews" in note and "'IMDB LSTM (built-in)' reads the last 80" in note
    assert evaluate.length_table.columnCount() == 6

    models = ModelsTab(store, tasks)
    qtbot.addWidget(models)
    row = next(r for r in range(models.table.rowCount()) if models.table.item(r, 0).text() == "gui n-grams")
    models.table.selectRow(row)
    assert "Family" in models.details.toPlainText() and "n-grams" in models.details.toPlainText()
    qtbot.waitUntil(tasks.settled, timeout=TIMEOUT)
