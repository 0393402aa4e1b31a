"""The gallery app's hyperparameters: the image classifier's, and the model's width."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from kerasdl.config import _check_positive_int
from kerasdl.tasks.image_classifier import ImageClassifierConfig


@dataclass
class GalleryConfig(ImageClassifierConfig):
    """Image classification with one small convolutional net.

    Attributes:
        model: tinynet.
        width: filters of the first convolution (the second has twice as many).
    """

    model: str = "tinynet"
    epochs: int = 10
    batch_size: int = 32
    learning_rate: float = 3e-3
    width: int = 16

    presets: ClassVar[dict[str, dict[str, Any]]] = {
        # Seconds on any machine: the tests use it.
        "tiny": {"epochs": 2, "width": 4},
    }

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_positive_int(self, "width")
