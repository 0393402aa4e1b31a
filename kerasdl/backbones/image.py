"""Pretrained image backbones: a registry of name -> builder, input size and weights file.

Each backbone is a Keras Applications network without its ImageNet classifier. It takes
float RGB pixels in [0, 255] at its input size and does its own scaling inside (MobileNetV3
and EfficientNetV2 map them to [-1, 1]; EfficientNet subtracts ImageNet's mean and divides
by its standard deviation), so a model built on it keeps every step from a uint8 photo to
features inside the network: training, the SavedModel, every TFLite file and the devices
need nothing else. Adding a backbone is one entry of `IMAGE_BACKBONES`.

Example:
>>> from kerasdl.backbones.image import IMAGE_BACKBONES, image_backbone
>>> image_backbone("mobilenet_v3_small").input_size
224
>>> sorted(IMAGE_BACKBONES)[:2]
['efficientnet_b0', 'efficientnet_v2_b0']
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Callable

from kerasdl.backbones.weights import (
    NO_WEIGHTS,
    PUBLISHED,
    ResolvedWeights,
    WeightsFile,
    cached_file,
    file_digest,
    resolve_weights,
)
from kerasdl.errors import ConfigError

logger = logging.getLogger(__name__)

# The nested model's name inside a task model: fine-tuning and transfer find it by it.
BACKBONE_LAYER = "backbone"
MIN_INPUT_SIZE = 32

_KERAS_APPS = "https://storage.googleapis.com/tensorflow/keras-applications/"
_IMAGENET_STDDEV_RGB = (0.229, 0.224, 0.225)


def _efficientnet_published_variance(model: Any) -> None:
    """Keras builds EfficientNet with one more layer when it loads its own ImageNet file:
    the published weights divide by the variance where the Normalization layer divides by
    the standard deviation (tensorflow/tensorflow#49930). Folding that division into the
    layer's variance gives the same outputs without the extra layer."""
    import numpy as np

    for layer in model.layers:
        if type(layer).__name__ == "Normalization":
            mean, variance, count = layer.get_weights()
            layer.set_weights([mean, variance * np.asarray(_IMAGENET_STDDEV_RGB, variance.dtype).reshape(
                variance.shape), count])
            return


@dataclass(frozen=True)
class ImageBackbone:
    """One pretrained image backbone.

    Attributes:
        name: its kerasdl name (`--backbone NAME`).
        application: the Keras Applications builder's name (in `keras.applications` and
            `tf_keras.applications`, so the tfmot twin is built by the same code).
        input_size: the square resolution it was pretrained at.
        weights: its published ImageNet file (without the classifier).
        description: a line for learners: what it is and its published ImageNet top-1.
        options: keyword arguments of the builder.
        published_quirk: what loading the published file needs beyond `load_weights`.
    """

    name: str
    application: str
    input_size: int
    weights: WeightsFile
    description: str
    options: dict[str, Any] = field(default_factory=dict)
    published_quirk: Callable[[Any], None] | None = None

    def build(self, size: int | None = None, *, keras_module: ModuleType | None = None) -> Any:
        """The backbone with random weights, taking float RGB [0, 255] at `size`
        (its own input size when None), named `BACKBONE_LAYER`."""
        from kerasdl.layers.blocks import keras_or

        k = keras_or(keras_module)
        side = size or self.input_size
        model = getattr(k.applications, self.application)(
            input_shape=(side, side, 3), include_top=False, weights=None, **self.options)
        try:
            model.name = BACKBONE_LAYER
        except AttributeError:  # tf_keras keeps the name read-only
            model._name = BACKBONE_LAYER
        return model

    def resolve(self, weights: str) -> ResolvedWeights:
        """Where a new model's backbone weights come from (`resolve_weights`)."""
        return resolve_weights(self.weights, weights, what=f"the {self.name} backbone")

    def has_weights_here(self, weights: str) -> bool:
        """Whether `weights` can be had without a download (for `--model auto`)."""
        choice = weights.strip().lower()
        return choice != NO_WEIGHTS and (choice != PUBLISHED or cached_file(self.weights) is not None)

    def load(self, model: Any, weights: ResolvedWeights) -> None:
        """Loads `weights` (the published file or the user's) into a built backbone.

        Raises:
            ConfigError: when the file does not fit this backbone.
        """
        if weights.path is None:
            return
        try:
            load_weights_file(model, weights.path)
        except Exception as e:  # h5py, shape and layer-count errors of Keras
            raise ConfigError(f"`weights`: {weights.path} does not fit the {self.name} backbone "
                              f"({str(e).splitlines()[0][:200]}).") from None
        if self.published_quirk is not None and is_published(self.weights, weights.path):
            self.published_quirk(model)


# Batch normalization's moving-average momentum for a backbone trained from random
# weights (PyTorch's default; Keras' is 0.99).
SHORT_TRAINING_MOMENTUM = 0.9


def short_training_momentum(model: Any) -> None:
    """Sets every batch normalization layer's momentum to `SHORT_TRAINING_MOMENTUM`. The
    published networks use 0.999, which suits ImageNet's million steps. Trained from
    random weights for a few hundred steps, the moving statistics keep the huge values
    of the first steps and the network answers one class at evaluation: measured here,
    MobileNetV3-Small on 1,000 CIFAR-10 images for 192 steps at 0.99 reached 60 %
    training accuracy and exactly 20 % (chance) on validation."""
    for layer in model.layers:
        if type(layer).__name__ == "BatchNormalization":
            layer.momentum = SHORT_TRAINING_MOMENTUM


def is_published(spec: WeightsFile, path: Path) -> bool:
    """Whether `path` is the published file itself (by its hash)."""
    return file_digest(path, spec.hash_algorithm) == spec.file_hash.lower()


def load_weights_file(model: Any, path: Path) -> None:
    """`model.load_weights` for a file in either HDF5 layout, whatever its name ends in:
    Keras Applications' files (`.h5`, the legacy layout) and what `save_weights` writes
    today (`.weights.h5`). Keras picks the reader by the file name's ending, so a file is
    given the ending its layout needs through a link."""
    import h5py

    with h5py.File(path, "r") as f:
        legacy = "layer_names" in f.attrs
    name = path.name.lower()
    fits = (name.endswith((".h5", ".hdf5")) and not name.endswith(".weights.h5")) if legacy \
        else name.endswith(".weights.h5")
    if fits:
        model.load_weights(str(path))
        return
    suffix = ".h5" if legacy else ".weights.h5"
    with tempfile.TemporaryDirectory() as folder:
        link = Path(folder) / f"weights{suffix}"
        link.symlink_to(path.resolve())
        model.load_weights(str(link))


IMAGE_BACKBONES: dict[str, ImageBackbone] = {
    spec.name: spec for spec in (
        ImageBackbone(
            "mobilenet_v3_small", "MobileNetV3Small", 224,
            WeightsFile("mobilenet_v3_small", "weights_mobilenet_v3_small_224_1.0_float_no_top_v2.h5",
                        _KERAS_APPS + "mobilenet_v3/weights_mobilenet_v3_small_224_1.0_float_no_top_v2.h5",
                        "d3e8ec802a04aa4fc771ee12a9a9b836"),
            "MobileNetV3-Small (Howard et al. 2019): 0.9 M parameters, about 60 M multiply-adds at 224; "
            "ImageNet top-1 about 68 %. The default: the fastest on a phone or a CPU.",
            {"include_preprocessing": True},
        ),
        ImageBackbone(
            "mobilenet_v3_large", "MobileNetV3Large", 224,
            WeightsFile("mobilenet_v3_large", "weights_mobilenet_v3_large_224_1.0_float_no_top_v2.h5",
                        _KERAS_APPS + "mobilenet_v3/weights_mobilenet_v3_large_224_1.0_float_no_top_v2.h5",
                        "07fb09a5933dd0c8eaafa16978110389"),
            "MobileNetV3-Large: 3.0 M parameters, about 220 M multiply-adds at 224; ImageNet top-1 about 75 %.",
            {"include_preprocessing": True},
        ),
        ImageBackbone(
            "efficientnet_b0", "EfficientNetB0", 224,
            WeightsFile("efficientnet_b0", "efficientnetb0_notop.h5",
                        "https://storage.googleapis.com/keras-applications/efficientnetb0_notop.h5",
                        "50bc09e76180e00e4465e1a485ddc09d"),
            "EfficientNet-B0 (Tan and Le 2019): 4.0 M parameters, about 390 M multiply-adds at 224; "
            "ImageNet top-1 about 77 %.",
            published_quirk=_efficientnet_published_variance,
        ),
        ImageBackbone(
            "efficientnet_v2_b0", "EfficientNetV2B0", 224,
            WeightsFile("efficientnet_v2_b0", "efficientnetv2-b0_notop.h5",
                        _KERAS_APPS + "efficientnet_v2/efficientnetv2-b0_notop.h5",
                        "893217f2bb855e2983157299931e43ff"),
            "EfficientNetV2-B0 (Tan and Le 2021): 5.9 M parameters, about 720 M multiply-adds at 224; "
            "ImageNet top-1 about 78.7 %; trains faster than B0 on accelerators.",
            {"include_preprocessing": True},
        ),
    )
}
DEFAULT_IMAGE_BACKBONE = "mobilenet_v3_small"


def image_backbone(name: str) -> Any:
    """The registered backbone `name`, or the keras-hub preset it names (`hub:NAME` or
    a preset directory: a `kerasdl.backbones.hub.HubImageBackbone`).

    Raises:
        ConfigError: for an unknown name, listing the known ones.
    """
    from kerasdl.backbones.hub import HubImageBackbone, is_hub_backbone

    if name in IMAGE_BACKBONES:
        return IMAGE_BACKBONES[name]
    if is_hub_backbone(name):
        return HubImageBackbone(name)
    raise ConfigError(f"`backbone` must be one of {', '.join(IMAGE_BACKBONES)}, hub:PRESET (a keras-hub preset) "
                      f"or a keras-hub preset directory. Received: backbone={name!r}")
