"""The speech app's one preprocessing definition.

The model takes what a microphone gives, int16 PCM samples [batch, samples] at the
data's sample rate; scaling to [-1, 1] and the log-mel / MFCC features are its first
layers, so training, the SavedModel and every TFLite file share them (the feature layer
converts to TFLite builtins). Reading, resampling and cutting a WAV file to the clip
length is `kerasdl_edge.audio`, used by the data loader, `predict` and devices alike.
The SavedModel's WAV decoding, the task input a mobile runtime hands the model and the
metadata are at the end of this file.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from kerasdl.app_export import TaskInput
from kerasdl.data.audio import PCM_SCALE
from kerasdl.layers.audio_features import log_mel_class
from kerasdl.layers.blocks import BN_MOMENTUM, keras_or
from kerasdl.layers.spec_augment import spec_augment_class

from kerasdl.apps.speech.config import SpeechConfig

INPUT_NAME = "audio"
# The layers between the PCM input and the first convolution.
FRONT_END_LAYERS = ("scale_pcm", "features", "spec_augment", "feature_norm")


def frame_samples(config: SpeechConfig, sample_rate: int) -> tuple[int, int]:
    """(frame length, frame step) in samples."""
    return (max(16, int(round(config.frame_ms * sample_rate / 1000))),
            max(1, int(round(config.step_ms * sample_rate / 1000))))


def feature_settings(config: SpeechConfig, sample_rate: int) -> dict[str, Any]:
    """The feature layer's arguments: what a client would need to compute them."""
    frame_length, frame_step = frame_samples(config, sample_rate)
    return {"sample_rate": sample_rate, "frame_length": frame_length, "frame_step": frame_step,
            "mel_bins": config.mel_bins, "mfcc": config.mfcc if config.features == "mfcc" else 0}


def waveform_input(clip_samples: int, *, batch_size: int | None = None,
                   keras_module: ModuleType | None = None) -> Any:
    k = keras_or(keras_module)
    return k.Input(shape=(clip_samples,), batch_size=batch_size, dtype="int16", name=INPUT_NAME)


def features(waveforms: Any, config: SpeechConfig, sample_rate: int, *,
             keras_module: ModuleType | None = None) -> Any:
    """int16 waveforms to normalized features [batch, frames, bins, 1]; SpecAugment
    masks them while training when `config.augment` is on."""
    k = keras_or(keras_module)
    x = k.layers.Rescaling(1.0 / PCM_SCALE, name="scale_pcm")(waveforms)
    x = log_mel_class(k)(**feature_settings(config, sample_rate), name="features")(x)
    if config.augment and (config.time_masks or config.freq_masks):
        x = spec_augment_class(k)(
            time_masks=config.time_masks, time_width=config.time_mask_frames,
            freq_masks=config.freq_masks, freq_width=config.freq_mask_bins, name="spec_augment",
        )(x)
    # Per-band normalization learned from the data: log energies sit far from zero.
    x = k.layers.BatchNormalization(momentum=BN_MOMENTUM, name="feature_norm")(x)
    return k.layers.Reshape((x.shape[1], x.shape[2], 1), name="feature_map")(x)


# ---- the SavedModel's and the mobile runtimes' view of the same input ------------------

def wav_decoder(info: dict[str, Any]) -> Any:
    """A function from one WAV file's bytes to the model's int16 clip, for the
    SavedModel: mono, at the model's rate (another rate is refused: the graph does not
    resample), cut or padded to the clip length as the data loader does."""
    import numpy as np
    import tensorflow as tf

    from kerasdl.data.audio import fix_length_tf
    from kerasdl_edge.audio import MIN_CLIP_FRACTION

    rate, length = info["sample_rate"], info["clip_samples"]
    shortest = int(np.ceil(MIN_CLIP_FRACTION * length))

    def decode(wav: tf.Tensor) -> tf.Tensor:
        audio, file_rate = tf.audio.decode_wav(wav)
        tf.debugging.assert_equal(
            file_rate, rate, message=f"WAV files must be recorded at {rate} Hz for this model")
        tf.debugging.assert_greater_equal(
            tf.shape(audio)[0], shortest,
            message=f"A WAV clip must hold at least {shortest} samples ({MIN_CLIP_FRACTION:.0%} of the "
                    f"{length / rate:.2f} s the model listens to): a truncated or empty recording?")
        pcm = tf.round(tf.reduce_mean(audio, axis=-1) * PCM_SCALE)
        pcm = tf.cast(tf.clip_by_value(pcm, -32768.0, 32767.0), tf.int16)
        return fix_length_tf(pcm, length)

    return decode


def waveform_task_input() -> TaskInput:
    """A float32 waveform in [-1, 1] (what MediaPipe's AudioClassifier hands the
    model), turned back into the int16 PCM the model takes by `WaveformToPcm`."""
    from kerasdl_edge.audio import pcm16_to_waveform

    def wrap(model: Any) -> Any:
        import keras

        from kerasdl.layers.task_inputs import waveform_to_pcm_class

        waveform = keras.Input(model.inputs[0].shape[1:], batch_size=model.inputs[0].shape[0],
                               dtype="float32", name="waveform")
        return keras.Model(waveform, model(waveform_to_pcm_class(keras)(name="waveform_to_pcm")(waveform)),
                           name=f"{model.name}_waveform")

    return TaskInput(wrap=wrap, convert=pcm16_to_waveform, info={"waveform": "float32"})


def input_tensor(info: dict[str, Any]) -> Any:
    """The standard metadata of the input: a float32 waveform (a task-ready file, info
    `waveform`) or int16 PCM."""
    from kerasdl_edge.standard_metadata import AudioInput, TensorInfo

    rate, length = info["sample_rate"], info["clip_samples"]
    if info.get("waveform") == "float32":
        return TensorInfo("waveform", f"{length} mono samples at {rate} Hz, float32 in [-1, 1].",
                          audio=AudioInput(rate, 1), value_range=(-1.0, 1.0))
    return TensorInfo(INPUT_NAME, f"{length} mono samples at {rate} Hz, int16 PCM.")


def metadata(info: dict[str, Any]) -> dict[str, Any]:
    """How a client turns a recording into the model's input (the export's
    `preprocessing` entry, for edge runtimes)."""
    return {
        "input": f"int16 PCM [batch, {info['clip_samples']}], mono at {info['sample_rate']} Hz",
        "read": "kerasdl_edge.audio.read_wav(path, sample_rate, length): any WAV, mixed "
                "down, resampled, loudest part kept or padded with silence",
        "sample_rate": info["sample_rate"],
        "clip_samples": info["clip_samples"],
        "features": {"inside_model": True, **info["features"]},
    }
