"""Vision model builders, from kerasdl's shared blocks.

Each builder takes the image shape, the class count and the config, and returns an
uncompiled functional model whose input is a uint8 image.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any, Callable

import numpy as np

from kerasdl.layers.blocks import (
    classifier_head,
    conv_bn_act,
    depthwise_separable_block,
    keras_or,
    normalization,
    residual_block,
)

from kerasdl.apps.vision.config import VisionConfig
from kerasdl.tasks.image_classifier import backbone_pixels, image_input, scale_pixels

MODELS: dict[str, str] = {
    "mlp": "Multi-layer perceptron on the flattened pixels (no convolutions).",
    "lenet": "LeNet-5-style CNN: two 5x5 convolutions with pooling, three dense layers.",
    "cnn": "CNN: 3x3 convolution, batch norm and pooling stages, then a dense layer (the default).",
    "resnet": "Small ResNet: residual blocks with identity and projection shortcuts.",
    "mobilenet": "MobileNet-style net of depthwise-separable convolutions, for phones.",
    "alexnet": "AlexNet-style net at small scale: five convolutions (5x5 first), three max-poolings, two wide dense layers with dropout.",
    "vgg": "VGG-style net: stages of two 3x3 convolutions and a max-pooling, doubling the filters.",
    "densenet": "DenseNet-BC-style net: each layer's features concatenated to all before it, 1x1 bottlenecks, compressing transitions.",
    "fastcnn": "A CNN sized for a CPU's budget (airbench-style): a 2x2 patch stem, three blocks of two 3x3 convolutions with max-pooling, global max-pooling.",
    "pixels": "The classic baseline: a linear classifier on raw pixels (ridge on one-hot labels, softmax).",
    "pretrained": "A pretrained backbone (--backbone, ImageNet weights) with pooling, dropout and a new dense head.",
}


def _stem_strides(image_shape: tuple[int, int, int]) -> int:
    # Large inputs are downsampled early: the later stages then cost the same as on
    # small images.
    return 2 if min(image_shape[:2]) >= 64 else 1


def _dense(x: Any, units: int, config: VisionConfig, model: str, name: str, k: ModuleType) -> Any:
    """Dense, `model`'s normalization (none by default for mlp and lenet), its
    activation."""
    norm, activation = config.norm_for(model), config.activation_for(model)
    x = k.layers.Dense(units, use_bias=norm == "none", name=name)(x)
    x = normalization(x, norm, name=name, keras_module=k)
    return k.layers.Activation(activation, name=f"{name}_{activation}")(x)


def build_mlp(shape: tuple[int, int, int], classes: int, config: VisionConfig, k: ModuleType) -> Any:
    inputs = image_input(shape, keras_module=k)
    x = k.layers.Flatten(name="flatten")(scale_pixels(inputs, keras_module=k))
    x = _dense(x, config.width * 8, config, "mlp", "dense_1", k)
    x = k.layers.Dropout(config.dropout, name="dropout_1")(x) if config.dropout else x
    x = _dense(x, config.width * 4, config, "mlp", "dense_2", k)
    outputs = classifier_head(x, classes, dropout=config.dropout, keras_module=k)
    return k.Model(inputs, outputs, name="mlp")


def build_lenet(shape: tuple[int, int, int], classes: int, config: VisionConfig, k: ModuleType) -> Any:
    inputs = image_input(shape, keras_module=k)
    x = scale_pixels(inputs, keras_module=k)
    norm, activation = config.norm_for("lenet"), config.activation_for("lenet")
    for i, (filters, padding) in enumerate(((6, "same"), (16, "valid")), start=1):
        x = k.layers.Conv2D(filters, 5, padding=padding, use_bias=norm == "none", name=f"conv_{i}")(x)
        x = normalization(x, norm, name=f"conv_{i}", keras_module=k)
        x = k.layers.Activation(activation, name=f"conv_{i}_{activation}")(x)
        x = k.layers.AveragePooling2D(2, name=f"pool_{i}")(x)
    x = k.layers.Flatten(name="flatten")(x)
    x = _dense(x, 120, config, "lenet", "dense_1", k)
    x = _dense(x, 84, config, "lenet", "dense_2", k)
    outputs = classifier_head(x, classes, dropout=config.dropout, keras_module=k)
    return k.Model(inputs, outputs, name="lenet")


def build_cnn(shape: tuple[int, int, int], classes: int, config: VisionConfig, k: ModuleType) -> Any:
    # One convolution and a 2x2 pooling per stage, doubling the filters, until the
    # feature map is at most 8 pixels high; then a dense layer over all positions.
    inputs = image_input(shape, keras_module=k)
    x = scale_pixels(inputs, keras_module=k)
    size, filters, stage = min(shape[:2]), config.width, 1
    while True:
        x = conv_bn_act(x, filters, activation=config.activation_for("cnn"), norm=config.norm_for("cnn"),
                        name=f"block{stage}", keras_module=k)
        x = k.layers.MaxPooling2D(2, name=f"pool{stage}")(x)
        size //= 2
        if size <= 8 or stage == 5:
            break
        filters, stage = min(filters * 2, config.width * 8), stage + 1
    x = k.layers.Flatten(name="flatten")(x)
    outputs = classifier_head(
        x, classes, dropout=config.dropout, hidden_units=config.width * 8, keras_module=k
    )
    return k.Model(inputs, outputs, name="cnn")


def build_resnet(shape: tuple[int, int, int], classes: int, config: VisionConfig, k: ModuleType) -> Any:
    w = config.width
    inputs = image_input(shape, keras_module=k)
    x = scale_pixels(inputs, keras_module=k)
    style = {"activation": config.activation_for("resnet"), "norm": config.norm_for("resnet")}
    x = conv_bn_act(x, w, strides=_stem_strides(shape), name="stem", keras_module=k, **style)
    x = residual_block(x, w, name="stage1", keras_module=k, **style)
    x = residual_block(x, 2 * w, strides=2, name="stage2", keras_module=k, **style)
    x = residual_block(x, 4 * w, strides=2, name="stage3", keras_module=k, **style)
    x = k.layers.GlobalAveragePooling2D(name="pool_global")(x)
    outputs = classifier_head(x, classes, dropout=config.dropout, keras_module=k)
    return k.Model(inputs, outputs, name="resnet")


def build_mobilenet(shape: tuple[int, int, int], classes: int, config: VisionConfig, k: ModuleType) -> Any:
    w = config.width
    inputs = image_input(shape, keras_module=k)
    x = scale_pixels(inputs, keras_module=k)
    style = {"activation": config.activation_for("mobilenet"), "norm": config.norm_for("mobilenet")}
    x = conv_bn_act(x, w, strides=_stem_strides(shape), name="stem", keras_module=k, **style)
    for i, (filters, strides) in enumerate([(2 * w, 1), (4 * w, 2), (4 * w, 1), (8 * w, 2), (8 * w, 1)]):
        x = depthwise_separable_block(x, filters, strides=strides, name=f"ds{i + 1}", keras_module=k, **style)
    x = k.layers.GlobalAveragePooling2D(name="pool_global")(x)
    outputs = classifier_head(x, classes, dropout=config.dropout, keras_module=k)
    return k.Model(inputs, outputs, name="mobilenet")


def build_alexnet(shape: tuple[int, int, int], classes: int, config: VisionConfig, k: ModuleType) -> Any:
    # Krizhevsky et al. 2012 at small scale, as CIFAR re-implementations size it (64, 192,
    # 384, 256, 256 filters at width 32): a wide 5x5 first convolution, three max-poolings,
    # then two wide dense layers with dropout 0.5, where most parameters sit. Batch norm
    # (by default) stands where the original had local response normalization.
    w = config.width
    inputs = image_input(shape, keras_module=k)
    x = scale_pixels(inputs, keras_module=k)
    style = {"activation": config.activation_for("alexnet"), "norm": config.norm_for("alexnet")}
    layers = [(2 * w, 5, True), (6 * w, 5, True), (12 * w, 3, False), (8 * w, 3, False), (8 * w, 3, True)]
    for i, (filters, kernel, pool) in enumerate(layers, start=1):
        x = conv_bn_act(x, filters, kernel_size=kernel, strides=_stem_strides(shape) if i == 1 else 1,
                        name=f"conv{i}", keras_module=k, **style)
        if pool and x.shape[1] >= 2:
            x = k.layers.MaxPooling2D(3 if x.shape[1] >= 3 else 2, strides=2, padding="same", name=f"pool{i}")(x)
    x = k.layers.Flatten(name="flatten")(x)
    for i in (1, 2):
        x = _dense(x, 32 * w, config, "alexnet", f"dense_{i}", k)
        x = k.layers.Dropout(0.5, name=f"dense_{i}_dropout")(x)
    outputs = classifier_head(x, classes, dropout=config.dropout, keras_module=k)
    return k.Model(inputs, outputs, name="alexnet")


def build_vgg(shape: tuple[int, int, int], classes: int, config: VisionConfig, k: ModuleType) -> Any:
    # Simonyan and Zisserman 2015: only 3x3 convolutions (two stacked see 5x5 with fewer
    # weights and one more nonlinearity), in stages that halve the map and double the
    # filters (capped at 8x width), until the map is at most 2 pixels high.
    inputs = image_input(shape, keras_module=k)
    x = scale_pixels(inputs, keras_module=k)
    style = {"activation": config.activation_for("vgg"), "norm": config.norm_for("vgg")}
    size, filters, stage = min(shape[:2]) // _stem_strides(shape), config.width, 1
    if _stem_strides(shape) > 1:
        x = k.layers.MaxPooling2D(2, name="pool0")(x)
    while True:
        for j in "ab":
            x = conv_bn_act(x, filters, name=f"stage{stage}{j}", keras_module=k, **style)
        x = k.layers.MaxPooling2D(2, name=f"pool{stage}")(x)
        size //= 2
        if size <= 2 or stage == 5:
            break
        filters, stage = min(filters * 2, config.width * 8), stage + 1
    x = k.layers.GlobalAveragePooling2D(name="pool_global")(x) if size > 2 else k.layers.Flatten(name="flatten")(x)
    x = _dense(x, 8 * config.width, config, "vgg", "dense_1", k)
    outputs = classifier_head(x, classes, dropout=config.dropout, keras_module=k)
    return k.Model(inputs, outputs, name="vgg")


def build_densenet(shape: tuple[int, int, int], classes: int, config: VisionConfig, k: ModuleType) -> Any:
    # Huang et al. 2017, the BC variant: growth rate g = width / 2; each layer is
    # norm-act-1x1 conv (4g, the bottleneck) then norm-act-3x3 conv (g), and its g new
    # maps are concatenated to everything before it, so later layers reuse earlier
    # features and gradients reach early layers directly. Between the three blocks a
    # transition halves the channels (compression 0.5) and the map (2x2 average pooling).
    growth, per_block = max(config.width // 2, 2), 4
    norm, activation = config.norm_for("densenet"), config.activation_for("densenet")
    inputs = image_input(shape, keras_module=k)
    x = scale_pixels(inputs, keras_module=k)
    x = k.layers.Conv2D(2 * growth, 3, strides=_stem_strides(shape), padding="same", use_bias=False, name="stem_conv")(x)

    def norm_act(y: Any, name: str) -> Any:
        return k.layers.Activation(activation, name=f"{name}_{activation}")(normalization(y, norm, name=name, keras_module=k))

    for block in (1, 2, 3):
        for i in range(1, per_block + 1):
            name = f"block{block}_layer{i}"
            y = k.layers.Conv2D(4 * growth, 1, use_bias=norm == "none", name=f"{name}_1x1")(norm_act(x, f"{name}_a"))
            y = k.layers.Conv2D(growth, 3, padding="same", use_bias=norm == "none", name=f"{name}_3x3")(
                norm_act(y, f"{name}_b"))
            x = k.layers.Concatenate(name=f"{name}_concat")([x, y])
        if block < 3:
            x = k.layers.Conv2D(x.shape[-1] // 2, 1, use_bias=norm == "none", name=f"transition{block}_conv")(
                norm_act(x, f"transition{block}"))
            x = k.layers.AveragePooling2D(2, name=f"transition{block}_pool")(x)
    x = norm_act(x, "final")
    x = k.layers.GlobalAveragePooling2D(name="pool_global")(x)
    outputs = classifier_head(x, classes, dropout=config.dropout, keras_module=k)
    return k.Model(inputs, outputs, name="densenet")


def build_fastcnn(shape: tuple[int, int, int], classes: int, config: VisionConfig, k: ModuleType) -> Any:
    # After the fast CIFAR-10 training line of work (Page 2018, Jordan 2024 "airbench"):
    # a 2x2 patch convolution without padding as the stem, then three blocks of width w,
    # 4w, 4w, each conv 3x3 -> max-pool 2 -> norm -> act -> conv 3x3 -> norm -> act (pooling
    # right after the first convolution makes the rest of the block 4x cheaper), and a
    # global max-pooling: most multiply-adds sit in large 3x3 convolutions on small
    # maps, which CPUs run near their matrix-product speed.
    w = config.width
    norm, activation = config.norm_for("fastcnn"), config.activation_for("fastcnn")
    inputs = image_input(shape, keras_module=k)
    x = scale_pixels(inputs, keras_module=k)
    x = k.layers.Conv2D(24, 2, strides=_stem_strides(shape), name="stem_conv")(x)
    x = k.layers.Activation(activation, name=f"stem_{activation}")(x)
    for i, filters in enumerate((w, 4 * w, 4 * w), start=1):
        x = k.layers.Conv2D(filters, 3, padding="same", use_bias=norm == "none", name=f"block{i}_a_conv")(x)
        if x.shape[1] >= 2:
            x = k.layers.MaxPooling2D(2, name=f"block{i}_pool")(x)
        x = normalization(x, norm, name=f"block{i}_a", keras_module=k)
        x = k.layers.Activation(activation, name=f"block{i}_a_{activation}")(x)
        x = conv_bn_act(x, filters, activation=activation, norm=norm, name=f"block{i}_b", keras_module=k)
    x = k.layers.GlobalMaxPooling2D(name="pool_global")(x)
    outputs = classifier_head(x, classes, dropout=config.dropout, keras_module=k)
    return k.Model(inputs, outputs, name="fastcnn")


def build_pixels(shape: tuple[int, int, int], classes: int, config: VisionConfig, k: ModuleType,
                 statistics: dict[str, Any] | None = None) -> Any:
    """The classic baseline as a model: the pixels scaled to [0, 1] (averaged over
    blocks when the image is large, `baselines.pixel_pool`), flattened, one dense
    layer, a softmax. Nothing in it trains: `statistics` ("kernel", "bias") is the
    closed fit's (`baselines.fit_pixels`); without it the scores are zero."""
    from kerasdl.apps.vision.baselines import pixel_pool

    inputs = image_input(shape, keras_module=k)
    x = scale_pixels(inputs, keras_module=k)
    pool = pixel_pool(shape)
    if pool > 1:
        x = k.layers.AveragePooling2D(pool, name="pixel_blocks")(x)
    x = k.layers.Flatten(name="flatten")(x)
    scores = k.layers.Dense(classes, kernel_initializer="zeros", trainable=False, name="ridge_scores")(x)
    outputs = k.layers.Activation("softmax", dtype="float32", name="probabilities")(scores)
    model = k.Model(inputs, outputs, name="pixels")
    if statistics is not None:
        model.get_layer("ridge_scores").set_weights(
            [np.asarray(statistics["kernel"], np.float32), np.asarray(statistics["bias"], np.float32)])
    return model


