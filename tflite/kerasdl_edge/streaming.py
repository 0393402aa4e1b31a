"""Spotting commands in a long recording with a clip classifier, with numpy only.

A keyword model classifies fixed-length clips; over a recording, a window of that
length slides by `hop`, each window's class probabilities are averaged with the
previous ones (smoothing: one window alone flickers when a word is half inside it),
and a run of windows whose smoothed top class passes `threshold` becomes one detection,
stamped at the run's middle (where the word is centred in the window). Windows much
quieter than the recording's loudest are silence, and windows whose sound's centre of energy is off their middle half hold
only the edge of a word: neither triggers, so a model without a silence class can still
be used.

Example:
>>> from kerasdl_edge import EdgeModel
>>> from kerasdl_edge.audio import read_wav
>>> from kerasdl_edge.streaming import detect_commands
>>> model = EdgeModel("speech-1-int8.tflite")  # doctest: +SKIP
>>> info = model.metadata["info"]  # doctest: +SKIP
>>> audio = read_wav("long.wav", sample_rate=info["sample_rate"])  # doctest: +SKIP
>>> detect_commands(model, audio, sample_rate=info["sample_rate"],
...                 window=info["clip_samples"], class_names=info["class_names"])  # doctest: +SKIP
[Detection(time=0.75, label='seven', score=0.97), ...]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from kerasdl_edge.audio import to_pcm16

# Labels that mean "no command" in common keyword data sets (Speech Commands' own).
NOT_COMMANDS = ("_silence_", "_unknown_", "silence", "unknown", "_background_noise_")
BATCH = 64


@dataclass(frozen=True)
class Detection:
    """A command heard around `time` seconds, with its best smoothed probability."""

    time: float
    label: str
    score: float


def sliding_windows(samples: np.ndarray, window: int, hop: int) -> tuple[np.ndarray, np.ndarray]:
    """(windows [n, window], their centre sample indices) over `samples`, padded with
    half a window of silence at each end so a word at either edge is seen whole."""
    half = window // 2
    padded = np.pad(np.asarray(samples, np.float32), (half, half + window))
    count = max(1, (len(samples) + hop - 1) // hop)
    starts = np.arange(count) * hop
    index = starts[:, None] + np.arange(window)[None, :]
    return padded[index], starts


def detect_commands(
    classify: Callable[[np.ndarray], np.ndarray],
    samples: np.ndarray,
    *,
    sample_rate: int,
    window: int,
    class_names: Sequence[str],
    hop_seconds: float = 0.1,
    smoothing: int = 3,
    threshold: float = 0.7,
    silence_db: float = -30.0,
    ignore: Sequence[str] = NOT_COMMANDS,
) -> list[Detection]:
    """The commands heard in `samples`, in time order.

    Args:
        classify: takes int16 windows [n, window] and returns probabilities
            [n, classes] (an EdgeModel, or a Keras model's predict).
        samples: the recording, float32 mono in [-1, 1] at `sample_rate`.
        window: samples per window: the model's clip length.
        class_names: the model's labels.
        hop_seconds: how far the window moves each step.
        smoothing: windows averaged, the current one and those before it.
        threshold: smoothed probability a detection needs.
        silence_db: windows whose RMS is this far below the loudest window's are
            silence and never trigger.
        ignore: labels that are never reported (silence, unknown).
    """
    if hop_seconds <= 0:
        raise ValueError(f"`hop_seconds` must be positive. Received: {hop_seconds}")
    if smoothing < 1:
        raise ValueError(f"`smoothing` must be at least 1. Received: {smoothing}")
    hop = max(1, int(round(hop_seconds * sample_rate)))
    windows, starts = sliding_windows(samples, window, hop)
    # The model learned words centred in their clip: a window triggers only when it is
    # loud enough and its sound's centre of energy lies in its middle half.
    power = windows.astype(np.float64) ** 2
    rms = np.sqrt(power.mean(axis=1))
    centroid = (power @ np.arange(window)) / np.maximum(power.sum(axis=1), 1e-20)
    centred = np.abs(centroid - window / 2) <= window / 4
    loud = rms >= rms.max() * 10 ** (silence_db / 20) if rms.max() > 0 else np.zeros(len(rms), bool)
    audible = loud & centred
    # Silent or off-centre windows are not classified and vote for nothing, so one
    # word's tail does not leak into the next word's average.
    probabilities = np.zeros((len(windows), len(class_names)), np.float32)
    heard = np.flatnonzero(audible)
    pcm = to_pcm16(windows[heard])
    for i in range(0, len(heard), BATCH):
        probabilities[heard[i:i + BATCH]] = np.asarray(classify(pcm[i:i + BATCH]), np.float32)
    # A causal moving average: what a device listening live could compute.
    cumulative = np.cumsum(np.vstack([np.zeros((1, probabilities.shape[1])), probabilities]), axis=0)
    lows = np.maximum(0, np.arange(1, len(probabilities) + 1) - smoothing)
    counts = (np.arange(1, len(probabilities) + 1) - lows)[:, None]
    smoothed = (cumulative[1:] - cumulative[lows]) / counts
    ignored = {i for i, name in enumerate(class_names) if name in set(ignore)}

    detections: list[Detection] = []
    lag = (smoothing - 1) / 2 * hop  # the causal average trails the audio by this much
    current: list[float] | None = None  # [label, first window, last window, best score]
    for i, row in enumerate(smoothed):
        label = int(np.argmax(row))
        score = float(row[label])
        active = audible[i] and score >= threshold and label not in ignored
        if current is not None and (not active or label != current[0]):
            detections.append(_detection(current, starts, lag, sample_rate, class_names))
            current = None
        if active:
            if current is None:
                current = [label, i, i, score]
            current[2], current[3] = i, max(current[3], score)
    if current is not None:
        detections.append(_detection(current, starts, lag, sample_rate, class_names))
    return detections


def _detection(current: list[float], starts: np.ndarray, lag: float, sample_rate: int,
               class_names: Sequence[str]) -> Detection:
    label, first, last, score = current
    # Window i is centred on sample starts[i]; a word is inside every window of the run,
    # so the run's middle is the word's centre.
    centre = (starts[int(first)] + starts[int(last)]) / 2 - lag
    return Detection(time=round(max(0.0, float(centre)) / sample_rate, 3),
                     label=class_names[int(label)], score=round(score, 4))
