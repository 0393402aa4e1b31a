"""Pretrained audio backbones: YAMNet as the speech app's `--backbone yamnet`.

YAMNet (Plakal and Ellis, 2019; tensorflow/models research/audioset/yamnet) is a
MobileNetV1 trained on AudioSet's 2 million ten-second clips to tag 521 sound events. Its
front end turns a 16 kHz waveform into a log-mel map (25 ms Hann frames every 10 ms, a
512-point FFT, 64 mel bands from 125 to 7,500 Hz of the magnitude spectrum,
log(mel + 0.001)); its network is 14 convolution layers (a 3x3 stem, then 13
depthwise-separable blocks) ending in 1,024-dimensional embeddings, average-pooled over
the map. TFLite Model Maker's audio classifier was a small head on these embeddings.

kerasdl builds the same layers in Keras (either Keras: the tfmot twin works), so the
published weights file (`yamnet.h5`, a legacy HDF5 file of 55 weighted layers, loaded in
order) goes through kerasdl's one resolver: the Keras cache, a sha256-checked download,
`--weights FILE`, or none. The clip's whole log-mel map goes through the network at once
and its embeddings are pooled; YAMNet itself cuts longer audio into 0.96 s patches (96
frames) every 0.48 s, and a clip of up to one second is one patch.

Example:
>>> from kerasdl.backbones.audio import AUDIO_BACKBONES
>>> spec = AUDIO_BACKBONES["yamnet"]
>>> spec.sample_rate, spec.front_end["mel_bins"], spec.weights.hash_algorithm
(16000, 64, 'sha256')
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from kerasdl.backbones.weights import NO_WEIGHTS, PUBLISHED, ResolvedWeights, WeightsFile, resolve_weights
from kerasdl.errors import ConfigError

# (kind, stride, filters) of YAMNet's layers, in order (yamnet.py's _YAMNET_LAYER_DEFS).
YAMNET_LAYERS: tuple[tuple[str, int, int], ...] = (
    ("conv", 2, 32), ("separable", 1, 64), ("separable", 2, 128), ("separable", 1, 128),
    ("separable", 2, 256), ("separable", 1, 256), ("separable", 2, 512), ("separable", 1, 512),
    ("separable", 1, 512), ("separable", 1, 512), ("separable", 1, 512), ("separable", 1, 512),
    ("separable", 2, 1024), ("separable", 1, 1024),
)
YAMNET_CLASSES = 521
BN_EPSILON = 1e-4
EMBEDDING_LAYER = "embeddings"


@dataclass(frozen=True)
class AudioBackbone:
    """A pretrained audio network: its rate, its front end (`LogMelSpectrogram`'s
    arguments) and its published weights."""

    name: str
    sample_rate: int
    front_end: dict[str, Any]
    weights: WeightsFile
    description: str
    embedding_size: int = 1024
    extra: dict[str, Any] = field(default_factory=dict)

    def build(self, frames: int, *, keras_module: ModuleType | None = None) -> Any:
        """The network from a log-mel map [frames, bands, 1] to its pooled embeddings,
        named `backbone` (random weights; `load` gives it the file's)."""
        import keras

        k = keras_module or keras
        network = yamnet_layers(frames, self.front_end["mel_bins"], k)
        return k.Model(network.inputs, network.get_layer(EMBEDDING_LAYER).output, name="backbone")

    def resolve(self, weights: str) -> ResolvedWeights:
        """The weights a new model starts from: the published file (cache or download),
        a user's file, or none."""
        return resolve_weights(self.weights, weights, what=f"the {self.name} backbone")

    def has_weights_here(self, weights: str) -> bool:
        from kerasdl.backbones.weights import cached_file

        choice = weights.strip().lower()
        return choice != NO_WEIGHTS and (choice != PUBLISHED or cached_file(self.weights) is not None)

    def load(self, backbone: Any, weights: ResolvedWeights, *, keras_module: ModuleType | None = None) -> None:
        """Loads a YAMNet weights file (the published one's layout: every weighted layer
        in order, the 521-class logits last) into `backbone`.

        Raises:
            ConfigError: when the file does not fit.
        """
        if weights.path is None:
            return
        import keras

        from kerasdl.backbones.image import load_weights_file

        k = keras_module or keras
        frames = backbone.inputs[0].shape[1]
        full = yamnet_layers(frames, self.front_end["mel_bins"], k, logits=True)
        try:
            load_weights_file(full, weights.path)
        except Exception as e:
            raise ConfigError(f"`weights`: {weights.path} does not fit {self.name} "
                              f"({str(e).splitlines()[0][:200]}).") from None
        by_name = {layer.name: layer for layer in full.layers}
        for layer in backbone.layers:
            if layer.weights:
                layer.set_weights(by_name[layer.name].get_weights())


def yamnet_layers(frames: int, bands: int, k: ModuleType, *, logits: bool = False) -> Any:
    """YAMNet's network as one flat model (`logits`: with its 521-class layer, the
    layout of the published file)."""
    inputs = k.Input((frames, bands, 1), name="log_mel")
    x = inputs
    for index, (kind, stride, filters) in enumerate(YAMNET_LAYERS, start=1):
        name = f"layer{index}"
        if kind == "conv":
            x = k.layers.Conv2D(filters, 3, strides=stride, padding="same", use_bias=False, name=f"{name}_conv")(x)
            x = k.layers.BatchNormalization(scale=False, epsilon=BN_EPSILON, name=f"{name}_conv_bn")(x)
            x = k.layers.ReLU(name=f"{name}_conv_relu")(x)
            continue
        x = k.layers.DepthwiseConv2D(3, strides=stride, padding="same", use_bias=False,
                                     name=f"{name}_depthwise_conv")(x)
        x = k.layers.BatchNormalization(scale=False, epsilon=BN_EPSILON, name=f"{name}_depthwise_conv_bn")(x)
        x = k.layers.ReLU(name=f"{name}_depthwise_conv_relu")(x)
        x = k.layers.Conv2D(filters, 1, padding="same", use_bias=False, name=f"{name}_pointwise_conv")(x)
        x = k.layers.BatchNormalization(scale=False, epsilon=BN_EPSILON, name=f"{name}_pointwise_conv_bn")(x)
        x = k.layers.ReLU(name=f"{name}_pointwise_conv_relu")(x)
    x = k.layers.GlobalAveragePooling2D(name=EMBEDDING_LAYER)(x)
    if logits:
        x = k.layers.Dense(YAMNET_CLASSES, name="logits")(x)
    return k.Model(inputs, x, name="yamnet")


AUDIO_BACKBONES: dict[str, AudioBackbone] = {
    "yamnet": AudioBackbone(
        "yamnet", 16000,
        {"sample_rate": 16000, "frame_length": 400, "frame_step": 160, "mel_bins": 64, "lower_hz": 125.0,
         "upper_hz": 7500.0, "magnitude": True, "log_offset": 0.001},
        # The published file and its sha256 (15,296,092 bytes), as checked by the projects that
        # pin it; Google publishes no hash for it.
        WeightsFile("yamnet", "yamnet.h5", "https://storage.googleapis.com/audioset/yamnet.h5",
                    "13c3308955bbfaef262f175ac9c40e47b134573a93984f009220dd7cc12a1744"),
        "YAMNet (Plakal and Ellis 2019): MobileNetV1 on log-mel, 3.2 M parameters in its body, trained on "
        "AudioSet (2 M clips, 521 sound events); 16 kHz.",
    ),
}
DEFAULT_AUDIO_BACKBONE = "yamnet"


def audio_backbone(name: str) -> AudioBackbone:
    """The audio backbone `name`.

    Raises:
        ConfigError: for a name not in `AUDIO_BACKBONES`.
    """
    if name not in AUDIO_BACKBONES:
        raise ConfigError(f"`backbone` {name!r} is not an audio backbone; known: {', '.join(AUDIO_BACKBONES)}.")
    return AUDIO_BACKBONES[name]
