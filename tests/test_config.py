from pathlib import Path

import pytest

from kerasdl.apps.vision.config import VisionConfig
from kerasdl.config import (
    ClassifierConfig,
    config_from_dict,
    read_toml,
    resolve_config,
    to_toml,
)
from kerasdl.errors import ConfigError


def test_precedence_defaults_preset_file_overrides(tmp_path: Path) -> None:
    toml = tmp_path / "c.toml"
    toml.write_text('epochs = 5\nbatch_size = 16\noptimizer = "sgd"\n')
    config = resolve_config(
        VisionConfig, preset="tiny", toml_path=toml, overrides={"batch_size": "8"}
    )
    assert config.epochs == 5  # file beats preset (tiny says 2)
    assert config.batch_size == 8  # command line beats file
    assert config.width == 8  # from the preset
    assert config.optimizer == "sgd"
    assert config.learning_rate == VisionConfig().learning_rate  # default


def test_toml_round_trip(tmp_path: Path) -> None:
    config = VisionConfig(dataset="my data/x", image_size=32, augment=True, label_smoothing=0.1)
    path = tmp_path / "config.toml"
    path.write_text(to_toml(config))
    assert config_from_dict(VisionConfig, read_toml(path)) == config


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"epochs": "0"}, "`epochs` must be a positive integer. Received: epochs=0"),
        ({"batch_size": "-3"}, "`batch_size` must be a positive integer. Received: batch_size=-3"),
        ({"optimizer": "lion"}, "`optimizer` must be one of sgd, momentum, nesterov, rmsprop, adagrad, adam, adamw, lamb. Received: optimizer='lion'"),
        ({"dropout": "1"}, "`dropout` must be in [0, 1). Received: dropout=1.0"),
        ({"learning_rate": "abc"}, "`learning_rate` must be of type float. Received: learning_rate='abc'"),
        ({"augment": "maybe"}, "`augment` must be of type bool. Received: augment='maybe'"),
        ({"colour": "1"}, "Unknown config key 'colour'."),
        ({"channels": "2"}, "`channels` must be 1 or 3. Received: channels=2"),
    ],
)
def test_bad_values_have_clear_messages(overrides: dict, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        resolve_config(VisionConfig, overrides=overrides)
    assert str(err.value).startswith(message)


def test_optional_fields_accept_none() -> None:
    config = resolve_config(VisionConfig, overrides={"image_size": "none", "dataset": None})
    assert config.image_size is None


def test_unknown_preset_and_bad_toml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="Unknown preset 'huge'. Available presets: cifar, fashion-mnist, photos, tiny."):
        resolve_config(VisionConfig, preset="huge")
    bad = tmp_path / "bad.toml"
    bad.write_text("epochs = = 3\n")
    with pytest.raises(ConfigError, match="is not valid TOML"):
        resolve_config(ClassifierConfig, toml_path=bad)
    with pytest.raises(ConfigError, match="Config file not found"):
        resolve_config(ClassifierConfig, toml_path=tmp_path / "missing.toml")
    nested = tmp_path / "nested.toml"
    nested.write_text("[train]\nepochs = 3\n")
    with pytest.raises(ConfigError, match="must be flat"):
        resolve_config(ClassifierConfig, toml_path=nested)


def test_the_word_none_is_a_value_for_text_fields_and_empty_for_optional_ones() -> None:
    from kerasdl.apps.sentiment.config import SentimentConfig
    from kerasdl.apps.vision.config import VisionConfig
    from kerasdl.config import coerce_value

    assert coerce_value(SentimentConfig, "standardize", "none") == "none"  # a choice named none
    assert coerce_value(VisionConfig, "norm", "None") == "None"
    assert coerce_value(SentimentConfig, "ngrams", "none") is None  # optional: the model's default
    with pytest.raises(ConfigError, match="cannot be empty"):
        coerce_value(VisionConfig, "epochs", "none")
