"""Log-mel spectrogram and MFCC as a Keras layer that TFLite's builtin ops can run.

A spectrogram shows how much energy each frequency band holds in each short frame
(STFT: windowed frames, FFT, magnitude). The mel scale spaces bands as hearing does,
dense at low frequencies; the log compresses loudness as hearing does. MFCCs are the
first coefficients of a DCT of the log-mel frame: a compact summary of its shape.

`tf.signal.mfccs_from_log_mel_spectrograms` does not convert to TFLite builtins (its
DCT lowers to an unsupported strided slice), so the DCT-II here is a constant matrix
product; the whole layer converts (measured: float32 within 1e-6 of Keras).

The class is defined for each Keras on first use (Keras 3, and tf_keras for tfmot
twins), registered as `kerasdl>LogMelSpectrogram`.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np

from kerasdl.layers.twin_classes import define_once

LOG_OFFSET = 1e-6


def dct_matrix(bins: int, coefficients: int) -> np.ndarray:
    """The orthonormal DCT-II as a [bins, coefficients] matrix; coefficients 1.. equal
    `tf.signal.mfccs_from_log_mel_spectrograms` (a test checks it)."""
    n = np.arange(bins)[:, None]
    k = np.arange(coefficients)[None, :]
    matrix = np.cos(np.pi / bins * (n + 0.5) * k) * np.sqrt(2.0 / bins)
    matrix[:, 0] *= np.sqrt(0.5)
    return matrix.astype(np.float32)


def log_mel_class(keras_module: ModuleType) -> type:
    """The `LogMelSpectrogram` layer class of `keras_module` (keras or tf_keras).

    Example:
    >>> import keras
    >>> from kerasdl.layers.audio_features import log_mel_class
    >>> LogMel = log_mel_class(keras)
    >>> x = keras.Input((8000,))
    >>> tuple(LogMel(sample_rate=8000, frame_length=256, frame_step=128)(x).shape)
    (None, 61, 40)
    """
    return define_once(keras_module, "LogMelSpectrogram", _define)


def _define(k: ModuleType) -> type:
    class LogMelSpectrogram(k.layers.Layer):
        """Waveforms [batch, samples] in, log-mel frames [batch, frames, mel_bins] (or
        MFCCs [batch, frames, mfcc]) out.

        Args:
            sample_rate: samples per second of the input.
            frame_length: samples per STFT frame (Hann window); the FFT size is the
                next power of two.
            frame_step: samples between frames.
            mel_bins: mel bands.
            lower_hz, upper_hz: the band edges (upper: None for half the sample rate).
            mfcc: 0 for log-mel, else the number of MFCCs kept.
            magnitude: mel bands of the magnitude spectrum (as YAMNet's front end) rather
                than of its power.
            log_offset: added before the log (YAMNet's: 0.001).
        """

        def __init__(self, sample_rate: int, frame_length: int = 480, frame_step: int = 160,
                     mel_bins: int = 40, lower_hz: float = 20.0, upper_hz: float | None = None,
                     mfcc: int = 0, magnitude: bool = False, log_offset: float = LOG_OFFSET,
                     **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.sample_rate = int(sample_rate)
            self.frame_length = int(frame_length)
            self.frame_step = int(frame_step)
            self.mel_bins = int(mel_bins)
            self.lower_hz = float(lower_hz)
            self.upper_hz = float(upper_hz) if upper_hz else self.sample_rate / 2.0
            self.mfcc = int(mfcc)
            self.magnitude = bool(magnitude)
            self.log_offset = float(log_offset)
            self.fft_length = 1 << (self.frame_length - 1).bit_length()

        def call(self, waveforms: Any) -> Any:
            import tensorflow as tf

            waveforms = tf.cast(waveforms, tf.float32)
            spectrum = tf.abs(tf.signal.stft(waveforms, self.frame_length, self.frame_step,
                                             self.fft_length, window_fn=tf.signal.hann_window))
            mel = tf.signal.linear_to_mel_weight_matrix(
                self.mel_bins, self.fft_length // 2 + 1, self.sample_rate, self.lower_hz, self.upper_hz)
            energy = spectrum if self.magnitude else tf.square(spectrum)
            log_mel = tf.math.log(tf.tensordot(energy, mel, 1) + self.log_offset)
            if self.mfcc:
                log_mel = tf.tensordot(log_mel, tf.constant(dct_matrix(self.mel_bins, self.mfcc)), 1)
            return log_mel

        def compute_output_shape(self, input_shape: Any) -> Any:
            samples = input_shape[-1]
            frames = None if samples is None else 1 + (samples - self.frame_length) // self.frame_step
            return (input_shape[0], frames, self.mfcc or self.mel_bins)

        def get_config(self) -> dict[str, Any]:
            return {**super().get_config(), "sample_rate": self.sample_rate,
                    "frame_length": self.frame_length, "frame_step": self.frame_step,
                    "mel_bins": self.mel_bins, "lower_hz": self.lower_hz,
                    "upper_hz": self.upper_hz, "mfcc": self.mfcc, "magnitude": self.magnitude,
                    "log_offset": self.log_offset}

    return LogMelSpectrogram

