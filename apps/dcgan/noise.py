"""The generator's fixed noise: the same latent points for a seed, in every epoch's grid,
every run and `kerasdl generate`."""

from __future__ import annotations

import numpy as np

from kerasdl_edge.codecs.image_generator import latent_noise

GRID_SIZE = 64  # images in each epoch's sample grid
GRID_SEED = 2015


def fixed_noise(count: int, latent_dim: int, seed: int = GRID_SEED) -> np.ndarray:
    """The same noise batch for a seed, so epochs (and runs) show the same latent points
    (the noise `kerasdl generate` and kerasdl-edge draw for a seed: `latent_noise`)."""
    return latent_noise(count, latent_dim, seed)
