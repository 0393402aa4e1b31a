"""Typed training configurations, their presets and their TOML form.

Every app has one dataclass derived from `TrainConfig`. Values are resolved in this
order, later winning: the dataclass defaults, a named preset, a TOML file, then
command-line overrides. The resolved config is written to the run directory, so a run
can always be reproduced and reloaded.
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from kerasdl.errors import ConfigError

OPTIMIZERS = ("sgd", "momentum", "nesterov", "rmsprop", "adagrad", "adam", "adamw", "lamb")
SCHEDULES = ("constant", "step", "cosine", "warmup-cosine", "one-cycle")
STRATEGIES = ("auto", "mirrored", "multiworker", "tpu")
# Adversarial attacks on image pixels (`kerasdl.training.adversarial`).
ADVERSARIAL_ATTACKS = ("fgsm", "pgd")

C = TypeVar("C", bound="TrainConfig")


@dataclass
class TrainConfig:
    """What every app's training shares.

    Attributes:
        dataset: where the data comes from: a tfds name, a folder or file path, or None
            for the app's bundled sample.
        model: the model family, one of the app's `models`; empty for the app default.
        epochs: passes over the training split.
        batch_size: examples per step (per step of all replicas together).
        optimizer: one of sgd, momentum, nesterov, rmsprop, adagrad, adam, adamw, lamb.
        learning_rate: the peak learning rate of the schedule.
        schedule: constant, step (x0.1 at 50 % and 75 % of training), cosine,
            warmup-cosine (linear warm-up for `warmup_epochs`, then cosine) or one-cycle.
        warmup_epochs: warm-up length for warmup-cosine.
        weight_decay: decoupled weight decay applied by the optimizer (0 = none).
        clip_norm: gradient clipping: when the global norm of all gradients of a step
            exceeds this, they are scaled down to it (0 = none).
        init_from: a finished run of the same app whose weights the new model starts
            from (the matching layers; the output layer stays new), with its
            learned preprocessing (vocabulary, scaler) so that inputs mean the same.
        freeze: with `init_from`, layers kept fixed: "backbone" (every copied layer: all
            but the output layer) or comma-separated layer-name prefixes; empty or "none"
            trains everything.
        histograms: write weight and gradient histograms and per-weight gradient
            norms to TensorBoard each epoch (`tensorboard --logdir runs`), and the
            global gradient norm to history.csv (`grad_norm`); slower.
        l1, l2: penalties added to the loss, `l1 * sum|w|` and `l2 * sum w²` over the
            weight matrices (kernels and embeddings, not biases or normalization
            parameters): classic L1/L2 regularization, which adaptive optimizers
            rescale per weight, unlike the decoupled `weight_decay`.
        dropout: dropout rate before the model's head.
        early_stopping: stop after this many epochs without improvement (0 = off).
        augment: apply the app's data augmentation to the training split.
        seed: seed for weights, shuffling, splits and augmentation.
        validation_split: fraction of the training data held out for validation when
            the source has no validation split of its own.
        strategy: auto, mirrored, multiworker (reads TF_CONFIG) or tpu.
        mixed_precision: compute in float16 (bfloat16 on TPU), keep weights in float32.
    """

    dataset: str | None = None
    model: str = ""
    epochs: int = 10
    batch_size: int = 64
    optimizer: str = "adam"
    learning_rate: float = 1e-3
    schedule: str = "constant"
    warmup_epochs: float = 1.0
    weight_decay: float = 0.0
    clip_norm: float = 0.0
    l1: float = 0.0
    l2: float = 0.0
    init_from: str | None = None
    freeze: str = ""
    histograms: bool = False
    dropout: float = 0.0
    early_stopping: int = 0
    augment: bool = False
    seed: int = 42
    validation_split: float = 0.1
    strategy: str = "auto"
    mixed_precision: bool = False

    presets: ClassVar[dict[str, dict[str, Any]]] = {}

    def __post_init__(self) -> None:
        _check_positive_int(self, "epochs")
        _check_positive_int(self, "batch_size")
        _check_non_negative_int(self, "early_stopping")
        _check_choice(self, "optimizer", OPTIMIZERS)
        _check_choice(self, "schedule", SCHEDULES)
        _check_choice(self, "strategy", STRATEGIES)
        _check_range(self, "learning_rate", 0.0, math.inf, low_open=True)
        _check_range(self, "warmup_epochs", 0.0, math.inf)
        _check_range(self, "weight_decay", 0.0, 1.0)
        _check_range(self, "clip_norm", 0.0, math.inf)
        _check_range(self, "l1", 0.0, math.inf)
        if self.freeze.strip().lower() == "none":  # said out loud, as `--vary freeze=none,backbone` needs
            self.freeze = ""
        if self.freeze and not (self.init_from or getattr(self, "backbone", "")):
            raise ConfigError("`freeze` keeps layers of a model started with `init_from` or a pretrained "
                              "`backbone`: give `init_from` or `backbone` too.")
        _check_range(self, "l2", 0.0, math.inf)
        _check_range(self, "dropout", 0.0, 1.0, high_open=True)
        _check_range(self, "validation_split", 0.0, 1.0, low_open=True, high_open=True)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class ClassifierConfig(TrainConfig):
    """A classification app's training.

    Attributes:
        label_smoothing: mix this much of the uniform distribution into the targets.
        teacher: a finished run of the same app (and input) whose model the new one
            learns from as well as from the labels: knowledge distillation
            (`kerasdl.training.distillation`); the teacher's preprocessing is reused.
        distill_temperature: the temperature T that softens both models' probabilities.
        distill_weight: the weight w of the teacher's soft targets; 1 - w goes to the labels.
    """

    label_smoothing: float = 0.0
    teacher: str | None = None
    distill_temperature: float = 4.0
    distill_weight: float = 0.5

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_range(self, "label_smoothing", 0.0, 1.0, high_open=True)
        _check_range(self, "distill_temperature", 0.0, math.inf, low_open=True)
        _check_range(self, "distill_weight", 0.0, 1.0)
        if self.teacher and self.init_from:
            raise ConfigError("Give `teacher` (distillation) or `init_from` (transfer), not both.")


def _check_positive_int(config: Any, name: str) -> None:
    value = getattr(config, name)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"`{name}` must be a positive integer. Received: {name}={value!r}")


def _check_non_negative_int(config: Any, name: str) -> None:
    value = getattr(config, name)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(
            f"`{name}` must be a non-negative integer. Received: {name}={value!r}"
        )


class LayerStyle:
    """For an app config with `activation` and `norm` fields whose "auto" means each
    model's own design, as published (`model_style`: model -> (activation, norm)).

    Example:
    >>> from dataclasses import dataclass
    >>> @dataclass
    ... class Styled(LayerStyle):
    ...     activation: str = "auto"
    ...     norm: str = "layer"
    ...     model_style = {"net": ("relu", "batch")}
    >>> Styled().activation_for("net"), Styled().norm_for("net")
    ('relu', 'layer')
    """

    model_style: typing.ClassVar[dict[str, tuple[str, str]]] = {}
    activation: str
    norm: str

    def check_style(self) -> None:
        from kerasdl.layers.blocks import ACTIVATIONS, NORMS

        _check_choice(self, "activation", ("auto", *ACTIVATIONS))
        _check_choice(self, "norm", ("auto", *NORMS))

    def activation_for(self, model: str) -> str:
        """`activation`, or `model`'s own when it is auto."""
        return self.model_style[model][0] if self.activation == "auto" else self.activation

    def norm_for(self, model: str) -> str:
        """`norm`, or `model`'s own when it is auto."""
        return self.model_style[model][1] if self.norm == "auto" else self.norm


