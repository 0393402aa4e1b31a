"""An app's config from what a user gives: a preset, a TOML file, NAME=VALUE settings
and field values (the command line's options, or a caller's keyword arguments).

`kerasdl.config.resolve_config` builds a config of a given class; this module starts
from an app's name, reads NAME=VALUE settings, refuses values an app has no field for,
and holds the checks the commands that make configs share (`check_resume`,
`check_not_varied`). Errors name settings as Python does (`learning_rate`, `set`,
`resume`), in backticks, so that the CLI can word them as its options.

Example:
>>> from kerasdl.settings import parse_settings
>>> parse_settings(["image_size=64", "label-smoothing = 0.1"])
{'image_size': '64', 'label_smoothing': '0.1'}
"""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path
from typing import Any, Iterable, Mapping

from kerasdl.config import TrainConfig, field_types, read_toml, resolve_config
from kerasdl.errors import ConfigError
from kerasdl.registry import app_names, get_app

__all__ = ["check_not_varied", "check_resume", "config_field_names", "config_given", "explicit_names",
           "given_values", "parse_setting", "parse_settings", "resolve_app_config", "runs_default_model"]


def parse_setting(item: str) -> tuple[str, str]:
    """(name, value) from "NAME=VALUE"; the name's dashes become underscores, so that
    `label-smoothing=0.1` names the field `label_smoothing`.

    Raises:
        ConfigError: for an item without "=" or without a name.

    Example:
    >>> parse_setting(" image-size = 96 ")
    ('image_size', '96')
    """
    key, sep, value = item.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"`set` takes KEY=VALUE. Received: {item!r}")
    return key.strip().replace("-", "_"), value.strip()


def parse_settings(items: Iterable[str]) -> dict[str, str]:
    """`parse_setting` of each item, in order (a name given twice keeps its last value)."""
    return dict(parse_setting(item) for item in items)


def given_values(overrides: Mapping[str, Any] | None) -> dict[str, Any]:
    """The values that were given: None stands for an option left out.

    Example:
    >>> given_values({"epochs": 3, "model": None, "augment": False})
    {'epochs': 3, 'augment': False}
    """
    return {k: v for k, v in (overrides or {}).items() if v is not None}


def explicit_names(sets: Iterable[str] = (), overrides: Mapping[str, Any] | None = None) -> set[str]:
    """The fields given a value by name (`overrides` or NAME=VALUE settings), not by a
    preset or a file. A malformed setting still names its field here;
    `resolve_app_config` refuses it.

    Example:
    >>> sorted(explicit_names(["image-size=64"], {"epochs": 3, "model": None}))
    ['epochs', 'image_size']
    """
    return set(given_values(overrides)) | {s.partition("=")[0].strip().replace("-", "_") for s in sets}


def config_given(*, preset: str | None = None, config_file: str | Path | None = None, sets: Iterable[str] = (),
                 overrides: Mapping[str, Any] | None = None) -> bool:
    """Whether any config value was given, by any of the four means.

    Example:
    >>> config_given(overrides={"epochs": None}), config_given(sets=["epochs=2"])
    (False, True)
    """
    return bool(given_values(overrides) or tuple(sets) or preset or config_file)


def resolve_app_config(app_name: str, *, preset: str | None = None, config_file: str | Path | None = None,
                       sets: Iterable[str] = (), overrides: Mapping[str, Any] | None = None) -> TrainConfig:
    """The app's config: its defaults, then `preset`, then the TOML `config_file`, then
    `overrides` (field values; None = not given) and `sets` ("NAME=VALUE" strings,
    converted to the fields' types), later winning.

    Raises:
        ConfigError: for an override the app's config has no field for, a malformed
            setting, an unknown preset or key, or a bad value.
        KerasdlError: for an unknown app.

    Example:
    >>> config = resolve_app_config("vision", preset="tiny", sets=["image_size=24"],
    ...                             overrides={"epochs": 2, "model": None})
    >>> config.epochs, config.image_size
    (2, 24)
    """
    config_class = get_app(app_name).config_class
    values = given_values(overrides)
    fields = field_types(config_class)
    foreign = [key for key in values if key not in fields]
    if foreign:  # a setting shared by all apps' commands (--norm, --teacher) that this app lacks
        raise ConfigError(f"`{foreign[0]}` does not apply to the {app_name} app.")
    values.update(parse_settings(sets))
    return resolve_config(config_class, preset=preset, toml_path=config_file, overrides=values)


