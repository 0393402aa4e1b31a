"""What every fit needs, made in one place for `train`, `tune`, `lr-find` and `optimize`.

The data's pipelines (shuffled, augmented training batches; cached validation batches),
the steps per epoch, the compiled optimizer with its schedule, and the callbacks every
fit runs (the NaN guard, the app's own, early stopping) (`prepare_fit`); the model as
training builds it: under the strategy and precision policy, started from `init_from`'s
weights, compiled, with the L1/L2 penalties and the distillation teacher attached
(`prepare_model`). A tuning trial, a range test and an optimization stage train exactly
as `kerasdl train` does.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, Iterator

from kerasdl.config import TrainConfig
from kerasdl.data.pipeline import count_examples, evaluation_pipeline, training_pipeline
from kerasdl.data.splits import check_split_sizes
from kerasdl.errors import ConfigError, KerasdlError

if TYPE_CHECKING:
    import keras
    import tensorflow as tf

    from kerasdl.app import App, Datasets

logger = logging.getLogger(__name__)


@dataclass
class FitSetup:
    """The pieces of one fit.

    Attributes:
        train: batched training pipeline (shuffled each epoch, augmented if asked).
        validation: batched, cached validation pipeline.
        train_count: training examples.
        steps_per_epoch: batches per epoch.
        monitor: (logged value, "min" or "max") that picks the best epoch.
        first_callbacks: the NaN guard and the app's own callbacks.
        last_callbacks: early stopping, if asked for.
    """

    train: "tf.data.Dataset"
    validation: "tf.data.Dataset"
    train_count: int
    steps_per_epoch: int
    monitor: tuple[str, str]
    first_callbacks: list[Any]
    last_callbacks: list[Any]

    def callbacks(self, *between: Any) -> list[Any]:
        """Every callback of the fit, with the caller's `between` the app's (so they see
        the values the app's callbacks log) and early stopping."""
        return [*self.first_callbacks, *between, *self.last_callbacks]


def prepare_fit(app: "App", config: TrainConfig, data: "Datasets", *, output_dir: Path,
                drop_remainder: bool = False, app_callbacks: bool = True) -> FitSetup:
    """The pipelines, steps and callbacks to fit `app`'s model on `data`.

    Args:
        output_dir: where the app's callbacks write files (a run's folder, a trial's).
        drop_remainder: drop the last partial batch (custom distributed loops need
            equal batches on every replica).
        app_callbacks: include the app's own callbacks and a pretrained backbone's
            second phase (an optimization stage trains a tfmot twin, which they do not
            know).

    Raises:
        DataError: for splits too small to learn from or to measure.
        KerasdlError: for an empty training split or one smaller than a batch.
    """
    from kerasdl.training.callbacks import NaNGuard

    check_split_sizes(data.info.get("sizes", {}), len(data.info.get("class_names", [])) or None)
    train_count = count_examples(data.train)
    if train_count == 0:
        raise KerasdlError("The training split is empty.")
    steps = train_count // config.batch_size if drop_remainder else math.ceil(train_count / config.batch_size)
    if steps == 0:
        raise KerasdlError(f"The training split has {train_count} examples, fewer than one batch of "
                           f"{config.batch_size}: lower the batch size.")
    train = training_pipeline(
        data.train, config.batch_size, seed=config.seed,
        augment=app.augmentation(config, data.info) if config.augment else None,
        drop_remainder=drop_remainder,
    )
    validation = evaluation_pipeline(data.validation, config.batch_size)
    monitor = app.monitor_for(data.info)
    first: list[Any] = [NaNGuard()]
    from kerasdl.training.fine_tuning import fine_tunes, fine_tuning_callback

    if fine_tunes(config) and app_callbacks:  # not for an optimization stage's tf_keras twin
        def recompile(model: Any, tuned: TrainConfig) -> None:
            compile_for_training(app, model, tuned, data.info, steps)
            apply_weight_penalties(model, tuned)

        first.append(fine_tuning_callback(config, recompile))
    if app_callbacks:
        first += app.training_callbacks(config, data.info, output_dir, validation)
    last: list[Any] = []
    if config.early_stopping:
        import keras

        last.append(keras.callbacks.EarlyStopping(monitor=monitor[0], mode=monitor[1],
                                                  patience=config.early_stopping))
    return FitSetup(train=train, validation=validation, train_count=train_count, steps_per_epoch=steps,
                    monitor=monitor, first_callbacks=first, last_callbacks=last)


# The variables L1/L2 penalties apply to: weight matrices, not biases, normalization
# scales and offsets, or fixed statistics (those are not trainable).
PENALIZED_WEIGHTS = ("kernel", "depthwise_kernel", "pointwise_kernel", "embeddings")


def apply_weight_penalties(model: Any, config: TrainConfig) -> int:
    """Attaches `config.l1` / `config.l2` to the trainable weight matrices of a
    Keras 3 `model` (Keras adds each variable's regularizer to the loss). Needed on
    every build and load: a saved model does not keep penalties attached this way.

    Returns:
        how many variables are penalized (0 when both penalties are 0).
    """
    if not (config.l1 or config.l2):
        return 0
    import keras

    penalty = keras.regularizers.L1L2(l1=config.l1, l2=config.l2)
    count = 0
    for variable in model.trainable_weights:
        if variable.path.rsplit("/", 1)[-1] in PENALIZED_WEIGHTS:
            variable.regularizer = penalty
            count += 1
    return count


def compile_for_training(app: "App", model: Any, config: TrainConfig, info: dict[str, Any],
                         steps_per_epoch: int, *, keras_module: ModuleType | None = None) -> None:
    """Compiles `model` with the configured optimizer and schedule and the app's loss
    and metrics; an app whose model compiles itself (a GAN's two optimizers) does it
    its own way."""
    from kerasdl.app import CompilesItself, SupervisedApp
    from kerasdl.training.optimizers import build_optimizer

    if isinstance(app, CompilesItself):
        app.compile_model(model, config, info, steps_per_epoch)
        return
    if not isinstance(app, SupervisedApp):
        raise KerasdlError(f"The {app.name} app neither has a loss (SupervisedApp) nor compiles its own "
                           "model (CompilesItself): kerasdl cannot train it.")
    model.compile(optimizer=build_optimizer(config, steps_per_epoch, keras_module=keras_module),
                  loss=app.loss(config, info, keras_module=keras_module),
                  metrics=app.metrics(config, info, keras_module=keras_module))


def precision_policy_name(config: TrainConfig, strategy: Any) -> str:
    """The Keras dtype policy `config.mixed_precision` asks for under `strategy`."""
    if not config.mixed_precision:
        return "float32"
    import tensorflow as tf

    # TPUs compute in bfloat16; float16 needs loss scaling and suits GPUs.
    return "mixed_bfloat16" if isinstance(strategy, tf.distribute.TPUStrategy) else "mixed_float16"


@contextlib.contextmanager
def precision_policy(config: TrainConfig, strategy: Any) -> Iterator[None]:
    """Keras' global dtype policy set to `config`'s while the block runs. Layers take the
    policy when they are built and keep it; the process gets its own back afterwards."""
    import keras

    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(precision_policy_name(config, strategy))
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(previous)


def source_data_info(app: "App", config: TrainConfig) -> dict[str, Any] | None:
    """The data info of the run `config` starts from (`init_from`) or learns from
    (`teacher`), whose fitted preprocessing (a vocabulary) a new model must reuse so
    that its inputs mean what they meant to that run; None without either.

    Raises:
        ConfigError: for a source that is not a finished run of `app`.
    """
    teacher = getattr(config, "teacher", None)
    if not (config.init_from or teacher):
        return None
    from kerasdl.training.transfer import source_run

    return source_run(app, config.init_from or teacher,
                      what="init_from" if config.init_from else "teacher").meta.get("data")


def prepare_model(app: "App", config: TrainConfig, info: dict[str, Any], *,
                  initial_weights: dict[str, Any] | None = None, steps_per_epoch: int | None = None,
                  strategy: Any = None, checkpoint: Path | None = None) -> "keras.Model":
    """`app`'s model for `config`, made as `kerasdl train` makes it: under `strategy`'s
    scope and `config`'s precision policy, built (or loaded from `checkpoint`), started
    from `config.init_from`'s weights with `config.freeze`'s layers frozen (before
    compiling: Keras reads `trainable` then), compiled for `steps_per_epoch`, with the
    L1/L2 penalties attached and, with `teacher`, the distillation loss (with
    `adversarial`, the adversarial training loss).

    Args:
        info: the data info (`Datasets.info`).
        initial_weights: values the model starts from that are computed from the data
            (`Datasets.initial_weights`), passed to `build_model` with `info`.
        steps_per_epoch: the batches per epoch the schedule counts; None leaves the
            model uncompiled.
        strategy: the tf.distribute strategy (`training.distribution.resolve_strategy`);
            None builds in the current one (the default strategy outside any scope).
        checkpoint: a saved model to continue from (a resumed run) instead of a new
            one: it already holds `init_from`'s start, so no weights are copied.

    Raises:
        ConfigError: for a source run that does not fit the model, or a teacher under
            the multi-worker custom loop.
    """
    import tensorflow as tf

    from kerasdl.training.distribution import uses_custom_loop
    from kerasdl.training.saving import load_app_model

    strategy = strategy if strategy is not None else tf.distribute.get_strategy()
    teacher_path = getattr(config, "teacher", None)
    with precision_policy(config, strategy), strategy.scope():
        if checkpoint is not None:
            model = load_app_model(app, checkpoint, compile=steps_per_epoch is not None)
        else:
            model = app.build_model(config, {**info, **(initial_weights or {})})
            from kerasdl.training.fine_tuning import start_frozen

            start_frozen(model, config)  # a pretrained backbone: frozen while the new head learns
            if config.init_from:
                from kerasdl.training.transfer import transfer_weights

                transfer_weights(model, app, config.init_from, config.freeze)
        # New, or saved without its compile settings (a GAN).
        if steps_per_epoch is not None and not model.compiled:
            compile_for_training(app, model, config, info, steps_per_epoch)
        apply_weight_penalties(model, config)
        if teacher_path:
            from kerasdl.training.distillation import attach_teacher
            from kerasdl.training.transfer import source_run

            if uses_custom_loop(strategy):
                raise ConfigError("Distillation trains with Keras' fit; the multiworker custom loop does not "
                                  "support it: drop --teacher or use another --strategy.")
            teacher = load_app_model(app, source_run(app, teacher_path, what="teacher").model_path())
            attach_teacher(model, teacher, temperature=config.distill_temperature, weight=config.distill_weight)
            logger.info("Distilling from %s (T=%g, soft-target weight %g).", teacher_path,
                        config.distill_temperature, config.distill_weight)
        if getattr(config, "adversarial", "none") != "none" and steps_per_epoch is not None:
            from kerasdl.training.adversarial import attach_adversary

            if uses_custom_loop(strategy):
                raise ConfigError("Adversarial training trains with Keras' fit; the multiworker custom loop does not "
                                  "support it: drop --adversarial or use another --strategy.")
            attach_adversary(model, method=config.adversarial, epsilon=config.epsilon, steps=config.adversarial_steps,
                             weight=config.adversarial_weight)
    return model


def fine_tuning_config(config: TrainConfig, *, learning_rate: float, epochs: int) -> TrainConfig:
    """The config of a short fine-tuning (an optimization stage): Adam from
    `learning_rate` down to zero by cosine decay, no weight decay. The run being tuned
    ended at a tiny learning rate, and the tuned model should end as settled as it
    (no weight decay or L1/L2 penalty pulls the weights away). It starts from the run's
    own weights, in float32: no `init_from` or teacher, no mixed precision."""
    fields = {f.name for f in dataclasses.fields(config)}
    started = {"teacher": None} if "teacher" in fields else {}
    return dataclasses.replace(config, optimizer="adam", learning_rate=learning_rate, schedule="cosine",
                               epochs=epochs, weight_decay=0.0, l1=0.0, l2=0.0, early_stopping=0,
                               init_from=None, freeze="", mixed_precision=False, **started)
