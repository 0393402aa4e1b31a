"""A training loop for MultiWorkerMirroredStrategy.

Keras 3's `fit` fails under that strategy (keras-team/keras#20585), so each step runs
through `strategy.run` with a GradientTape. The model is compiled as usual (so its
checkpoints carry the optimizer), and the same callbacks as `fit` are called.
"""

from __future__ import annotations

import logging
from typing import Any

import keras
import tensorflow as tf

logger = logging.getLogger(__name__)


def fit_distributed(
    model: keras.Model,
    train_ds: tf.data.Dataset,
    val_ds: tf.data.Dataset,
    *,
    strategy: tf.distribute.Strategy,
    epochs: int,
    initial_epoch: int,
    steps_per_epoch: int,
    callbacks: list[keras.callbacks.Callback],
    metrics: list[keras.metrics.Metric],
    verbose: Any = "auto",
) -> None:
    """Trains `model` (compiled under `strategy.scope()`) for `epochs` epochs.

    `train_ds` yields global batches of a fixed size; every worker runs the same
    number of steps, which collective all-reduce requires. `metrics` are fresh metric
    objects, computed on the validation split after each epoch.
    """
    options = tf.data.Options()
    # In-memory data has no files to split between workers: shard by element.
    options.experimental_distribute.auto_shard_policy = (
        tf.data.experimental.AutoShardPolicy.DATA
    )
    dist_ds = strategy.experimental_distribute_dataset(train_ds.with_options(options))
    loss_fn = model.loss
    optimizer = model.optimizer
    global_batch = None
    for x, _ in train_ds.take(1):
        global_batch = int(x.shape[0])
    if global_batch is None:
        raise ValueError("The training dataset is empty.")

    def per_example_loss(y: tf.Tensor, probs: tf.Tensor) -> tf.Tensor:
        # The compiled loss reduces to a batch mean; undo the reduction per replica so
        # the all-reduce divides by the global batch, as compute_average_loss expects.
        return loss_fn(y, probs) * tf.cast(tf.shape(y)[0], tf.float32)

    def step_fn(x: tf.Tensor, y: tf.Tensor) -> tf.Tensor:
        with tf.GradientTape() as tape:
            probs = model(x, training=True)
            loss = per_example_loss(y, probs) / global_batch
            if model.losses:
                loss += tf.nn.scale_regularization_loss(tf.add_n(model.losses))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    @tf.function
    def train_step(iterator: Any) -> tf.Tensor:
        per_replica = strategy.run(step_fn, args=next(iterator))
        return strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None)

    @tf.function
    def eval_step(x: tf.Tensor, y: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        probs = model(x, training=False)
        return loss_fn(y, probs), probs

    callback_list = keras.callbacks.CallbackList(callbacks, model=model)
    progress = verbose not in (0, False)
    callback_list.on_train_begin()
    for epoch in range(initial_epoch, epochs):
        callback_list.on_epoch_begin(epoch)
        iterator = iter(dist_ds)
        total = 0.0
        for step in range(steps_per_epoch):
            loss = float(train_step(iterator))
            total += loss
            callback_list.on_train_batch_end(step, {"loss": total / (step + 1)})
            if model.stop_training:
                break
        logs = {"loss": total / steps_per_epoch}
        logs.update(_evaluate(eval_step, val_ds, metrics))
        if progress:
            logger.info("Epoch %d/%d %s", epoch + 1, epochs,
                        " ".join(f"{k}={v:.4f}" for k, v in logs.items()))
        callback_list.on_epoch_end(epoch, logs)
        if model.stop_training:
            break
    callback_list.on_train_end()


def _evaluate(eval_step: Any, val_ds: tf.data.Dataset, metrics: list[Any]) -> dict[str, float]:
    for m in metrics:
        m.reset_state()
    loss_sum, count = 0.0, 0
    for x, y in val_ds:
        loss, probs = eval_step(x, y)
        n = int(tf.shape(y)[0])
        loss_sum += float(loss) * n
        count += n
        for m in metrics:
            m.update_state(y, probs)
    logs = {"val_loss": loss_sum / max(1, count)}
    for m in metrics:
        logs[f"val_{m.name}"] = float(m.result())
    return logs
