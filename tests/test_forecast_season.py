"""The forecast season read from the timestamps, the `--model auto` candidates a
single-column series calls for, and forecast rows labelled with their timestamps."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from kerasdl.apps.forecast.app import ForecastApp
from kerasdl.apps.forecast.config import ForecastConfig
from kerasdl.cli import cli
from kerasdl.config import config_from_dict

MONTH, QUARTER, YEAR = "month", "quarter", "year"


def step_time(start: dt.datetime, step: object, k: int) -> dt.datetime:
    if isinstance(step, dt.timedelta):
        return start + k * step
    months = {MONTH: 1, QUARTER: 3, YEAR: 12}[step] * k  # type: ignore[index]
    return start.replace(year=start.year + months // 12, month=months % 12 + 1)


def write_series(path: Path, step: object, rows: int = 200, *, columns: int = 2, business_days: bool = False,
                 start: dt.datetime = dt.datetime(1800, 1, 1)) -> Path:
    """A noisy sine per column, one row per `step` (None: no time column)."""
    rng = np.random.default_rng(0)
    names = ["y", "x"][:columns]
    lines = (["date,"] if step is not None else [""])[0] + ",".join(names)
    out, k = [lines], 0
    while len(out) <= rows:
        time = step_time(start, step, k) if step is not None else None
        k += 1
        if business_days and time is not None and time.weekday() >= 5:
            continue
        values = [f"{np.sin(len(out) / 3 + j) + 0.1 * rng.normal():.4f}" for j in range(columns)]
        out.append(",".join(([time.isoformat(sep=" ")] if time is not None else []) + values))
    path.write_text("\n".join(out) + "\n")
    return path


@pytest.mark.parametrize("step, input_length, season", [
    (dt.timedelta(hours=1), 96, 24),
    (dt.timedelta(days=1), 96, 7),
    (dt.timedelta(weeks=1), 96, 52),
    (MONTH, 96, 12),
    (QUARTER, 96, 4),
    (YEAR, 96, 1),  # no calendar cycle: season 1, the seasonal baseline left out
    (dt.timedelta(minutes=15), 96, 96),  # a day of steps fits the window
    (dt.timedelta(minutes=1), 96, 60),  # a day (1440) does not: the hour
    (dt.timedelta(weeks=1), 24, 1),  # 52 weeks do not fit 24 rows
    (None, 96, 7),  # no time column: 7, as before
], ids=["hourly", "daily", "weekly", "monthly", "quarterly", "yearly", "15-minute", "minute",
        "weekly-short-window", "no-time"])
def test_season_is_read_from_the_timestamps(tmp_path: Path, step: object, input_length: int, season: int) -> None:
    path = write_series(tmp_path / "s.csv", step)
    data = ForecastApp().load_datasets(ForecastConfig(dataset=str(path), input_length=input_length, horizon=4))
    assert data.info["season"] == season


def test_business_days_repeat_every_five_rows(tmp_path: Path) -> None:
    path = write_series(tmp_path / "s.csv", dt.timedelta(days=1), business_days=True, start=dt.datetime(2024, 1, 1))
    assert ForecastApp().load_datasets(ForecastConfig(dataset=str(path), horizon=4)).info["season"] == 5


def test_explicit_season_wins_baselines_use_the_season_and_old_configs_keep_theirs(tmp_path: Path) -> None:
    weekly = write_series(tmp_path / "weekly.csv", dt.timedelta(weeks=1))
    app = ForecastApp()
    assert ForecastConfig().season is None  # None: read it from the data
    assert app.load_datasets(ForecastConfig(dataset=str(weekly), horizon=4, season=3)).info["season"] == 3
    config = ForecastConfig(dataset=str(weekly), horizon=4)
    data = app.load_datasets(config)
    settings = {b.name: b.setting for b in app.fit_baselines(config, data)}
    assert settings["seasonal"] == "season=52"
    model = app.build_model(ForecastConfig(model="seasonal", horizon=4), data.info)
    assert model.get_layer("last_season").cropping == (96 - 52, 0)
    # A run saved before: its config holds season = 7, and its data info no season.
    old = config_from_dict(ForecastConfig, {"season": 7, "model": "seasonal", "horizon": 4})
    info = {k: v for k, v in data.info.items() if k not in ("season", "time_step")}
    assert app.build_model(old, info).get_layer("last_season").cropping == (96 - 7, 0)
    yearly = write_series(tmp_path / "yearly.csv", YEAR)
    config = ForecastConfig(dataset=str(yearly), horizon=4)
    names = [b.name for b in app.fit_baselines(config, app.load_datasets(config))]
    assert "seasonal" not in names and "repeat-last" in names  # season 1 would repeat the last row again


def test_single_column_series_gets_no_covariate_candidates_or_advice(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from kerasdl.errors import TrainingError
    from kerasdl.runs import Run
    from kerasdl.training import auto

    app = ForecastApp()
    single = ForecastConfig(dataset=str(write_series(tmp_path / "one.csv", dt.timedelta(days=1), columns=1)),
                            horizon=4)
    double = ForecastConfig(dataset=str(write_series(tmp_path / "two.csv", dt.timedelta(days=1))), horizon=4)
    covariate = {"linear-all", "linear-all-no-norm", "tsmixer"}
    assert covariate <= set(app.auto_candidates(double))
    candidates = app.auto_candidates(single)
    assert not covariate & set(candidates) and {"repeat-last", "seasonal", "linear", "mlp"} <= set(candidates)
    yearly = ForecastConfig(dataset=str(write_series(tmp_path / "y.csv", YEAR, columns=1)), horizon=4)
    assert "seasonal" not in app.auto_candidates(yearly)

    # --model auto trains those candidates: each fails here, and the error lists them.
    def refuse(*args: object, **kwargs: object) -> None:
        raise TrainingError("not trained in this test")

    monkeypatch.setattr(auto, "train_new_run", refuse)
    with pytest.raises(TrainingError) as error:
        auto.train_candidates(app, single, Run.create(tmp_path / "runs", "forecast", "auto"))
    assert "linear-no-norm: failed" in str(error.value) and "linear-all" not in str(error.value)

    advice = app.baseline_advice_for(app.load_datasets(single).info)
    assert "Try --model auto" in advice and "linear-all" not in advice
    assert "--model linear-all (covariates)" in app.baseline_advice_for(app.load_datasets(double).info)


def codec_info(time_column: str | None, *, input_length: int = 3, time_step: dict | None = None) -> dict:
    return {"columns": ["y"], "targets": ["y"], "scaler": {"mean": [0.0], "std": [1.0]},
            "input_length": input_length, "horizon": 2, "time_column": time_column, "categories": {},
            "time_step": time_step}


@pytest.mark.parametrize("header, times, expected", [
    ("date", ["1990/1/30 0:00", "1990/1/31 0:00"], ["1990/2/1 0:00", "1990/2/2 0:00"]),
    ("date", ["2024-01-31", "2024-02-29", "2024-03-31"], ["2024-04-30", "2024-05-31"]),
    ("date", ["2024-03-01T22:00:00", "2024-03-01T23:00:00"], ["2024-03-02T00:00:00", "2024-03-02T01:00:00"]),
    ("date", ["2020-01-06", "2020-01-13"], ["2020-01-20", "2020-01-27"]),
    ("t", ["10", "20", "30"], ["40", "50"]),
], ids=["unpadded-daily", "month-ends", "iso-hourly", "weekly", "numeric"])
def test_edge_forecast_rows_are_labelled_with_the_next_timestamps(tmp_path: Path, header: str, times: list[str],
                                                                  expected: list[str]) -> None:
    from kerasdl_edge.codecs import codec_for

    path = tmp_path / "in.csv"
    path.write_text(f"{header},y\n" + "".join(f"{t},{i}\n" for i, t in enumerate(times)))
    codec = codec_for("forecasting", codec_info(header, input_length=len(times)))
    (row,) = codec.predict(lambda batch: np.zeros((len(batch), 2, 1), np.float32), [str(path)])
    assert row["times"] == expected
    lines = codec.format(row).splitlines()
    assert lines[1].split()[0] == "time" and [line.split()[0] for line in lines[2:]] == [e.split()[0] for e in expected]


def test_edge_rows_without_a_time_column_keep_step_numbers_and_every_column_one_precision(tmp_path: Path) -> None:
    from kerasdl_edge.codecs import codec_for

    path = tmp_path / "in.csv"
    info = {**codec_info(None), "targets": ["y", "z"], "columns": ["y", "z"],
            "scaler": {"mean": [0.0, 0.0], "std": [1.0, 1.0]}}
    path.write_text("y,z\n1,5\n2,6\n3,7\n")
    outputs = np.array([[[0.012345, 1234.5678], [0.0234, 2345.6]]], np.float32)
    codec = codec_for("forecasting", info)
    (row,) = codec.predict(lambda batch: outputs, [str(path)])
    assert "times" not in row
    lines = codec.format(row).splitlines()
    assert lines[1].split() == ["step", "y", "z"]
    assert [line.split() for line in lines[2:]] == [["1", "0.01235", "1235"], ["2", "0.02340", "2346"]]
    # A one-row window shows no spacing: the training data's (its info) steps the time.
    path.write_text("date,y\n2024-05-01 10:00:00,1\n")
    info = codec_info("date", input_length=1, time_step={"amount": 1800.0, "unit": "second"})
    (row,) = codec_for("forecasting", info).predict(lambda batch: np.zeros((1, 2, 1)), [str(path)])
    assert row["times"] == ["2024-05-01 10:30:00", "2024-05-01 11:00:00"]


@pytest.fixture(scope="module")
def weekly_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    root = tmp_path_factory.mktemp("weekly")
    path = write_series(root / "weekly.csv", dt.timedelta(weeks=1), 300, start=dt.datetime(2000, 1, 3))
    result = CliRunner().invoke(cli, ["train", "forecast", "--dataset", str(path), "--epochs", "1",
                                      "--set", "input_length=60", "--set", "horizon=4",
                                      "--runs-dir", str(root / "runs"), "--name", "weekly"])
    assert result.exit_code == 0, result.output
    return root / "runs" / "forecast" / "weekly", path, result.output


def test_train_says_which_season_it_used(weekly_run: tuple[Path, Path, str]) -> None:
    _, _, output = weekly_run
    assert "Season: 52 steps (weekly timestamps; --set season=N to change)" in output.splitlines()
    assert re.search(r"^seasonal .* season=52$", output, re.MULTILINE), output


def test_kerasdl_predict_labels_rows_with_the_next_timestamps(weekly_run: tuple[Path, Path, str]) -> None:
    run, path, _ = weekly_run
    result = CliRunner().invoke(cli, ["predict", str(run), str(path)])
    assert result.exit_code == 0, result.output
    last = dt.datetime.fromisoformat(path.read_text().splitlines()[-1].split(",")[0])
    lines = result.output.splitlines()
    header = next(i for i, line in enumerate(lines) if line.split()[:1] == ["time"])
    rows = [line.rsplit(maxsplit=2) for line in lines[header + 1:header + 5]]
    assert [r[0] for r in rows] == [(last + dt.timedelta(weeks=k)).isoformat(sep=" ") for k in range(1, 5)]
    for column in (1, 2):  # one precision per column
        assert len({len(r[column].partition(".")[2]) for r in rows}) == 1
