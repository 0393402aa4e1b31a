"""Adversarial examples and adversarial training, for models on image pixels.

A classifier that is right on an image can be wrong on the same image moved by an
imperceptible step in the direction that raises its loss the fastest. With pixels p in
[0, 1], label y and loss L:

- **FGSM** (fast gradient sign method, Goodfellow et al. 2015), one step of size ε:
  p' = clip(p + ε · sign(∇_p L(f(p), y)), 0, 1).
- **PGD** (projected gradient descent, Madry et al. 2018): from a random point of the
  ε-ball around p, k steps of size α, each projected back into the ball and [0, 1]:
  p_{t+1} = Π(p_t + α · sign(∇_p L(f(p_t), y))), α = 2.5 ε / k.

Every pixel moves by at most ε (the L∞ norm): ε = 8/255 ≈ 0.031 is CIFAR-10's usual
budget. **Adversarial training** fits the weights on such examples, made afresh at each
step from the current weights: loss = (1 - w) L(p) + w L(p'), Goodfellow's mix with
w = 0.5; w = 1 with PGD is Madry's min-max training. It costs one (FGSM) or k (PGD)
extra forward and backward passes per step; FGSM training starts from a random point of
the ball (Wong et al. 2020: without it, FGSM training can overfit to its own attack).

Works on any Keras model whose first layer after its integer-pixel input is a
`Rescaling` (kerasdl's image classifiers all are): the attack runs on the rest of the
network (`pixel_view`), so the saved model is unchanged.

Example:
>>> import numpy as np, keras
>>> from kerasdl.training.adversarial import attack, pixel_view
>>> inputs = keras.Input((2, 2, 1), dtype="uint8")
>>> x = keras.layers.Rescaling(1 / 255)(inputs)
>>> outputs = keras.layers.Dense(2, activation="softmax")(keras.layers.Flatten()(x))
>>> view = pixel_view(keras.Model(inputs, outputs))
>>> pixels = np.full((1, 2, 2, 1), 0.5, "float32")
>>> moved = attack(view, pixels, np.array([0]), method="fgsm", epsilon=0.1)
>>> float(np.abs(np.asarray(moved) - pixels).max()) <= 0.1 + 1e-6
True
"""

from __future__ import annotations

import logging
import types
from typing import Any, Callable

import numpy as np

from kerasdl.config import ADVERSARIAL_ATTACKS as ATTACKS
from kerasdl.errors import ConfigError

logger = logging.getLogger(__name__)

PIXEL_MAX = 255.0
# The random start and step of FGSM training (Wong et al. 2020: α = 1.25 ε).
FGSM_TRAINING_STEP = 1.25


def pixel_view(model: Any) -> Callable[..., Any]:
    """`model` as a function of float pixels in [0, 1]: f(p, training) = the network
    after its first layer, fed p as that layer would have made it from the uint8 image.

    Raises:
        ConfigError: for a model whose input is not rescaled integer pixels.
    """
    import keras

    first = _first_layer(model)
    if not isinstance(first, keras.layers.Rescaling) or np.any(np.asarray(first.offset) != 0):
        taken = ", ".join(f"{i.dtype} {tuple(i.shape)}" for i in model.inputs)
        raise ConfigError(f"Adversarial attacks work on image classifiers (a model whose first layer scales integer "
                          f"pixels); this model ({model.name!r}) takes {taken}.")
    rest = keras.Model(first.output, model.outputs[0], name=f"{model.name}_on_pixels")
    factor = float(np.asarray(first.scale)) * PIXEL_MAX

    def forward(pixels: Any, training: bool = False) -> Any:
        return rest(pixels * factor, training=training)

    return forward


def _first_layer(model: Any) -> Any:
    if len(model.inputs) != 1:
        return model
    users = [layer for layer in model.layers
             if any(node_input is model.inputs[0] for node_input in _inputs_of(layer))]
    return users[0] if len(users) == 1 else model


def _inputs_of(layer: Any) -> list[Any]:
    try:
        value = layer.input
    except (AttributeError, ValueError):
        return []
    return value if isinstance(value, list) else [value]


def _loss_gradient(forward: Callable[..., Any], pixels: Any, labels: Any) -> Any:
    import tensorflow as tf

    with tf.GradientTape() as tape:
        tape.watch(pixels)
        probabilities = tf.cast(forward(pixels, training=False), tf.float32)
        # Cross-entropy of the true class; its gradient's sign is all an attack uses.
        right = tf.gather(probabilities, labels, axis=1, batch_dims=1)
        loss = -tf.reduce_sum(tf.math.log(tf.clip_by_value(right, 1e-7, 1.0)))
    return tape.gradient(loss, pixels)


