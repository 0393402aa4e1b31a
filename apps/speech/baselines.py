"""The speech app's classic baseline: logistic regression on log-mel statistics.

Each clip becomes the mean and the standard deviation over time of each log-mel band
(the app's own feature layer, so the same spectrum the model reads), standardized on
the training split; a linear model reads them. Order in time is lost: what the
convolutions add is measured against it.

`fit_log_mel_lr` is both the baseline a run prints and the weights `--model
log-mel-lr` ships (`kerasdl.apps.speech.models.build_log_mel_lr`): its statistics are
computed by that model's own layers (`band_statistics`), so the numbers are the same
on every split.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np

from kerasdl.app import Datasets
from kerasdl.evaluation.baselines import Baseline, logistic_regression_fit, split_arrays, timed

LOG_MEL_LR = "log-mel-lr"
MAX_TRAINING_CLIPS = 20_000
# Added to each statistic's training variance before its square root: a band silent
# in every training clip has none.
VARIANCE_EPSILON = 1e-12
# The logit of a class the training split lacks: its probability is about 1e-13.
ABSENT_CLASS_LOGIT = -30.0
# The layers between the log-mel frames and the standardization (`band_statistics`).
STATISTICS_LAYERS = ("band_mean", "band_deviation", "band_direction", "band_spread", "band_spread_mean",
                     "band_std", "band_mean_flat", "band_statistics")


@dataclass
class LogMelFit:
    """Logistic regression on standardized log-mel band statistics.

    Attributes:
        mean, variance: [2 * bands] the statistics' training mean and variance.
        kernel: [2 * bands, classes] class scores per standardized statistic.
        bias: [classes].
        outputs: split -> class probabilities, as the Keras model computes them.
        setting: the C chosen on validation.
    """

    mean: np.ndarray
    variance: np.ndarray
    kernel: np.ndarray
    bias: np.ndarray
    outputs: dict[str, np.ndarray]
    setting: str


def log_mel_settings(features: dict[str, Any]) -> dict[str, Any]:
    """The feature layer's arguments for the baseline: the run's, log-mel whatever
    `features` says (no MFCCs)."""
    return {**features, "mfcc": 0}


def band_statistics(frames: Any, k: ModuleType) -> Any:
    """Log-mel frames [batch, frames, bands] to each band's mean and standard
    deviation over time (population, as numpy's `std`), [batch, 2 * bands].

    Plain Keras layers only, so that the TFLite converter (which loads the model in a
    process that knows kerasdl's own layers only) and tf_keras twins take it as it is.
    Without a square-root layer the deviation is sqrt(mean(d^2)) = sum(d * d / |d|) /
    sqrt(T), d the frames less their mean and |d| its norm over the T frames
    (`UnitNormalization`, which answers 0 for a band that never changes): the mean of
    squared deviations, never a difference of large squares.
    """
    steps = int(frames.shape[1])
    mean = k.layers.GlobalAveragePooling1D(keepdims=True, name="band_mean")(frames)
    deviation = k.layers.Subtract(name="band_deviation")([frames, mean])
    direction = k.layers.UnitNormalization(axis=1, name="band_direction")(deviation)
    spread = k.layers.Multiply(name="band_spread")([deviation, direction])
    std = k.layers.GlobalAveragePooling1D(name="band_spread_mean")(spread)  # |d| / T
    std = k.layers.Rescaling(float(np.sqrt(steps)), name="band_std")(std)
    mean = k.layers.Flatten(name="band_mean_flat")(mean)
    return k.layers.Concatenate(name="band_statistics")([mean, std])


def statistics_model(clip_samples: int, features: dict[str, Any], k: ModuleType) -> Any:
    """int16 clips to their band statistics, as `--model log-mel-lr` computes them."""
    from kerasdl.apps.speech.preprocessing import waveform_input

    inputs = waveform_input(clip_samples, keras_module=k)
    return k.Model(inputs, log_mel_statistics(inputs, features, k), name="log_mel_statistics")


def log_mel_statistics(waveforms: Any, features: dict[str, Any], k: ModuleType) -> Any:
    """int16 waveforms to band statistics: scaled to [-1, 1], the log-mel layer (the
    run's settings, `log_mel_settings`), `band_statistics`."""
    from kerasdl.data.audio import PCM_SCALE
    from kerasdl.layers.audio_features import log_mel_class

    x = k.layers.Rescaling(1.0 / PCM_SCALE, name="scale_pcm")(waveforms)
    x = log_mel_class(k)(**log_mel_settings(features), name="features")(x)
    return band_statistics(x, k)


def fit_log_mel_lr(data: Datasets) -> LogMelFit:
    """Logistic regression on `data`'s standardized band statistics (at most
    `MAX_TRAINING_CLIPS` training clips), C chosen on the validation split; the
    outputs are for every split."""
    import keras

    num_classes = len(data.info["class_names"])
    model = statistics_model(int(data.info["clip_samples"]), data.info["features"], keras)
    features, labels = {}, {}
    for split in ("train", "validation", "test"):
        arrays = split_arrays(getattr(data, split), limit=MAX_TRAINING_CLIPS if split == "train" else None)
        if arrays is None:
            continue
        chunks = np.array_split(arrays[0], max(1, len(arrays[0]) // 256))
        features[split] = np.concatenate([np.asarray(model(c, training=False)) for c in chunks]).astype(np.float64)
        labels[split] = arrays[1].astype(np.int64)
    mean, variance = features["train"].mean(axis=0), features["train"].var(axis=0)
    scale = np.sqrt(variance + VARIANCE_EPSILON)
    standardized = {s: (f - mean) / scale for s, f in features.items()}
    regression, setting = logistic_regression_fit(standardized, labels)
    kernel, bias = class_logits(regression, standardized["train"].shape[1], num_classes)
    outputs = {s: _softmax(x @ kernel + bias) for s, x in standardized.items()}
    return LogMelFit(mean.astype(np.float32), variance.astype(np.float32), kernel.astype(np.float32),
                     bias.astype(np.float32), outputs, setting)


def class_logits(regression: Any, num_features: int, num_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """A fitted scikit-learn logistic regression as one linear layer's (kernel
    [features, classes], bias [classes]) whose softmax is its probabilities: the binary
    form's one logit z becomes [0, z]; a class the training split lacks gets
    `ABSENT_CLASS_LOGIT`."""
    coef, intercept = np.asarray(regression.coef_), np.asarray(regression.intercept_)
    classes = np.asarray(regression.classes_)
    kernel = np.zeros((num_features, num_classes))
    bias = np.full(num_classes, ABSENT_CLASS_LOGIT)
    if len(classes) == 2:  # softmax([0, z]) = sigmoid(z)
        kernel[:, classes[1]], bias[classes[1]] = coef[0], intercept[0]
        bias[classes[0]] = 0.0
    else:
        kernel[:, classes] = coef.T
        bias[classes] = intercept
    return kernel, bias


def fit_baselines(data: Datasets) -> list[Baseline]:
    def log_mel_lr() -> tuple[dict[str, np.ndarray], str]:
        fit = fit_log_mel_lr(data)
        return fit.outputs, fit.setting

    return [timed("log-mel band mean and std + logistic regression", log_mel_lr)]


def _softmax(logits: np.ndarray) -> np.ndarray:
    z = np.exp(logits - logits.max(axis=1, keepdims=True))
    return (z / z.sum(axis=1, keepdims=True)).astype(np.float32)
