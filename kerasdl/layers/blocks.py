"""Functional building blocks for convolutional nets.

Each block takes a tensor and returns a tensor, so builders read top to bottom. Every
block takes `keras_module`, the Keras to build with: Keras 3 by default, or `tf_keras`
when the optimizer needs a tf_keras twin of the same model (tfmot accepts only those).
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

# Keras' default (0.99) averages the batch statistics over ~100 steps; on the small data
# sets learners start with, that lags the weights by epochs and validation accuracy
# collapses while training accuracy climbs. 0.9 follows the weights within ~10 steps.
BN_MOMENTUM = 0.9
# The activations a learner can compare (all TFLite builtins) and the normalizations.
ACTIVATIONS = ("relu", "relu6", "gelu", "swish", "tanh", "sigmoid", "leaky_relu", "elu")
NORMS = ("batch", "layer", "none")


def keras_or(keras_module: ModuleType | None) -> ModuleType:
    if keras_module is not None:
        return keras_module
    import keras

    return keras


def normalization(x: Any, norm: str, *, name: str, keras_module: ModuleType | None = None) -> Any:
    """`norm` over the last (channel or feature) axis: batch (statistics of the batch
    per channel, running averages at inference), layer (statistics of each example
    across its channels), or none."""
    k = keras_or(keras_module)
    if norm == "batch":
        return k.layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"{name}_bn")(x)
    if norm == "layer":
        return k.layers.LayerNormalization(name=f"{name}_ln")(x)
    return x


def conv_bn_act(
    x: Any,
    filters: int,
    *,
    kernel_size: int = 3,
    strides: int = 1,
    activation: str = "relu",
    norm: str = "batch",
    name: str,
    keras_module: ModuleType | None = None,
) -> Any:
    """Convolution, normalization (batch by default), activation: the convolution's
    bias is dropped when a normalization adds one.

    Example:
    >>> import keras
    >>> from kerasdl.layers.blocks import conv_bn_act
    >>> x = keras.Input((28, 28, 1))
    >>> tuple(conv_bn_act(x, 8, name="stem").shape)
    (None, 28, 28, 8)
    """
    k = keras_or(keras_module)
    x = k.layers.Conv2D(
        filters, kernel_size, strides=strides, padding="same", use_bias=norm == "none",
        name=f"{name}_conv",
    )(x)
    x = normalization(x, norm, name=name, keras_module=k)
    return k.layers.Activation(activation, name=f"{name}_{activation}")(x)


def residual_block(
    x: Any,
    filters: int,
    *,
    strides: int = 1,
    activation: str = "relu",
    norm: str = "batch",
    name: str,
    keras_module: ModuleType | None = None,
) -> Any:
    """A basic ResNet block (He et al. 2016): two 3x3 convolutions plus a shortcut.

    The shortcut is a 1x1 convolution when the shape changes, else the identity, so
    the block learns a residual and gradients flow through the addition unchanged.
    """
    k = keras_or(keras_module)
    shortcut = x
    y = conv_bn_act(x, filters, strides=strides, activation=activation, norm=norm, name=f"{name}_a",
                    keras_module=k)
    y = k.layers.Conv2D(filters, 3, padding="same", use_bias=norm == "none", name=f"{name}_b_conv")(y)
    y = normalization(y, norm, name=f"{name}_b", keras_module=k)
    if strides != 1 or x.shape[-1] != filters:
        shortcut = k.layers.Conv2D(
            filters, 1, strides=strides, use_bias=norm == "none", name=f"{name}_proj_conv"
        )(x)
        shortcut = normalization(shortcut, norm, name=f"{name}_proj", keras_module=k)
    y = k.layers.Add(name=f"{name}_add")([y, shortcut])
    return k.layers.Activation(activation, name=f"{name}_out")(y)


def depthwise_separable_block(
    x: Any,
    filters: int,
    *,
    strides: int = 1,
    activation: str = "relu6",
    norm: str = "batch",
    name: str,
    keras_module: ModuleType | None = None,
) -> Any:
    """MobileNet's block (Howard et al. 2017): a 3x3 depthwise convolution filters
    each channel alone, then a 1x1 pointwise convolution mixes channels. It costs
    about 1/8 to 1/9 of the multiply-adds of a full 3x3 convolution.
    """
    k = keras_or(keras_module)
    x = k.layers.DepthwiseConv2D(
        3, strides=strides, padding="same", use_bias=norm == "none", name=f"{name}_dw"
    )(x)
    x = normalization(x, norm, name=f"{name}_dw", keras_module=k)
    x = activation_layer(x, activation, f"{name}_dw", k)
    x = k.layers.Conv2D(filters, 1, use_bias=norm == "none", name=f"{name}_pw")(x)
    x = normalization(x, norm, name=f"{name}_pw", keras_module=k)
    return activation_layer(x, activation, f"{name}_pw", k)


def activation_layer(x: Any, activation: str, name: str, k: ModuleType) -> Any:
    """`activation` as a layer named after `name` and the activation."""
    # ReLU6 as its own layer: the name MobileNet's checkpoints and quantizers expect.
    if activation == "relu6":
        return k.layers.ReLU(max_value=6.0, name=f"{name}_relu6")(x)
    return k.layers.Activation(activation, name=f"{name}_{activation}")(x)


def classifier_head(
    x: Any,
    num_classes: int,
    *,
    dropout: float = 0.0,
    hidden_units: int = 0,
    name: str = "head",
    keras_module: ModuleType | None = None,
) -> Any:
    """Optional hidden layer, dropout, then a float32 softmax.

    The softmax is float32 even under mixed precision: float16 probabilities
    underflow and the loss turns into NaN.
    """
    k = keras_or(keras_module)
    if hidden_units:
        x = k.layers.Dense(hidden_units, activation="relu", name=f"{name}_hidden")(x)
    if dropout:
        x = k.layers.Dropout(dropout, name=f"{name}_dropout")(x)
    x = k.layers.Dense(num_classes, name=f"{name}_logits")(x)
    return k.layers.Activation("softmax", dtype="float32", name="probabilities")(x)