def attack(forward: Callable[..., Any], pixels: Any, labels: Any, *, method: str, epsilon: float,
           steps: int = 10, step_size: float | None = None, random_start: bool | None = None,
           seed: Any = None) -> Any:
    """Adversarial pixels for `pixels` ([batch, h, w, c] in [0, 1]) and their integer
    `labels`, within `epsilon` of them in every pixel.

    Args:
        forward: `pixel_view(model)`.
        method: fgsm (one step of `step_size`, default ε) or pgd (`steps` steps of
            `step_size`, default 2.5 ε / steps).
        random_start: start from a uniform point of the ε-ball (default: pgd only).
        seed: a stateless seed pair for the random start (None: a fresh one).
    """
    import tensorflow as tf

    if method not in ATTACKS:
        raise ConfigError(f"Unknown attack {method!r}; one of {', '.join(ATTACKS)}.")
    pixels = tf.cast(pixels, tf.float32)
    labels = tf.reshape(tf.cast(labels, tf.int32), [-1])
    if epsilon <= 0:
        return pixels
    steps = 1 if method == "fgsm" else max(int(steps), 1)
    step = step_size if step_size is not None else (epsilon if method == "fgsm" else 2.5 * epsilon / steps)
    adversarial = pixels
    if random_start if random_start is not None else method == "pgd":
        noise = (tf.random.uniform(tf.shape(pixels), -epsilon, epsilon) if seed is None else
                 tf.random.stateless_uniform(tf.shape(pixels), seed, -epsilon, epsilon))
        adversarial = tf.clip_by_value(pixels + noise, 0.0, 1.0)
    for _ in range(steps):
        gradient = _loss_gradient(forward, adversarial, labels)
        adversarial = adversarial + step * tf.sign(gradient)
        adversarial = tf.clip_by_value(tf.clip_by_value(adversarial, pixels - epsilon, pixels + epsilon), 0.0, 1.0)
    return tf.stop_gradient(adversarial)


def attach_adversary(model: Any, *, method: str, epsilon: float, steps: int, weight: float) -> None:
    """Makes `model`'s training loss (1 - weight) L(clean) + weight L(adversarial), the
    adversarial batch made by `method` from the current weights at every step.
    Validation reports the clean loss; the saved model is unchanged."""
    import tensorflow as tf

    forward = pixel_view(model)
    clean_loss = model.compute_loss
    fgsm_training = method == "fgsm"

    def compute_loss(self: Any, x: Any = None, y: Any = None, y_pred: Any = None, sample_weight: Any = None,
                     training: bool = True) -> Any:
        clean = clean_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=training)
        if not training:
            return clean
        pixels = tf.cast(x, tf.float32) / PIXEL_MAX
        moved = attack(forward, pixels, y, method=method, epsilon=epsilon, steps=steps,
                       step_size=FGSM_TRAINING_STEP * epsilon if fgsm_training else None,
                       random_start=True)
        adversarial = clean_loss(x=x, y=y, y_pred=forward(moved, training=True), sample_weight=sample_weight,
                                 training=training)
        return (1.0 - weight) * clean + weight * adversarial

    model.compute_loss = types.MethodType(compute_loss, model)
    logger.info("Adversarial training: %s, epsilon %.4g (%.1f/255)%s, adversarial loss weight %g.", method, epsilon,
                epsilon * PIXEL_MAX, f", {steps} steps" if method == "pgd" else "", weight)


def robust_accuracy(model: Any, batches: Any, *, epsilon: float, steps: int = 10,
                    seed: int = 0) -> dict[str, Any]:
    """Accuracy on `batches` ((uint8 images, labels) pairs) clean and under FGSM and PGD
    (`steps` steps, a random start) of `epsilon`, each attack made against `model`
    itself (white box)."""
    import tensorflow as tf

    forward = pixel_view(model)
    attack_fgsm = tf.function(lambda p, y: attack(forward, p, y, method="fgsm", epsilon=epsilon))
    attack_pgd = tf.function(lambda p, y, s: attack(forward, p, y, method="pgd", epsilon=epsilon, steps=steps,
                                                    seed=s))
    predict = tf.function(lambda p: tf.argmax(forward(p, training=False), axis=-1, output_type=tf.int32))
    right = {"clean": 0, "fgsm": 0, "pgd": 0}
    total = 0
    for i, (images, labels) in enumerate(batches):
        pixels = tf.cast(images, tf.float32) / PIXEL_MAX
        labels = tf.reshape(tf.cast(labels, tf.int32), [-1])
        for name, moved in (("clean", pixels), ("fgsm", attack_fgsm(pixels, labels)),
                            ("pgd", attack_pgd(pixels, labels, tf.constant([seed, i])))):
            right[name] += int(tf.reduce_sum(tf.cast(predict(moved) == labels, tf.int32)))
        total += int(labels.shape[0])
    if not total:
        raise ConfigError("No examples to attack: the split is empty.")
    return {"epsilon": float(epsilon), "pgd_steps": int(steps), "examples": total,
            **{f"{name}_accuracy": count / total for name, count in right.items()}}


def robustness_line(robustness: dict[str, Any]) -> str:
    """`robust_accuracy`'s result as one line of a report.

    Example:
    >>> robustness_line({"epsilon": 8 / 255, "pgd_steps": 10, "examples": 100, "clean_accuracy": 0.9,
    ...                  "fgsm_accuracy": 0.4, "pgd_accuracy": 0.1})
    'Under attack (epsilon 0.03137 = 8.0/255, 100 examples): clean 90.00 %, FGSM 40.00 %, PGD-10 10.00 %'
    """
    r = robustness
    return (f"Under attack (epsilon {r['epsilon']:.4g} = {r['epsilon'] * PIXEL_MAX:.1f}/255, {r['examples']} examples): "
            f"clean {100 * r['clean_accuracy']:.2f} %, FGSM {100 * r['fgsm_accuracy']:.2f} %, "
            f"PGD-{r['pgd_steps']} {100 * r['pgd_accuracy']:.2f} %")
