"""Can a classifier tell generated images from real ones? (a classifier two-sample test)

Lopez-Paz & Oquab (2017): train a small network to separate two sets of images on half
of each, then measure its accuracy on the other halves. If the sets come from the same
distribution no classifier beats chance on held-out images, so the accuracy is 50 %
up to noise (a standard error of sqrt(0.25 / n) for n held-out images); the further
above 50 %, the easier the generated images are to spot. Unlike FID it needs no
labels and no pretrained features, so it means the same on any data, one class of
pictures included.

The held-out cross-entropy of the same classifier is logged too: it keeps moving while
the accuracy sits at 100 % early in training (ln 2 = 0.693 when the sets cannot be
told apart, near 0 when they always can).
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np

LN2 = float(np.log(2.0))


@dataclass
class TwoSampleResult:
    """Held-out accuracy (0.5: indistinguishable), its standard error under the
    hypothesis of no difference, the held-out cross-entropy and how many images
    were held out."""

    accuracy: float
    standard_error: float
    loss: float
    held_out: int

    @property
    def distinguishable(self) -> bool:
        """Whether the accuracy is above chance by more than two standard errors."""
        return self.accuracy - 0.5 > 2 * self.standard_error


def two_sample_test(real: np.ndarray, generated: np.ndarray, *, seed: int = 0, steps: int = 150,
                    batch_size: int = 64) -> TwoSampleResult:
    """Trains a small CNN for `steps` batches on half of `real` and half of
    `generated` (images [n, height, width, channels], pixels 0-255) and tests it on the
    other halves. A fixed number of steps, not of epochs: a few hundred images must not
    leave the network untrained (and so at 50 %, which would read as "indistinguishable").

    Raises:
        ValueError: for fewer than 4 images on a side, or differently shaped images.

    Example:
    >>> import numpy as np
    >>> from kerasdl.evaluation.two_sample import two_sample_test
    >>> rng = np.random.default_rng(0)
    >>> dark, light = rng.uniform(0, 100, (200, 8, 8, 1)), rng.uniform(150, 255, (200, 8, 8, 1))
    >>> two_sample_test(dark, light).accuracy > 0.9
    True
    """
    import keras

    real = np.asarray(real, np.float32)
    generated = np.asarray(generated, np.float32)
    count = min(len(real), len(generated))
    if count < 4:
        raise ValueError(f"The two-sample test needs at least 4 images on each side; got {count}.")
    if real.shape[1:] != generated.shape[1:]:
        raise ValueError(f"Real images are {real.shape[1:]}, generated ones {generated.shape[1:]}.")
    rng = np.random.default_rng(seed)
    real = real[rng.permutation(len(real))[:count]]
    generated = generated[rng.permutation(len(generated))[:count]]
    half = count // 2
    x_train = np.concatenate([real[:half], generated[:half]])
    y_train = np.concatenate([np.ones(half), np.zeros(half)]).astype(np.float32)
    x_test = np.concatenate([real[half:], generated[half:]])
    y_test = np.concatenate([np.ones(count - half), np.zeros(count - half)]).astype(np.float32)

    keras.utils.set_random_seed(seed)
    model = _critic(real.shape[1:], keras)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=keras.losses.BinaryCrossentropy(from_logits=True))
    # Shuffled passes over the training halves, cut to `steps` batches, in one fit call.
    passes = int(np.ceil(steps * batch_size / len(x_train)))
    order = np.concatenate([rng.permutation(len(x_train)) for _ in range(passes)])[: steps * batch_size]
    model.fit(x_train[order], y_train[order], epochs=1, batch_size=batch_size, verbose=0, shuffle=False)
    # Called eagerly: `predict` would trace a new function for each new network, and
    # TensorFlow warns about retracing after a few epochs' tests.
    logits = np.concatenate([np.asarray(model(x_test[i:i + 256], training=False)).reshape(-1)
                             for i in range(0, len(x_test), 256)])
    accuracy = float(np.mean((logits > 0) == (y_test > 0.5)))
    # Cross-entropy from logits, computed stably: log(1 + exp(-|z|)) + max(z, 0) - y z.
    loss = float(np.mean(np.log1p(np.exp(-np.abs(logits))) + np.maximum(logits, 0) - y_test * logits))
    return TwoSampleResult(accuracy=accuracy, standard_error=float(np.sqrt(0.25 / len(y_test))),
                           loss=loss, held_out=int(len(y_test)))


def _critic(shape: tuple[int, ...], k: ModuleType) -> Any:
    """Two strided convolutions and a linear read-out: small enough to train in seconds
    on two CPU cores, able to see texture, colour and shape differences."""
    images = k.Input(shape)
    x = k.layers.Rescaling(1 / 127.5, offset=-1.0)(images)
    x = k.layers.Conv2D(16, 3, strides=2, padding="same", activation="relu")(x)
    x = k.layers.Conv2D(32, 3, strides=2, padding="same", activation="relu")(x)
    x = k.layers.GlobalAveragePooling2D()(x)
    return k.Model(images, k.layers.Dense(1)(x))
