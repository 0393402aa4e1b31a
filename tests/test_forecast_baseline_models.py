"""Forecast's printed baselines as models (ridge, ridge-all, repeat-last, seasonal) and
the default run that is never worse than them on validation (issue 30)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from kerasdl import api
from kerasdl.apps.forecast.config import ForecastConfig
from kerasdl.cli import cli

TINY = ForecastConfig.presets["tiny"]


def test_ridge_all_is_the_printed_all_columns_baseline(sine_csv: Path, tmp_path: Path) -> None:
    config = ForecastConfig(dataset=str(sine_csv), model="ridge-all", target="mix", **{**TINY, "epochs": 3})
    summary = api.train("forecast", config, runs_dir=tmp_path, name="ridge-all", verbose=0)
    assert summary.epochs_completed == 1 and not summary.model.trainable_weights
    metrics = json.loads(summary.run.metrics_path.read_text())
    baseline = next(b for b in metrics["baselines"] if b["name"] == "ridge on all columns' past values")
    assert metrics["mse"] == pytest.approx(baseline["test"]["mse"], rel=1e-4)
    assert metrics["validation"]["mse"] == pytest.approx(baseline["validation"]["mse"], rel=1e-4)


def test_ridge_all_without_covariates_says_to_use_ridge(sine_csv: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["train", "forecast", "--dataset", str(sine_csv), "--preset", "tiny",
                                      "--model", "ridge-all", "--runs-dir", str(tmp_path)])
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[-1].startswith("Error: ridge-all reads other columns")


def test_the_default_run_is_not_worse_than_any_printed_baseline(sine_csv: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["train", "forecast", "--dataset", str(sine_csv), "--preset", "tiny",
                                      "--set", "target=mix", "--runs-dir", str(tmp_path), "--name", "default"])
    assert result.exit_code == 0, result.output
    run = tmp_path / "forecast" / "default"
    metrics = json.loads((run / "metrics.json").read_text())
    record = json.loads((run / "auto.json").read_text())
    assert [c["label"] for c in record["candidates"]] == ["linear", "repeat-last", "seasonal", "ridge", "ridge-all"]
    best = min(b["validation"]["mse"] for b in metrics["baselines"])
    assert metrics["validation"]["mse"] <= best * (1 + 1e-5)
    assert sum(line.startswith("Shipped ") for line in result.output.splitlines()) == 1
