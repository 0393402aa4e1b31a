"""The forecast app: multivariate time-series forecasting from CSV tables."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from kerasdl.app import AutoSelectable, Datasets, SupervisedApp
from kerasdl.app_export import ExportSettings, ExportSpec
from kerasdl.errors import ConfigError, DataError

from kerasdl.apps.forecast.config import ForecastConfig
from kerasdl.apps.forecast.models import (COVARIATE_MODELS, INSTANCE_NORM_LAYERS, MODELS, RECURRENT,
                                          build_forecast_model)

if TYPE_CHECKING:
    import keras
    import tensorflow as tf

logger = logging.getLogger(__name__)

SAMPLE = Path(__file__).parent / "sample" / "exchange_rate.csv"


class ForecastExport(ExportSpec[ForecastConfig]):
    """A forecaster's export: `serving_default` takes raw windows [batch, input_length,
    columns] in the data's own units and returns the forecast in those units (scaling is
    inside); TFLite files take z-scored windows (the metadata holds the scaler)."""

    # Instance normalization stays float in int8 (`INSTANCE_NORM_LAYERS` says why).
    settings = ExportSettings(fixed_batch_models=RECURRENT, int8_float_layers=INSTANCE_NORM_LAYERS)

    def serving_endpoints(self, model: "keras.Model") -> dict[str, Any]:
        import tensorflow as tf

        info = self.info
        mean = tf.constant(info["scaler"]["mean"], tf.float32)
        std = tf.constant(info["scaler"]["std"], tf.float32)
        targets = len(info["targets"])

        def forecast(window: tf.Tensor) -> dict[str, tf.Tensor]:
            scaled = model((window - mean) / std, training=False)
            return {"forecast": scaled * std[:targets] + mean[:targets]}

        return {"serving_default": (forecast, [tf.TensorSpec(
            [None, info["input_length"], len(info["columns"])], tf.float32, name="window")])}

    def preprocessing_metadata(self) -> dict[str, Any]:
        info = self.info
        return {
            "input": f"float32 [batch, {info['input_length']}, {len(info['columns'])}]: the last "
                     f"{info['input_length']} rows of the columns {info['columns']}, z-scored",
            "normalization": {"inside_model": False, "mean": info["scaler"]["mean"],
                              "std": info["scaler"]["std"], "formula": "(value - mean) / std"},
            "output": f"[batch, {info['horizon']}, {len(info['targets'])}]: the next rows of "
                      f"{info['targets']}, z-scored: value = output * std + mean (the targets' entries)",
        }


class ForecastApp(SupervisedApp[ForecastConfig], AutoSelectable):
    """Forecasting the next rows of a table of series.

    Example:
    >>> from kerasdl.apps.forecast.app import ForecastApp
    >>> from kerasdl.apps.forecast.config import ForecastConfig
    >>> data = ForecastApp().load_datasets(ForecastConfig())  # the bundled exchange rates
    >>> data.info["targets"]
    ['0', '1', '2', '3', '4', '5', '6', 'OT']
    """

    name: ClassVar[str] = "forecast"
    task: ClassVar[str] = "forecasting"
    description: ClassVar[str] = "Multivariate time-series forecasting."
    config_class = ForecastConfig
    models: ClassVar[dict[str, str]] = MODELS
    default_model: ClassVar[str] = "linear"
    sample_dir = SAMPLE.parent
    # The printed baselines as models; those the data does not suit (seasonal without a
    # season, ridge-all without covariates) say so and are skipped.
    baseline_models: ClassVar[dict[str, dict[str, Any]]] = {
        label: {"model": label, "epochs": 1} for label in ("repeat-last", "seasonal", "ridge", "ridge-all")}
    # The weightless baselines first (on a random walk such as exchange rates nothing
    # beats repeating the last value; one epoch records their validation loss), then
    # channel-shared linear maps with and without instance normalization (validated,
    # not assumed: it hurts series that return to their mean), DLinear, the MLP, and
    # the covariate models (left out for a single column: `auto_candidates`).
    auto_recipes: ClassVar[dict[str, dict[str, Any]]] = {
        "repeat-last": {"model": "repeat-last", "epochs": 1},
        "seasonal": {"model": "seasonal", "epochs": 1},
        "ridge": {"model": "ridge", "epochs": 1},
        "ridge-all": {"model": "ridge-all", "epochs": 1},
        "linear": {"model": "linear", "instance_norm": True},
        "linear-no-norm": {"model": "linear", "instance_norm": False},
        "dlinear": {"model": "dlinear", "instance_norm": True},
        "mlp": {"model": "mlp", "instance_norm": True},
        "linear-all": {"model": "linear-all", "instance_norm": True},
        "linear-all-no-norm": {"model": "linear-all", "instance_norm": False},
        "tsmixer": {"model": "tsmixer", "instance_norm": True},
    }

    baseline_advice: ClassVar[str] = ("Try --model auto, --set instance_norm=false (for a series that returns "
                                      "to its mean), or --model linear-all (covariates).")

    def baseline_advice_for(self, info: dict[str, Any]) -> str:
        """No covariate model to suggest for a single-column series."""
        if len(info.get("columns", ())) == 1:
            return "Try --model auto or --set instance_norm=false (for a series that returns to its mean)."
        return self.baseline_advice

    def fit_baselines(self, config: ForecastConfig, data: Datasets) -> list[Any]:
        """Repeat-last, seasonal (at the data info's season) and two ridge maps on the
        same windows (`baselines`)."""
        from kerasdl.apps.forecast.baselines import fit_baselines

        return fit_baselines(data, int(_with_season(config, data.info).season))

    def auto_candidates(self, config: ForecastConfig) -> dict[str, dict[str, Any]]:
        """`auto_recipes` less the ones the data gives nothing to: the covariate models
        (`COVARIATE_MODELS`: linear-all, tsmixer) for a single-column series, and
        seasonal for data without a season (it would repeat the last row)."""
        path, series = _read_series(config)
        columns, _ = _choose_columns(series, config, path)
        season, _ = _season(config, series, None)
        return {label: recipe for label, recipe in self.auto_recipes.items()
                if not (len(columns) == 1 and recipe.get("model") in COVARIATE_MODELS)
                and not (season == 1 and recipe.get("model") == "seasonal")}

    monitor = ("val_loss", "min")
    headline_metric = "mse"
    # time_step: another file of the same columns may be sampled at another rate.
    provenance_keys = ("source", "sizes", "rows", "time_step")
    export_spec_class: ClassVar[type[ExportSpec]] = ForecastExport

    def load_datasets(self, config: ForecastConfig, *, fitted: dict[str, Any] | None = None) -> Datasets:
        from kerasdl.data.timeseries import Scaler, infer_time_step, split_borders, window_starts, windows_dataset
        from kerasdl_edge.series import one_hot_name

        path, series = _read_series(config)
        season, why = _season(config, series, fitted)
        if fitted is None:
            logger.info("Season: %s (%s)", f"{season} steps" if season > 1 else "none, no seasonal baseline", why)
        step = infer_time_step(series.times) if series.time_column is not None else None
        columns, targets = _choose_columns(series, config, path)
        order = [series.columns.index(c) for c in columns]
        values = series.values[:, order]
        rows = len(values)
        validation_start, test_start, test_end = split_borders(rows, config.split)
        if fitted is not None and "scaler" in fitted:
            scaler = Scaler.from_dict(fitted["scaler"])
        else:
            scaler = Scaler.fit(values[:validation_start])
        scaled = scaler.transform(values)
        length, horizon = config.input_length, config.horizon
        starts = {
            "train": window_starts(0, validation_start, length, horizon, config.stride),
            "validation": window_starts(validation_start, test_start, length, horizon, 1),
            "test": window_starts(test_start, test_end, length, horizon, 1),
        }
        for split in ("train", "validation"):
            if len(starts[split]) == 0:
                raise DataError(
                    f"{path}: the {split} split is too short for one window of "
                    f"{length} + {horizon} rows; lower input_length or horizon, or change split."
                )
        target_index = list(range(len(targets)))
        datasets = {s: windows_dataset(scaled, st, length, horizon, target_index) if len(st) else None
                    for s, st in starts.items()}
        info = {
            "source": f"csv:{path}",
            "columns": columns,
            "targets": targets,
            "categories": {c: v for c, v in series.categories.items()
                           if any(one_hot_name(c, category) in columns for category in v)},
            "time_column": series.time_column,
            # The rows' spacing (labels the forecast's rows with their timestamps) and the
            # seasonal period used, in rows (1: none).
            "time_step": step.to_dict() if step is not None else None,
            "season": season,
            "input_length": length,
            "horizon": horizon,
            "scaler": scaler.to_dict(),
            "sizes": {s: int(len(st)) for s, st in starts.items()},
            "rows": {"train": [0, validation_start], "validation": [validation_start, test_start],
                     "test": [test_start, test_end]},
        }
        data = Datasets(train=datasets["train"], validation=datasets["validation"],
                        test=datasets["test"], info=info)
        model = self.model_name(config)
        if fitted is None and model == "ridge":
            from kerasdl.apps.forecast.baselines import own_history_ridge

            weights, setting = own_history_ridge(data)
            data.initial_weights["ridge_weights"] = weights
            logger.info("Ridge map of each target's own past solved in closed form (%s).", setting)
        if fitted is None and model == "ridge-all":
            from kerasdl.apps.forecast.baselines import all_columns_ridge

            if len(columns) == len(targets):
                raise ConfigError("ridge-all reads other columns (covariates) beside the targets; this "
                                  "series has none: use --model ridge.")
            weights, setting = all_columns_ridge(data)
            data.initial_weights["ridge_all_weights"] = weights
            logger.info("Ridge map of every column's past solved in closed form (%s).", setting)
        if fitted is None and model == "seasonal" and season == 1:
            raise ConfigError("This series has no season (its timestamps show none that fits the window): "
                              "use --model repeat-last, or --set season=N.")
        return data

    def search_space(self, hp: Any, config: ForecastConfig) -> dict[str, Any]:
        """The trainable model families, their size, and training (the window and
        horizon stay as configured: they define the task)."""
        from kerasdl.search_space import choice, training_space

        return {
            **training_space(hp, config, batch_sizes=(16, 32, 64)),
            "model": choice(hp, "model", ["linear", "dlinear", "mlp", "cnn", "gru", "patchtst"],
                            self.model_name(config)),
            "units": choice(hp, "units", [32, 64, 128], config.units),
        }

    def build_model(
        self, config: ForecastConfig, info: dict[str, Any], *, keras_module: ModuleType | None = None,
        batch_size: int | None = None,
    ) -> "keras.Model":
        return build_forecast_model(
            self.model_name(config), info["input_length"], len(info["columns"]),
            len(info["targets"]), info["horizon"], _with_season(config, info), batch_size=batch_size,
            keras_module=keras_module, statistics={k: info[k] for k in ("ridge_weights", "ridge_all_weights") if k in info},
        )

    def loss(self, config: ForecastConfig, info: dict[str, Any], *, keras_module: ModuleType | None = None) -> Any:
        from kerasdl.layers.blocks import keras_or

        k = keras_or(keras_module)
        return {"mse": k.losses.MeanSquaredError, "mae": k.losses.MeanAbsoluteError,
                "huber": k.losses.Huber}[config.loss]()

    def metrics(self, config: ForecastConfig, info: dict[str, Any], *, keras_module: ModuleType | None = None) -> list[Any]:
        from kerasdl.layers.blocks import keras_or

        k = keras_or(keras_module)
        return [k.metrics.MeanAbsoluteError(name="mae"), k.metrics.MeanSquaredError(name="mse")]

    def score(self, targets: np.ndarray, outputs: np.ndarray, info: dict[str, Any]) -> dict[str, Any]:
        from kerasdl.evaluation.forecasting import forecast_metrics

        return forecast_metrics(targets, outputs, _target_scaler(info))

    def correlation_length(self, info: dict[str, Any]) -> int:
        """Windows a step apart share all but one of their input and target rows."""
        return int(info["input_length"]) + int(info["horizon"])

    def per_example_metric(self, targets: np.ndarray, outputs: np.ndarray, info: dict[str, Any]) -> np.ndarray:
        """Each window's squared error over its horizon and columns, z-scored (their mean
        is the MSE)."""
        error = np.asarray(outputs, np.float64) - np.asarray(targets, np.float64)
        return np.mean(error.reshape(len(error), -1) ** 2, axis=1)

    def evaluate(
        self, model: Any, dataset: "tf.data.Dataset", info: dict[str, Any], *, plots_dir: Path | None = None,
    ) -> dict[str, Any]:
        """The model's metrics beside the repeat-last baseline's, measured on the same
        windows; with `plots_dir`, a plot of forecast against actual."""
        from kerasdl.evaluation.forecasting import forecast_metrics, plot_forecast

        inputs, targets, outputs = [], [], []
        for x, y in dataset:
            outputs.append(np.asarray(model(x, training=False)))
            targets.append(np.asarray(y))
            inputs.append(np.asarray(x)[:, -1:, : len(info["targets"])])
        if not outputs:
            raise DataError("The split to evaluate holds no windows.")
        targets_, outputs_ = np.concatenate(targets), np.concatenate(outputs)
        naive = np.repeat(np.concatenate(inputs), info["horizon"], axis=1)
        scaler = _target_scaler(info)
        metrics = forecast_metrics(targets_, outputs_, scaler)
        metrics["naive"] = forecast_metrics(targets_, naive, scaler)
        metrics["windows"] = int(len(targets_))
        if plots_dir is not None:
            plot_forecast(targets_, outputs_, scaler, info["targets"], plots_dir / "forecast.png")
        return metrics

    def format_metrics(self, metrics: dict[str, Any]) -> str:
        from kerasdl.evaluation.forecasting import format_forecast_metrics

        return format_forecast_metrics(metrics)


def _read_series(config: ForecastConfig) -> tuple[Path, Any]:
    """(the CSV's path, its `Series`) for `config.dataset`, the bundled sample when None."""
    from kerasdl.data.timeseries import read_series_csv

    path = SAMPLE if config.dataset is None else Path(config.dataset).expanduser()
    if not path.is_file():
        raise DataError(
            f"No such file: {path}. The forecast app reads a CSV file with a time column "
            "and numeric columns (tfds has no time-series forecasting data sets to offer)."
        )
    if not path.name.lower().endswith((".csv", ".tsv", ".csv.gz", ".tsv.gz")):
        raise DataError(
            f"{path} is not a CSV or TSV file; expected a table with a time column and "
            "numeric columns."
        )
    return path, read_series_csv(path, time_column=config.time_column,
                                 categorical=config.column_list("categorical"))


def _season(config: ForecastConfig, series: Any, fitted: dict[str, Any] | None) -> tuple[int, str]:
    """(the season in rows, why): the config's when set (it always wins), the trained
    model's, else read from the timestamps (`infer_season`)."""
    from kerasdl.data.timeseries import infer_season

    if config.season is not None:
        return config.season, "as set"
    if fitted is not None and fitted.get("season"):
        return int(fitted["season"]), "as trained"
    season, why = infer_season(series.times if series.time_column is not None else None, config.input_length)
    return season, f"{why}; --set season=N to change"


def _with_season(config: ForecastConfig, info: dict[str, Any]) -> ForecastConfig:
    """`config` with the season the data info holds when it leaves it to the data
    (runs from before the info held one set it in their config)."""
    if config.season is not None:
        return config
    from kerasdl.data.timeseries import infer_season

    season = info.get("season") or infer_season(None, config.input_length)[0]
    return dataclasses.replace(config, season=int(season))


def _choose_columns(series: Any, config: ForecastConfig, path: Path) -> tuple[list[str], list[str]]:
    """(input columns, targets first; the targets). A categorical column stands for its
    one-hot columns; `features` entries starting with '-' are left out of all columns."""
    from kerasdl_edge.series import one_hot_name

    available = series.columns
    expanded = {name: [one_hot_name(name, c) for c in cats] for name, cats in series.categories.items()}

    def resolve(names: list[str], role: str) -> list[str]:
        out: list[str] = []
        for name in names:
            if name in expanded:
                if role == "target":
                    raise DataError(f"{path}: the target '{name}' is categorical; a forecast target "
                                    "must be a number.")
                out += expanded[name]
            elif name in available:
                out.append(name)
            else:
                numeric = [c for c in available if not any(c in v for v in expanded.values())]
                categorical = f"; categorical: {', '.join(expanded)}" if expanded else ""
                raise DataError(f"{path} has no column '{name}'. Its numeric columns: "
                                f"{', '.join(numeric)}{categorical}.")
        return out

    requested = config.column_list("features")
    excluded = resolve([n[1:].strip() for n in requested if n.startswith("-")], "feature")
    included = [n for n in requested if not n.startswith("-")]
    one_hot = {c for columns in expanded.values() for c in columns}
    targets = resolve(config.column_list("target"), "target") or [
        c for c in available if c not in excluded and c not in one_hot]
    features = resolve(included, "feature") or list(available)
    clash = [t for t in targets if t in excluded]
    if clash:
        raise DataError(f"'{clash[0]}' is a target and cannot be left out of the features.")
    features = [c for c in features if c not in excluded]
    if not features and not targets:
        raise DataError(f"{path}: every column is left out.")
    columns = targets + [c for c in features if c not in targets]
    return columns, targets


def _target_scaler(info: dict[str, Any]) -> Any:
    from kerasdl.data.timeseries import Scaler

    scaler = Scaler.from_dict(info["scaler"])
    n = len(info["targets"])
    return Scaler(scaler.mean[:n], scaler.std[:n])
