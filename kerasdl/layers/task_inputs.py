"""Layers that turn what a mobile runtime hands a model into what the model was trained on.

MediaPipe Tasks give an image classifier RGB frames and an audio classifier float32
waveforms in [-1, 1]. kerasdl's grey vision models take one channel and its speech
models int16 PCM, so a task-ready TFLite file puts one of these layers in front:

- `RgbToGrey`: ITU-R 601-2 luma, `L = 0.2989 R + 0.587 G + 0.114 B` rounded, as
  kerasdl's image readers turn a colour image grey (`tf.image.rgb_to_grayscale`'s
  weights). On a grey frame (R = G = B) it gives the grey value back exactly.
- `WaveformToPcm`: `round(32768 x)`, clipped to int16's range: a waveform read from
  16-bit PCM gives its samples back exactly.

Their outputs are float; the model's own input casts them to uint8 / int16, which
is exact for these rounded values.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from kerasdl.layers.twin_classes import define_once

LUMA_WEIGHTS = (0.2989, 0.587, 0.114)
PCM_SCALE = 32768.0


def rgb_to_grey_class(keras_module: ModuleType) -> type:
    """The `RgbToGrey` layer class: [batch, height, width, 3] to [..., 1].

    Example:
    >>> import keras, numpy as np
    >>> from kerasdl.layers.task_inputs import rgb_to_grey_class
    >>> grey = np.array([[[[7, 7, 7], [255, 0, 0]]]], np.uint8)
    >>> rgb_to_grey_class(keras)()(grey).numpy().ravel().tolist()
    [7.0, 76.0]
    """
    return define_once(keras_module, "RgbToGrey", _define_rgb_to_grey)


def waveform_to_pcm_class(keras_module: ModuleType) -> type:
    """The `WaveformToPcm` layer class: float32 [batch, samples] in [-1, 1] to int16
    sample values (as float32).

    Example:
    >>> import keras, numpy as np
    >>> from kerasdl.layers.task_inputs import waveform_to_pcm_class
    >>> waveform_to_pcm_class(keras)()(np.array([[0.5, -1.0, 1.0]], np.float32)).numpy().tolist()
    [[16384.0, -32768.0, 32767.0]]
    """
    return define_once(keras_module, "WaveformToPcm", _define_waveform_to_pcm)


def _define_rgb_to_grey(k: ModuleType) -> type:
    class RgbToGrey(k.layers.Layer):
        def call(self, inputs: Any) -> Any:
            import tensorflow as tf

            weights = tf.constant(LUMA_WEIGHTS, tf.float32)
            luma = tf.reduce_sum(tf.cast(inputs, tf.float32) * weights, axis=-1, keepdims=True)
            return tf.round(luma)

        def compute_output_shape(self, input_shape: Any) -> Any:
            return (*input_shape[:-1], 1)

    return RgbToGrey


def _define_waveform_to_pcm(k: ModuleType) -> type:
    class WaveformToPcm(k.layers.Layer):
        def call(self, inputs: Any) -> Any:
            import tensorflow as tf

            pcm = tf.round(tf.cast(inputs, tf.float32) * PCM_SCALE)
            return tf.clip_by_value(pcm, -PCM_SCALE, PCM_SCALE - 1)

        def compute_output_shape(self, input_shape: Any) -> Any:
            return input_shape

    return WaveformToPcm