def build_pretrained(shape: tuple[int, int, int], classes: int, config: VisionConfig, k: ModuleType,
                     weights: Any = None) -> Any:
    """`config.backbone` with a new head: uint8 image -> RGB (a grey image's channel
    repeated) -> resized to the backbone's input size -> the backbone (its own scaling
    inside; with pretrained weights run in inference mode, so batch normalization keeps
    its pretrained statistics) -> global average pooling -> dropout -> dense softmax. `weights` (a
    `ResolvedWeights`) is loaded into the backbone; None leaves it random (a model
    rebuilt for export takes its trained weights afterwards)."""
    from kerasdl.backbones.image import image_backbone

    spec = image_backbone(config.backbone)
    size = config.backbone_size or spec.input_size
    inputs = image_input(shape, keras_module=k)
    x = backbone_pixels(inputs, size, keras_module=k)
    backbone = spec.build(size, keras_module=k)
    if weights is not None:
        spec.load(backbone, weights)
    if config.from_scratch:
        from kerasdl.backbones.image import short_training_momentum

        short_training_momentum(backbone)
    # Pretrained, batch normalization keeps its statistics (inference mode); from random
    # weights (`weights` none) the backbone is an ordinary network that learns them.
    x = backbone(x) if config.from_scratch else backbone(x, training=False)
    x = k.layers.GlobalAveragePooling2D(name="pool_global")(x)
    outputs = classifier_head(x, classes, dropout=config.dropout, keras_module=k)
    return k.Model(inputs, outputs, name="pretrained")


