"""SpecAugment masking (Park et al., 2019) as a layer that only acts while training.

Blanking random stretches of time frames and of frequency bands in a spectrogram makes
a model rely on the whole picture rather than one cue; at inference the layer passes its
input through, so it costs nothing in an exported model (TFLite drops it).

The class is defined for each Keras on first use (Keras 3, and tf_keras for tfmot
twins), registered as `kerasdl>SpecAugment`.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from kerasdl.layers.twin_classes import define_once


def spec_augment_class(keras_module: ModuleType) -> type:
    """The `SpecAugment` layer class of `keras_module` (keras or tf_keras).

    Example:
    >>> import keras, numpy as np
    >>> from kerasdl.layers.spec_augment import spec_augment_class
    >>> SpecAugment = spec_augment_class(keras)
    >>> layer = SpecAugment(time_masks=1, time_width=5, freq_masks=1, freq_width=4)
    >>> x = np.random.default_rng(0).normal(size=(2, 20, 10)).astype("float32")
    >>> bool((np.asarray(layer(x, training=True)) != x).any())  # masked bands: the mean
    True
    >>> bool((np.asarray(layer(x)) == x).all())  # not while predicting
    True
    """
    return define_once(keras_module, "SpecAugment", _define)


def _define(k: ModuleType) -> type:
    class SpecAugment(k.layers.Layer):
        """Spectrograms [batch, frames, bins] in and out; while training, each example
        gets `time_masks` stretches of up to `time_width` frames and `freq_masks` bands
        of up to `freq_width` bins set to its mean value.
        """

        def __init__(self, time_masks: int = 2, time_width: int = 10, freq_masks: int = 2,
                     freq_width: int = 5, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.time_masks = int(time_masks)
            self.time_width = int(time_width)
            self.freq_masks = int(freq_masks)
            self.freq_width = int(freq_width)

        def _masks(self, batch: Any, size: Any, count: int, width: int) -> Any:
            import tensorflow as tf

            positions = tf.range(size)[None, :]
            keep = tf.ones([batch, size], tf.bool)
            for _ in range(count):
                widths = tf.random.uniform([batch, 1], 0, width + 1, dtype=tf.int32)
                room = tf.cast(tf.maximum(1, size - widths + 1), tf.float32)
                starts = tf.cast(tf.random.uniform([batch, 1]) * room, tf.int32)
                keep &= ~((positions >= starts) & (positions < starts + widths))
            return keep

        def call(self, spectrograms: Any, training: Any = None) -> Any:
            import tensorflow as tf

            if not training or not (self.time_masks or self.freq_masks):
                return spectrograms
            shape = tf.shape(spectrograms)
            batch, frames, bins = shape[0], shape[1], shape[2]
            keep = tf.ones_like(spectrograms, tf.bool)
            if self.time_masks and self.time_width:
                keep &= self._masks(batch, frames, self.time_masks, self.time_width)[:, :, None]
            if self.freq_masks and self.freq_width:
                keep &= self._masks(batch, bins, self.freq_masks, self.freq_width)[:, None, :]
            mean = tf.reduce_mean(spectrograms, axis=[1, 2], keepdims=True)
            return tf.where(keep, spectrograms, mean)

        def compute_output_shape(self, input_shape: Any) -> Any:
            return input_shape

        def get_config(self) -> dict[str, Any]:
            return {**super().get_config(), "time_masks": self.time_masks,
                    "time_width": self.time_width, "freq_masks": self.freq_masks,
                    "freq_width": self.freq_width}

    return SpecAugment

