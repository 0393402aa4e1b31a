"""Looking inside an image classifier: Grad-CAM heat maps, first-layer filters and the
first layer's activation maps (what each filter responds to in one image).

Grad-CAM (Selvaraju et al. 2017): take the last convolutional feature maps A_k of an
image and the gradient of the predicted class's score y_c with respect to them; each
map's weight is its gradient averaged over the positions, a_k = mean_ij dy_c/dA_k[i,j];
the heat map is ReLU(sum_k a_k A_k), scaled to [0, 1] and resized to the image: where
the evidence for the class lies. The score is the class's logit, the softmax's input.

Example:
>>> import numpy as np
>>> from kerasdl.evaluation.saliency import overlay
>>> overlay(np.zeros((4, 4, 1), "uint8"), np.ones((4, 4))).shape
(4, 4, 3)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from kerasdl.errors import KerasdlError
from kerasdl.evaluation.plots import pyplot, save


@dataclass
class Explanation:
    """The PNG files `kerasdl.api.explain` wrote: per image, its Grad-CAM overlay and
    its first-layer activation maps; once, the first convolution's filters."""

    grad_cam: list[Path]
    activations: list[Path]
    filters: Path

    @property
    def paths(self) -> list[Path]:
        """Every file written, in the order above."""
        return [*self.grad_cam, *self.activations, self.filters]


def last_conv_layer(model: Any) -> Any:
    """The model's last layer whose output is a spatial feature map [b, h, w, c] and
    that follows a convolution (the map Grad-CAM reads).

    Raises:
        KerasdlError: for a model without convolutions (an MLP).
    """
    found = None
    seen_conv = False
    for layer in model.layers:
        if "Conv" in type(layer).__name__:
            seen_conv = True
        shape = getattr(layer, "output", None)
        shape = getattr(shape, "shape", None)
        if seen_conv and shape is not None and len(shape) == 4 and shape[1] and shape[1] > 1:
            found = layer
    if found is None:
        raise KerasdlError(f"Grad-CAM reads convolutional feature maps; the {model.name} model has none "
                           "(train --model cnn, resnet, lenet or mobilenet).")
    return found


