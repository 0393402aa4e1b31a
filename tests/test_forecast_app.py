"""The forecast app and its time-series data layer, on generated sines."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from app_contract import run_app_contract
from kerasdl.apps.forecast.app import ForecastApp
from kerasdl.apps.forecast.config import ForecastConfig
from kerasdl.cli import cli
from kerasdl.data.timeseries import read_series_csv, split_borders, window_starts
from kerasdl.errors import ConfigError, DataError

TINY = ForecastConfig.presets["tiny"]


def test_missing_values_are_filled_forward(tmp_path: Path) -> None:
    path = tmp_path / "gaps.csv"
    path.write_text("date,x,y\n2024-01-01,,1\n2024-01-02,2,NaN\n2024-01-03,,3\n2024-01-04,4,\n")
    series = read_series_csv(path)
    assert series.time_column == "date" and series.columns == ["x", "y"]
    assert series.values.tolist() == [[2, 1], [2, 1], [2, 3], [4, 3]]
    assert series.filled == 4


@pytest.mark.parametrize("content, message", [
    ("", "is empty"),
    ("date,x\n", "has a header but no rows"),
    ("date,x\n2024-01-01,1\n2024-01-02,abc\n", "line 3: column 'x' holds 'abc', not a number"),
    ("date,x\n2024-01-02,1\n2024-01-01,2\n", "line 3: the time column 'date' goes back in time"),
    ("date,x\n2024-01-01,1\n2024-01-01,2\n", "line 3: the time column 'date' repeats"),
    ("date,x\nyesterday,1\n", "line 2: the time column 'date' holds 'yesterday'"),
    ("date,x\n2024-01-01,\n2024-01-02,\n", "column 'x' holds no numbers at all"),
    ("date\n2024-01-01\n", "has no value columns"),
])
def test_bad_series(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(DataError, match=message):
        read_series_csv(path)


def test_standard_etth1_protocol_window_counts() -> None:
    validation, test, end = split_borders(17420, "8640,2880,2880")
    assert (validation, test, end) == (8640, 11520, 14400)
    assert len(window_starts(test, end, 336, 96, 1)) == 2785
    train = window_starts(0, validation, 336, 96, 1)
    assert train[-1] + 336 + 96 == validation  # targets never cross into validation
    with pytest.raises(DataError, match="`split` must be three positive numbers"):
        split_borders(100, "0.7,0.3")
    with pytest.raises(DataError, match="The split needs 300 rows but the data has 100"):
        split_borders(100, "100,100,100")


def test_scaling_uses_training_rows_only(sine_csv: Path) -> None:
    data = ForecastApp().load_datasets(ForecastConfig(dataset=str(sine_csv), **TINY))
    series = read_series_csv(sine_csv)
    train_rows = data.info["rows"]["train"][1]
    np.testing.assert_allclose(data.info["scaler"]["mean"], series.values[:train_rows].mean(axis=0), rtol=1e-4)
    # 120 test rows; inputs may reach back into validation, targets stay inside
    assert data.info["sizes"]["test"] == 120 - 6 + 1
    x, y = next(iter(data.train))
    assert tuple(x.shape) == (24, 3) and tuple(y.shape) == (6, 3)


def test_targets_first_then_features(sine_csv: Path) -> None:
    data = ForecastApp().load_datasets(ForecastConfig(dataset=str(sine_csv), target="mix", features="a", **TINY))
    assert data.info["columns"] == ["mix", "a"] and data.info["targets"] == ["mix"]
    _, y = next(iter(data.train))
    assert tuple(y.shape) == (6, 1)
    with pytest.raises(DataError, match="has no column 'zz'. Its numeric columns: a, b, mix"):
        ForecastApp().load_datasets(ForecastConfig(dataset=str(sine_csv), target="zz", **TINY))
    with pytest.raises(DataError, match="the train split is too short"):
        ForecastApp().load_datasets(ForecastConfig(dataset=str(sine_csv), split="20,100,100", **TINY))


def test_bad_config_values() -> None:
    with pytest.raises(ConfigError, match="`season` \\(50\\) must not exceed `input_length` \\(24\\)"):
        ForecastConfig(input_length=24, season=50)
    with pytest.raises(ConfigError, match="`loss` must be one of mse, mae, huber"):
        ForecastConfig(loss="l3")


def test_contract_all_models(sine_csv: Path, tmp_path: Path) -> None:
    config = ForecastConfig(dataset=str(sine_csv), **{**TINY, "epochs": 8, "learning_rate": 1e-2})
    results = run_app_contract(ForecastApp(), config, tmp_path, inputs=[sine_csv],
                               learned=lambda m: m["mse"] < m["naive"]["mse"])  # beats repeating the last row
    results.pop("trained")
    assert set(results) == set(ForecastApp.models)
    for name, r in results.items():
        assert r["output_shape"] == (4, 6, 3), name


@pytest.fixture(scope="module")
def linear_run(tmp_path_factory: pytest.TempPathFactory, sine_csv: Path) -> Path:
    from kerasdl import api

    config = ForecastConfig(dataset=str(sine_csv), **{**TINY, "epochs": 8, "learning_rate": 1e-2})
    summary = api.train("forecast", config, runs_dir=tmp_path_factory.mktemp("runs"), name="linear", verbose=0)
    metrics = summary.metrics
    assert metrics["mse"] < 0.5 * metrics["naive"]["mse"]  # sines are predictable; repeat-last is not
    assert metrics["mae"] < metrics["naive"]["mae"] and metrics["r2"] > 0.9
    assert (summary.run.plots / "forecast.png").stat().st_size > 1000
    return summary.run.path


def test_predict_the_next_horizon_from_a_csv(linear_run: Path, sine_csv: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["predict", str(linear_run), str(sine_csv), "--json"])
    assert result.exit_code == 0, result.output
    row = json.loads(result.output)
    assert list(row["forecast"]) == ["a", "b", "mix"] and len(row["forecast"]["a"]) == 6
    t = np.arange(600, 606)  # the rows after the file's last one
    np.testing.assert_allclose(row["forecast"]["a"], np.sin(2 * np.pi * t / 12), atol=0.35)
    short = tmp_path / "short.csv"
    short.write_text("\n".join(sine_csv.read_text().splitlines()[:10]) + "\n")
    result = CliRunner().invoke(cli, ["predict", str(linear_run), str(short)])
    assert result.exit_code == 1 and "has 9 rows; the model needs the last 24" in result.output


def test_export_raw_unit_savedmodel_and_tflite(linear_run: Path, sine_csv: Path, tmp_path: Path) -> None:
    import tensorflow as tf

    from kerasdl.export.exporter import export_run
    from kerasdl.training.saving import load_model
    from kerasdl_edge import EdgeModel

    report = export_run(linear_run, quantizations=("float32", "int8"), out_dir=tmp_path)
    rows = {r["variant"]: r for r in report.rows}
    assert rows["tflite-float32"]["max_abs_diff"] < 1e-4
    assert rows["tflite-int8"]["metric"] < 2 * rows["tflite-int8"]["keras_metric"] + 0.05
    raw = read_series_csv(sine_csv).values[-24:][None]
    serving = tf.saved_model.load(str(report.saved_model)).signatures["serving_default"]
    forecast = serving(window=tf.constant(raw))["forecast"].numpy()
    info = EdgeModel(report.tflite["float32"]).metadata["info"]
    mean, std = np.asarray(info["scaler"]["mean"]), np.asarray(info["scaler"]["std"])
    scaled = EdgeModel(report.tflite["float32"])(((raw - mean) / std).astype(np.float32))
    np.testing.assert_allclose(scaled * std + mean, forecast, atol=1e-3)
    keras_out = np.asarray(load_model(Path(linear_run) / "checkpoints" / "best.keras")(((raw - mean) / std).astype(np.float32)))
    np.testing.assert_allclose(keras_out, scaled, atol=1e-4)


def test_recurrent_forecaster_exports_with_a_fixed_batch(sine_csv: Path, tmp_path: Path) -> None:
    from kerasdl import api
    from kerasdl.export.exporter import export_run

    config = ForecastConfig(dataset=str(sine_csv), model="lstm", **{**TINY, "epochs": 1})
    run = api.train("forecast", config, runs_dir=tmp_path, name="lstm", verbose=0).run
    report = export_run(run.path, formats=("tflite",), quantizations=("float32",), out_dir=tmp_path / "out")
    (row,) = report.rows
    assert row["max_abs_diff"] < 1e-4


def test_evaluate_on_another_file_keeps_the_trained_scaling(linear_run: Path, tmp_path: Path) -> None:
    from conftest import write_sine_csv

    other = write_sine_csv(tmp_path / "later.csv", 400, seed=3)
    result = CliRunner().invoke(cli, ["evaluate", str(linear_run), "--dataset", str(other)])
    assert result.exit_code == 0, result.output
    assert "repeat last" in result.output and "75 test windows" in result.output


def write_air_quality_csv(path: Path, rows: int = 400) -> Path:
    """The layout of public air-quality and weather files: a row number, the time split
    over year/month/day/hour, a target with gaps, a categorical wind direction that
    drives it, and numeric covariates."""
    import datetime as dt

    rng = np.random.default_rng(3)
    lines = ["No,year,month,day,hour,pm2.5,TEMP,cbwd,Iws"]
    level = 50.0
    for i in range(rows):
        t = dt.datetime(2010, 1, 1) + dt.timedelta(hours=i)
        wind = str(rng.choice(["NW", "SE", "cv"]))
        level = 0.8 * level + (20 if wind == "SE" else 2) + rng.normal(0, 2)
        cell = "NA" if i < 5 or i % 37 == 0 else f"{level:.1f}"
        lines.append(f"{i + 1},{t.year},{t.month},{t.day},{t.hour},{cell},{rng.normal(0, 5):.1f},{wind},"
                     f"{rng.uniform(0, 20):.2f}")
    path.write_text("\n".join(lines) + "\n")
    return path


def test_time_from_parts_categorical_one_hot_and_left_out_columns(tmp_path: Path) -> None:
    path = write_air_quality_csv(tmp_path / "air.csv")
    with pytest.raises(DataError, match=r"line 2: column 'cbwd' holds '\w\w', not a number\. Leave it out "
                                        r"with `features=-cbwd`, one-hot encode it with `categorical=cbwd`"):
        read_series_csv(path)
    series = read_series_csv(path, categorical=["cbwd"])
    assert series.time_column == "year,month,day,hour" and series.times[:2] == ["2010-01-01 00:00:00",
                                                                                "2010-01-01 01:00:00"]
    assert series.columns == ["No", "pm2.5", "TEMP", "cbwd=NW", "cbwd=SE", "cbwd=cv", "Iws"]
    assert series.categories == {"cbwd": ["NW", "SE", "cv"]}
    one_hot = series.values[:, 3:6]
    assert (one_hot.sum(axis=1) == 1).all() and set(np.unique(one_hot)) == {0.0, 1.0}
    assert not np.isnan(series.values).any()  # the gaps are filled
    with pytest.raises(DataError, match="time_column must name|must name year,month,day"):
        read_series_csv(path, time_column="day,month,year", categorical=["cbwd"])

    config = ForecastConfig(dataset=str(path), target="pm2.5", features="-No", categorical="cbwd", **TINY)
    data = ForecastApp().load_datasets(config)
    assert data.info["columns"] == ["pm2.5", "TEMP", "cbwd=NW", "cbwd=SE", "cbwd=cv", "Iws"]
    assert data.info["targets"] == ["pm2.5"] and data.info["categories"] == {"cbwd": ["NW", "SE", "cv"]}
    with pytest.raises(DataError, match="the target 'cbwd' is categorical"):
        ForecastApp().load_datasets(ForecastConfig(dataset=str(path), target="cbwd", categorical="cbwd", **TINY))
    with pytest.raises(DataError, match="has no column 'wind'"):
        ForecastApp().load_datasets(ForecastConfig(dataset=str(path), features="-wind", categorical="cbwd", **TINY))


def test_categorical_model_forecasts_the_same_in_kerasdl_and_the_edge_runtime(tmp_path: Path) -> None:
    from kerasdl.export.exporter import export_run
    from kerasdl_edge import Predictor

    path = write_air_quality_csv(tmp_path / "air.csv")
    result = CliRunner().invoke(cli, ["train", "forecast", "--dataset", str(path), "--preset", "tiny",
                                      "--set", "target=pm2.5", "--set", "features=-No", "--set",
                                      "categorical=cbwd", "--runs-dir", str(tmp_path / "runs"), "--name", "air"])
    assert result.exit_code == 0, result.output
    run = tmp_path / "runs" / "forecast" / "air"
    result = CliRunner().invoke(cli, ["predict", str(run), str(path), "--json"])
    assert result.exit_code == 0, result.output
    keras_forecast = json.loads(result.output)["forecast"]["pm2.5"]
    report = export_run(run, formats=("tflite",), quantizations=("float32",), out_dir=tmp_path / "out")
    edge = Predictor(report.tflite["float32"]).predict([str(path)])[0]["forecast"]["pm2.5"]
    np.testing.assert_allclose(edge, keras_forecast, rtol=1e-4)
    (tmp_path / "no_wind.csv").write_text("\n".join(
        ",".join(line.split(",")[:7] + line.split(",")[8:]) for line in path.read_text().splitlines()) + "\n")
    result = CliRunner().invoke(cli, ["predict", str(run), str(tmp_path / "no_wind.csv")])
    assert result.exit_code == 1 and "lacks the column 'cbwd' the model was trained on" in result.output
