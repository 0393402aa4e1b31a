"""Classic baselines beside every run (issue 21): fitted on the training split only,
tuned on validation only, and a model that loses to them says so."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from conftest import review_texts
from kerasdl.cli import cli
from kerasdl.evaluation.baselines import logistic_regression, ridge_regression


def _write(path: Path, rows: list[tuple[str, str]]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([("text", "label"), *rows])


def test_text_baselines_see_the_training_split_only(tmp_path: Path) -> None:
    """Training (and its validation part) pair each sentiment word with the opposite
    label from the test split: baselines fitted on training data only get the test
    split wrong; any that saw the test labels would not."""
    from kerasdl import api
    from kerasdl.apps.sentiment.config import SentimentConfig

    texts, labels = review_texts(300)
    flipped = {"pos": "neg", "neg": "pos"}
    _write(tmp_path / "train.csv", [(t, flipped[y]) for t, y in zip(texts[:240], labels[:240])])
    _write(tmp_path / "test.csv", list(zip(texts[240:], labels[240:])))
    config = SentimentConfig(dataset=str(tmp_path), model="bag", epochs=1, max_tokens=500, sequence_length=32,
                             embedding_dim=8, units=8)
    metrics = api.train("sentiment", config, runs_dir=tmp_path / "runs", name="leak", verbose=0).metrics
    baselines = {b["name"]: b for b in metrics["baselines"]}
    assert set(baselines) == {"TF-IDF word 1-3 grams + logistic regression",
                              "NB-weighted binary word 1-3 grams + logistic regression"}
    for name, baseline in baselines.items():
        assert baseline["validation"]["accuracy"] > 0.9, name  # learned the training mapping
        assert baseline["test"]["accuracy"] < 0.1, name  # never saw the test labels


def test_a_model_worse_than_its_baseline_says_so_in_one_line(tmp_path: Path) -> None:
    texts, labels = review_texts(240)
    _write(tmp_path / "reviews.csv", list(zip(texts, labels)))
    # A named model is trained alone (no --model: the default run would ship the baseline).
    common = ["train", "sentiment", "--dataset", str(tmp_path / "reviews.csv"), "--preset", "tiny", "--model", "bag",
              "--epochs", "1", "--lr", "1e-7", "--runs-dir", str(tmp_path / "runs")]  # learns nothing
    result = CliRunner().invoke(cli, [*common, "--name", "slow"])
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.output.splitlines() if "worse than a classic baseline" in line]
    assert len(warnings) == 1 and "--model nb-lr" in warnings[0]
    assert "TF-IDF word 1-3 grams + logistic regression" in result.output
    metrics = json.loads((tmp_path / "runs" / "sentiment" / "slow" / "metrics.json").read_text())
    assert metrics["baseline_warning"] == warnings[0]
    assert metrics["baselines"][0]["validation"]["accuracy"] > metrics["validation"]["accuracy"]

    skipped = CliRunner().invoke(cli, [*common, "--name", "alone", "--no-baseline"])
    assert skipped.exit_code == 0, skipped.output
    assert "baseline" not in skipped.output
    assert "baselines" not in json.loads((tmp_path / "runs" / "sentiment" / "alone" / "metrics.json").read_text())


def test_forecast_baselines_include_covariates_when_there_are_any(tmp_path: Path) -> None:
    """The target follows a covariate with a lag of one row: a map over all columns
    sees it coming, one over the target's own past cannot."""
    import datetime as dt

    from kerasdl import api
    from kerasdl.apps.forecast.config import ForecastConfig

    rng = np.random.default_rng(0)
    driver = np.cumsum(rng.normal(size=700)) * 0.1
    driver -= np.convolve(driver, np.ones(25) / 25, mode="same")  # keep it near its mean
    target = np.roll(driver, 1) + 0.01 * rng.normal(size=700)
    start = dt.datetime(2024, 1, 1)
    lines = ["date,driver,target"] + [f"{start + dt.timedelta(hours=i)},{d:.5f},{t:.5f}"
                                      for i, (d, t) in enumerate(zip(driver, target))]
    (tmp_path / "lead.csv").write_text("\n".join(lines) + "\n")
    config = ForecastConfig(dataset=str(tmp_path / "lead.csv"), target="target", input_length=24, horizon=1,
                            season=12, epochs=1, units=8)
    metrics = api.train("forecast", config, runs_dir=tmp_path / "runs", name="lead", verbose=0).metrics
    mse = {b["name"]: b["test"]["mse"] for b in metrics["baselines"]}
    assert set(mse) == {"repeat-last", "seasonal", "ridge on each target's own past values",
                        "ridge on all columns' past values"}
    assert mse["ridge on all columns' past values"] < 0.2 * mse["ridge on each target's own past values"]


def test_regularization_is_chosen_on_the_validation_split() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 20))
    weights = rng.normal(size=(20, 1))
    # Validation targets come from the same map: little penalty wins. If they come
    # from a zero map, the strongest penalty (predicting the mean) wins.
    same = {"train": x @ weights, "validation": x[:50] @ weights}
    zero = {"train": x @ weights, "validation": np.zeros((50, 1))}
    features = {"train": x, "validation": x[:50]}
    assert ridge_regression(features, same)[1] == "strength=1e-06"
    assert ridge_regression(features, zero)[1] == "strength=1"
    labels = (x[:, 0] > 0).astype(int)
    _, chosen = logistic_regression(features, {"train": labels, "validation": labels[:50]}, 2)
    flipped, _ = logistic_regression(features, {"train": labels, "validation": 1 - labels[:50]}, 2)
    assert chosen != "" and flipped["validation"].shape == (50, 2)
    assert np.mean(flipped["validation"].argmax(1) == 1 - labels[:50]) < 0.5  # validation only picks C


def test_the_ridge_model_is_the_ridge_baseline(tmp_path: Path, sine_csv: Path) -> None:
    """`--model ridge` holds the baseline's closed-form solution, so `--model auto`,
    which tries it, can match the best ridge baseline on validation."""
    from kerasdl import api
    from kerasdl.apps.forecast.config import ForecastConfig

    config = ForecastConfig(dataset=str(sine_csv), model="ridge", input_length=24, horizon=6, season=12, epochs=1)
    summary = api.train("forecast", config, runs_dir=tmp_path, name="ridge", verbose=0)
    baseline = next(b for b in summary.metrics["baselines"] if b["name"] == "ridge on each target's own past values")
    assert summary.metrics["validation"]["mse"] == pytest.approx(baseline["validation"]["mse"], rel=1e-4)
    assert summary.metrics["mse"] == pytest.approx(baseline["test"]["mse"], rel=1e-4)
    assert summary.model.trainable_weights == []  # solved, not trained
