"""Building blocks for the apps' hyperparameter search spaces (Keras Tuner's `hp`).

Each hyperparameter is named after the config field it sets, and its default is the
base config's value, so a search starts from (and always includes) the config the user
gave.
"""

from __future__ import annotations

from typing import Any, Sequence

from kerasdl.config import TrainConfig


def choice(hp: Any, name: str, values: Sequence[Any], default: Any) -> Any:
    """`hp.Choice` over `values` plus `default` if it is not among them."""
    options = list(values) if default in values else [default, *values]
    return hp.Choice(name, options, default=default)


def learning_rate(hp: Any, config: TrainConfig, low: float = 1e-4, high: float = 1e-2) -> float:
    """Log-uniform between `low` and `high` (widened to hold the config's rate)."""
    rate = config.learning_rate
    return hp.Float("learning_rate", min(low, rate), max(high, rate), sampling="log", default=rate)


def dropout(hp: Any, config: TrainConfig, high: float = 0.5) -> float:
    start = round(config.dropout, 1) if config.dropout <= high else 0.0
    return hp.Float("dropout", 0.0, high, step=0.1, default=start)


def training_space(hp: Any, config: TrainConfig, *, batch_sizes: Sequence[int] = (32, 64, 128),
                   optimizers: Sequence[str] = ("adam", "adamw", "nesterov"),
                   schedules: Sequence[str] = ("constant", "cosine", "one-cycle")) -> dict[str, Any]:
    """What every app can tune about training: rate, optimizer, schedule, dropout, batch.

    Example:
    >>> import keras_tuner
    >>> from kerasdl.config import TrainConfig
    >>> from kerasdl.search_space import training_space
    >>> sorted(training_space(keras_tuner.HyperParameters(), TrainConfig()))
    ['batch_size', 'dropout', 'learning_rate', 'optimizer', 'schedule']
    """
    return {
        "learning_rate": learning_rate(hp, config),
        "optimizer": choice(hp, "optimizer", optimizers, config.optimizer),
        "schedule": choice(hp, "schedule", schedules, config.schedule),
        "dropout": dropout(hp, config),
        "batch_size": choice(hp, "batch_size", batch_sizes, config.batch_size),
    }
