"""The vision app's one preprocessing definition.

The model takes what a client has, a uint8 image [H, W, C]; scaling to [0, 1] is the
model's first layer, so training, the SavedModel and every TFLite file share it.
Decoding and resizing a file is `kerasdl.data.images.decode_image`, used by the data
pipeline and `predict` alike.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from kerasdl.layers.blocks import keras_or

INPUT_NAME = "image"
SCALE = 1.0 / 255.0


def image_input(image_shape: tuple[int, int, int], *, keras_module: ModuleType | None = None) -> Any:
    k = keras_or(keras_module)
    return k.Input(shape=tuple(image_shape), dtype="uint8", name=INPUT_NAME)


def scale_pixels(image: Any, *, keras_module: ModuleType | None = None) -> Any:
    """uint8 pixels to float32 in [0, 1]."""
    k = keras_or(keras_module)
    return k.layers.Rescaling(SCALE, name="scale_pixels")(image)
