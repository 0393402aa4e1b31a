"""Forecast metrics (numpy) and the forecast-against-actual plot."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np


def forecast_metrics(targets: np.ndarray, outputs: np.ndarray, scaler: Any) -> dict[str, float]:
    """MSE, MAE, RMSE and R² on the z-scored values (the benchmark convention: every
    column weighs the same), sMAPE in % on the data's own units.

    Args:
        targets, outputs: [windows, horizon, columns], z-scored.
        scaler: turns z-scores of these columns back into the data's units.
    """
    targets = np.asarray(targets, np.float64)
    outputs = np.asarray(outputs, np.float64)
    error = outputs - targets
    mse = float(np.mean(error ** 2))
    total = float(np.sum((targets - targets.mean(axis=(0, 1), keepdims=True)) ** 2))
    actual, forecast = scaler.inverse(targets), scaler.inverse(outputs)
    denominator = np.abs(actual) + np.abs(forecast)
    ratio = np.where(denominator > 0, 2 * np.abs(forecast - actual) / np.where(denominator > 0, denominator, 1), 0.0)
    return {
        "mse": mse,
        "mae": float(np.mean(np.abs(error))),
        "rmse": float(np.sqrt(mse)),
        "smape": float(100 * np.mean(ratio)),
        "r2": float(1 - np.sum(error ** 2) / total) if total > 0 else 0.0,
    }


def format_forecast_metrics(metrics: dict[str, Any]) -> str:
    names = ("mse", "mae", "rmse", "smape", "r2")
    lines = [f"{'':<16}" + "".join(f"{n:>10}" for n in names)]
    lines.append(f"{'model':<16}" + "".join(f"{metrics[n]:>10.4f}" for n in names))
    if "naive" in metrics:
        naive = metrics["naive"]
        lines.append(f"{'repeat last':<16}" + "".join(f"{naive[n]:>10.4f}" for n in names))
    split = metrics.get("split", "")
    lines.append(f"on {metrics.get('windows', '?')} {split} windows (mse, mae, rmse, r2 on z-scores; smape % on the data's units)")
    return "\n".join(lines)


def plot_forecast(targets: np.ndarray, outputs: np.ndarray, scaler: Any, names: Sequence[str],
                  path: Path, *, column: int = -1) -> Path:
    """The actual series over the evaluated period against the one-step-ahead and the
    last-step forecasts of every window, plus a few whole-horizon forecasts."""
    from kerasdl.evaluation.plots import pyplot, save

    plt = pyplot()

    actual = scaler.inverse(targets)[..., column]
    forecast = scaler.inverse(outputs)[..., column]
    windows, horizon = actual.shape
    series = np.concatenate([actual[:, 0], actual[-1, 1:]])
    fig, ax = plt.subplots(figsize=(11, 4))
    ax.plot(series, color="black", linewidth=1, label="actual")
    ax.plot(np.arange(windows), forecast[:, 0], linewidth=0.8, label="forecast, 1 step ahead")
    if horizon > 1:
        ax.plot(np.arange(horizon - 1, windows + horizon - 1), forecast[:, -1], linewidth=0.8,
                label=f"forecast, {horizon} steps ahead")
        for start in np.linspace(0, windows - 1, 4, dtype=int)[1:]:
            ax.plot(np.arange(start, start + horizon), forecast[start], color="tab:red", linewidth=1.2)
        ax.plot([], [], color="tab:red", label="whole-horizon forecasts")
    ax.set_title(f"{names[column]}: forecast against actual")
    ax.set_xlabel("row of the evaluated period")
    ax.legend(loc="best", fontsize=8)
    return save(plt, fig, path)
