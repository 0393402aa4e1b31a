"""The speech app's classic baseline: logistic regression on log-mel statistics.

Each clip becomes the mean and the standard deviation over time of each log-mel band
(the app's own feature layer, so the same spectrum the model reads), standardized on
the training split; a linear model reads them. Order in time is lost: what the
convolutions add is measured against it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from kerasdl.app import Datasets
from kerasdl.data.audio import PCM_SCALE
from kerasdl.evaluation.baselines import Baseline, logistic_regression, split_arrays, timed

MAX_TRAINING_CLIPS = 20_000


def fit_baselines(data: Datasets) -> list[Baseline]:
    def log_mel_statistics() -> tuple[dict[str, np.ndarray], str]:
        import keras

        from kerasdl.layers.audio_features import log_mel_class

        settings: dict[str, Any] = {**data.info["features"], "mfcc": 0}
        layer = log_mel_class(keras)(**settings)
        features, labels = {}, {}
        for split in ("train", "validation", "test"):
            arrays = split_arrays(getattr(data, split), limit=MAX_TRAINING_CLIPS if split == "train" else None)
            if arrays is None:
                continue
            mel = np.concatenate([np.asarray(layer(chunk.astype(np.float32) / PCM_SCALE))
                                  for chunk in np.array_split(arrays[0], max(1, len(arrays[0]) // 256))])
            features[split] = np.concatenate([mel.mean(axis=1), mel.std(axis=1)], axis=1).reshape(len(mel), -1)
            labels[split] = arrays[1].astype(np.int64)
        mean, std = features["train"].mean(axis=0), features["train"].std(axis=0) + 1e-6
        standardized = {s: (f - mean) / std for s, f in features.items()}
        return logistic_regression(standardized, labels, len(data.info["class_names"]))

    return [timed("log-mel band mean and std + logistic regression", log_mel_statistics)]
