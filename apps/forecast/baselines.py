"""The forecast app's classic baselines, on the same windows as the model.

- repeat-last: every future row repeats the last one seen;
- seasonal: the last `season` rows repeated (the season the data info holds, read
  from the timestamps unless set; left out for season 1, where it is repeat-last);
- ridge on each target's own past values, one linear map shared by the targets;
- ridge on all input columns' past values (covariates included), one map from the
  whole window to the whole forecast.

The ridge maps are fitted in closed form on the training windows (at most
`MAX_TRAINING_WINDOWS`, evenly spaced), the strength chosen on the validation windows.
"""

from __future__ import annotations

import math

import numpy as np

from kerasdl.app import Datasets
from kerasdl.evaluation.baselines import Baseline, ridge_fit, ridge_regression, split_arrays, timed

MAX_TRAINING_WINDOWS = 20_000


def per_target(a: np.ndarray, columns: int) -> np.ndarray:
    """[windows, time, columns] -> [(window, target) pairs, time]: each target's series
    is one example of a map shared by the targets."""
    return a[:, :, :columns].transpose(0, 2, 1).reshape(-1, a.shape[1])


def window_arrays(data: Datasets) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """(inputs, futures) per split as arrays, the training windows thinned to at most
    `MAX_TRAINING_WINDOWS` evenly spaced."""
    train = data.train
    every = math.ceil(data.info["sizes"]["train"] / MAX_TRAINING_WINDOWS)
    if every > 1:
        train = train.shard(every, 0)
    arrays = {s: split_arrays(ds) for s, ds in (("train", train), ("validation", data.validation),
                                                 ("test", data.test))}
    return ({s: a[0].astype(np.float32) for s, a in arrays.items() if a is not None},
            {s: a[1].astype(np.float32) for s, a in arrays.items() if a is not None})


def own_history_ridge(data: Datasets) -> tuple[np.ndarray, str]:
    """The ridge map of each target's own past values (weights [input_length + 1,
    horizon], bias last), fitted on the training windows, the strength chosen on the
    validation windows: the baseline, as weights a model can hold."""
    targets = len(data.info["targets"])
    windows, future = window_arrays(data)
    splits = ("train", "validation")
    return ridge_fit({s: per_target(windows[s], targets) for s in splits},
                     {s: per_target(future[s], targets) for s in splits})


def all_columns_ridge(data: Datasets) -> tuple[np.ndarray, str]:
    """The ridge map of every column's window to the targets' horizon (weights
    [input_length * columns + 1, horizon * targets], bias last), fitted as
    `own_history_ridge` is: the baseline, as weights `--model ridge-all` holds."""
    windows, future = window_arrays(data)
    splits = ("train", "validation")
    return ridge_fit({s: windows[s].reshape(len(windows[s]), -1) for s in splits},
                     {s: future[s].reshape(len(future[s]), -1) for s in splits})


def fit_baselines(data: Datasets, season: int) -> list[Baseline]:
    info = data.info
    horizon, targets = int(info["horizon"]), len(info["targets"])
    windows, future = window_arrays(data)

    def repeat_last() -> tuple[dict[str, np.ndarray], str]:
        return {s: np.repeat(x[:, -1:, :targets], horizon, axis=1) for s, x in windows.items()}, ""

    def seasonal() -> tuple[dict[str, np.ndarray], str]:
        steps = np.arange(horizon) % season + (windows["train"].shape[1] - season)
        return {s: x[:, steps, :targets] for s, x in windows.items()}, f"season={season}"

    def own_history() -> tuple[dict[str, np.ndarray], str]:
        predicted, setting = ridge_regression({s: per_target(x, targets) for s, x in windows.items()},
                                              {s: per_target(y, targets) for s, y in future.items()})
        return {s: p.reshape(-1, targets, horizon).transpose(0, 2, 1) for s, p in predicted.items()}, setting

    def all_columns() -> tuple[dict[str, np.ndarray], str]:
        predicted, setting = ridge_regression({s: x.reshape(len(x), -1) for s, x in windows.items()},
                                              {s: y.reshape(len(y), -1) for s, y in future.items()})
        return {s: p.reshape(-1, horizon, targets) for s, p in predicted.items()}, setting

    baselines = [timed("repeat-last", repeat_last)]
    if season > 1:  # a season of one row repeats the last row: repeat-last again
        baselines.append(timed("seasonal", seasonal))
    baselines.append(timed("ridge on each target's own past values", own_history))
    if len(info["columns"]) > targets:
        baselines.append(timed("ridge on all columns' past values", all_columns))
    return baselines