BUILDERS: dict[str, Callable[..., Any]] = {
    "mlp": build_mlp,
    "lenet": build_lenet,
    "cnn": build_cnn,
    "resnet": build_resnet,
    "mobilenet": build_mobilenet,
    "alexnet": build_alexnet,
    "vgg": build_vgg,
    "densenet": build_densenet,
    "fastcnn": build_fastcnn,
    "pixels": build_pixels,
    "pretrained": build_pretrained,
}


def build_vision_model(
    name: str,
    image_shape: tuple[int, int, int],
    num_classes: int,
    config: VisionConfig,
    *,
    keras_module: ModuleType | None = None,
    statistics: dict[str, Any] | None = None,
    backbone_weights: Any = None,
) -> Any:
    """Builds the named vision model (`statistics`: the pixels model's fitted weights;
    `backbone_weights`: the pretrained model's starting weights, a `ResolvedWeights`).

    Example:
    >>> from kerasdl.apps.vision.config import VisionConfig
    >>> from kerasdl.apps.vision.models import build_vision_model
    >>> model = build_vision_model("cnn", (28, 28, 1), 10, VisionConfig(width=8))
    >>> tuple(model.output.shape)
    (None, 10)
    """
    if name == "pixels":
        return build_pixels(tuple(image_shape), num_classes, config, keras_or(keras_module), statistics)
    if name == "pretrained":
        return build_pretrained(tuple(image_shape), num_classes, config, keras_or(keras_module), backbone_weights)
    return BUILDERS[name](tuple(image_shape), num_classes, config, keras_or(keras_module))
