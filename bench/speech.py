"""Speech benchmark on the Free Spoken Digit Dataset (../shared/data/fsdd), its
documented split: recordings 0-4 of each speaker and digit are the test set (300
clips), 5-49 train (2,700; 10 % of them held out for validation, picking the best
epoch). Clips at 8 kHz, 1 s (the loudest second of longer ones). In the same run:
- a classical baseline: per-band mean and standard deviation of the same log-mel
  features (computed by kerasdl's feature layer) into a logistic regression;
- each kerasdl model through `kerasdl.api.train`, its parameters and multiply-
  accumulates per clip, then its int8 TFLite export evaluated with ai-edge-litert.

    python bench/speech.py [--models cnn,ds-cnn,crnn] [--epochs N]
"""

from __future__ import annotations

import argparse
import os
import sys
import tarfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from common import REPO, SHARED_DATA, fresh_folder, markdown_table, require, write_result  # noqa: E402

# On top of the `fsdd` preset.
RECIPES: dict[str, dict[str, object]] = {
    "cnn": {"model": "cnn", "width": 32, "depth": 4},
    "ds-cnn": {"model": "ds-cnn", "width": 64, "depth": 4},
    "crnn": {"model": "crnn", "width": 32, "depth": 2, "units": 64},
}


def extract(archive: Path) -> Path:
    """The recordings folder, extracted once under bench/runs/data."""
    target = REPO / "bench" / "runs" / "data" / "fsdd"
    recordings = next(target.glob("*/recordings"), None) if target.exists() else None
    if recordings is None:
        target.mkdir(parents=True, exist_ok=True)
        with tarfile.open(archive) as tar:
            tar.extractall(target, filter="data")
        recordings = next(target.glob("*/recordings"))
    return recordings


def baseline(recordings: Path) -> list[object]:
    """Logistic regression on per-band log-mel statistics."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    import keras

    from kerasdl.apps.speech.config import SpeechConfig
    from kerasdl.config import resolve_config
    from kerasdl.layers.audio_features import log_mel_class
    from kerasdl.registry import get_app

    started = time.perf_counter()
    app = get_app("speech")
    config = resolve_config(SpeechConfig, preset="fsdd", overrides={"dataset": str(recordings)})
    data = app.load_datasets(config)
    settings = data.info["features"]
    layer = log_mel_class(keras)(**settings)

    def features(ds) -> tuple[np.ndarray, np.ndarray]:
        xs, ys = [], []
        for clips, labels in ds.batch(256):
            mel = np.asarray(layer(np.asarray(clips, np.float32) / 32768.0))
            xs.append(np.concatenate([mel.mean(axis=1), mel.std(axis=1)], axis=1))
            ys.append(np.asarray(labels))
        return np.concatenate(xs), np.concatenate(ys)

    x_train, y_train = features(data.train.concatenate(data.validation))
    x_test, y_test = features(data.test)
    scaler = StandardScaler().fit(x_train)
    model = LogisticRegression(max_iter=2000, C=1.0).fit(scaler.transform(x_train), y_train)
    accuracy = float((model.predict(scaler.transform(x_test)) == y_test).mean())
    return ["log-mel band mean + std, logistic regression (scikit-learn)", f"{accuracy:.2%}",
            (x_train.shape[1] + 1) * 10, "-", f"{time.perf_counter() - started:.0f} s", "-", "-"]


def kerasdl_model(name: str, recordings: Path, runs: Path, epochs: int | None) -> list[object]:
    from kerasdl import api
    from kerasdl.config import resolve_config
    from kerasdl.evaluation.complexity import count_macs
    from kerasdl.export.exporter import export_run
    from kerasdl.export.tflite import ExportError
    from kerasdl.registry import get_app

    app = get_app("speech")
    overrides = {"dataset": str(recordings), **RECIPES[name]}
    if epochs:
        overrides["epochs"] = epochs
    config = resolve_config(app.config_class, preset="fsdd", overrides=overrides)
    summary = api.train("speech", config, runs_dir=runs, name=name, verbose=2)
    params = summary.model.count_params()
    macs = count_macs(summary.model)
    size = accuracy = "-"
    try:
        report = export_run(summary.run.path, formats=("tflite",), quantizations=("int8",),
                            out_dir=runs / "exports", name=name.replace("-", "_"))
        (row,) = report.rows
        size, accuracy = f"{row['bytes'] / 1024:.1f} KB", f"{row['metric']:.2%}"
    except ExportError as e:
        print(f"{name}: int8 export failed: {e}", file=sys.stderr)
        accuracy = "converter crashes (int8 GRU)"
    return [f"kerasdl {name}", f"{summary.metrics['accuracy']:.2%}", params, f"{macs / 1e6:.2f} M",
            f"{summary.seconds / 60:.1f} min ({summary.epochs_completed} ep.)", size, accuracy]


def front_end_macs() -> int:
    """frames x FFT bins x mel bands: the mel matrix product per clip."""
    from kerasdl.apps.speech.config import SpeechConfig
    from kerasdl.apps.speech.preprocessing import feature_settings
    from kerasdl.config import resolve_config

    config = resolve_config(SpeechConfig, preset="fsdd")
    settings = feature_settings(config, config.sample_rate)
    frames = 1 + (int(config.clip_seconds * config.sample_rate) - settings["frame_length"]) // settings["frame_step"]
    fft_bins = (1 << (settings["frame_length"] - 1).bit_length()) // 2 + 1
    return frames * fft_bins * settings["mel_bins"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(RECIPES))
    parser.add_argument("--epochs", type=int, help="override the models' epochs")
    parser.add_argument("--no-baseline", action="store_true")
    args = parser.parse_args()
    recordings = extract(require(SHARED_DATA / "fsdd" / "fsdd.tar.gz"))
    models = [m for m in args.models.split(",") if m]
    unknown = [m for m in models if m not in RECIPES]
    if unknown:
        print(f"unknown models: {', '.join(unknown)}; choose from {', '.join(RECIPES)}", file=sys.stderr)
        return 2
    rows = [] if args.no_baseline else [baseline(recordings)]
    runs = fresh_folder("speech")
    for name in models:
        rows.append(kerasdl_model(name, recordings, runs, args.epochs))
    table = markdown_table(
        ["model", "test accuracy", "parameters", "MACs per clip", "training (2 cores)",
         "int8 TFLite size", "int8 TFLite accuracy"], rows)
    command = "python bench/speech.py " + " ".join(sys.argv[1:])
    write_result("speech", "Speech: Free Spoken Digit Dataset, documented split (300 test clips)",
                 table, command.strip(),
                 notes="MACs count the network after the feature layer (convolutions, dense, GRU); "
                       f"the log-mel front end's mel matrix adds {front_end_macs() / 1e6:.2f} M "
                       "(plus the FFTs). int8: the network's weights and activations in int8, the "
                       "feature front end in float32 (selective quantization), int16 PCM "
                       "input, calibrated on training clips.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
