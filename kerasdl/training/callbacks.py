"""Callbacks that keep a run directory consistent whatever stops the run."""

from __future__ import annotations

import logging
import math
import time
from typing import Any

import keras

from kerasdl.errors import TrainingError
from kerasdl.runs import Run
from kerasdl.training.optimizers import current_learning_rate
from kerasdl.training.saving import save_model

logger = logging.getLogger(__name__)


class RunCheckpoint(keras.callbacks.Callback):
    """Writes best and per-epoch checkpoints, history.csv and run.json each epoch.

    Order matters for `--resume` after a kill: the best model and the history are
    written before the epoch checkpoint, and resuming trusts only the newest complete
    epoch checkpoint (truncating history to match). Every file is replaced atomically.

    Args:
        run: the run directory.
        monitor: the logged quantity that decides "best", e.g. "val_accuracy".
        mode: "max" or "min".
        history: rows of the epochs already done (when resuming).
    """

    def __init__(
        self, run: Run, monitor: str, mode: str, history: list[dict[str, Any]] | None = None
    ) -> None:
        super().__init__()
        self.run = run
        self.monitor = monitor
        self.mode = mode
        self.history = list(history or [])
        values = [r[monitor] for r in self.history if isinstance(r.get(monitor), (int, float))]
        self.best = (max if mode == "max" else min)(values) if values else None

    def _improved(self, value: float) -> bool:
        if self.best is None:
            return True
        return value > self.best if self.mode == "max" else value < self.best

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._epoch_started = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        elapsed = time.perf_counter() - getattr(self, "_epoch_started", time.perf_counter())
        logs = dict(logs or {})
        row: dict[str, Any] = {"epoch": epoch + 1}
        row.update({k: float(v) for k, v in logs.items() if k != "learning_rate"})
        row["learning_rate"] = current_learning_rate(self.model.optimizer)
        value = logs.get(self.monitor)
        if value is None:
            raise TrainingError(
                f"Cannot choose the best checkpoint: '{self.monitor}' is not among the "
                f"logged values ({', '.join(sorted(logs))})."
            )
        if math.isfinite(value) and self._improved(value):
            self.best = float(value)
            save_model(self.model, self.run.best_model_path)
            logger.info("Epoch %d: %s improved to %.4f", epoch + 1, self.monitor, value)
        self.history.append(row)
        self.run.write_history(self.history)
        old = self.run.epoch_checkpoints()
        save_model(self.model, self.run.epoch_checkpoint_path(epoch + 1))
        for _, path in old:
            path.unlink(missing_ok=True)
        # Summed over sessions, so a resumed run reports its whole training time.
        spent = float(self.run.meta.get("training_seconds", 0.0)) + elapsed
        self.run.write_meta(epochs_completed=epoch + 1, best={self.monitor: self.best},
                            training_seconds=round(spent, 2))


class NaNGuard(keras.callbacks.Callback):
    """Stops training at the first NaN or infinite loss with an actionable message."""

    def __init__(self) -> None:
        super().__init__()
        self.epoch = 0

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self.epoch = epoch

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        # Every logged loss: a GAN logs its two networks' losses apart.
        for name, loss in (logs or {}).items():
            if not name.endswith("loss") or math.isfinite(float(loss)):
                continue
            lr = current_learning_rate(self.model.optimizer)
            what = "loss" if name == "loss" else f"loss {name}"
            raise TrainingError(
                f"The {what} became {float(loss)} at epoch {self.epoch + 1}, step {batch + 1}. "
                f"Lower the learning rate (now {lr:g}), e.g. `learning_rate={lr / 10:g}`, or check the "
                "data for NaN values."
            )


class GradientNorms(keras.callbacks.Callback):
    """At the end of each epoch, the gradient of the loss on one fixed training batch:
    its global norm and each weight's norm, written to TensorBoard (`logs/gradients`),
    and the global norm to the epoch's logs (`grad_norm`, so history.csv has it).
    Vanishing gradients show as norms shrinking layer by layer towards the input;
    exploding ones as a growing global norm.

    Args:
        batch: one `(inputs, targets)` batch, the same every epoch so that epochs compare.
        log_dir: the run's TensorBoard folder.
    """

    def __init__(self, batch: tuple[Any, Any], log_dir: str) -> None:
        super().__init__()
        self.batch = batch
        self.log_dir = log_dir
        self._writer: Any = None

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        import tensorflow as tf

        x, y = self.batch
        with tf.GradientTape() as tape:
            y_pred = self.model(x, training=True)
            loss = self.model.compute_loss(x=x, y=y, y_pred=y_pred)
        variables = self.model.trainable_weights
        grads = tape.gradient(loss, variables)
        norms = {v.path: float(tf.norm(g)) for v, g in zip(variables, grads) if g is not None}
        total = math.sqrt(sum(n * n for n in norms.values()))
        if self._writer is None:
            self._writer = tf.summary.create_file_writer(f"{self.log_dir}/gradients")
        with self._writer.as_default(step=epoch):
            tf.summary.scalar("global_norm", total)
            for path, norm in norms.items():
                tf.summary.scalar(f"norm/{path}", norm)
            for v, g in zip(variables, grads):
                if g is not None:
                    tf.summary.histogram(f"gradient/{v.path}", g)
        self._writer.flush()
        if logs is not None:
            logs["grad_norm"] = total