def _check_choice(config: Any, name: str, choices: typing.Sequence[str]) -> None:
    value = getattr(config, name)
    if value not in choices:
        raise ConfigError(
            f"`{name}` must be one of {', '.join(choices)}. Received: {name}={value!r}"
        )


def _check_range(
    config: Any,
    name: str,
    low: float,
    high: float,
    *,
    low_open: bool = False,
    high_open: bool = False,
) -> None:
    value = getattr(config, name)
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if ok:
        ok = (value > low if low_open else value >= low) and (
            value < high if high_open else value <= high
        )
    if not ok:
        left = "(" if low_open else "["
        right = ")" if high_open else "]"
        raise ConfigError(
            f"`{name}` must be in {left}{low:g}, {high:g}{right}. Received: {name}={value!r}"
        )


def field_types(config_class: type[TrainConfig]) -> dict[str, Any]:
    """Maps each field of `config_class` to its resolved type annotation."""
    hints = typing.get_type_hints(config_class)
    return {f.name: hints[f.name] for f in dataclasses.fields(config_class)}


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def coerce_value(config_class: type[TrainConfig], name: str, value: Any) -> Any:
    """Converts `value` (a string from the command line or a TOML value) to the
    type of field `name`.

    Raises:
        ConfigError: for an unknown field or a value of the wrong type.
    """
    types_ = field_types(config_class)
    if name not in types_:
        raise ConfigError(
            f"Unknown config key '{name}'. Valid keys: {', '.join(sorted(types_))}."
        )
    annotation = types_[name]
    allowed = _allowed_types(annotation)
    if value is None or (isinstance(value, str) and value.lower() == "none"):
        if type(None) in allowed:
            return None
        if value is None or str not in allowed:
            raise ConfigError(f"`{name}` cannot be empty.")
        # A text field whose choices include the word "none" (standardize, norm).
    for target in allowed:
        if target is type(None):
            continue
        converted = _convert(value, target)
        if converted is not _FAILED:
            return converted
    expected = " or ".join(t.__name__ for t in allowed if t is not type(None))
    raise ConfigError(f"`{name}` must be of type {expected}. Received: {name}={value!r}")


