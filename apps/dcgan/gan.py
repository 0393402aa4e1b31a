"""The GAN as one Keras model: a custom `train_step` with two optimizers.

Each step first teaches the discriminator to tell a batch of real images from a batch
of generated ones, then teaches the generator to make the discriminator call its images
real. Calling the model runs the generator, so a trained GAN is used, evaluated and
exported like any model whose input is noise.
"""

from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="kerasdl", name="GAN")
class GAN(keras.Model):
    """Generator and discriminator trained against each other.

    Args:
        generator: noise [batch, latent_dim] to images (pixels 0-255).
        discriminator: images to one logit each.
        real_label: the discriminator's target for real images (0.9: one-sided label
            smoothing).

    Example:
    >>> import keras
    >>> from kerasdl.apps.dcgan.gan import GAN
    >>> from kerasdl.apps.dcgan.models import build_discriminator, build_generator
    >>> gan = GAN(build_generator(16, (28, 28, 1), 8), build_discriminator((28, 28, 1), 8))
    >>> gan.compile(keras.optimizers.Adam(2e-4, beta_1=0.5), keras.optimizers.Adam(2e-4, beta_1=0.5))
    >>> tuple(gan(keras.random.normal((2, 16))).shape)
    (2, 28, 28, 1)
    """

    def __init__(self, generator: keras.Model, discriminator: keras.Model, *,
                 real_label: float = 0.9, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.generator = generator
        self.discriminator = discriminator
        self.real_label = float(real_label)
        self.latent_dim = int(generator.input_shape[-1])
        self.noise_seeds = keras.random.SeedGenerator(1337)
        self.built = True  # both networks are built functional models
        self.trackers = {name: keras.metrics.Mean(name=name) for name in
                         ("loss", "d_loss", "g_loss", "d_real_accuracy", "d_fake_accuracy")}

    def compile(self, g_optimizer: keras.optimizers.Optimizer,  # type: ignore[override]
                d_optimizer: keras.optimizers.Optimizer, **kwargs: Any) -> None:
        # Keras sees the generator's optimizer as the model's (schedules, logging).
        super().compile(optimizer=g_optimizer, **kwargs)
        self.g_optimizer = g_optimizer
        self.d_optimizer = d_optimizer

    def get_compile_config(self) -> None:
        # Two optimizers do not fit Keras' compile config: a reloaded GAN is compiled
        # again by the app (its optimizer state starts afresh).
        return None

    @property
    def metrics(self) -> list[Any]:
        return list(self.trackers.values())

    def call(self, noise: Any, training: bool = False) -> Any:
        return self.generator(noise, training=training)

    def _gan_losses(self, real: tf.Tensor, training: bool) -> tuple[Any, ...]:
        batch = tf.shape(real)[0]
        noise = keras.random.normal((batch, self.latent_dim), seed=self.noise_seeds)
        fake = self.generator(noise, training=training)
        real_logits = self.discriminator(real, training=training)
        fake_logits = self.discriminator(fake, training=training)
        bce = keras.losses.binary_crossentropy
        d_loss = tf.reduce_mean(bce(tf.fill(tf.shape(real_logits), self.real_label), real_logits, from_logits=True)
                                + bce(tf.zeros_like(fake_logits), fake_logits, from_logits=True))
        g_loss = tf.reduce_mean(bce(tf.ones_like(fake_logits), fake_logits, from_logits=True))
        return d_loss, g_loss, real_logits, fake_logits

    def _update_trackers(self, d_loss: Any, g_loss: Any, real_logits: Any, fake_logits: Any) -> dict[str, Any]:
        self.trackers["d_loss"].update_state(d_loss)
        self.trackers["g_loss"].update_state(g_loss)
        self.trackers["loss"].update_state(d_loss + g_loss)
        self.trackers["d_real_accuracy"].update_state(tf.cast(real_logits > 0, tf.float32))
        self.trackers["d_fake_accuracy"].update_state(tf.cast(fake_logits < 0, tf.float32))
        return {name: tracker.result() for name, tracker in self.trackers.items()}

    def train_step(self, data: Any) -> dict[str, Any]:
        _, real = data  # the pipeline's (noise, image) pairs; training draws fresh noise
        real = tf.cast(real, tf.float32)
        with tf.GradientTape() as tape:
            d_loss, _, real_logits, fake_logits = self._gan_losses(real, training=True)
            d_objective = d_loss + _weight_penalty(self.discriminator)
        grads = tape.gradient(d_objective, self.discriminator.trainable_weights)
        self.d_optimizer.apply_gradients(zip(grads, self.discriminator.trainable_weights))
        batch = tf.shape(real)[0]
        with tf.GradientTape() as tape:
            noise = keras.random.normal((batch, self.latent_dim), seed=self.noise_seeds)
            logits = self.discriminator(self.generator(noise, training=True), training=True)
            g_loss = tf.reduce_mean(keras.losses.binary_crossentropy(
                tf.ones_like(logits), logits, from_logits=True))
            g_objective = g_loss + _weight_penalty(self.generator)
        grads = tape.gradient(g_objective, self.generator.trainable_weights)
        self.g_optimizer.apply_gradients(zip(grads, self.generator.trainable_weights))
        return self._update_trackers(d_loss, g_loss, real_logits, fake_logits)

    def test_step(self, data: Any) -> dict[str, Any]:
        _, real = data
        return self._update_trackers(*self._gan_losses(tf.cast(real, tf.float32), training=False))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(),
                "generator": keras.saving.serialize_keras_object(self.generator),
                "discriminator": keras.saving.serialize_keras_object(self.discriminator),
                "real_label": self.real_label}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "GAN":
        config = dict(config)
        generator = keras.saving.deserialize_keras_object(config.pop("generator"))
        discriminator = keras.saving.deserialize_keras_object(config.pop("discriminator"))
        return cls(generator, discriminator, **config)


def _weight_penalty(model: Any) -> Any:
    """The L1/L2 penalties attached to `model`'s weights (`--l1`, `--l2`), 0 without:
    each player minimizes its own loss plus its own weights' penalty."""
    losses = model.losses
    return tf.add_n(losses) if losses else tf.constant(0.0)
