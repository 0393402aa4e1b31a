"""Hyperparameter search: every app's search space, the search and its results, resume,
time budget, failing trials and a chief with a worker on 127.0.0.1."""

from __future__ import annotations

import csv
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import keras_tuner
import numpy as np
import pytest
from click.testing import CliRunner

from conftest import write_idx_folder
from kerasdl.cli import cli
from kerasdl.config import resolve_config
from kerasdl.errors import ConfigError
from kerasdl.registry import app_names, get_app
from kerasdl.tuning.search import parse_duration, parse_objective, tune


def test_objective_and_duration_parsing() -> None:
    assert parse_objective(None, ("val_accuracy", "max")) == ("val_accuracy", "max")
    assert parse_objective("val_loss", ("val_accuracy", "max")) == ("val_loss", "min")
    assert parse_objective("val_auc", ("val_loss", "min")) == ("val_auc", "max")
    assert parse_objective("fid:max", ("fid", "min")) == ("fid", "max")
    assert [parse_duration(t) for t in ("90", "90s", "2m", "1h30m", "0.5h")] == [90, 90, 120, 5400, 1800]
    for bad in ("soon", "5 minutes", "-3", "0", "1d"):
        with pytest.raises(ConfigError):
            parse_duration(bad)
    with pytest.raises(ConfigError, match="min or max"):
        parse_objective("val_loss:down", ("val_loss", "min"))


def test_the_result_table_names_the_objective_and_lists_failures_below() -> None:
    from kerasdl.tuning.search import TuneResult

    rows = [{"trial": "2", "status": "completed", "score": 0.875, "seconds": 3.25, "model": "cnn",
             "learning_rate": 0.00123456},
            {"trial": "0", "status": "completed", "score": 0.5, "seconds": None, "model": "mlp",
             "learning_rate": 0.01, "epochs_trained": 3},
            {"trial": "1", "status": "failed", "score": None, "seconds": 1.0, "model": "resnet",
             "learning_rate": 5.0, "error": "The loss became NaN at epoch 1."}]
    table = TuneResult(Path("s"), "val_accuracy", "max", rows, None).table().splitlines()
    assert table[0].split() == ["trial", "status", "val_accuracy", "seconds", "model", "learning_rate",
                                "epochs_trained"]
    assert table[1].split() == ["2", "completed", "0.875", "3.25", "cnn", "0.001235", "-"]
    assert table[2].split() == ["0", "completed", "0.5", "-", "mlp", "0.01", "3"]
    assert table[3].split() == ["1", "failed", "-", "1", "resnet", "5", "-"]
    assert table[4] == "trial 1 failed: The loss became NaN at epoch 1."
    assert len(table) == 5
    # Columns line up: each column starts where its header does.
    start = table[0].index("model")
    assert [line[start:].split()[0] for line in table[1:4]] == ["cnn", "mlp", "resnet"]


@pytest.mark.parametrize("app_name", app_names())
def test_every_point_of_each_search_space_is_a_valid_config(app_name: str) -> None:
    """40 random points of the app's space each make a config that validates."""
    import keras_tuner

    from kerasdl.tuning.hypermodel import AppHyperModel

    app = get_app(app_name)
    hypermodel = AppHyperModel(app, resolve_config(app.config_class, preset="tiny"))
    hp = keras_tuner.HyperParameters()
    hypermodel.trial_config(hp)  # registers the space, with the base config's values
    base, defaults = hypermodel.base_config.to_dict(), hypermodel.trial_config(hp).to_dict()
    changed = {k: v for k, v in defaults.items() if v != base[k]}
    # The one exception: the dcgan's unset discriminator rate means "the generator's".
    assert changed in ({}, {"d_learning_rate": base["learning_rate"]}), changed
    rng = np.random.default_rng(0)
    seen = set()
    for _ in range(40):
        point = keras_tuner.HyperParameters()
        point.values = {p.name: p.random_sample(int(rng.integers(1 << 30))) for p in hp.space}
        config = hypermodel.trial_config(point)
        app.model_name(config)
        seen.add(tuple(sorted(point.values.items())))
    assert len(seen) > 30


def _tiny_data(app_name: str, root: Path, request: pytest.FixtureRequest) -> str:
    return {
        "vision": lambda: str(request.getfixturevalue("idx_folder")),
        "sentiment": lambda: str(request.getfixturevalue("review_csv")),
        "speech": lambda: str(request.getfixturevalue("tone_folder")),
        "forecast": lambda: str(request.getfixturevalue("sine_csv")),
        "dcgan": lambda: str(write_idx_folder(root / "bands", train=200, test=60, size=28)),
    }[app_name]()


