"""Optimizers and learning-rate schedules, by the names the CLI uses."""

from __future__ import annotations

import math
from types import ModuleType
from typing import TYPE_CHECKING, Any

import keras

from kerasdl.errors import ConfigError

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


def build_learning_rate(config: "TrainConfig", steps_per_epoch: int,
                        keras_module: ModuleType | None = None) -> Any:
    """A float or a schedule over the whole run (`config.epochs * steps_per_epoch`), of
    `keras_module` (Keras 3 by default, or tf_keras for a tfmot twin)."""
    k = keras_module or keras
    schedules = k.optimizers.schedules
    lr = config.learning_rate
    total = max(1, config.epochs * steps_per_epoch)
    if config.schedule == "constant":
        return lr
    if config.schedule == "step":
        boundaries = [max(1, int(total * 0.5)), max(2, int(total * 0.75))]
        return schedules.PiecewiseConstantDecay(boundaries, [lr, lr * 0.1, lr * 0.01])
    if config.schedule == "cosine":
        return schedules.CosineDecay(lr, decay_steps=total)
    if config.schedule == "warmup-cosine":
        warmup = min(total - 1, int(round(config.warmup_epochs * steps_per_epoch)))
        return schedules.CosineDecay(
            0.0, decay_steps=max(1, total - warmup), warmup_target=lr, warmup_steps=warmup
        )
    if config.schedule == "one-cycle":
        if k is not keras:
            raise ValueError("The one-cycle schedule is written for Keras 3 only.")
        return OneCycle(lr, total_steps=total)
    raise ValueError(f"Unknown schedule {config.schedule!r}")


def build_optimizer(config: "TrainConfig", steps_per_epoch: int,
                    keras_module: ModuleType | None = None) -> Any:
    """The optimizer named by `config.optimizer`, with its schedule and weight decay, of
    `keras_module` (Keras 3 by default, or tf_keras for a tfmot twin).

    Weight decay is decoupled (applied to the weights directly, as in AdamW) for
    every optimizer, so `--weight-decay` means the same thing whichever is chosen; 0
    means none, for AdamW too (which is then Adam). `clip_norm` clips the global norm
    of each step's gradients (`global_clipnorm`: one scale for all of them, so the
    step keeps its direction).
    """
    optimizer = _optimizer(config, steps_per_epoch, keras_module or keras)
    if config.clip_norm:
        optimizer.global_clipnorm = config.clip_norm
    return optimizer


def _optimizer(config: "TrainConfig", steps_per_epoch: int, keras_module: ModuleType) -> Any:
    k = keras_module
    lr = build_learning_rate(config, steps_per_epoch, k)
    decay = config.weight_decay or None
    name = config.optimizer
    optimizers = k.optimizers
    if name == "sgd":
        return optimizers.SGD(lr, weight_decay=decay)
    if name == "momentum":
        return optimizers.SGD(lr, momentum=0.9, weight_decay=decay)
    if name == "nesterov":
        return optimizers.SGD(lr, momentum=0.9, nesterov=True, weight_decay=decay)
    if name == "rmsprop":
        return optimizers.RMSprop(lr, weight_decay=decay)
    if name == "adagrad":
        return optimizers.Adagrad(lr, weight_decay=decay)
    if name == "adam":
        return optimizers.Adam(lr, weight_decay=decay)
    if name == "adamw":
        return optimizers.AdamW(lr, weight_decay=config.weight_decay)
    if name == "lamb":
        # LAMB (You et al. 2020): Adam's step rescaled per layer by ||w|| / ||step||,
        # for large batches. Keras 3 has it; tf_keras (tfmot's twins) does not.
        if not hasattr(optimizers, "Lamb"):
            raise ConfigError("The lamb optimizer exists in Keras 3 only, not in tf_keras (the model "
                              "optimization twin): fine-tune with another --optimizer.")
        return optimizers.Lamb(lr, weight_decay=decay)
    raise ValueError(f"Unknown optimizer {name!r}")


def current_learning_rate(optimizer: keras.optimizers.Optimizer) -> float:
    return float(keras.ops.convert_to_numpy(optimizer.learning_rate))
