import pytest

from models.config import DEFAULT_PRESET, PRESETS, TrainingConfig, preset, validation_problems
from models.errors import ConfigError


def test_default_preset_is_the_specified_model():
    c = PRESETS[DEFAULT_PRESET].config
    assert c == TrainingConfig()
    assert (c.vocab_size, c.maxlen, c.embedding_dim, c.lstm_units) == (2000, 80, 128, 128)
    assert (c.dropout, c.recurrent_dropout, c.batch_size, c.epochs, c.validation) == (0.2, 0.2, 32, 15, "split")
    assert PRESETS[DEFAULT_PRESET].tutorial_validation == "test"  # the tutorial's figures: --validation test


def test_reference_presets_exist():
    assert PRESETS["lstm100-5k-dropout"].config.maxlen == 500
    seed_003 = PRESETS["lstm100-10k"].config  # LSTM 100, 500 tokens, 10 epochs: a 10,000-word vocabulary
    assert (seed_003.vocab_size, seed_003.maxlen, seed_003.lstm_units, seed_003.epochs) == (10_000, 500, 100, 10)
    assert PRESETS["keras-small-10k"].config.validation == "split"
    for p in PRESETS.values():
        assert validation_problems(p.config) == []


@pytest.mark.parametrize(
    "change, fragment",
    [
        ({"epochs": 0}, "epochs must be at least 1"),
        ({"batch_size": -5}, "batch_size must be at least 1"),
        ({"maxlen": 10**9}, "maxlen must be at most"),
        ({"dropout": 1.5}, "dropout must be between"),
        ({"vocab_size": 3}, "vocab_size must be at least 4"),
        ({"learning_rate": 0.0}, "learning_rate"),
        ({"validation": "train"}, "validation must be"),
        ({"lstm_units": 2.5}, "whole number"),
    ],
)
def test_bad_values_are_rejected_with_reason(change, fragment):
    with pytest.raises(ConfigError, match=fragment):
        TrainingConfig().with_changes(**change).validated()


def test_unknown_preset():
    with pytest.raises(ConfigError, match="Unknown preset"):
        preset("nope")


def test_the_old_preset_name_says_the_new_one():
    with pytest.raises(ConfigError, match="'lstm100-5k' is now 'lstm100-10k'.*10,000-word"):
        preset("lstm100-5k")


def test_dict_round_trip_ignores_unknown_keys():
    c = TrainingConfig(epochs=3)
    assert TrainingConfig.from_dict({**c.to_dict(), "future_field": 1}) == c


def test_a_run_is_recorded_as_its_preset_only_while_it_trains_what_the_preset_does():
    from models.config import PRESETS, preset_label

    config = PRESETS["imdb-lstm"].config
    assert preset_label("imdb-lstm", config) == "imdb-lstm"
    assert preset_label("imdb-lstm", config.with_changes(jit_compile=False, fused_lstm=False)) == "imdb-lstm"
    assert preset_label("imdb-lstm", config.with_changes(epochs=3)) == "custom (from imdb-lstm)"
