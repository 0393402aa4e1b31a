"""Config assembly below the CLI (`kerasdl.settings`) and TensorFlow's start-up
(`kerasdl.runtime`), called directly."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from kerasdl.errors import ConfigError, KerasdlError
from kerasdl.settings import (check_not_varied, check_resume, config_field_names, config_given, explicit_names,
                              parse_setting, parse_settings, resolve_app_config, runs_default_model)


def test_settings_are_parsed_as_name_and_value() -> None:
    assert parse_setting("image_size=64") == ("image_size", "64")
    assert parse_setting(" label-smoothing = 0.1 ") == ("label_smoothing", "0.1")
    assert parse_setting("dataset=a=b") == ("dataset", "a=b")  # the first "=" splits
    assert parse_setting("teacher=") == ("teacher", "")
    assert parse_settings(["epochs=2", "epochs=3", "model=mlp"]) == {"epochs": "3", "model": "mlp"}
    for bad in ("image_size", "=64", " =64", ""):
        with pytest.raises(ConfigError, match=r"^`set` takes KEY=VALUE\. Received: "):
            parse_setting(bad)


def test_values_resolve_in_order_defaults_preset_file_overrides_settings(tmp_path: Path) -> None:
    from kerasdl.apps.vision.config import VisionConfig

    toml = tmp_path / "c.toml"
    toml.write_text('epochs = 7\nmodel = "lenet"\nwidth = 6\n')
    config = resolve_app_config("vision", preset="tiny", config_file=toml, sets=["width=5", "image-size=20"],
                                overrides={"model": "mlp", "epochs": None, "dropout": 0.25})
    assert isinstance(config, VisionConfig)
    assert config.epochs == 7  # the file's: the override was not given (None)
    assert config.model == "mlp" and config.dropout == 0.25  # overrides beat the file
    assert config.width == 5 and config.image_size == 20  # settings beat the file, strings converted
    assert config.batch_size == VisionConfig.presets["tiny"].get("batch_size", VisionConfig().batch_size)
    assert resolve_app_config("vision", sets=["epochs=2"], overrides={"epochs": 9}).epochs == 2
    assert resolve_app_config("vision") == VisionConfig()


@pytest.mark.parametrize("kwargs, error, message", [
    ({"overrides": {"norm": "layer"}}, ConfigError, r"^`norm` does not apply to the sentiment app\.$"),
    ({"sets": ["width"]}, ConfigError, r"^`set` takes KEY=VALUE"),
    ({"sets": ["colour=red"]}, ConfigError, "Unknown config key 'colour'"),
    ({"preset": "huge"}, ConfigError, "Unknown preset 'huge'"),
    ({"sets": ["epochs=0"]}, ConfigError, "`epochs` must be a positive integer"),
    ({"config_file": "no/such.toml"}, ConfigError, "Config file not found"),
])
def test_bad_values_raise_one_line_errors_that_name_settings(kwargs: dict, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        resolve_app_config("sentiment", **kwargs)


def test_an_unknown_app_is_refused() -> None:
    with pytest.raises(KerasdlError, match="Unknown app 'sound'"):
        resolve_app_config("sound")


def test_given_and_explicit_values() -> None:
    assert not config_given()
    assert not config_given(overrides={"epochs": None, "model": None}, sets=())
    assert config_given(overrides={"augment": False})  # False is a value, None is not
    assert config_given(preset="tiny") and config_given(config_file="c.toml") and config_given(sets=["a=1"])
    assert explicit_names(["image-size=64", "width"], {"epochs": 3, "model": None}) == {"epochs", "image_size",
                                                                                        "width"}


def test_resume_refusal_names_what_the_job_keeps_and_what_it_refuses() -> None:
    check_resume("the run's saved config")
    check_resume("the run's saved config", overrides={"epochs": None}, also={"fix": ()})
    with pytest.raises(ConfigError) as caught:
        check_resume("the run's saved config", overrides={"epochs": 3})
    assert str(caught.value) == "`resume` continues with the run's saved config: give no other options."
    for given in ({"preset": "tiny"}, {"config_file": "c.toml"}, {"sets": ["a=1"]}, {"also": {"fix": ("model",)}}):
        with pytest.raises(ConfigError) as caught:
            check_resume("the search's saved config and space", **{"also": {"fix": ()}, **given})
        assert str(caught.value) == ("`resume` continues with the search's saved config and space: "
                                     "give no config options or `fix`.")


def test_a_field_both_set_and_varied_is_refused() -> None:
    check_not_varied(["dropout"], sets=["width=4"], overrides={"model": None})
    with pytest.raises(ConfigError, match=r"^`model` is both set and varied: drop one of the two\.$"):
        check_not_varied(["dropout", "model"], overrides={"model": "cnn"})
    with pytest.raises(ConfigError, match=r"^`label_smoothing` is both set"):
        check_not_varied(["label_smoothing"], sets=["label-smoothing=0.1"])


def test_the_default_model_run_is_the_unnamed_default() -> None:
    from kerasdl.apps.forecast.config import ForecastConfig
    from kerasdl.apps.vision.config import VisionConfig
    from kerasdl.registry import get_app

    assert runs_default_model("vision", VisionConfig())
    assert runs_default_model("vision", VisionConfig(model=get_app("vision").default_model))
    assert runs_default_model("vision", VisionConfig(), {"model": None})
    assert not runs_default_model("vision", VisionConfig(model="mlp"))
    assert not runs_default_model("vision", VisionConfig(model="cnn"), {"model": "cnn"})
    assert runs_default_model("forecast", ForecastConfig())


def test_a_presets_model_trains_beside_the_baselines_unless_named(tmp_path: Path) -> None:
    from kerasdl.apps.vision.config import VisionConfig

    fast = VisionConfig(model="fastcnn")
    assert runs_default_model("vision", fast, preset="cifar")
    assert not runs_default_model("vision", fast, {"model": "fastcnn"}, preset="cifar")
    assert not runs_default_model("vision", fast, sets=["model=fastcnn"], preset="cifar")
    named = tmp_path / "run.toml"
    named.write_text('model = "fastcnn"\n')
    assert not runs_default_model("vision", fast, preset="cifar", config_file=named)
    # A preset that names no model leaves the rule as it was: the model decides.
    assert not runs_default_model("vision", VisionConfig(model="mlp"), preset="tiny")


def test_config_field_names_cover_every_app() -> None:
    names = config_field_names()
    assert {"learning_rate", "image_size", "label_smoothing", "horizon"} <= names
    assert "sets" not in names and "resume" not in names


def test_settings_and_runtime_import_no_tensorflow(tmp_path: Path) -> None:
    code = ("import sys, kerasdl.settings, kerasdl.runtime; kerasdl.settings.resolve_app_config('vision'); "
            "sys.exit('tensorflow' in sys.modules or 'keras' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], cwd=tmp_path).returncode == 0


def test_tensorflow_op_errors_become_one_line() -> None:
    import tensorflow as tf

    from kerasdl.runtime import start_tensorflow, tensorflow_op_error

    start_tensorflow()  # already imported: returns at once
    error = tf.errors.InvalidArgumentError(None, None, "Cannot decode the image\n  [[node DecodePng]]")
    assert tensorflow_op_error(error) == "TensorFlow could not process the data: Cannot decode the image"
    assert tensorflow_op_error(ValueError("not TensorFlow's")) is None


def test_tensorflow_starts_with_its_native_noise_filtered(tmp_path: Path) -> None:
    import os

    code = ("import sys; from kerasdl.runtime import start_tensorflow; start_tensorflow(); "
            "print('tensorflow' in sys.modules)")
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300,
                          cwd=tmp_path)
    assert done.returncode == 0 and done.stdout.strip() == "True", done.stderr
    for noise in ("cuInit", "absl::InitializeLog", "cudart_stub", "cpu_feature_guard"):
        assert noise not in done.stderr, done.stderr
