"""A linear model's class scores over a text's token ids, finite on an empty text.

A linear model on bag-of-n-gram features (logistic regression on TF-IDF or on
naive-Bayes-weighted presence) is, on token ids, an embedding lookup of each id's class
scores and a sum over the text; TF-IDF's features are also divided by their Euclidean
norm, the square root of the sum of the ids' squared idf. Both are builtin TFLite ops.

The class is written once and defined for each Keras on first use (Keras 3, and tf_keras
for tfmot twins), registered as `kerasdl>TokenScores` so saved models reload.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from kerasdl.layers.twin_classes import define_once


def token_scores_class(keras_module: ModuleType) -> type:
    """The `TokenScores` layer of `keras_module` (keras or tf_keras): the sum over the
    text of its ids' class scores, divided by the norm of its features when given the
    squared scales too, plus a fixed bias. An empty text scores the bias alone."""
    return define_once(keras_module, "TokenScores", _define)


def _define(k: ModuleType) -> type:
    class TokenScores(k.layers.Layer):
        def __init__(self, classes: int, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.classes = int(classes)

        def build(self, input_shape: Any) -> None:
            self.bias = self.add_weight(shape=(self.classes,), initializer="zeros", trainable=False, name="bias")

        def call(self, inputs: Any) -> Any:
            import tensorflow as tf

            total = tf.reduce_sum(inputs[0], axis=1)
            if len(inputs) > 1:
                # max(.., tiny): an empty text has no features, its norm 0 (no 0 / 0).
                total = total / tf.sqrt(tf.maximum(tf.reduce_sum(inputs[1], axis=1), 1e-12))
            return total + self.bias

        def compute_output_shape(self, input_shape: Any) -> Any:
            return (input_shape[0][0], self.classes)

        def get_config(self) -> dict[str, Any]:
            return {**super().get_config(), "classes": self.classes}

    return TokenScores
