"""`--model auto` (issue 21): candidates trained in turn, the winner chosen on the
validation split only, kept as the run."""

from __future__ import annotations

import csv
import json
import tomllib
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from conftest import review_texts
from kerasdl.apps.sentiment.app import SentimentApp
from kerasdl.cli import cli
from kerasdl.errors import TrainingError
from kerasdl.evaluation.selection import block_standard_error, choose_within_noise, standard_error
from kerasdl.training import auto

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


def test_one_standard_error_rule_direction_noise_and_pairing() -> None:
    rng = np.random.default_rng(0)
    errors = rng.normal(1.0, 0.5, 2000) ** 2
    # MSE-like ("min"): the smaller model is a hair worse, within noise: it is chosen.
    noise = rng.normal(0.0, 0.2, 2000)
    scores = {"big": errors, "small": errors + noise - noise.mean() + 0.002}  # gap 0.002, SE ~0.0045
    choice = choose_within_noise(scores, {"big": 5000, "small": 50}, "min")
    assert choice["best"] == "big" and choice["chosen"] == "small"
    assert choice["candidates"]["small"]["within_noise"]
    # Clearly worse (gap 50 standard errors): the best is kept however big.
    scores = {"big": errors, "small": errors + 0.5}
    choice = choose_within_noise(scores, {"big": 5000, "small": 50}, "min")
    assert choice["chosen"] == "big" and not choice["candidates"]["small"]["within_noise"]
    # Accuracy-like ("max"): higher is better.
    right = (rng.random(1000) < 0.9).astype(float)
    choice = choose_within_noise({"a": right, "b": np.zeros(1000)}, {"a": 9, "b": 1}, "max")
    assert choice["chosen"] == "a" and choice["candidates"]["b"]["gap"] == pytest.approx(right.mean())
    with pytest.raises(ValueError, match="different sizes"):
        choose_within_noise({"a": right, "b": right[:10]}, {"a": 1, "b": 1}, "max")
    with pytest.raises(ValueError, match="mode"):
        choose_within_noise({"a": right}, {"a": 1}, "best")
    with pytest.raises(TrainingError, match="c: failed: NaN loss"):
        auto.choose_candidate(SentimentApp(), ".", [{"label": "c", "status": "failed: NaN loss"}])
    # Equal sizes: the best is kept, not the earlier one.
    equal = {"first": right, "second": np.maximum(right, rng.random(1000) < 0.01)}
    assert choose_within_noise(equal, {"first": 5, "second": 5}, "max")["chosen"] == "second"
    with pytest.raises(ValueError, match="not finite"):
        choose_within_noise({"a": right, "b": np.full(1000, np.nan)}, {"a": 1, "b": 1}, "max")


def test_a_candidate_that_cannot_be_scored_loses_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """One candidate's model fails to load (or scores NaN): it is marked failed and the
    others are still chosen from; an app that cannot score examples refuses auto."""
    from kerasdl.errors import ConfigError
    from kerasdl.registry import get_app

    for label in ("broken", "nan", "fine"):
        folder = tmp_path / "candidates" / "sentiment" / label
        folder.mkdir(parents=True)
        (folder / "run.json").write_text(json.dumps({"app": "sentiment", "data": {"class_names": ["neg", "pos"]}}))

    def scores(app: object, candidate: object) -> tuple[np.ndarray, int]:
        name = candidate.name  # type: ignore[attr-defined]
        if name == "broken":
            raise OSError("model.keras: unexpected end of file")
        return (np.full(50, np.nan) if name == "nan" else np.ones(50)), 10

    monkeypatch.setattr(auto, "candidate_scores", scores)
    records = [{"label": label, "status": "trained"} for label in ("broken", "nan", "fine")]
    choice = auto.choose_candidate(SentimentApp(), tmp_path, records)
    assert choice["winner"] == "fine"
    assert records[0]["status"].startswith("failed: could not be scored") and "end of file" in records[0]["status"]
    assert records[1]["status"].startswith("failed") and records[2]["within_noise"]
    dcgan = get_app("dcgan")
    monkeypatch.setattr(type(dcgan), "auto_recipes", {"a": {}})
    with pytest.raises(ConfigError, match="cannot score single examples"):
        auto.train_candidates(dcgan, None, None)  # refused before anything trains


