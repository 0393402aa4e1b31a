"""DCGAN's generator and discriminator (Radford et al. 2015), for 28, 32 or 64 pixels.

The paper's rules: no pooling (strided convolutions down, transposed convolutions up),
batch norm in both networks (not on the generator's output nor the discriminator's
input), ReLU in the generator with tanh at its output, LeakyReLU(0.2) in the
discriminator. Both networks speak pixels in [0, 255] (float), so the discriminator
reads real uint8 images as they come and the generator's output is an image a client
can save after rounding.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from kerasdl.layers.blocks import BN_MOMENTUM, keras_or

KERNEL = 4


def _stages(image_size: int) -> tuple[int, int]:
    """(starting size, upsampling stages): 28 = 7 x 2 x 2; 32 and 64 start at 4."""
    start = 7 if image_size == 28 else 4
    stages = 0
    while start << stages < image_size:
        stages += 1
    return start, stages


def build_generator(latent_dim: int, image_shape: tuple[int, int, int], width: int, *,
                    keras_module: ModuleType | None = None) -> Any:
    """Noise [batch, latent_dim] in, images [batch, h, w, c] out, pixels 0-255 (float).

    Example:
    >>> from kerasdl.apps.dcgan.models import build_generator
    >>> build_generator(16, (28, 28, 1), 8).output_shape
    (None, 28, 28, 1)
    """
    k = keras_or(keras_module)
    size, channels = image_shape[0], image_shape[2]
    start, stages = _stages(size)
    filters = width * 2 ** (stages - 1)
    noise = k.Input((latent_dim,), name="noise")
    x = k.layers.Dense(start * start * filters, use_bias=False, name="project")(noise)
    x = k.layers.BatchNormalization(momentum=BN_MOMENTUM, name="project_bn")(x)
    x = k.layers.ReLU(name="project_relu")(x)
    x = k.layers.Reshape((start, start, filters), name="to_map")(x)
    for stage in range(1, stages):
        filters //= 2
        x = k.layers.Conv2DTranspose(filters, KERNEL, strides=2, padding="same", use_bias=False,
                                     name=f"up{stage}")(x)
        x = k.layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"up{stage}_bn")(x)
        x = k.layers.ReLU(name=f"up{stage}_relu")(x)
    x = k.layers.Conv2DTranspose(channels, KERNEL, strides=2, padding="same", activation="tanh",
                                 name="to_image")(x)
    pixels = k.layers.Rescaling(127.5, offset=127.5, name="pixels")(x)
    return k.Model(noise, pixels, name="generator")


def build_discriminator(image_shape: tuple[int, int, int], width: int, *,
                        keras_module: ModuleType | None = None) -> Any:
    """Images (pixels 0-255) in, one logit per image out: real (> 0) or generated."""
    k = keras_or(keras_module)
    _, stages = _stages(image_shape[0])
    images = k.Input(tuple(image_shape), name="image")
    x = k.layers.Rescaling(1 / 127.5, offset=-1.0, name="scale")(images)
    filters = width
    for stage in range(1, stages + 1):
        x = k.layers.Conv2D(filters, KERNEL, strides=2, padding="same", use_bias=stage == 1,
                            name=f"down{stage}")(x)
        if stage > 1:
            x = k.layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"down{stage}_bn")(x)
        x = k.layers.LeakyReLU(0.2, name=f"down{stage}_lrelu")(x)
        filters *= 2
    x = k.layers.Flatten(name="flatten")(x)
    logit = k.layers.Dense(1, name="logit")(x)
    return k.Model(images, logit, name="discriminator")
