"""Optimizers and learning-rate schedules, by the names the CLI uses."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import keras

if TYPE_CHECKING:
    from kerasdl.config import TrainConfig


@keras.saving.register_keras_serializable(package="kerasdl")
class OneCycle(keras.optimizers.schedules.LearningRateSchedule):
    """The one-cycle policy (Smith & Topin 2018): a linear warm-up from
    `max_lr / div_factor` to `max_lr` over `pct_start` of training, then a cosine
    anneal down to `max_lr / final_div_factor`.

    Example:
    >>> from kerasdl.training.optimizers import OneCycle
    >>> schedule = OneCycle(0.1, total_steps=100)
    >>> round(float(schedule(30)), 4)
    0.1
    """

    def __init__(
        self,
        max_lr: float,
        total_steps: int,
        pct_start: float = 0.3,
        div_factor: float = 25.0,
        final_div_factor: float = 1e4,
    ) -> None:
        self.max_lr = max_lr
        self.total_steps = total_steps
        self.pct_start = pct_start
        self.div_factor = div_factor
        self.final_div_factor = final_div_factor

    def __call__(self, step: Any) -> Any:
        ops = keras.ops
        step = ops.cast(step, "float32")
        up_steps = max(1.0, self.pct_start * self.total_steps)
        down_steps = max(1.0, self.total_steps - up_steps)
        start = self.max_lr / self.div_factor
        end = self.max_lr / self.final_div_factor
        warm = start + (self.max_lr - start) * ops.minimum(step / up_steps, 1.0)
        progress = ops.clip((step - up_steps) / down_steps, 0.0, 1.0)
        anneal = end + (self.max_lr - end) * 0.5 * (1.0 + ops.cos(math.pi * progress))
        return ops.where(step < up_steps, warm, anneal)

    def get_config(self) -> dict[str, Any]:
        return {
            "max_lr": self.max_lr,
            "total_steps": self.total_steps,
            "pct_start": self.pct_start,
            "div_factor": self.div_factor,
            "final_div_factor": self.final_div_factor,
        }


def build_learning_rate(config: "TrainConfig", steps_per_epoch: int) -> Any:
    """A float or a schedule over the whole run (`config.epochs * steps_per_epoch`)."""
    lr = config.learning_rate
    total = max(1, config.epochs * steps_per_epoch)
    if config.schedule == "constant":
        return lr
    if config.schedule == "step":
        boundaries = [max(1, int(total * 0.5)), max(2, int(total * 0.75))]
        return keras.optimizers.schedules.PiecewiseConstantDecay(
            boundaries, [lr, lr * 0.1, lr * 0.01]
        )
    if config.schedule == "cosine":
        return keras.optimizers.schedules.CosineDecay(lr, decay_steps=total)
    if config.schedule == "warmup-cosine":
        warmup = min(total - 1, int(round(config.warmup_epochs * steps_per_epoch)))
        return keras.optimizers.schedules.CosineDecay(
            0.0, decay_steps=max(1, total - warmup), warmup_target=lr, warmup_steps=warmup
        )
    if config.schedule == "one-cycle":
        return OneCycle(lr, total_steps=total)
    raise ValueError(f"Unknown schedule {config.schedule!r}")


def build_optimizer(config: "TrainConfig", steps_per_epoch: int) -> keras.optimizers.Optimizer:
    """The optimizer named by `config.optimizer`, with its schedule and weight decay.

    Weight decay is decoupled (applied to the weights directly, as in AdamW) for
    every optimizer, so `--weight-decay` means the same thing whichever is chosen.
    """
    lr = build_learning_rate(config, steps_per_epoch)
    decay = config.weight_decay or None
    name = config.optimizer
    if name == "sgd":
        return keras.optimizers.SGD(lr, weight_decay=decay)
    if name == "momentum":
        return keras.optimizers.SGD(lr, momentum=0.9, weight_decay=decay)
    if name == "nesterov":
        return keras.optimizers.SGD(lr, momentum=0.9, nesterov=True, weight_decay=decay)
    if name == "rmsprop":
        return keras.optimizers.RMSprop(lr, weight_decay=decay)
    if name == "adagrad":
        return keras.optimizers.Adagrad(lr, weight_decay=decay)
    if name == "adam":
        return keras.optimizers.Adam(lr, weight_decay=decay)
    if name == "adamw":
        return keras.optimizers.AdamW(lr, weight_decay=config.weight_decay or 0.004)
    raise ValueError(f"Unknown optimizer {name!r}")


def current_learning_rate(optimizer: keras.optimizers.Optimizer) -> float:
    return float(keras.ops.convert_to_numpy(optimizer.learning_rate))
