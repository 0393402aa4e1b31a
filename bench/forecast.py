"""Forecast benchmark on ETTh1 (../shared/data/ett/ETTh1.csv), the standard protocol.

Split 12 / 4 / 4 months (rows 0-8639 / 8640-11519 / 11520-14399), z-scored with the
training rows' statistics, input 336 rows, horizon 96, all 7 columns in and out; MSE
and MAE on the z-scores over the 2,785 test windows. In the same run:
- repeat-last (every future row repeats the last seen) and a linear 336-to-96 map shared
  by the channels, fitted in closed form by ridge least squares (the ridge strength
  picked on the validation windows);
- each kerasdl model through `kerasdl.api.train` (best validation epoch kept), then its
  int8 TFLite export evaluated with ai-edge-litert.

    python bench/forecast.py [--models linear,dlinear,mlp,patchtst] [--epochs N]
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from common import SHARED_DATA, fresh_folder, markdown_table, require, write_result  # noqa: E402

# On top of the `etth1` preset (MAE loss, 10 epochs, the best validation epoch kept).
RECIPES: dict[str, dict[str, object]] = {
    "repeat-last": {"model": "repeat-last", "epochs": 1},
    "seasonal": {"model": "seasonal", "epochs": 1},
    "linear": {"model": "linear"},
    "dlinear": {"model": "dlinear"},
    "mlp": {"model": "mlp", "units": 256, "dropout": 0.3},
    "cnn": {"model": "cnn", "units": 32, "depth": 2, "dropout": 0.3, "epochs": 6},
    "gru": {"model": "gru", "units": 64, "dropout": 0.3, "epochs": 4},
    "patchtst": {"model": "patchtst", "units": 64, "depth": 2, "heads": 4, "patch_length": 16,
                 "dropout": 0.3, "learning_rate": 5e-4, "epochs": 4},
}


def ridge_baseline(path: str) -> tuple[float, float, float]:
    """Test MSE / MAE of the channel-shared linear map, and the chosen ridge strength."""
    from kerasdl.data.timeseries import Scaler, read_series_csv, split_borders, window_starts

    values = read_series_csv(path).values.astype(np.float64)
    validation, test, end = split_borders(len(values), "8640,2880,2880")
    scaled = Scaler.fit(values[:validation]).transform(values).astype(np.float64)

    def windows(begin: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
        starts = window_starts(begin, stop, 336, 96, 1)
        x = np.stack([scaled[s:s + 336] for s in starts])        # [n, 336, c]
        y = np.stack([scaled[s + 336:s + 432] for s in starts])  # [n, 96, c]
        # Channels share the map: each (window, channel) is one regression example.
        return (x.transpose(0, 2, 1).reshape(-1, 336), y.transpose(0, 2, 1).reshape(-1, 96))

    x_train, y_train = windows(0, validation)
    design = np.hstack([x_train, np.ones((len(x_train), 1))])
    gram, moment = design.T @ design, design.T @ y_train
    best = None
    x_val, y_val = windows(validation, test)
    for strength in (0.0, 1.0, 10.0, 100.0, 1000.0, 10000.0):
        penalty = strength * np.eye(gram.shape[0])
        penalty[-1, -1] = 0.0  # no penalty on the bias
        weights = np.linalg.solve(gram + penalty, moment)
        val_mse = float(np.mean((np.hstack([x_val, np.ones((len(x_val), 1))]) @ weights - y_val) ** 2))
        if best is None or val_mse < best[0]:
            best = (val_mse, strength, weights)
    _, strength, weights = best
    x_test, y_test = windows(test, end)
    error = np.hstack([x_test, np.ones((len(x_test), 1))]) @ weights - y_test
    return float(np.mean(error ** 2)), float(np.mean(np.abs(error))), strength


def kerasdl_model(name: str, path: str, runs, epochs: int | None) -> list[object]:
    from kerasdl import api
    from kerasdl.config import resolve_config
    from kerasdl.export.exporter import export_run
    from kerasdl.export.tflite import ExportError
    from kerasdl.registry import get_app

    app = get_app("forecast")
    overrides = {"dataset": path, **RECIPES[name]}
    if epochs and name not in ("repeat-last", "seasonal"):
        overrides["epochs"] = epochs
    config = resolve_config(app.config_class, preset="etth1", overrides=overrides)
    summary = api.train("forecast", config, runs_dir=runs, name=name, verbose=2)
    params = sum(math.prod(w.shape) for w in summary.model.trainable_weights)
    int8 = "-"
    try:
        report = export_run(summary.run.path, formats=("tflite",), quantizations=("int8",),
                            out_dir=runs / "exports", name=name.replace("-", "_"))
        (row,) = report.rows
        int8 = f"{row['metric']:.3f} ({row['bytes'] / 1024:.0f} KB)"
    except ExportError as e:
        print(f"{name}: int8 export failed: {e}", file=sys.stderr)
        int8 = "converter crashes (int8 recurrent layers)"
    m = summary.metrics
    return [f"kerasdl {name}", f"{m['mse']:.3f}", f"{m['mae']:.3f}", f"{m['smape']:.2f}",
            f"{m['r2']:.3f}", params, f"{summary.seconds / 60:.1f} min ({summary.epochs_completed} ep.)", int8]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="repeat-last,seasonal,linear,dlinear,mlp,cnn,gru,patchtst")
    parser.add_argument("--epochs", type=int, help="override the trained models' epochs")
    args = parser.parse_args()
    path = str(require(SHARED_DATA / "ett" / "ETTh1.csv"))
    models = [m for m in args.models.split(",") if m]
    unknown = [m for m in models if m not in RECIPES]
    if unknown:
        print(f"unknown models: {', '.join(unknown)}; choose from {', '.join(RECIPES)}", file=sys.stderr)
        return 2
    started = time.perf_counter()
    mse, mae, strength = ridge_baseline(path)
    penalty = "no penalty" if strength == 0 else "ridge"
    rows = [[f"linear map 336->96 shared by the channels, closed-form least squares (ridge strength "
             f"picked on validation: {strength:g}, {penalty})",
             f"{mse:.3f}", f"{mae:.3f}", "-", "-", 337 * 96, f"{(time.perf_counter() - started):.0f} s", "-"]]
    runs = fresh_folder("forecast")
    for name in models:
        rows.append(kerasdl_model(name, path, runs, args.epochs))
    table = markdown_table(
        ["model", "test MSE", "test MAE", "sMAPE %", "R²", "parameters", "training (2 cores)",
         "int8 TFLite MSE (size)"], rows)
    command = "python bench/forecast.py " + " ".join(sys.argv[1:])
    write_result("forecast", "Forecast: ETTh1, input 336, horizon 96, all 7 columns, 2,785 test windows",
                 table, command.strip(),
                 notes="MSE, MAE and R² on z-scores (training statistics), sMAPE on the data's units. "
                       "Published (PatchTST paper's table): DLinear 0.375 / 0.399, PatchTST/64 0.370 / 0.400.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
