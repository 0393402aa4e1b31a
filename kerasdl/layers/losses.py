"""Losses that Keras does not ship."""

from __future__ import annotations

from typing import Any

import keras


@keras.saving.register_keras_serializable(package="kerasdl")
class SparseCategoricalCrossentropy(keras.losses.Loss):
    """Cross-entropy on integer labels, with label smoothing.

    Keras' own sparse cross-entropy has no `label_smoothing`; smoothing replaces the
    one-hot target by `(1 - s) * one_hot + s / num_classes`, which keeps the model from
    growing over-confident logits.

    Example:
    >>> import numpy as np
    >>> from kerasdl.layers.losses import SparseCategoricalCrossentropy
    >>> loss = SparseCategoricalCrossentropy(label_smoothing=0.1)
    >>> float(loss(np.array([0]), np.array([[0.9, 0.1]]))) > 0
    True
    """

    def __init__(
        self, label_smoothing: float = 0.0, name: str = "sparse_categorical_crossentropy",
        **kwargs: Any,
    ) -> None:
        super().__init__(name=name, **kwargs)
        self.label_smoothing = label_smoothing

    def call(self, y_true: Any, y_pred: Any) -> Any:
        ops = keras.ops
        labels = ops.cast(ops.reshape(y_true, (-1,)), "int32")
        one_hot = ops.one_hot(labels, ops.shape(y_pred)[-1], dtype=y_pred.dtype)
        return keras.losses.categorical_crossentropy(
            one_hot, y_pred, label_smoothing=self.label_smoothing
        )

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config["label_smoothing"] = self.label_smoothing
        return config
