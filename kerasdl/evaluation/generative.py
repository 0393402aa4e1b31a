"""Measuring generated images against real ones, with numpy.

Both measures read a classifier's view of the images: its penultimate-layer features
and its class probabilities. The usual choice is ImageNet's Inception v3; kerasdl uses a
classifier trained on the same data (no pretrained weights can be downloaded here, and
Inception's ImageNet features say little about 28x28 clothing anyway), so its numbers are
comparable between kerasdl runs on the same data, not with published FIDs.

- Fréchet distance (FID; Heusel et al. 2017): fit a Gaussian to each set of features
  and measure the distance between the two: ||mu_a - mu_b||^2 + Tr(S_a + S_b -
  2 (S_a S_b)^(1/2)). Lower is better; two samples of the real data set the floor.
- Inception Score analogue (Salimans et al. 2016): exp(E_x KL(p(y|x) || p(y))): high
  when each image is confidently one class and all classes appear; at most the number of
  classes.
"""

from __future__ import annotations

import numpy as np


def _psd_sqrt(matrix: np.ndarray) -> np.ndarray:
    values, vectors = np.linalg.eigh(matrix)
    return (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """The Fréchet distance between Gaussians fitted to feature rows `a` and `b`.

    Example:
    >>> import numpy as np
    >>> from kerasdl.evaluation.generative import frechet_distance
    >>> rng = np.random.default_rng(0)
    >>> round(frechet_distance(rng.normal(size=(5000, 2)), rng.normal(size=(5000, 2)) + [3, 0]))
    9
    """
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if len(a) < 2 or len(b) < 2:
        raise ValueError("The Fréchet distance needs at least two feature rows on each side.")
    mean_a, mean_b = a.mean(axis=0), b.mean(axis=0)
    cov_a, cov_b = np.atleast_2d(np.cov(a, rowvar=False)), np.atleast_2d(np.cov(b, rowvar=False))
    # Tr((S_a S_b)^1/2) = Tr((S_a^1/2 S_b S_a^1/2)^1/2), whose argument is symmetric.
    root_a = _psd_sqrt(cov_a)
    cross = np.sum(np.sqrt(np.clip(np.linalg.eigvalsh(root_a @ cov_b @ root_a), 0.0, None)))
    return float(np.sum((mean_a - mean_b) ** 2) + np.trace(cov_a) + np.trace(cov_b) - 2.0 * cross)


def inception_score(probabilities: np.ndarray) -> float:
    """exp(mean KL(p(y|x) || p(y))) over rows of class probabilities."""
    p = np.clip(np.asarray(probabilities, np.float64), 1e-12, 1.0)
    marginal = p.mean(axis=0, keepdims=True)
    return float(np.exp(np.mean(np.sum(p * (np.log(p) - np.log(marginal)), axis=1))))


def diversity(images: np.ndarray) -> float:
    """Mean distance between pairs of images (pixel RMS difference): near zero when a
    generator has collapsed to one output."""
    flat = np.asarray(images, np.float64).reshape(len(images), -1)
    if len(flat) < 2:
        return 0.0
    squared = np.sum(flat ** 2, axis=1)
    distances = squared[:, None] + squared[None, :] - 2.0 * flat @ flat.T
    pairs = distances[np.triu_indices(len(flat), k=1)]
    return float(np.mean(np.sqrt(np.clip(pairs, 0.0, None) / flat.shape[1])))
