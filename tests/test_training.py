import types

import numpy as np
import pytest

from models import training as t
from models.architecture import build_model
from models.config import TrainingConfig
from models.datasets import load_csv
from models.errors import ConfigError


def test_default_architecture_is_exactly_the_specified_layers():
    model = build_model(TrainingConfig())
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds == ["Embedding", "LSTM", "Dense"]
    emb, lstm, dense = model.layers
    assert (emb.input_dim, emb.output_dim) == (2000, 128)
    assert (lstm.units, lstm.dropout, lstm.recurrent_dropout) == (128, 0.2, 0.2)
    assert dense.units == 1 and dense.activation.__name__ == "sigmoid"
    assert model.input_shape == (None, 80)
    assert model.loss == "binary_crossentropy" and type(model.optimizer).__name__ == "Adam"
    assert model.count_params() == 2000 * 128 + 4 * 128 * (128 + 128 + 1) + 129


def test_train_two_epochs_reports_progress_and_keeps_best_epoch(tiny_csv, tiny_config):
    data = load_csv(tiny_csv)
    events: list[t.TrainingProgress] = []
    result = t.train(tiny_config, data, on_progress=events.append)
    assert result.epochs_completed == 2 and not result.stopped
    assert set(result.history) == {"loss", "accuracy", "val_loss", "val_accuracy", "seconds"}
    best = int(np.argmax(result.history["val_accuracy"])) + 1
    assert result.best_epoch == best
    # By default the epoch is chosen on reviews held out from training, and the test split is
    # scored once, after the last epoch, with the best epoch's weights.
    assert result.validated_on == "split" and result.validation_accuracy == result.history["val_accuracy"][best - 1]
    phases = [e.phase for e in events]
    assert phases[0] == t.PREPARING and phases[-1] == t.FINISHED
    assert phases.count(t.EPOCH_END) == 2
    assert phases.count(t.EVALUATING) == 1 and phases.index(t.EVALUATING) > max(
        i for i, phase in enumerate(phases) if phase == t.EPOCH_END)
    summary = result.summary()
    assert summary["validated_on"] == "split" and summary["test_accuracy"] == result.test_accuracy
    assert summary["validation_accuracy"] == result.validation_accuracy
    batches = [e for e in events if e.phase == t.TRAINING]
    held_out = round(len(data.train) * tiny_config.validation_split)
    assert batches[0].batches == -(-(len(data.train) - held_out) // tiny_config.batch_size)
    assert batches[0].eta_seconds is None  # unknown until a second batch has run (the first compiles)
    assert all(e.eta_seconds is not None and e.eta_seconds >= 0 for e in batches[1:])
    # the restored weights are the best epoch's: evaluating them reproduces its validation accuracy
    from models.encoding import encode_split

    x = encode_split(data.test, result.vocabulary, tiny_config.maxlen)
    probs = result.model.predict(x, verbose=0).reshape(-1)
    assert np.mean((probs >= 0.5) == (data.test.labels == 1)) == pytest.approx(result.test_accuracy, abs=1e-6)


def test_learns_an_easy_task(tiny_csv, tiny_config):
    result = t.train(tiny_config.with_changes(epochs=6), load_csv(tiny_csv))
    assert result.test_accuracy >= 0.9


def test_stop_request_ends_training_within_one_batch(tiny_csv, tiny_config):
    data = load_csv(tiny_csv)
    seen = []

    def on_progress(p):
        if p.phase == t.TRAINING:
            seen.append((p.epoch, p.batch))

    result = t.train(tiny_config.with_changes(epochs=5), data, on_progress=on_progress,
                     should_stop=lambda: len(seen) >= 3)
    assert result.stopped and seen == [(1, 1), (1, 2), (1, 3)]
    assert result.epochs_completed == 0 and result.best_epoch is None and result.test_accuracy is None


def test_stop_during_validation_ends_it(tiny_csv, tiny_config):
    data = load_csv(tiny_csv)
    state = {"validating": 0}

    def on_progress(p):
        if p.phase == t.VALIDATING:
            state["validating"] += 1

    # A stop raised after the first epoch's training batches ends validation early, keeps no partial epoch.
    calls = {"n": 0}

    def should_stop():
        calls["n"] += 1
        return calls["n"] > 14  # 12 train batches (+ epoch begin) then during validation

    result = t.train(tiny_config.with_changes(epochs=3), data, on_progress=on_progress, should_stop=should_stop)
    assert result.stopped and result.epochs_completed == 0


def test_validation_split_evaluates_on_test(tiny_csv, tiny_config):
    result = t.train(tiny_config.with_changes(validation="split", epochs=1), load_csv(tiny_csv))
    assert result.test_accuracy is not None and result.best_epoch == 1


def test_the_tutorials_way_validates_on_test_and_says_so(tiny_csv, tiny_config):
    events: list[t.TrainingProgress] = []
    result = t.train(tiny_config.with_changes(validation="test", epochs=2), load_csv(tiny_csv),
                     on_progress=events.append)
    best = result.best_epoch
    # The test accuracy is the very figure that chose the epoch (optimistic), and the result says so.
    assert result.validated_on == "test" and result.summary()["validated_on"] == "test"
    assert result.test_accuracy == result.validation_accuracy == result.history["val_accuracy"][best - 1]
    assert t.EVALUATING not in [e.phase for e in events]
    held_out = [e for e in events if e.phase == t.TRAINING][0].batches
    assert held_out == -(-192 // tiny_config.batch_size)  # every training review is trained on


def test_bad_config_is_refused_before_any_work(tiny_csv):
    with pytest.raises(ConfigError):
        t.train(TrainingConfig(epochs=0), load_csv(tiny_csv))


def test_metadata_has_versions_and_history(tiny_csv, tiny_config):
    result = t.train(tiny_config.with_changes(epochs=1), load_csv(tiny_csv))
    meta = t.run_metadata(result, "imdb-lstm")
    assert meta.maxlen == tiny_config.maxlen and meta.preset == "imdb-lstm" and meta.family == "lstm"
    assert meta.versions["keras"].startswith("3.") and "tensorflow" in meta.versions
    assert len(meta.history["val_accuracy"]) == 1 and meta.best_epoch == 1
    assert meta.source == result.data_summary["source"] and meta.corrections is None


def test_stop_during_the_final_evaluation(tiny_csv, tiny_config):
    state = {"evaluating": False}

    def on_progress(p):
        if p.phase == t.EVALUATING:
            state["evaluating"] = True

    result = t.train(tiny_config.with_changes(validation="split", epochs=1, batch_size=2), load_csv(tiny_csv),
                     on_progress=on_progress, should_stop=lambda: state["evaluating"])
    assert state["evaluating"] and result.stopped
    assert result.epochs_completed == 1 and result.test_accuracy is None  # kept the epoch, no test figure


def test_stop_during_preparation_returns_before_tokenizing_everything(tiny_config):
    from models.datasets import Dataset, Split
    from tests.conftest import reviews

    rows = reviews(3000)
    split = Split(labels=np.array([label for _, label in rows], dtype=np.int8), texts=[text for text, _ in rows])
    calls = {"n": 0}

    def stop_on_second_check():
        calls["n"] += 1
        return calls["n"] >= 2  # i.e. after the first 1,000 training reviews

    result = t.train(tiny_config, Dataset(split, split, "memory"), should_stop=stop_on_second_check)
    assert result.stopped and result.model is None and result.epochs_completed == 0 and calls["n"] == 2


def test_input_pipeline_trains_like_fit_on_arrays(tiny_csv, tiny_config):
    """Our pipeline (autotuning off, so Stop is not held up) gives plain ``fit(x, y)``'s result:
    the same shuffled batches, hence bit-identical weights, with dropout on."""
    config = TrainingConfig(**{**tiny_config.to_dict(), "dropout": 0.2, "recurrent_dropout": 0.2})
    _, (x, y), (xv, yv) = t.prepare_arrays(config, load_csv(tiny_csv))
    k = t.keras()
    weights = []
    for ours in (False, True):
        k.utils.set_random_seed(config.seed)
        model = build_model(config)
        if ours:
            model.fit(t.input_pipeline(x, y, config.batch_size, shuffle=True), epochs=2, shuffle=False,
                      validation_data=t.input_pipeline(xv, yv, 256), verbose=0)
        else:
            model.fit(x, y, batch_size=config.batch_size, epochs=2, validation_data=(xv, yv),
                      validation_batch_size=256, verbose=0)
        weights.append(model.get_weights())
    for plain, ours in zip(*weights):
        # The same batches in the same order give the same weights up to float32 rounding: TensorFlow's
        # thread pools may sum in another order under load. Other batches would differ by far more.
        np.testing.assert_allclose(plain, ours, rtol=1e-5, atol=1e-6)
    dataset = t.input_pipeline(x, y, 16)
    assert dataset.options().autotune.enabled is False
    assert int(dataset.cardinality()) == -(-len(x) // 16)
    sizes = [len(batch_x) for batch_x, _ in dataset]
    assert sum(sizes) == len(x) and sizes[-1] == (len(x) % 16 or 16)


def test_batch_values_are_recovered_from_keras_running_means():
    # The example: batch losses 0.018 then 4.018 arrive as running means 0.018, 2.018.
    values = t.BatchValues(batch_size=32, n_train=80)  # batches of 32, 32 and a last one of 16
    assert values.add(1, {"loss": 0.018, "accuracy": 0.5}) == pytest.approx({"batch_loss": 0.018,
                                                                              "batch_accuracy": 0.5})
    assert values.add(2, {"loss": 2.018, "accuracy": 0.75})["batch_loss"] == pytest.approx(4.018)
    # the last, smaller batch weighs less in Keras' sample-weighted mean: (80 * m3 - 64 * 2.018) / 16
    last = values.add(3, {"loss": (64 * 2.018 + 16 * 1.0) / 80, "accuracy": (48 + 16) / 80})
    assert last == pytest.approx({"batch_loss": 1.0, "batch_accuracy": 1.0})


def test_each_batch_reports_its_own_accuracy(tiny_csv, tiny_config):
    """Recovered from Keras' running means, a batch's accuracy is a whole number of right answers
    out of its size: what a per-batch figure must be, and a running mean of several batches is not."""
    events: list[t.TrainingProgress] = []
    t.train(tiny_config.with_changes(epochs=2), load_csv(tiny_csv), on_progress=events.append)
    batches = [e for e in events if e.phase == t.TRAINING]
    n_train = 192 - round(192 * tiny_config.validation_split)
    for e in batches:
        size = min(tiny_config.batch_size, n_train - (e.batch - 1) * tiny_config.batch_size)
        right = e.logs["batch_accuracy"] * size
        assert right == pytest.approx(round(right), abs=1e-3) and 0 <= round(right) <= size
        assert e.logs["batch_loss"] > 0
    # and the running mean at an epoch's last batch is the size-weighted mean of its batches
    epoch1 = [e for e in batches if e.epoch == 1]
    sizes = [min(tiny_config.batch_size, n_train - (e.batch - 1) * tiny_config.batch_size) for e in epoch1]
    assert np.average([e.logs["batch_loss"] for e in epoch1], weights=sizes) == pytest.approx(
        epoch1[-1].logs["loss"], rel=1e-4)


def test_the_data_and_model_are_kept_out_of_garbage_collections_during_a_run_only(tiny_csv, tiny_config):
    """Full collections walk every object and stop every thread while they do (the window's longest
    stall while training was one); during a run the data and the model are frozen out of them."""
    import gc

    data = load_csv(tiny_csv)
    before = gc.get_freeze_count()
    seen = {}

    def on_progress(p):
        if p.phase == t.TRAINING:
            seen.setdefault("frozen", gc.get_freeze_count())
            seen.setdefault("enabled", gc.isenabled())

    t.train(tiny_config.with_changes(epochs=1), data, on_progress=on_progress)
    assert seen["frozen"] > before + 1000 and seen["enabled"]  # frozen, and the collector still runs
    assert gc.get_freeze_count() == 0 and gc.isenabled()


def test_the_first_eta_leaves_out_the_first_batch_that_compiles(monkeypatch, tiny_config):
    """A 20-s run read "ETA 5:41": the first batch's compilation was taken as the time of every batch."""
    clock = [100.0]
    monkeypatch.setattr(t, "time", types.SimpleNamespace(perf_counter=lambda: clock[0]))  # this module's clock only
    events = []
    config = tiny_config.with_changes(epochs=3, batch_size=16)
    tracker = t._Tracker(config, n_train=160, n_val=0, report=events.append, stop=lambda: False, started=100.0)
    tracker.on_epoch_begin(0)
    clock[0] += 10.0  # batch 1: compiling the training step
    tracker.on_train_batch_end(0)
    for batch in range(1, 10):  # then 0.1 s a batch
        clock[0] += 0.1
        tracker.on_train_batch_end(batch)
    assert events[0].eta_seconds is None
    # After batch 2 of 10 in epoch 1 of 3: 8 batches, then 2 epochs of 10, at 0.1 s (no validation rows).
    assert events[1].eta_seconds == pytest.approx(2.8)
    assert events[-1].eta_seconds == pytest.approx(2.0)


def test_the_eta_counts_the_first_validation_s_compile_and_not_a_short_last_batch(monkeypatch, tiny_config):
    clock = [0.0]
    monkeypatch.setattr(t, "time", types.SimpleNamespace(perf_counter=lambda: clock[0]))
    events = []
    config = tiny_config.with_changes(epochs=2, batch_size=16)
    tracker = t._Tracker(config, n_train=160, n_val=16, report=events.append, stop=lambda: False, started=0.0)
    tracker.on_epoch_begin(0)
    for batch, seconds in enumerate([6.0] + [0.1] * 8 + [3.0]):  # compiles: the first batch, the short last
        clock[0] += seconds
        tracker.on_train_batch_end(batch)
    assert tracker.batch_seconds == pytest.approx(0.1)  # the median: neither compile counts as the rate
    validation = tracker.val_batches * t.validation_batch_size(config) / 16 * 0.1 / 3
    # After batch 2: 8 batches, the first validation (its compile about the first batch's 5.9 s), one epoch.
    assert events[1].eta_seconds == pytest.approx(0.8 + validation + 5.9 + 1.0 + validation)
