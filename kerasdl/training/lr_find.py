"""The learning-rate range test (Smith 2017; fastai's lr_find).

Train a fresh model for a few hundred steps while the learning rate grows
geometrically from `start` to `end`, one value per step, and record the loss. Too
small, the loss does not move; too large, it explodes. A good peak learning rate sits
where the loss falls fastest, about a tenth of the rate at the lowest loss. The loss
is smoothed with an exponential moving average (bias-corrected) so that one noisy
batch does not decide; the test stops once the smoothed loss exceeds 4x its minimum.

Example:
>>> import numpy as np
>>> from kerasdl.training.lr_find import suggest
>>> rates = np.geomspace(1e-5, 1, 50)
>>> losses = 1 + (np.log10(rates) + 2) ** 2  # lowest near 1e-2: a tenth of it is suggested
>>> round(suggest(rates, losses)["lowest_loss"], 4)
0.0009
"""

from __future__ import annotations

import dataclasses
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from kerasdl.config import TrainConfig
from kerasdl.errors import ConfigError, KerasdlError

logger = logging.getLogger(__name__)

SMOOTHING = 0.98
DIVERGED = 4.0


@dataclass
class RangeTest:
    """The test's record: the rate and smoothed loss of each step, and suggestions."""

    rates: list[float]
    losses: list[float]
    suggestions: dict[str, float]
    plot: Path | None = None


def suggest(rates: np.ndarray, losses: np.ndarray) -> dict[str, float]:
    """`steepest` (where the smoothed loss falls fastest per decade of rate) and
    `lowest_loss` (a tenth of the rate at the lowest loss), over the steps recorded."""
    rates, losses = np.asarray(rates, float), np.asarray(losses, float)
    if len(rates) < 3:
        raise KerasdlError("The range test recorded fewer than 3 steps: use more --steps or data.")
    slope = np.gradient(losses, np.log10(rates))
    return {"steepest": float(rates[int(np.argmin(slope))]),
            "lowest_loss": float(rates[int(np.argmin(losses))] / 10)}


def range_test(app: Any, config: TrainConfig, *, start: float = 1e-7, end: float = 10.0, steps: int = 200,
               out_dir: Path | None = None) -> RangeTest:
    """Runs the test for `app` with `config` (its model as `kerasdl train` makes it,
    data, optimizer and batch size; its learning rate and schedule are replaced by the
    sweep).

    Raises:
        ConfigError: for a bad range or step count.
    """
    import keras

    from kerasdl.app import SupervisedApp
    from kerasdl.training.setup import prepare_fit, prepare_model, source_data_info

    if not isinstance(app, SupervisedApp):
        raise ConfigError(f"The range test needs one loss and one optimizer; the {app.name} app trains two "
                          "players: compare learning rates with `kerasdl compare` instead.")
    if not 0 < start < end:
        raise ConfigError(f"The range must satisfy 0 < start < end. Received: start={start}, end={end}")
    if steps < 10:
        raise ConfigError(f"`steps` must be at least 10. Received: {steps}")
    keras.utils.set_random_seed(config.seed)
    constant = dataclasses.replace(config, schedule="constant", learning_rate=start)
    app.model_name(constant)  # a bad model name fails before the data is read
    # The model the run would train: from `init_from`'s weights (and preprocessing), with
    # its L1/L2 penalties and teacher, so the loss swept is the one the run minimizes.
    data = app.load_datasets(constant, fitted=source_data_info(app, constant))
    fit = prepare_fit(app, constant, data, output_dir=out_dir or Path("."), app_callbacks=False)
    # In this process's (default) strategy whatever `strategy` says: a few hundred steps
    # are not worth connecting a TPU or a cluster (whose strategy needs the custom loop,
    # not this `fit`), and the batch is the run's global batch either way, so the
    # suggested rate holds for the distributed run.
    model = prepare_model(app, constant, data.info, initial_weights=data.initial_weights,
                          steps_per_epoch=fit.steps_per_epoch)
    factor = (end / start) ** (1 / (steps - 1))
    record: dict[str, list[float]] = {"rates": [], "losses": []}

    class Sweep(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.step, self.average, self.best = 0, 0.0, math.inf

        def on_train_batch_begin(self, batch: int, logs: Any = None) -> None:
            self.model.optimizer.learning_rate.assign(start * factor ** self.step)

        def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
            loss = float((logs or {}).get("loss", math.nan))
            if not math.isfinite(loss):
                self.model.stop_training = True
                return
            self.average = SMOOTHING * self.average + (1 - SMOOTHING) * loss
            smoothed = self.average / (1 - SMOOTHING ** (self.step + 1))
            record["rates"].append(start * factor ** self.step)
            record["losses"].append(smoothed)
            self.best = min(self.best, smoothed)
            self.step += 1
            if smoothed > DIVERGED * self.best or self.step >= steps:
                self.model.stop_training = True

    epochs = math.ceil(steps / fit.steps_per_epoch)
    model.fit(fit.train, epochs=epochs, callbacks=[Sweep()], verbose=0)
    result = RangeTest(record["rates"], record["losses"], suggest(np.array(record["rates"]), np.array(record["losses"])))
    if out_dir is not None:
        result.plot = _plot(result, Path(out_dir) / "lr_find.png", app.name, config.optimizer)
    return result


def _plot(result: RangeTest, path: Path, app: str, optimizer: str) -> Path:
    from kerasdl.evaluation.plots import pyplot, save

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.plot(result.rates, result.losses, color="tab:blue")
    ax.set_xscale("log")
    ax.set_xlabel("learning rate (log scale)")
    ax.set_ylabel("training loss (smoothed)")
    colours = {"steepest": "tab:green", "lowest_loss": "tab:red"}
    labels = {"steepest": "steepest descent", "lowest_loss": "lowest loss / 10"}
    for key, rate in result.suggestions.items():
        ax.axvline(rate, color=colours[key], linestyle="--", label=f"{labels[key]}: {rate:.2g}")
    ax.set_title(f"{app}, {optimizer}: learning-rate range test")
    ax.legend()
    return save(plt, fig, path, dpi=110)