def test_block_standard_error_sees_correlated_neighbours() -> None:
    """Overlapping forecast windows make neighbouring errors alike: batch means give
    a larger standard error than the independent-examples formula, and the same one
    for independent values."""
    rng = np.random.default_rng(1)
    independent = rng.normal(size=4000)
    naive = independent.std(ddof=1) / np.sqrt(len(independent))
    assert block_standard_error(independent) == pytest.approx(naive, rel=0.5)
    correlated = np.repeat(rng.normal(size=40), 100)  # runs of 100 equal values
    assert block_standard_error(correlated) > 5 * correlated.std(ddof=1) / np.sqrt(len(correlated))
    assert block_standard_error([0.3]) == 0.0
    # standard_error: the usual formula for independent examples, batch means over
    # blocks at least one correlation length long otherwise.
    assert standard_error(independent) == pytest.approx(naive)
    assert standard_error(correlated, correlation_length=100) > 5 * standard_error(correlated)
    assert standard_error(correlated, correlation_length=100) == pytest.approx(block_standard_error(correlated, 20))
    assert standard_error(correlated, correlation_length=1000) == pytest.approx(block_standard_error(correlated, 4))


def test_auto_keeps_the_smaller_candidate_within_noise(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The candidates' validation scores are set: "large" is better by a gap far
    inside the noise, so the smaller "small" becomes the run, and the report says why."""
    texts, labels = review_texts(120)
    with open(tmp_path / "reviews.csv", "w", newline="") as f:
        csv.writer(f).writerows([("text", "label"), *zip(texts, labels)])
    monkeypatch.setattr(SentimentApp, "auto_recipes", {
        "large": {"model": "bag", "epochs": 1, **TINY, "embedding_dim": 32},
        "small": {"model": "bag", "epochs": 1, **TINY}})
    measured = auto.candidate_scores
    rng = np.random.default_rng(2)
    right = (rng.random(400) < 0.8).astype(float)
    flipped = right.copy()  # "large": right on 12 that "small" misses, wrong on 10 it gets: 2 more of 400
    flipped[np.flatnonzero(right == 0)[:12]] = 1.0
    flipped[np.flatnonzero(right == 1)[:10]] = 0.0

    def set_scores(app: SentimentApp, candidate: object) -> tuple[np.ndarray, int]:
        _, parameters = measured(app, candidate)  # the real parameter count
        return (flipped if candidate.name == "large" else right), parameters  # type: ignore[attr-defined]

    monkeypatch.setattr(auto, "candidate_scores", set_scores)
    result = CliRunner().invoke(cli, ["train", "sentiment", "--dataset", str(tmp_path / "reviews.csv"),
                                      "--model", "auto", "--no-baseline",
                                      "--runs-dir", str(tmp_path / "runs"), "--name", "noise"])
    assert result.exit_code == 0, result.output
    run = tmp_path / "runs" / "sentiment" / "noise"
    record = json.loads((run / "auto.json").read_text())
    sizes = {c["label"]: c["parameters"] for c in record["candidates"]}
    assert sizes["small"] < sizes["large"]
    assert record["best"] == "large" and record["winner"] == "small"
    assert tomllib.loads((run / "config.toml").read_text())["embedding_dim"] == TINY["embedding_dim"]
    assert "within noise" in result.output and "large was better on validation" in result.output



def test_every_app_with_auto_names_real_models() -> None:
    from kerasdl.registry import app_names, get_app

    with_auto = [name for name in app_names() if get_app(name).auto_recipes]
    assert len(with_auto) >= 4  # every app with a choice of models offers auto
    for name in with_auto:
        app = get_app(name)
        assert len(app.auto_recipes) >= 2, name
        for overrides in app.auto_recipes.values():
            app.model_name(app.config_class(**overrides))
