"""The vision app's classic baseline: a linear classifier on raw pixels.

Ridge regression on one-hot labels (a least-squares linear classifier), in closed form
on at most `MAX_TRAINING_IMAGES` training images: seconds even for colour images,
where logistic regression would take minutes. Its scores go through a softmax so that
the app's report (accuracy, ROC AUC) reads them as it reads the model's.
"""

from __future__ import annotations

import numpy as np

from kerasdl.app import Datasets
from kerasdl.evaluation.baselines import Baseline, ridge_regression, split_arrays, timed

MAX_TRAINING_IMAGES = 20_000


def fit_baselines(data: Datasets) -> list[Baseline]:
    num_classes = len(data.info["class_names"])

    def pixels_ridge() -> tuple[dict[str, np.ndarray], str]:
        arrays = {s: split_arrays(getattr(data, s), limit=MAX_TRAINING_IMAGES if s == "train" else None)
                  for s in ("train", "validation", "test")}
        features = {s: a[0].reshape(len(a[0]), -1).astype(np.float32) / 255.0 for s, a in arrays.items() if a}
        one_hot = {s: np.eye(num_classes, dtype=np.float32)[a[1].astype(np.int64)] for s, a in arrays.items() if a}
        scores, setting = ridge_regression(features, one_hot)
        return {s: _softmax(v) for s, v in scores.items()}, setting

    return [timed(f"linear classifier on pixels (ridge, <= {MAX_TRAINING_IMAGES:,} training images)",
                  pixels_ridge)]


def _softmax(scores: np.ndarray) -> np.ndarray:
    shifted = np.exp(scores - scores.max(axis=1, keepdims=True))
    return (shifted / shifted.sum(axis=1, keepdims=True)).astype(np.float32)
