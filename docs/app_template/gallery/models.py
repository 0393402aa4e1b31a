"""The gallery app's one model: two convolutions, global pooling, a softmax head."""

from __future__ import annotations

from types import ModuleType
from typing import Any

from kerasdl.layers.blocks import keras_or
from kerasdl.tasks.image_classifier import image_input, scale_pixels

MODELS: dict[str, str] = {"tinynet": "Two 3x3 convolutions with pooling, global average pooling, softmax."}


def build_tinynet(image_shape: tuple[int, int, int], num_classes: int, width: int, *,
                  keras_module: ModuleType | None = None) -> Any:
    """A uint8 image in, class probabilities out (`keras_module`: Keras 3, or tf_keras
    for the twin that pruning and quantization-aware training use).

    Example:
    >>> model = build_tinynet((16, 16, 3), 3, 4)
    >>> tuple(model.output.shape)
    (None, 3)
    """
    k = keras_or(keras_module)
    inputs = image_input(image_shape, keras_module=keras_module)
    x = scale_pixels(inputs, keras_module=keras_module)
    for i, filters in enumerate((width, 2 * width)):
        x = k.layers.Conv2D(filters, 3, padding="same", activation="relu", name=f"conv{i + 1}")(x)
        x = k.layers.MaxPooling2D(name=f"pool{i + 1}")(x)
    x = k.layers.GlobalAveragePooling2D(name="pool")(x)
    outputs = k.layers.Dense(num_classes, activation="softmax", name="probabilities")(x)
    return k.Model(inputs, outputs, name="tinynet")
