"""What every fit needs, made in one place for `train`, `tune` and `optimize`.

The data's pipelines (shuffled, augmented training batches; cached validation batches),
the steps per epoch, the compiled optimizer with its schedule, and the callbacks every
fit runs (the NaN guard, the app's own, early stopping): a tuning trial and an
optimization stage train exactly as `kerasdl train` does.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from kerasdl.config import TrainConfig
from kerasdl.data.pipeline import count_examples, evaluation_pipeline, training_pipeline
from kerasdl.data.splits import check_split_sizes
from kerasdl.errors import KerasdlError

if TYPE_CHECKING:
    import tensorflow as tf

    from kerasdl.app import App, Datasets


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
        app_callbacks: include the app's own callbacks (an optimization stage trains a
            tfmot twin, which they do not know).

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


def fine_tuning_config(config: TrainConfig, *, learning_rate: float, epochs: int) -> TrainConfig:
    """The config of a short fine-tuning (an optimization stage): Adam from
    `learning_rate` down to zero by cosine decay, no weight decay. The run being tuned
    ended at a tiny learning rate, and the tuned model should end as settled as it
    (no weight decay or L1/L2 penalty pulls the weights away)."""
    return dataclasses.replace(config, optimizer="adam", learning_rate=learning_rate, schedule="cosine",
                               epochs=epochs, weight_decay=0.0, l1=0.0, l2=0.0, early_stopping=0)