def grad_cam(model: Any, images: np.ndarray, *, classes: Sequence[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Heat maps [n, h, w] in [0, 1] at the images' size, and the class each explains
    (the predicted one unless `classes` names others).

    Args:
        images: what the model takes, [n, h, w, c] (uint8 for kerasdl's vision models).
    """
    import keras
    import tensorflow as tf

    layer = last_conv_layer(model)
    # The class score before the softmax (kerasdl's heads end in a "probabilities"
    # softmax layer): the softmax would subtract the other classes' evidence.
    names = [l.name for l in model.layers]
    logits = model.get_layer("probabilities").input if "probabilities" in names else model.output
    probe = keras.Model(model.inputs[0], [layer.output, logits, model.output])
    x = tf.convert_to_tensor(images)
    with tf.GradientTape() as tape:
        maps, scores_all, probabilities = probe(x, training=False)
        tape.watch(maps)
        chosen = (tf.argmax(probabilities, axis=-1, output_type=tf.int32) if classes is None
                  else tf.constant(list(classes), tf.int32))
        scores = tf.gather(scores_all, chosen, batch_dims=1)
    grads = tape.gradient(scores, maps)
    weights = tf.reduce_mean(grads, axis=(1, 2), keepdims=True)
    cams = tf.nn.relu(tf.reduce_sum(weights * maps, axis=-1))
    peak = tf.reduce_max(cams, axis=(1, 2), keepdims=True)
    cams = tf.math.divide_no_nan(cams, peak)  # a map without positive evidence stays 0
    cams = tf.image.resize(cams[..., None], images.shape[1:3], method="bilinear")[..., 0]
    return cams.numpy().astype(np.float32), chosen.numpy()


def overlay(image: np.ndarray, heat: np.ndarray, *, alpha: float = 0.45) -> np.ndarray:
    """`image` ([h, w, 1 or 3], uint8) with `heat` ([h, w], 0..1) in the jet colour
    map blended over it, uint8 RGB."""
    from matplotlib import colormaps

    rgb = np.repeat(image, 3, axis=-1) if image.shape[-1] == 1 else image[..., :3]
    colour = colormaps["jet"](np.clip(heat, 0, 1))[..., :3] * 255
    return np.clip((1 - alpha) * rgb + alpha * colour, 0, 255).astype(np.uint8)


def write_explanations(model: Any, images: np.ndarray, names: Sequence[str], class_names: Sequence[str],
                       out_dir: Path) -> list[Path]:
    """One PNG per image: the image and its Grad-CAM overlay side by side, titled with
    the predicted class; returns the paths."""
    plt = pyplot()

    cams, chosen = grad_cam(model, images)
    probabilities = np.asarray(model(images, training=False))
    paths = []
    for image, cam, label, probs, name in zip(images, cams, chosen, probabilities, names):
        fig, axes = plt.subplots(1, 2, figsize=(6, 3.2))
        _show_input(axes[0], image)
        axes[1].imshow(overlay(image, cam))
        title = f"Grad-CAM: {class_names[int(label)]} ({probs[int(label)]:.0%})"
        if not cam.any():  # the weighted maps are negative everywhere: ReLU leaves nothing
            title += "\nno positive evidence at this layer"
        axes[1].set_title(title, fontsize=9)
        for ax in axes:
            ax.axis("off")
        paths.append(save(plt, fig, out_dir / f"{Path(name).stem}-gradcam.png", dpi=110))
    return paths


def first_layer_activations(model: Any, images: np.ndarray) -> tuple[str, np.ndarray]:
    """The output of the first convolution's nonlinearity (its first activation layer;
    the convolution itself when none follows) for `images`: (layer name, maps
    [images, height, width, filters]).

    Raises:
        KerasdlError: for a model without a convolution.
    """
    import keras

    layers = list(model.layers)
    first = next((i for i, layer in enumerate(layers) if type(layer).__name__ == "Conv2D"), None)
    if first is None:
        raise KerasdlError(f"The {model.name} model has no convolution whose activations could be shown.")
    layer = layers[first]
    for candidate in layers[first + 1:]:
        kind = type(candidate).__name__
        if kind in ("Conv2D", "DepthwiseConv2D", "Dense"):
            break  # past the first block
        if kind in ("Activation", "ReLU", "LeakyReLU", "ELU"):
            layer = candidate
            break
    probe = keras.Model(model.inputs[0], layer.output)
    return layer.name, np.asarray(probe(images, training=False))


def write_activation_maps(model: Any, images: np.ndarray, names: Sequence[str], out_dir: Path,
                          *, limit: int = 32) -> list[Path]:
    """One PNG per image: the image and the first `limit` maps of the first layer's
    activations (each on its own scale, bright = strong response)."""
    plt = pyplot()

    layer, maps = first_layer_activations(model, images)
    count = min(limit, maps.shape[-1])
    columns = min(8, count + 1)
    rows = -(-(count + 1) // columns)
    paths = []
    for image, activation, name in zip(images, maps, names):
        fig, axes = plt.subplots(rows, columns, figsize=(columns * 1.0, rows * 1.05), squeeze=False)
        for ax in axes.flat:
            ax.axis("off")
        _show_input(axes.flat[0], image, fontsize=7)
        for i in range(count):
            a = activation[..., i]
            axes.flat[i + 1].imshow((a - a.min()) / (np.ptp(a) or 1.0), cmap="viridis", interpolation="nearest")
        fig.suptitle(f"{layer}: {count} of {maps.shape[-1]} maps", fontsize=8)
        paths.append(save(plt, fig, out_dir / f"{Path(name).stem}-activations.png", dpi=110))
    return paths


def write_first_filters(model: Any, path: Path) -> Path:
    """The first convolution's kernels as a grid of small images (each kernel's
    input channels averaged, scaled to its own range): edge and colour detectors."""
    plt = pyplot()

    conv = next((layer for layer in model.layers if type(layer).__name__ == "Conv2D"), None)
    if conv is None:
        raise KerasdlError(f"The {model.name} model has no convolution whose filters could be shown.")
    kernels = np.asarray(conv.kernel).mean(axis=2)  # [kh, kw, filters]
    count = kernels.shape[-1]
    columns = min(8, count)
    rows = -(-count // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(columns * 0.9, rows * 0.9), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < count:
            k = kernels[..., i]
            ax.imshow((k - k.min()) / (np.ptp(k) or 1.0), cmap="gray", interpolation="nearest")
    fig.suptitle(f"{conv.name}: {count} filters {kernels.shape[0]}x{kernels.shape[1]}", fontsize=9)
    return save(plt, fig, path, dpi=110)


def _show_input(ax: Any, image: np.ndarray, *, fontsize: float = 10) -> None:
    grey = image.shape[-1] == 1
    ax.imshow(image[..., 0] if grey else image, cmap="gray" if grey else None)
    ax.set_title("input", fontsize=fontsize)
