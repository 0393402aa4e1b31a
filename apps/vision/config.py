"""The vision app's hyperparameters."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from kerasdl.backbones.config import BackboneConfig
from kerasdl.config import LayerStyle, _check_positive_int
from kerasdl.tasks.image_classifier import ImageClassifierConfig
from kerasdl.errors import ConfigError

# What each model uses when `activation` / `norm` are "auto": the designs as published
# (LeNet and the MLP had no normalization; MobileNet uses ReLU6).
MODEL_STYLE: dict[str, tuple[str, str]] = {
    "mlp": ("relu", "none"), "lenet": ("relu", "none"), "cnn": ("relu", "batch"),
    "resnet": ("relu", "batch"), "mobilenet": ("relu6", "batch"),
    # AlexNet's local response normalization is replaced by batch norm, as modern
    # re-implementations do; VGG and DenseNet as published (batch norm: VGG's BN variant);
    # fastcnn as airbench (GELU).
    "alexnet": ("relu", "batch"), "vgg": ("relu", "batch"), "densenet": ("relu", "batch"),
    "fastcnn": ("gelu", "batch"),
}


# The model a pretrained backbone makes: backbone, pooling, dropout, a dense head.
PRETRAINED = "pretrained"


@dataclass
class VisionConfig(ImageClassifierConfig, LayerStyle, BackboneConfig):
    """Image classification.

    Attributes:
        model: mlp, lenet, cnn, resnet, mobilenet, alexnet, vgg, densenet, fastcnn, pixels
            (the classic baseline: ridge on the pixels, fitted in closed form), or pretrained (`backbone` with
            a new head; what `--backbone` alone trains).
        image_size, channels: as `ImageClassifierConfig`.
        width: filters of the first convolution (units of the first MLP layer / 8);
            later stages double it.
        augment_flip: with `augment`, also mirror images left-right (right for
            clothing or photos, wrong for digits and text).
        augment_shift: with `augment`, the largest random shift, as a fraction of
            the image size.
        augment_zoom: with `augment`, the largest random zoom in or out, as a fraction
            of the image size (0: none; photos of objects at varying distances gain
            from it, the `photos` preset uses 0.15).
        activation: the hidden layers' nonlinearity: auto (each model's own: ReLU,
            ReLU6 for mobilenet), relu, relu6, gelu, swish, tanh, sigmoid, leaky_relu
            or elu.
        norm: the normalization after each convolution or hidden dense layer: auto
            (batch for cnn, resnet, mobilenet, alexnet, vgg, densenet, fastcnn; none for
            mlp and lenet), batch, layer or none.
        backbone, weights, backbone_size, head_epochs, fine_tune_layers,
            fine_tune_rate: a pretrained backbone and how it is fine-tuned
            (`kerasdl.backbones.config.BackboneConfig`).
    """

    model: str = "cnn"
    epochs: int = 12
    batch_size: int = 64
    learning_rate: float = 2e-3
    schedule: str = "cosine"
    dropout: float = 0.2
    width: int = 32
    augment_flip: bool = True
    augment_shift: float = 0.1
    augment_zoom: float = 0.0
    activation: str = "auto"
    norm: str = "auto"

    model_style: ClassVar[dict[str, tuple[str, str]]] = MODEL_STYLE
    presets: ClassVar[dict[str, dict[str, Any]]] = {
        # Seconds on any machine: the tests and CI use it.
        "tiny": {"epochs": 2, "batch_size": 32, "width": 8, "dropout": 0.0},
        # The benchmark recipe for Fashion-MNIST (bench/vision.py): see the README.
        "fashion-mnist": {
            "model": "cnn", "epochs": 22, "batch_size": 128, "width": 32,
            "optimizer": "adamw", "learning_rate": 3e-3, "weight_decay": 5e-4,
            "schedule": "one-cycle", "dropout": 0.25, "label_smoothing": 0.1,
            "augment": True, "augment_flip": True, "augment_shift": 0.05,
        },
        # Colour images at CIFAR scale (about 32x32, tens of thousands): the airbench-style
        # fastcnn with a short one-cycle Nesterov schedule, strong label smoothing and no
        # dropout (the published fast-CIFAR settings, not tuned here); bench/vision.py
        # --dataset cifar10 measures it.
        "cifar": {
            "model": "fastcnn", "epochs": 10, "batch_size": 256, "width": 32,
            "optimizer": "nesterov", "learning_rate": 0.2, "weight_decay": 5e-4,
            "schedule": "one-cycle", "dropout": 0.0, "label_smoothing": 0.2,
            "augment": True, "augment_flip": True, "augment_shift": 0.0625,
        },
        # Your own photos (see the README): a pretrained MobileNetV3-Small fine-tuned with
        # the augmentation photos suit (mirror, shift, zoom) and label smoothing.
        "photos": {
            "backbone": "mobilenet_v3_small", "epochs": 10, "batch_size": 32, "learning_rate": 1e-3,
            "label_smoothing": 0.1, "augment": True, "augment_flip": True, "augment_shift": 0.1,
            "augment_zoom": 0.15,
        },
    }

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_positive_int(self, "width")
        self.check_style()
        self.check_backbone()
        from kerasdl.backbones.image import DEFAULT_IMAGE_BACKBONE, image_backbone

        self.choose_pretrained_model(default_model="cnn", default_backbone=DEFAULT_IMAGE_BACKBONE,
                                     known=image_backbone, pretrained=PRETRAINED)
        if not 0.0 <= self.augment_zoom < 0.5:
            raise ConfigError(f"`augment_zoom` must be in [0, 0.5). Received: augment_zoom={self.augment_zoom!r}")
        if not 0.0 <= self.augment_shift < 0.5:
            raise ConfigError(
                f"`augment_shift` must be in [0, 0.5). Received: augment_shift={self.augment_shift!r}"
            )
