"""The speech app's one preprocessing definition.

The model takes what a microphone gives, int16 PCM samples [batch, samples] at the
data's sample rate; scaling to [-1, 1] and the log-mel / MFCC features are its first
layers, so training, the SavedModel and every TFLite file share them (the feature layer
converts to TFLite builtins). Reading, resampling and cutting a WAV file to the clip
length is `kerasdl_edge.audio`, used by the data loader, `predict` and devices alike.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

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
