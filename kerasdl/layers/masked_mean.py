"""The mean over a sequence's unmasked steps that stays finite on an empty sequence.

Keras' `GlobalAveragePooling1D` divides the masked sum by the number of unmasked steps:
an empty text (all padding) gives 0 / 0 = NaN. Whether that NaN reaches the output
depends on the CPU's kernels (a ReLU computed as `max(x, 0)` may drop it or keep it:
measured, TensorFlow's kernel dropped it and XNNPACK on an AVX-512 CPU kept it). This
layer divides by `max(count, 1)`: an empty sequence averages to 0 everywhere.

The class is written once and defined for each Keras on first use (Keras 3, and tf_keras
for tfmot twins), registered as `kerasdl>MaskedMean` so saved models reload.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from kerasdl.layers.twin_classes import define_once


def masked_mean_class(keras_module: ModuleType) -> type:
    """The `MaskedMean` layer class of `keras_module` (keras or tf_keras).

    Example:
    >>> import keras, numpy as np
    >>> from kerasdl.layers.masked_mean import masked_mean_class
    >>> ids = keras.Input((4,), dtype="int32")
    >>> x = keras.layers.Embedding(5, 2, mask_zero=True)(ids)
    >>> model = keras.Model(ids, masked_mean_class(keras)()(x))
    >>> model(np.zeros((1, 4), "int32")).numpy().tolist()  # an empty text
    [[0.0, 0.0]]
    """
    return define_once(keras_module, "MaskedMean", _define)


def _define(k: ModuleType) -> type:
    class MaskedMean(k.layers.Layer):
        """[batch, steps, features] to [batch, features]: the mean over the steps the
        mask keeps (all steps without a mask); 0 where it keeps none."""

        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.supports_masking = True

        def call(self, inputs: Any, mask: Any = None) -> Any:
            import tensorflow as tf

            if mask is None:
                return tf.reduce_mean(inputs, axis=1)
            weights = tf.cast(mask, inputs.dtype)[..., None]
            total = tf.reduce_sum(inputs * weights, axis=1)
            count = tf.reduce_sum(weights, axis=1)
            return total / tf.maximum(count, tf.ones_like(count))

        def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
            return None  # the steps are gone

        def compute_output_shape(self, input_shape: Any) -> Any:
            return (input_shape[0], input_shape[-1])

    return MaskedMean
