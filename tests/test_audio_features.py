"""The log-mel / MFCC layer: what it computes, that it reloads and that TFLite runs it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from kerasdl.layers.audio_features import dct_matrix, log_mel_class


def tone(freq: float, rate: int = 8000, seconds: float = 1.0) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def test_a_tone_lights_its_mel_band_and_mfcc_is_a_dct_of_log_mel() -> None:
    import keras
    import tensorflow as tf

    layer_class = log_mel_class(keras)
    log_mel = layer_class(sample_rate=8000, frame_length=256, frame_step=128)
    low, high = np.asarray(log_mel(np.stack([tone(300), tone(3000)])))
    assert low.shape == (61, 40)
    assert low.mean(axis=0).argmax() < 15 < high.mean(axis=0).argmax()
    mfcc = layer_class(sample_rate=8000, frame_length=256, frame_step=128, mfcc=13)
    coefficients = np.asarray(mfcc(tone(300)[None]))[0]
    reference = tf.signal.mfccs_from_log_mel_spectrograms(tf.constant(low))[:, :13].numpy()
    # Coefficients 1.. agree with TF's MFCCs (its 0th, the mean level, is scaled otherwise).
    np.testing.assert_allclose(coefficients[:, 1:], reference[:, 1:], rtol=1e-3, atol=1e-3)
    np.testing.assert_allclose(coefficients, low @ dct_matrix(40, 13), rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("mfcc", [0, 13])
def test_saves_reloads_and_converts_to_builtin_tflite(tmp_path: Path, mfcc: int) -> None:
    import keras

    from kerasdl.export.tflite import convert
    from kerasdl.training.saving import load_model, save_model
    from kerasdl_edge import EdgeModel

    inputs = keras.Input((8000,), name="waveform")
    features = log_mel_class(keras)(sample_rate=8000, frame_length=256, frame_step=128, mfcc=mfcc)(inputs)
    model = keras.Model(inputs, keras.layers.GlobalAveragePooling1D()(features))
    clips = np.stack([tone(300), tone(1200), tone(3000)])
    expected = np.asarray(model(clips))
    again = load_model(save_model(model, tmp_path / "m.keras"))
    np.testing.assert_allclose(np.asarray(again(clips)), expected, atol=1e-5)
    edge = EdgeModel(convert(model, "float32"))
    np.testing.assert_allclose(edge(clips), expected, atol=1e-3)