_FAILED = object()


def _allowed_types(annotation: Any) -> tuple[type, ...]:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return typing.get_args(annotation)
    return (annotation,)


def _convert(value: Any, target: type) -> Any:
    if target is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in _TRUE | _FALSE:
            return value.lower() in _TRUE
        return _FAILED
    if target is int:
        if isinstance(value, bool):
            return _FAILED
        if isinstance(value, int):
            return value
        if isinstance(value, str):
            try:
                return int(value)
            except ValueError:
                return _FAILED
        return _FAILED
    if target is float:
        if isinstance(value, bool):
            return _FAILED
        if isinstance(value, (int, float)):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                return _FAILED
        return _FAILED
    if target is str:
        return value if isinstance(value, str) else _FAILED
    return _FAILED


def read_toml(path: str | Path) -> dict[str, Any]:
    """Reads a flat TOML config file.

    Raises:
        ConfigError: if the file is missing, unreadable or not valid TOML.
    """
    path = Path(path)
    try:
        with path.open("rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"Config file not found: {path}") from None
    except OSError as e:
        raise ConfigError(f"Cannot read config file {path}: {e.strerror}") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"Config file {path} is not valid TOML: {e}") from None
    nested = [k for k, v in data.items() if isinstance(v, dict)]
    if nested:
        raise ConfigError(
            f"Config file {path} must be flat key = value pairs; found table [{nested[0]}]."
        )
    return data


def to_toml(config: TrainConfig) -> str:
    """Writes `config` as flat TOML; None values become comments."""
    lines = [f"# kerasdl {type(config).__name__}"]
    for name, value in config.to_dict().items():
        if value is None:
            lines.append(f"# {name} = (not set)")
        elif isinstance(value, bool):
            lines.append(f"{name} = {'true' if value else 'false'}")
        elif isinstance(value, (int, float)):
            lines.append(f"{name} = {value!r}")
        else:
            escaped = str(value).replace("\\", "\\\\").replace('"', '\\"')
            lines.append(f'{name} = "{escaped}"')
    return "\n".join(lines) + "\n"


def resolve_config(
    config_class: type[C],
    *,
    preset: str | None = None,
    toml_path: str | Path | None = None,
    overrides: dict[str, Any] | None = None,
) -> C:
    """Builds a config from defaults, a preset, a TOML file and overrides.

    Args:
        config_class: the app's config dataclass.
        preset: the name of one of `config_class.presets`.
        toml_path: a flat TOML file of field values.
        overrides: field values given on the command line (strings are converted).

    Returns:
        The validated config.

    Raises:
        ConfigError: for an unknown preset or key, or a bad value.

    Example:
    >>> from kerasdl.config import ClassifierConfig, resolve_config
    >>> resolve_config(ClassifierConfig, overrides={"epochs": "3"}).epochs
    3
    """
    values: dict[str, Any] = {}
    if preset is not None:
        if preset not in config_class.presets:
            names = ", ".join(sorted(config_class.presets)) or "none"
            raise ConfigError(f"Unknown preset '{preset}'. Available presets: {names}.")
        values.update(config_class.presets[preset])
    if toml_path is not None:
        values.update(read_toml(toml_path))
    values.update(overrides or {})
    recipe = getattr(config_class, "recipe_defaults", None)
    if recipe is not None:  # a model's own recipe, under what was given
        values = {**recipe(values), **values}
    coerced = {k: coerce_value(config_class, k, v) for k, v in values.items()}
    return config_class(**coerced)


def config_from_dict(config_class: type[C], values: dict[str, Any]) -> C:
    """Rebuilds a config saved by `to_toml` (missing fields take their defaults)."""
    known = {f.name for f in dataclasses.fields(config_class)}
    coerced = {k: coerce_value(config_class, k, v) for k, v in values.items() if k in known}
    return config_class(**coerced)


__all__ = [
    "TrainConfig",
    "ClassifierConfig",
    "resolve_config",
    "config_from_dict",
    "read_toml",
    "to_toml",
    "coerce_value",
]