def check_resume(keeps: str, *, preset: str | None = None, config_file: str | Path | None = None,
                 sets: Iterable[str] = (), overrides: Mapping[str, Any] | None = None,
                 also: Mapping[str, Any] | None = None) -> None:
    """Refuses config values for a job being resumed (a run, a search, a comparison),
    which continues with what it saved: new values would silently not apply.

    Args:
        keeps: what the resumed job continues with, e.g. "the run's saved config".
        preset, config_file, sets, overrides: what would make a config; none may be given.
        also: the job's other settings that resuming refuses, by name, with what was
            given for each (empty = not given), e.g. {"fix": ("model",)}.

    Raises:
        ConfigError: when any of them was given.

    Example:
    >>> check_resume("the run's saved config", overrides={"epochs": None})  # nothing given: fine
    >>> check_resume("the run's saved config", sets=["epochs=3"])
    Traceback (most recent call last):
    ...
    kerasdl.errors.ConfigError: `resume` continues with the run's saved config: give no other options.
    """
    also = dict(also or {})
    if not (config_given(preset=preset, config_file=config_file, sets=sets, overrides=overrides)
            or any(also.values())):
        return
    refused = ("no config options or " + " or ".join(f"`{name}`" for name in also)) if also else "no other options"
    raise ConfigError(f"`resume` continues with {keeps}: give {refused}.")


def check_not_varied(varied: Iterable[str], *, sets: Iterable[str] = (),
                     overrides: Mapping[str, Any] | None = None) -> None:
    """Refuses a field that is both given a value by name and varied (a comparison's
    `vary`): one of the two would be dropped without a word.

    Raises:
        ConfigError: naming the first such field.

    Example:
    >>> check_not_varied(["dropout"], sets=["dropout=0.1"])
    Traceback (most recent call last):
    ...
    kerasdl.errors.ConfigError: `dropout` is both set and varied: drop one of the two.
    """
    explicit = explicit_names(sets, overrides)
    both = [field for field in varied if field in explicit]
    if both:
        raise ConfigError(f"`{both[0]}` is both set and varied: drop one of the two.")


def runs_default_model(app_name: str, config: TrainConfig, overrides: Mapping[str, Any] | None = None, *,
                       sets: Iterable[str] = (), preset: str | None = None,
                       config_file: str | Path | None = None) -> bool:
    """Whether `config` trains a model the user did not name (the app's default, a
    pretrained backbone's model, or the model a preset chooses): then the app's baseline
    models train beside it and the better on validation ships. Naming a model (an
    override, a NAME=VALUE setting or the config file), even the default, trains that
    model alone.

    Example:
    >>> from kerasdl.apps.vision.config import VisionConfig
    >>> runs_default_model("vision", VisionConfig()), runs_default_model("vision", VisionConfig(model="mlp"))
    (True, False)
    >>> runs_default_model("vision", VisionConfig(), {"model": "cnn"})  # named, though the default
    False
    >>> runs_default_model("vision", VisionConfig(backbone="mobilenet_v3_small", weights="none"))
    True
    >>> runs_default_model("vision", VisionConfig(model="fastcnn"), preset="cifar")  # the preset's recipe
    True
    """
    if "model" in explicit_names(sets, overrides):
        return False
    if config_file is not None and "model" in read_toml(config_file):
        return False
    if preset is not None and "model" in get_app(app_name).config_class.presets.get(preset, {}):
        return True
    # A pretrained backbone given alone makes the app's pretrained model its default.
    return config.model in ("", get_app(app_name).default_model) or bool(getattr(config, "backbone", ""))


@functools.lru_cache(maxsize=1)
def config_field_names() -> frozenset[str]:
    """Every field of every registered app's config (imports each app once)."""
    return frozenset(f.name for app in app_names() for f in dataclasses.fields(get_app(app).config_class))
