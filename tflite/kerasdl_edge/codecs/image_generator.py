"""Image generation: noise in, images out."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from kerasdl_edge.codecs.base import BATCH, Codec, Generating, Model
from kerasdl_edge.errors import EdgeError
from kerasdl_edge.facts import GeneratorFacts


class ImageGeneratorCodec(Codec, Generating):
    """A generator reads no inputs: it makes uint8 images from standard normal noise,
    the same noise for the same seed everywhere (`kerasdl generate`, `kerasdl-edge
    generate`)."""

    task = "image_generation"
    facts_class = GeneratorFacts

    def read(self, inputs: Sequence[Any]) -> np.ndarray:
        raise EdgeError("An image generator makes images from noise and reads no inputs: use "
                        "`kerasdl generate` (on a device, `kerasdl-edge generate`).")

    def describe(self, outputs: np.ndarray, *, top_k: int = 3) -> list[dict[str, Any]]:
        raise EdgeError("An image generator makes images: use `kerasdl generate`.")

    def format(self, row: dict[str, Any]) -> str:
        raise EdgeError("An image generator makes images: use `kerasdl generate`.")

    def noise(self, count: int, seed: int) -> np.ndarray:
        """Standard normal float32 [count, latent_dim]."""
        if count < 1:
            raise EdgeError(f"The number of images must be at least 1. Received: {count}")
        return latent_noise(count, self.facts.latent_dim, seed)

    def walk(self, seed: int, to_seed: int, steps: int) -> np.ndarray:
        """Along the great circle (slerp) between the seeds' first points: Gaussian noise
        lies near a sphere, and a straight line would cut through its improbable middle."""
        start, end = self.noise(1, seed)[0], self.noise(1, to_seed)[0]
        return np.stack([slerp(start, end, t) for t in np.linspace(0.0, 1.0, steps)]).astype(np.float32)

    def outputs(self, model: Model, noise: np.ndarray) -> np.ndarray:
        images = np.concatenate([np.asarray(model(noise[i:i + BATCH])) for i in range(0, len(noise), BATCH)])
        return to_pixels(images)


def latent_noise(count: int, latent_dim: int, seed: int) -> np.ndarray:
    """A generator's input: standard normal float32 [count, latent_dim]."""
    return np.random.default_rng(seed).standard_normal((count, latent_dim)).astype(np.float32)


def to_pixels(images: np.ndarray) -> np.ndarray:
    """A generator's float output (pixels 0-255) as uint8."""
    return np.clip(np.round(np.asarray(images)), 0, 255).astype(np.uint8)


def slerp(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    """Spherical interpolation from `a` (t = 0) to `b` (t = 1)."""
    cos = np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b))
    angle = np.arccos(np.clip(cos, -1.0, 1.0))
    if angle < 1e-6:
        return (1 - t) * a + t * b
    return (np.sin((1 - t) * angle) * a + np.sin(t * angle) * b) / np.sin(angle)