@pytest.mark.parametrize("app_name", app_names())
def test_two_trial_search_for_every_app(app_name: str, tmp_path: Path, request: pytest.FixtureRequest,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KERASDL_CACHE", str(tmp_path / "cache"))
    app = get_app(app_name)
    config = resolve_config(app.config_class, preset="tiny",
                            overrides={"dataset": _tiny_data(app_name, tmp_path, request)})
    result = tune(app_name, config, max_trials=2, tune_dir=tmp_path / "tune", name="s",
                  retrain=False)
    assert [r["status"] for r in result.trials] == ["completed"] * 2, result.trials
    scores = [r["score"] for r in result.trials]
    assert scores == sorted(scores, reverse=result.direction == "max")
    # The app's checkpoint metric for this data: 200 tiny bands leave the dcgan's scoring
    # classifier too weak for FID, so the two-sample test is the objective there.
    expected = ("c2st_loss", "max") if app_name == "dcgan" else app.monitor
    assert (result.objective, result.direction) == expected
    with result.trials_csv.open() as f:
        assert [row["trial"] for row in csv.DictReader(f)] == [r["trial"] for r in result.trials]
    # best.toml is a config `kerasdl train --config` takes, holding the best trial's values.
    best = resolve_config(app.config_class, toml_path=result.best_config_path)
    assert best == result.best_config
    for name, value in result.trials[0].items():
        if hasattr(best, name) and name not in ("trial", "status", "score", "seconds"):
            expected = pytest.approx(value, rel=1e-5) if isinstance(value, float) else value
            assert getattr(best, name) == expected, name
    # The first trial is the base config itself.
    first = next(r for r in result.trials if r["trial"] == "0")
    defaults = app.search_space(keras_tuner.HyperParameters(), config)
    assert {k: first[k] for k in defaults} == pytest.approx(defaults), first


def test_cli_search_retrains_the_best_as_a_run_that_exports(tmp_path: Path) -> None:
    data = write_idx_folder(tmp_path / "bands", train=1200, test=100)
    result = CliRunner().invoke(cli, [
        "tune", "vision", "--dataset", str(data), "--preset", "tiny", "--epochs", "3",
        "--max-trials", "3", "--tuner", "bayesian", "--tune-dir", str(tmp_path / "tune"),
        "--runs-dir", str(tmp_path / "runs"), "--name", "b"])
    assert result.exit_code == 0, result.output
    assert "Best val_accuracy (max)" in result.output and "learning_rate" in result.output
    run = tmp_path / "runs" / "vision" / "tuned-b"
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["accuracy"] > 0.5  # four brightness bands: chance is 0.25
    result = CliRunner().invoke(cli, ["export", str(run), "--format", "tflite", "--quantize", "float32",
                                      "--out", str(tmp_path / "exports")])
    assert result.exit_code == 0, result.output
    assert list((tmp_path / "exports").rglob("*.tflite"))


def test_hyperband_gives_trials_a_share_of_the_epochs(idx_folder: Path, tmp_path: Path) -> None:
    app = get_app("vision")
    config = resolve_config(app.config_class, preset="tiny",
                            overrides={"dataset": str(idx_folder), "epochs": 3, "width": 12})
    result = tune("vision", config, tuner="hyperband", max_trials=4, tune_dir=tmp_path, retrain=False,
                  fixed=("width", "model"))
    assert len(result.trials) == 4
    assert {r["epochs_trained"] for r in result.trials} <= {1, 2, 3}
    # --fix: held at the config's value, even one outside the space's choices.
    assert {(r["width"], r["model"]) for r in result.trials} == {(12, "cnn")}


def test_time_budget_starts_no_trial_after_it(idx_folder: Path, tmp_path: Path) -> None:
    app = get_app("vision")
    config = resolve_config(app.config_class, preset="tiny", overrides={"dataset": str(idx_folder)})
    result = tune("vision", config, max_trials=5, time_budget=0.5, tune_dir=tmp_path, retrain=False)
    assert len(result.trials) == 1


def test_an_objective_no_trial_logs_stops_at_the_first_epoch(idx_folder: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, [
        "tune", "vision", "--dataset", str(idx_folder), "--preset", "tiny", "--epochs", "1",
        "--objective", "val_nonsense", "--max-trials", "5", "--tune-dir", str(tmp_path)])
    assert result.exit_code == 1
    assert ("--objective val_nonsense is not a metric the trials log; choose from accuracy, "
            "loss, val_accuracy, val_loss") in result.output
    assert "Traceback" not in result.output and "Trial 1" not in result.output


def test_failing_trials_end_the_search_with_one_line(idx_folder: Path, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from kerasdl.apps.vision.app import VisionApp

    def diverges(self, hp, config):
        return {"learning_rate": hp.Float("learning_rate", 1e6, 1e7)}

    monkeypatch.setattr(VisionApp, "search_space", diverges)
    result = CliRunner().invoke(cli, [
        "tune", "vision", "--dataset", str(idx_folder), "--preset", "tiny", "--epochs", "1",
        "--optimizer", "sgd", "--max-trials", "5", "--tune-dir", str(tmp_path)])
    assert result.exit_code == 1
    assert "Three trials in a row failed; the last: " in result.output
    assert "Traceback" not in result.output and "Trial 3" not in result.output


@pytest.mark.parametrize(("args", "message"), [
    (["--tuner", "grid"], "Invalid value for '--tuner'"),
    (["--time-budget", "later"], "--time-budget takes a duration"),
    (["--objective", "val loss"], "--objective must be a metric name"),
    (["--strategy", "multiworker"], "Tuning distributes trials"),
    (["--resume", "--epochs", "3"], "give no config options or --fix"),
    (["--fix", "colour"], "--fix takes names from the vision app's search space (batch_size, dropout, "
                          "label_smoothing, learning_rate, model, optimizer, schedule, width). "
                          "Received: colour"),
])
def test_bad_options_are_one_line_errors(args: list[str], message: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["tune", "vision", "--tune-dir", str(tmp_path), *args])
    assert result.exit_code != 0
    assert message in result.output and "Traceback" not in result.output


def _tune_process(tmp_path: Path, data: Path, *extra: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    args = [sys.executable, "-m", "kerasdl.cli", "tune", "vision", "--tune-dir", str(tmp_path / "tune"),
            "--name", "s", "--no-retrain", *extra]
    if "--resume" not in extra:
        args += ["--dataset", str(data), "--preset", "tiny", "--epochs", "2"]
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}, cwd=tmp_path)


def test_a_killed_search_resumes_where_it_stopped(idx_folder: Path, tmp_path: Path) -> None:
    proc = _tune_process(tmp_path, idx_folder, "--max-trials", "3")
    first = tmp_path / "tune" / "vision" / "s" / "trial_0" / "kerasdl.json"
    # Kill once Keras Tuner has recorded trial 0 as completed (its trial.json), not
    # merely once kerasdl timed it: in between, a killed trial is rightly run again.
    recorded = first.with_name("trial.json")
    deadline = time.time() + 180
    while not (first.exists() and recorded.exists() and '"COMPLETED"' in recorded.read_text()):
        assert proc.poll() is None and time.time() < deadline, proc.stdout.read()
        time.sleep(0.1)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    first_timing = first.read_text()
    result = CliRunner().invoke(cli, ["tune", "vision", "--tune-dir", str(tmp_path / "tune"), "--name", "s",
                                      "--resume", "--max-trials", "3", "--no-retrain"])
    assert result.exit_code == 0, result.output
    with (tmp_path / "tune" / "vision" / "s" / "trials.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert sorted(r["trial"] for r in rows) == ["0", "1", "2"]
    assert {r["status"] for r in rows} == {"completed"}
    assert first.read_text() == first_timing  # trial 0 was not run again


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_chief_and_worker_on_loopback(idx_folder: Path, tmp_path: Path) -> None:
    address = {"KERASTUNER_ORACLE_IP": "127.0.0.1", "KERASTUNER_ORACLE_PORT": str(_free_port())}
    chief = _tune_process(tmp_path, idx_folder, "--max-trials", "2",
                          env={**address, "KERASTUNER_TUNER_ID": "chief"})
    worker = _tune_process(tmp_path, idx_folder, "--max-trials", "2",
                           env={**address, "KERASTUNER_TUNER_ID": "tuner0"})
    try:
        worker_out, _ = worker.communicate(timeout=300)
        chief_out, _ = chief.communicate(timeout=120)
    finally:
        for proc in (chief, worker):
            if proc.poll() is None:
                proc.kill()
    assert worker.returncode == 0, worker_out
    assert "the chief writes the results" in worker_out
    assert chief.returncode == 0, chief_out
    assert "Best val_accuracy (max)" in chief_out
    with (tmp_path / "tune" / "vision" / "s" / "trials.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [r["status"] for r in rows] == ["completed", "completed"]
