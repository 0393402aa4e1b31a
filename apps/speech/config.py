"""The speech app's hyperparameters."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from kerasdl.backbones.config import BackboneConfig
from kerasdl.config import (
    ClassifierConfig,
    LayerStyle,
    _check_choice,
    _check_non_negative_int,
    _check_positive_int,
    _check_range,
)
from kerasdl.errors import ConfigError

FEATURES = ("log-mel", "mfcc")
# What each model uses when `activation` / `norm` are "auto" (DS-CNN's blocks use
# MobileNet's ReLU6; its stem convolution keeps ReLU).
MODEL_STYLE: dict[str, tuple[str, str]] = {
    "cnn": ("relu", "batch"), "ds-cnn": ("relu6", "batch"), "crnn": ("relu", "batch"),
}


PRETRAINED = "pretrained"


@dataclass
class SpeechConfig(ClassifierConfig, LayerStyle, BackboneConfig):
    """Spoken command recognition from fixed-length clips.

    Attributes:
        model: pretrained (`backbone`: YAMNet's embeddings and a new head), cnn (small 2-D CNN), ds-cnn (depthwise-separable CNN, "Hello Edge":
            fewer parameters and MACs, needs more training steps), crnn
            (convolutions, then a GRU over time), or log-mel-lr (the classic
            baseline: logistic regression on the log-mel bands' mean and standard
            deviation, fitted once before training).
        sample_rate: samples per second every clip is resampled to; None takes the
            training files' most common rate (tfds data: its own).
        clip_seconds: clip length; longer recordings keep their loudest part,
            shorter ones are padded with silence.
        features: log-mel (a mel spectrogram's log) or mfcc (its first DCT
            coefficients).
        frame_ms, step_ms: STFT frame length and hop, in milliseconds.
        mel_bins: mel bands; mfcc: coefficients kept (features=mfcc).
        width: filters of the convolutions (cnn doubles it in its second stage).
        depth: depthwise-separable blocks (ds-cnn) or convolution stages (cnn, crnn).
        units: GRU units (crnn).
        augment_shift_ms: with `augment`, the largest random time shift.
        noise_snr_db: with `augment`, the lowest signal-to-noise ratio of the
            background noise mixed in (each clip draws from this to 30 dB more); the
            data's `_background_noise_` recordings if it has them, else white noise.
        noise_probability: fraction of training clips that get noise (0 = none).
        time_masks, time_mask_frames, freq_masks, freq_mask_bins: with `augment`,
            SpecAugment's masks: how many, and how wide at most.
        activation: the convolutions' nonlinearity: auto (each model's own: ReLU;
            ReLU6 in DS-CNN's blocks), relu, relu6, gelu, swish, tanh, sigmoid,
            leaky_relu or elu.
        norm: the normalization after each convolution: auto (batch), batch, layer or
            none.
        backbone, weights, head_epochs, fine_tune_layers, fine_tune_rate: a pretrained
            audio network (`yamnet`: 16 kHz, its own log-mel front end; the frame and
            mel settings above do not apply to it) and how it is fine-tuned
            (`kerasdl.backbones.config.BackboneConfig`; `weights` imagenet means the
            published file).
    """

    model: str = "cnn"
    epochs: int = 40
    batch_size: int = 16
    optimizer: str = "adamw"
    learning_rate: float = 3e-3
    weight_decay: float = 1e-4
    schedule: str = "one-cycle"
    dropout: float = 0.2
    augment: bool = True
    sample_rate: int | None = None
    clip_seconds: float = 1.0
    features: str = "log-mel"
    frame_ms: float = 32.0
    step_ms: float = 16.0
    mel_bins: int = 40
    mfcc: int = 13
    width: int = 32
    depth: int = 4
    units: int = 64
    augment_shift_ms: float = 100.0
    noise_snr_db: float = 10.0
    noise_probability: float = 0.8
    time_masks: int = 2
    time_mask_frames: int = 8
    freq_masks: int = 2
    freq_mask_bins: int = 5
    activation: str = "auto"
    norm: str = "auto"

    model_style: ClassVar[dict[str, tuple[str, str]]] = MODEL_STYLE
    presets: ClassVar[dict[str, dict[str, Any]]] = {
        # Seconds on any machine: the tests and CI use it.
        "tiny": {"epochs": 2, "batch_size": 16, "width": 8, "depth": 1, "units": 8,
                 "mel_bins": 16, "dropout": 0.0, "augment": False},
        # The benchmark recipe for the Free Spoken Digit Dataset (bench/speech.py).
        "fsdd": {"model": "ds-cnn", "sample_rate": 8000, "clip_seconds": 1.0, "epochs": 30,
                 "batch_size": 64, "width": 64, "depth": 4},
    }

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("mel_bins", "mfcc", "width", "depth", "units"):
            _check_positive_int(self, name)
        for name in ("time_masks", "time_mask_frames", "freq_masks", "freq_mask_bins"):
            _check_non_negative_int(self, name)
        if self.sample_rate is not None:
            _check_positive_int(self, "sample_rate")
            if self.sample_rate < 4000:
                raise ConfigError(
                    f"`sample_rate` must be at least 4000 Hz for speech. "
                    f"Received: sample_rate={self.sample_rate}"
                )
        _check_range(self, "clip_seconds", 0.1, 10.0)
        _check_choice(self, "features", FEATURES)
        self.check_style()
        _check_range(self, "frame_ms", 5.0, 200.0)
        _check_range(self, "step_ms", 1.0, 200.0)
        if self.step_ms > self.frame_ms:
            raise ConfigError(
                f"`step_ms` must not exceed `frame_ms` (frames would skip audio). "
                f"Received: step_ms={self.step_ms}, frame_ms={self.frame_ms}"
            )
        if self.features == "mfcc" and self.mfcc > self.mel_bins:
            raise ConfigError(
                f"`mfcc` must not exceed `mel_bins`. Received: mfcc={self.mfcc}, mel_bins={self.mel_bins}"
            )
        _check_range(self, "augment_shift_ms", 0.0, 1000.0)
        _check_range(self, "noise_snr_db", -20.0, 60.0)
        _check_range(self, "noise_probability", 0.0, 1.0)
        self.check_backbone()
        from kerasdl.backbones.audio import DEFAULT_AUDIO_BACKBONE, audio_backbone

        self.choose_pretrained_model(default_model="cnn", default_backbone=DEFAULT_AUDIO_BACKBONE,
                                     known=audio_backbone, pretrained=PRETRAINED)
        if self.model == PRETRAINED and self.sample_rate not in (None, audio_backbone(self.backbone).sample_rate):
            spec = audio_backbone(self.backbone)
            raise ConfigError(f"{spec.name} listens at {spec.sample_rate} Hz: leave `sample_rate` unset (clips "
                              f"are resampled to it as they are read). Received: sample_rate={self.sample_rate}")
