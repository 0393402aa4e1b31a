"""The vision app's classic baseline: a linear classifier on raw pixels.

Ridge regression on one-hot labels (a least-squares linear classifier), in closed form
on at most `MAX_TRAINING_IMAGES` training images: seconds even for colour images,
where logistic regression would take minutes. Its scores go through a softmax so that
the app's report (accuracy, ROC AUC) reads them as it reads the model's.

`fit_pixels` is both the baseline a run prints and the weights `--model pixels` ships
(`kerasdl.apps.vision.models.build_pixels`): the same numbers on every split.

Example:
>>> from kerasdl.apps.vision.baselines import pixel_pool
>>> pixel_pool((28, 28, 1)), pixel_pool((224, 224, 3))
(1, 7)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

import numpy as np

from kerasdl.app import Datasets
from kerasdl.evaluation.baselines import Baseline, ridge_fit, timed

from kerasdl.tasks.image_classifier import SCALE

if TYPE_CHECKING:
    import tensorflow as tf

PIXELS = "pixels"
MAX_TRAINING_IMAGES = 20_000
# Ridge solves a (features + 1)^2 system for each strength it tries: up to 4,096
# features (a 64x64 grey image; a 32x32 colour one has 3,072) that takes seconds and
# a 134 MB Gram matrix, where a 224x224 photo's 150,528 pixels would need 181 GB.
# Larger images are averaged over square blocks until they fit, in the fit and inside
# the model alike (its AveragePooling2D), and the baseline's name says so: a linear
# classifier on a thumbnail is still the classic baseline, and every data set keeps
# one to compare with (skipping it would leave photo folders with none).
MAX_PIXEL_FEATURES = 4096


@dataclass
class PixelsFit:
    """The ridge classifier on pixels.

    Attributes:
        kernel: [features, classes] class scores per feature.
        bias: [classes].
        pool: the side of the square blocks the pixels are averaged over (1: none).
        outputs: split -> class probabilities, as the Keras model computes them.
        setting: the ridge strength chosen on validation.
    """

    kernel: np.ndarray
    bias: np.ndarray
    pool: int
    outputs: dict[str, np.ndarray]
    setting: str


def pixel_pool(image_shape: Sequence[int]) -> int:
    """The smallest block side whose averaged image has at most `MAX_PIXEL_FEATURES`
    values (1 when the image already has)."""
    height, width, channels = (int(v) for v in image_shape)
    pool = 1
    while (height // pool) * (width // pool) * channels > MAX_PIXEL_FEATURES:
        pool += 1
    return pool


def pixel_features(images: np.ndarray, pool: int) -> np.ndarray:
    """uint8 images [n, H, W, C] as the model reads them: scaled to [0, 1], averaged
    over `pool` x `pool` blocks (rows and columns that fill no whole block dropped, as
    AveragePooling2D's valid padding does), flattened to [n, features]."""
    x = images.astype(np.float32) * np.float32(SCALE)
    if pool > 1:
        n, height, width, channels = x.shape
        height, width = height // pool, width // pool
        x = x[:, :height * pool, :width * pool].reshape(n, height, pool, width, pool, channels).mean(axis=(2, 4))
    return x.reshape(len(x), -1)


def _split_features(dataset: "tf.data.Dataset | None", pool: int,
                    limit: int | None = None) -> tuple[np.ndarray, np.ndarray] | None:
    # Batch by batch: a split of photos is read whole only once averaged.
    if dataset is None:
        return None
    if limit is not None:
        dataset = dataset.take(limit)
    features, labels = [], []
    for images, targets in dataset.batch(256).as_numpy_iterator():
        features.append(pixel_features(images, pool))
        labels.append(np.asarray(targets))
    if not features:
        return None
    return np.concatenate(features), np.concatenate(labels).astype(np.int64)


def fit_pixels(data: Datasets) -> PixelsFit:
    """Ridge on one-hot labels over `data`'s pixels (at most `MAX_TRAINING_IMAGES`
    training images), the strength chosen on the validation split; the outputs are
    the softmax of its scores on every split."""
    num_classes = len(data.info["class_names"])
    pool = pixel_pool(data.info["image_shape"])
    arrays = {s: _split_features(getattr(data, s), pool, MAX_TRAINING_IMAGES if s == "train" else None)
              for s in ("train", "validation", "test")}
    arrays = {s: a for s, a in arrays.items() if a is not None}
    features = {s: a[0] for s, a in arrays.items()}
    one_hot = {s: np.eye(num_classes, dtype=np.float32)[a[1]] for s, a in arrays.items()}
    weights, setting = ridge_fit(features, one_hot)
    kernel, bias = weights[:-1], weights[-1]  # ridge_fit's bias is its last row
    outputs = {s: _softmax(x.astype(np.float64) @ kernel + bias) for s, x in features.items()}
    return PixelsFit(kernel.astype(np.float32), bias.astype(np.float32), pool, outputs, setting)


def pixels_name(image_shape: Sequence[int]) -> str:
    """The baseline for a reader; it names the block averaging when there is one."""
    pool = pixel_pool(image_shape)
    pixels = "pixels" if pool == 1 else f"pixels averaged over {pool}x{pool} blocks"
    return f"linear classifier on {pixels} (ridge, <= {MAX_TRAINING_IMAGES:,} training images)"


def fit_baselines(data: Datasets) -> list[Baseline]:
    def pixels_ridge() -> tuple[dict[str, np.ndarray], str]:
        fit = fit_pixels(data)
        return fit.outputs, fit.setting

    return [timed(pixels_name(data.info["image_shape"]), pixels_ridge)]


def _softmax(scores: np.ndarray) -> np.ndarray:
    shifted = np.exp(scores - scores.max(axis=1, keepdims=True))
    return (shifted / shifted.sum(axis=1, keepdims=True)).astype(np.float32)
