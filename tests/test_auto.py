"""`--model auto` (issue 21): candidates trained in turn, the winner chosen on the
validation split only, kept as the run."""

from __future__ import annotations

import csv
import json
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import review_texts
from kerasdl.apps.sentiment.app import SentimentApp
from kerasdl.cli import cli
from kerasdl.errors import TrainingError
from kerasdl.training.auto import pick_winner

TINY = {"max_tokens": 500, "sequence_length": 32, "embedding_dim": 8, "units": 8, "dropout": 0.0,
        "batch_size": 16}


def test_the_winner_is_picked_on_validation_not_test(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The test split's labels are flipped: the candidate that learned (best on
    validation) is the worst on test, the one that learned nothing the best. Auto
    must keep the first."""
    texts, labels = review_texts(300)
    flipped = {"pos": "neg", "neg": "pos"}
    with open(tmp_path / "train.csv", "w", newline="") as f:
        csv.writer(f).writerows([("text", "label"), *zip(texts[:240], labels[:240])])
    with open(tmp_path / "test.csv", "w", newline="") as f:
        csv.writer(f).writerows([("text", "label"), *((t, flipped[y]) for t, y in zip(texts[240:], labels[240:]))])
    monkeypatch.setattr(SentimentApp, "auto_recipes", {
        "frozen": {"model": "bag", "learning_rate": 1e-9, "epochs": 1, **TINY},
        "learns": {"model": "bag", "learning_rate": 1e-2, "epochs": 4, **TINY},
    })
    result = CliRunner().invoke(cli, ["train", "sentiment", "--dataset", str(tmp_path), "--model", "auto",
                                      "--runs-dir", str(tmp_path / "runs"), "--name", "auto"])
    assert result.exit_code == 0, result.output
    run = tmp_path / "runs" / "sentiment" / "auto"
    record = json.loads((run / "auto.json").read_text())
    scores = {c["label"]: c for c in record["candidates"]}
    assert scores["learns"]["validation"] > scores["frozen"]["validation"]
    assert scores["learns"]["test"] < scores["frozen"]["test"]  # the test split would pick "frozen"
    assert record["winner"] == "learns"
    config = tomllib.loads((run / "config.toml").read_text())
    assert config["learning_rate"] == pytest.approx(1e-2)  # the run is the winner
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["accuracy"] == pytest.approx(scores["learns"]["test"])
    assert metrics["auto"]["winner"] == "learns" and metrics["baselines"]
    assert "<- chosen" in result.output and "Chosen: learns" in result.output
    assert (run / "candidates" / "sentiment" / "frozen" / "run.json").is_file()
    # The auto run is a run like any other.
    predicted = CliRunner().invoke(cli, ["predict", str(run), "A great, wonderful film!"])
    assert predicted.exit_code == 0 and ": pos" in predicted.output


def test_a_time_budget_stops_new_candidates(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    texts, labels = review_texts(120)
    with open(tmp_path / "reviews.csv", "w", newline="") as f:
        csv.writer(f).writerows([("text", "label"), *zip(texts, labels)])
    monkeypatch.setattr(SentimentApp, "auto_recipes", {
        "first": {"model": "bag", "epochs": 1, **TINY}, "second": {"model": "cnn", "epochs": 1, **TINY}})
    result = CliRunner().invoke(cli, ["train", "sentiment", "--dataset", str(tmp_path / "reviews.csv"),
                                      "--model", "auto", "--time-budget", "1s", "--no-baseline",
                                      "--runs-dir", str(tmp_path / "runs"), "--name", "quick"])
    assert result.exit_code == 0, result.output
    record = json.loads((tmp_path / "runs" / "sentiment" / "quick" / "auto.json").read_text())
    assert [c["status"] for c in record["candidates"]] == ["trained", "skipped: time budget spent"]
    assert record["winner"] == "first"


def test_pick_winner_direction_and_failures() -> None:
    candidates = [{"label": "a", "validation": 0.5}, {"label": "b", "validation": 0.3},
                  {"label": "c", "status": "failed: NaN loss"}]
    assert pick_winner(candidates, "max")["label"] == "a"
    assert pick_winner(candidates, "min")["label"] == "b"
    with pytest.raises(TrainingError, match="c: failed"):
        pick_winner(candidates[2:], "max")


def test_every_app_with_auto_names_real_models() -> None:
    from kerasdl.registry import get_app

    for name in ("vision", "sentiment", "speech", "forecast"):
        app = get_app(name)
        assert len(app.auto_recipes) >= 2, name
        for overrides in app.auto_recipes.values():
            app.model_name(app.config_class(**overrides))
