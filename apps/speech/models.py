"""Speech model builders: a small CNN, DS-CNN and a CRNN over log-mel / MFCC features,
and the classic baseline (`log-mel-lr`).

Each builder takes the clip length, sample rate, class count and config, and returns an
uncompiled functional model whose input is int16 PCM audio.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any, Callable

import numpy as np

from kerasdl.backbones import BACKBONE_WEIGHTS
from kerasdl.errors import ConfigError
from kerasdl.layers.blocks import (
    activation_layer,
    classifier_head,
    conv_bn_act,
    depthwise_separable_block,
    keras_or,
    normalization,
)

from kerasdl.apps.speech.config import SpeechConfig
from kerasdl.apps.speech.preprocessing import feature_settings, features, waveform_input

MODELS: dict[str, str] = {
    "cnn": "Small CNN: 3x3 convolution and pooling stages over the spectrogram (the default).",
    "ds-cnn": "DS-CNN (Zhang et al. 2017, 'Hello Edge'): a strided convolution, then "
              "depthwise-separable blocks; the keyword-spotting reference for microcontrollers.",
    "crnn": "CRNN: convolutions over time and frequency, then a GRU over time.",
    "log-mel-lr": "The classic baseline: logistic regression on the log-mel bands' mean and standard deviation.",
    "pretrained": "A pretrained audio network (--backbone yamnet, AudioSet weights) on its own 16 kHz log-mel "
                  "front end, its embeddings pooled, dropout and a new dense head.",
}


def build_cnn(x: Any, config: SpeechConfig, k: ModuleType) -> Any:
    # Filters start at half the width and double per stage up to twice the width.
    filters = max(1, config.width // 2)
    style = {"activation": config.activation_for("cnn"), "norm": config.norm_for("cnn")}
    for stage in range(1, config.depth + 1):
        x = conv_bn_act(x, filters, name=f"block{stage}", keras_module=k, **style)
        if min(x.shape[1], x.shape[2]) >= 2:
            x = k.layers.MaxPooling2D(2, name=f"pool{stage}")(x)
        filters = min(filters * 2, config.width * 2)
    return k.layers.GlobalAveragePooling2D(name="pool")(x)


def build_ds_cnn(x: Any, config: SpeechConfig, k: ModuleType) -> Any:
    # Hello Edge's DS-CNN: a 10x4 (time x frequency) strided stem, then depthwise 3x3 +
    # pointwise 1x1 blocks at one width, and average pooling over the whole map. Its
    # input was 10 MFCCs; on 40 log-mel bands the first block also strides, so the
    # blocks' 3x3 filters see a word's length of context before the pooling.
    style = {"activation": config.activation_for("ds-cnn"), "norm": config.norm_for("ds-cnn")}
    x = k.layers.Conv2D(config.width, (10, 4), strides=2, padding="same", use_bias=style["norm"] == "none",
                        name="stem_conv")(x)
    x = normalization(x, style["norm"], name="stem", keras_module=k)
    x = activation_layer(x, "relu" if config.activation == "auto" else style["activation"], "stem", k)
    for block in range(1, config.depth + 1):
        strides = 2 if block == 1 and x.shape[2] > 10 else 1
        x = depthwise_separable_block(x, config.width, strides=strides, name=f"ds{block}",
                                      keras_module=k, **style)
    return k.layers.GlobalAveragePooling2D(name="pool")(x)


def build_crnn(x: Any, config: SpeechConfig, k: ModuleType) -> Any:
    # Convolutions pool frequency only, so the GRU still sees every (strided) frame.
    filters = config.width
    style = {"activation": config.activation_for("crnn"), "norm": config.norm_for("crnn")}
    for stage in range(1, config.depth + 1):
        strides = (2, 1) if stage == 1 else 1
        x = conv_bn_act(x, filters, strides=strides, name=f"block{stage}", keras_module=k, **style)
        if x.shape[2] >= 2:
            x = k.layers.MaxPooling2D((1, 2), name=f"pool{stage}")(x)
    x = k.layers.Reshape((x.shape[1], x.shape[2] * x.shape[3]), name="frames")(x)
    # Unrolled over its fixed number of frames: TFLite then runs it at any batch size
    # and converts it to full int8 (the looped GRU crashes the int8 converter).
    return k.layers.GRU(config.units, unroll=True, name="gru")(x)


def build_log_mel_lr(clip_samples: int, sample_rate: int, classes: int, config: SpeechConfig, k: ModuleType,
                     *, batch_size: int | None = None, statistics: dict[str, Any] | None = None) -> Any:
    """The classic baseline as a model: the log-mel bands' mean and standard deviation
    over time (`baselines.band_statistics`), standardized by the training split's,
    one dense layer, a softmax. Nothing in it trains: `statistics` ("mean",
    "variance", "kernel", "bias") is the closed fit's (`baselines.fit_log_mel_lr`);
    without it the scores are zero."""
    from kerasdl.apps.speech.baselines import VARIANCE_EPSILON, log_mel_statistics

    inputs = waveform_input(clip_samples, batch_size=batch_size, keras_module=k)
    x = log_mel_statistics(inputs, feature_settings(config, sample_rate), k)
    # Frozen, it is a fixed standardization: (x - mean) / sqrt(variance + epsilon).
    x = k.layers.BatchNormalization(center=False, scale=False, epsilon=VARIANCE_EPSILON, trainable=False,
                                    name="standardize")(x)
    logits = k.layers.Dense(classes, kernel_initializer="zeros", trainable=False, name="lr_logits")(x)
    outputs = k.layers.Activation("softmax", dtype="float32", name="probabilities")(logits)
    model = k.Model(inputs, outputs, name="log_mel_lr")
    if statistics is not None:
        model.get_layer("standardize").set_weights(
            [np.asarray(statistics[key], np.float32) for key in ("mean", "variance")])
        model.get_layer("lr_logits").set_weights(
            [np.asarray(statistics[key], np.float32) for key in ("kernel", "bias")])
    return model


def build_pretrained(clip_samples: int, sample_rate: int, classes: int, config: SpeechConfig, k: ModuleType, *,
                     batch_size: int | None = None, weights: Any = None) -> Any:
    """`config.backbone` with a new head: int16 PCM at the backbone's rate -> [-1, 1] ->
    its own log-mel front end -> the network (batch normalization in inference mode: its
    AudioSet statistics kept) -> its pooled embeddings -> dropout -> dense softmax.
    `weights` (a `ResolvedWeights`) is loaded into it; None leaves it random (a model
    rebuilt for export takes its trained weights afterwards)."""
    from kerasdl.backbones.audio import audio_backbone
    from kerasdl.data.audio import PCM_SCALE
    from kerasdl.layers.audio_features import log_mel_class

    spec = audio_backbone(config.backbone)
    if sample_rate != spec.sample_rate:
        raise ConfigError(f"{spec.name} listens at {spec.sample_rate} Hz; this data is read at {sample_rate} Hz.")
    inputs = waveform_input(clip_samples, batch_size=batch_size, keras_module=k)
    # Named as the other models' front end: it stays float32 in full-int8 files.
    x = k.layers.Rescaling(1.0 / PCM_SCALE, name="scale_pcm")(inputs)
    x = log_mel_class(k)(**spec.front_end, name="features")(x)
    x = k.layers.Reshape((x.shape[1], x.shape[2], 1), name="feature_map")(x)
    backbone = spec.build(x.shape[1], keras_module=k)
    if weights is not None:
        spec.load(backbone, weights, keras_module=k)
    x = backbone(x) if config.from_scratch else backbone(x, training=False)
    outputs = classifier_head(x, classes, dropout=config.dropout, keras_module=k)
    return k.Model(inputs, outputs, name="pretrained")


def build_speech_model(
    name: str, clip_samples: int, sample_rate: int, classes: int, config: SpeechConfig,
    *, batch_size: int | None = None, keras_module: ModuleType | None = None,
    statistics: dict[str, Any] | None = None,
) -> Any:
    """Builds model `name` taking int16 clips of `clip_samples` samples
    (`statistics`: the log-mel-lr model's fitted weights, or a pretrained model's
    "backbone_weights").

    Example:
    >>> from kerasdl.apps.speech.config import SpeechConfig
    >>> from kerasdl.apps.speech.models import build_speech_model
    >>> model = build_speech_model("ds-cnn", 8000, 8000, 10, SpeechConfig())
    >>> model.output_shape
    (None, 10)
    """
    k = keras_or(keras_module)
    if name == "pretrained":
        return build_pretrained(clip_samples, sample_rate, classes, config, k, batch_size=batch_size,
                                weights=(statistics or {}).get(BACKBONE_WEIGHTS))
    if name == "log-mel-lr":
        return build_log_mel_lr(clip_samples, sample_rate, classes, config, k, batch_size=batch_size,
                                statistics=statistics)
    inputs = waveform_input(clip_samples, batch_size=batch_size, keras_module=k)
    x = features(inputs, config, sample_rate, keras_module=k)
    bodies: dict[str, Callable[[], Any]] = {
        "cnn": lambda: build_cnn(x, config, k),
        "ds-cnn": lambda: build_ds_cnn(x, config, k),
        "crnn": lambda: build_crnn(x, config, k),
    }
    x = bodies[name]()
    outputs = classifier_head(x, classes, dropout=config.dropout, keras_module=k)
    return k.Model(inputs, outputs, name=name.replace("-", "_"))
