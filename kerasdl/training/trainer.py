"""Training any app into a run directory, resumable after a crash or Ctrl-C."""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kerasdl.config import TrainConfig, to_toml
from kerasdl.data.pipeline import count_examples, evaluation_pipeline, training_pipeline
from kerasdl.data.splits import check_split_sizes
from kerasdl.errors import KerasdlError, TrainingError
from kerasdl.runs import Run

if TYPE_CHECKING:
    import keras

    from kerasdl.app import App, Datasets

logger = logging.getLogger(__name__)


@dataclass
class TrainResult:
    """What a finished training run left behind."""

    model: "keras.Model"
    history: list[dict[str, Any]]
    data: "Datasets"
    run: Run
    epochs_completed: int
    seconds: float
    examples_per_second: float


def train_app(
    app: "App", config: TrainConfig, run: Run, *, resume: bool = False, verbose: Any = "auto"
) -> TrainResult:
    """Trains `app` with `config`, writing checkpoints, history and logs into `run`.

    Args:
        app: the app.
        config: the resolved config (for a resumed run, the one saved in the run).
        run: a new run directory, or the one to resume.
        resume: continue from the newest finished-epoch checkpoint of `run`.
        verbose: Keras' progress display ("auto", 0, 1 or 2).

    Returns:
        The trained model (the last epoch's weights) and the run's history.

    Raises:
        TrainingError: for a NaN loss.
        KeyboardInterrupt: left to the caller; the run can then be resumed.
    """
    import keras

    from kerasdl.training.distribution import resolve_strategy

    # A multi-worker strategy must exist before any other TensorFlow op runs.
    strategy = resolve_strategy(config.strategy)
    keras.utils.set_random_seed(config.seed)
    previous_policy = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(_precision_policy(config, strategy))
    try:
        return _train(app, config, run, strategy, resume=resume, verbose=verbose)
    finally:
        # The model keeps its layers' policies; the process gets its own back.
        keras.mixed_precision.set_global_policy(previous_policy)


def _train(app: "App", config: TrainConfig, run: Run, strategy: Any, *, resume: bool,
           verbose: Any) -> TrainResult:
    import keras

    from kerasdl.training.callbacks import NaNGuard, RunCheckpoint
    from kerasdl.training.distribution import is_chief, uses_custom_loop

    # A resumed run keeps the preprocessing it learned (a vocabulary) when it started.
    data = app.load_datasets(config, fitted=run.meta.get("data") if resume else None)
    check_split_sizes(data.info.get("sizes", {}), len(data.info.get("class_names", [])) or None)
    num_replicas = strategy.num_replicas_in_sync
    train_count = count_examples(data.train)
    if train_count == 0:
        raise KerasdlError("The training split is empty.")
    custom_loop = uses_custom_loop(strategy)
    steps_per_epoch = (train_count // config.batch_size if custom_loop
                       else math.ceil(train_count / config.batch_size))
    if steps_per_epoch == 0:
        raise KerasdlError(
            f"The training split has {train_count} examples, fewer than one batch of "
            f"{config.batch_size}: lower --batch-size."
        )
    train_ds = training_pipeline(
        data.train, config.batch_size, seed=config.seed,
        augment=app.augmentation(config, data.info) if config.augment else None,
        drop_remainder=custom_loop,
    )
    val_ds = evaluation_pipeline(data.validation, config.batch_size)

    initial_epoch, history = 0, []
    if resume:
        checkpoints = run.epoch_checkpoints()
        if checkpoints:
            initial_epoch, checkpoint = checkpoints[-1]
            history = run.read_history()[:initial_epoch]
            logger.info("Resuming %s after epoch %d", run.path, initial_epoch)
    else:
        run.initialize(app.name, to_toml(config), data.info)
    if initial_epoch >= config.epochs:
        raise KerasdlError(f"Run {run.path} already finished its {config.epochs} epochs.")

    with strategy.scope():
        if initial_epoch:
            model = app.load_model(checkpoint, compile=True)
        else:
            model = app.build_model(config, {**data.info, **data.initial_weights})
        if not model.compiled:  # new, or saved without its compile settings (a GAN)
            app.compile_model(model, config, data.info, steps_per_epoch)

    chief = is_chief()
    monitor, mode = app.monitor_for(data.info)
    callbacks: list[Any] = [NaNGuard(), *app.training_callbacks(config, data.info, run.path, val_ds)]
    if chief:
        run.write_meta(status="running")
        callbacks += [
            RunCheckpoint(run, monitor, mode, history),
            keras.callbacks.TensorBoard(str(run.logs)),
        ]
    if config.early_stopping:
        callbacks.append(keras.callbacks.EarlyStopping(
            monitor=monitor, mode=mode, patience=config.early_stopping))

    started = time.perf_counter()
    try:
        if custom_loop:
            from kerasdl.training.custom_loop import fit_distributed

            fit_distributed(
                model, train_ds, val_ds, strategy=strategy, epochs=config.epochs,
                initial_epoch=initial_epoch, steps_per_epoch=steps_per_epoch,
                callbacks=callbacks, metrics=app.metrics(config, data.info), verbose=verbose,
            )
        else:
            model.fit(
                train_ds, validation_data=val_ds, epochs=config.epochs,
                initial_epoch=initial_epoch, callbacks=callbacks, verbose=verbose,
                shuffle=False,  # the pipeline shuffles
            )
    except KeyboardInterrupt:
        if chief:
            run.write_meta(status="interrupted")
        raise
    except TrainingError:
        if chief:
            run.write_meta(status="failed")
        raise
    seconds = time.perf_counter() - started

    history = run.read_history() if chief else []
    epochs_completed = len(history) if chief else config.epochs
    if chief:
        checkpoints = run.epoch_checkpoints()
        if checkpoints:
            checkpoints[-1][1].replace(run.last_model_path)
        run.write_meta(status="completed", epochs_completed=epochs_completed)
    trained_epochs = max(1, epochs_completed - initial_epoch)
    return TrainResult(
        model=model, history=history, data=data, run=run,
        epochs_completed=epochs_completed, seconds=seconds,
        examples_per_second=train_count * trained_epochs / seconds,
    )



def _precision_policy(config: TrainConfig, strategy: Any) -> str:
    if not config.mixed_precision:
        return "float32"
    import tensorflow as tf

    # TPUs compute in bfloat16; float16 needs loss scaling and suits GPUs.
    return "mixed_bfloat16" if isinstance(strategy, tf.distribute.TPUStrategy) else "mixed_float16"
