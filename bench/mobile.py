"""Mobile benchmark: kerasdl's TFLite exports run in MediaPipe Tasks, as an Android app
ships them, on the shared data's test splits.

For each app with a MediaPipe task (vision: Fashion-MNIST, grey, through
`ImageClassifier`; speech: the Free Spoken Digit Dataset through `AudioClassifier`;
sentiment: IMDB with a unigram CNN through `TextClassifier`) and for each variant (the
TFLite converter's float32 / dynamic / float16 / int8, and LiteRT Quantizer's recipes
over the float32 file): the file's size, the top-label agreement of the task with the
Keras model, the test accuracy through the task beside Keras', and the largest score
difference. Forecast, which no MediaPipe task runs, compares the two quantizers through
ai-edge-litert on ETTh1. The classic baseline of each data set is measured in the same
run. Also: whether a GRU model gets a full-integer file from either quantizer.

MediaPipe runs in a virtual environment of its own ($KERASDL_MEDIAPIPE_PYTHON, or one
made under bench/runs/mediapipe-venv with pip).

    python bench/mobile.py [--apps vision,speech,sentiment,forecast] [--examples 3000]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from common import REPO, SHARED_DATA, VISION_RUN, fresh_folder, markdown_table, require, write_result  # noqa: E402

RUNNER = REPO / "tests" / "mediapipe_runner.py"
RECIPES = ("static_wi8_ai8", "static_wi8_ai16", "weight_only_wi8_afp32", "weight_only_wi4_afp32",
           "dynamic_wi8_afp32")
# IMDB with words MediaPipe's regex tokenizer reproduces: cut at spaces and punctuation,
# case kept (bench/sentiment.py's cnn recipe otherwise).
SENTIMENT_CNN = {"model": "cnn", "max_tokens": 30_000, "ngrams": 1, "sequence_length": 400, "binary": False,
                 "optimizer": "adamw", "weight_decay": 1e-4, "embedding_dim": 64, "units": 64,
                 "learning_rate": 2e-3, "dropout": 0.5, "standardize": "split_punctuation"}
SENTIMENT_GRU = {**SENTIMENT_CNN, "model": "gru", "sequence_length": 256, "units": 32, "dropout": 0.3,
                 "max_tokens": 20_000}


def mediapipe_python() -> str:
    python = os.environ.get("KERASDL_MEDIAPIPE_PYTHON")
    if python:
        return python
    venv = REPO / "bench" / "runs" / "mediapipe-venv"
    if not (venv / "bin" / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "--quiet", "mediapipe==1.2.*"], check=True)
    return str(venv / "bin" / "python")


def run_tasks(python: str, jobs: list[dict], work: Path) -> list[list[dict[str, float]]]:
    (work / "jobs.json").write_text(json.dumps(jobs))
    proc = subprocess.run([python, str(RUNNER), str(work / "jobs.json")], capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"MediaPipe failed: {proc.stderr.strip()[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def subset(count: int, examples: int) -> np.ndarray:
    """A fixed random subset of the test split (IMDB's files are ordered by label)."""
    rng = np.random.default_rng(0)
    return np.sort(rng.permutation(count)[:examples])


def test_split(run: Path, examples: int) -> tuple[np.ndarray, np.ndarray]:
    from kerasdl.loading import open_run

    opened = open_run(run)
    data = opened.app.load_datasets(opened.config, fitted=opened.info)
    x, y = zip(*(data.test or data.validation).as_numpy_iterator())
    keep = subset(len(x), examples)
    return np.stack(x)[keep], np.asarray(y)[keep]


def variant_rows(app_name: str, data: str, run: Path, task: str, task_inputs: dict, labels: np.ndarray,
                 keras_probabilities: np.ndarray, python: str, work: Path) -> list[list[object]]:
    """Exports every variant, runs each in the MediaPipe task, one table row each."""
    from kerasdl.export.exporter import export_run
    from kerasdl.loading import open_run
    from kerasdl_edge import read_metadata

    class_names = open_run(run).info["class_names"]
    started = time.time()
    report = export_run(run, formats=("tflite",), litert_recipes=RECIPES, out_dir=work / "exports",
                        name=app_name, check=False)
    print(f"{app_name}: exported {len(report.tflite)} files in {time.time() - started:.0f} s", file=sys.stderr)
    files = [(v, p) for v, p in report.tflite.items() if report.tasks[v] == task]
    jobs = [{"model": str(path), "task": task, **task_inputs} for _, path in files]
    results = run_tasks(python, jobs, work) if jobs else []
    keras_top = keras_probabilities.argmax(1)
    keras_accuracy = float(np.mean(keras_top == labels))
    rows = []
    for (variant, path), scores in zip(files, results):
        probabilities = np.array([[row.get(name, 0.0) for name in class_names] for row in scores])
        task_top = probabilities.argmax(1)
        made_with = read_metadata(path.read_bytes())["quantizer"]  # "TFLite converter", "LiteRT Quantizer ..."
        rows.append([data, f"{variant} ({made_with})", f"{path.stat().st_size / 1024:.1f} KB",
                     report.tasks[variant], f"{np.mean(task_top == keras_top) * 100:.2f} %",
                     f"{np.mean(task_top == labels) * 100:.2f} %", f"{keras_accuracy * 100:.2f} %",
                     f"{np.abs(probabilities - keras_probabilities).max():.1e}"])
    for variant, path in report.tflite.items():
        if report.tasks[variant] != task:
            rows.append([data, variant, f"{path.stat().st_size / 1024:.1f} KB", "none",
                         "-", f"no task: {report.task_notes[variant][:110]}", f"{keras_accuracy * 100:.2f} %", "-"])
    for variant, why in report.failed.items():
        rows.append([data, variant, "-", "-", "-", f"not made: {why[:120]}", f"{keras_accuracy * 100:.2f} %", "-"])
    return rows


def vision(python: str, examples: int, work: Path) -> tuple[list, list]:
    from kerasdl.loading import open_run

    require(SHARED_DATA / "fashion_mnist")
    if not (VISION_RUN / "run.json").is_file():
        raise SystemExit(f"no run at {VISION_RUN}: run `python bench/vision.py` first")
    images, labels = test_split(VISION_RUN, examples)
    keras = np.asarray(open_run(VISION_RUN).load_model().predict(images, batch_size=256, verbose=0))
    np.save(work / "frames.npy", np.repeat(images, 3, axis=-1))  # MediaPipe hands RGB frames
    rows = variant_rows("vision", f"Fashion-MNIST ({len(labels)} test images)", VISION_RUN, "ImageClassifier",
                        {"inputs": str(work / "frames.npy")}, labels, keras, python, work)
    return rows, [pixel_baseline(examples)]


def pixel_baseline(examples: int) -> list[object]:
    """Logistic regression on raw pixels, fit on 10,000 training images."""
    from sklearn.linear_model import LogisticRegression

    from kerasdl.data.idx import read_idx

    root = SHARED_DATA / "fashion_mnist"
    x = read_idx(next(root.rglob("train-images*"))).reshape(-1, 784)[:10_000] / 255.0
    y = read_idx(next(root.rglob("train-labels*")))[:10_000]
    xt = read_idx(next(root.rglob("t10k-images*"))).reshape(-1, 784) / 255.0
    yt = read_idx(next(root.rglob("t10k-labels*")))
    keep = subset(len(yt), examples)
    model = LogisticRegression(max_iter=300).fit(x, y)
    return ["Fashion-MNIST", "logistic regression on pixels (scikit-learn, 10,000 training images)",
            f"{np.mean(model.predict(xt[keep]) == yt[keep]) * 100:.2f} %"]


def speech(python: str, examples: int, work: Path) -> tuple[list, list]:
    from kerasdl import api
    from kerasdl.config import resolve_config
    from kerasdl.registry import get_app
    from kerasdl_edge.audio import pcm16_to_waveform
    from speech import baseline, extract  # bench/speech.py

    recordings = extract(require(SHARED_DATA / "fsdd" / "fsdd.tar.gz"))
    config = resolve_config(get_app("speech").config_class, preset="fsdd",
                            overrides={"dataset": str(recordings), "model": "ds-cnn", "width": 64})
    summary = api.train("speech", config, runs_dir=work / "runs", name="speech", verbose=0)
    from kerasdl.loading import open_run

    clips, labels = test_split(summary.run.path, examples)
    # The best checkpoint, the one exported (summary.model is the last epoch's).
    keras = np.asarray(open_run(summary.run.path).load_model().predict(clips, batch_size=256, verbose=0))
    np.save(work / "clips.npy", pcm16_to_waveform(clips))
    rate = open_run(summary.run.path).info["sample_rate"]
    rows = variant_rows("speech", f"FSDD ({len(labels)} test clips)", summary.run.path, "AudioClassifier",
                        {"inputs": str(work / "clips.npy"), "sample_rate": rate}, labels, keras, python, work)
    base = baseline(recordings)
    return rows, [["FSDD", base[0], base[1]]]


def sentiment(python: str, examples: int, work: Path) -> tuple[list, list]:
    from kerasdl import api
    from kerasdl.config import resolve_config
    from kerasdl.registry import get_app
    from sentiment import baselines, read_split  # bench/sentiment.py

    archive = require(SHARED_DATA / "imdb" / "aclImdb_labeled.tar.gz")
    with tarfile.open(archive) as tar:
        tar.extractall(work / "imdb", filter="data")
    root = work / "imdb" / "aclImdb"
    texts, labels = read_split(root, "test")
    keep = subset(len(texts), examples)
    texts, labels = [texts[i] for i in keep], np.asarray(labels)[keep]
    app = get_app("sentiment")
    rows = []
    for name, recipe, epochs in (("cnn", SENTIMENT_CNN, 2), ("gru", SENTIMENT_GRU, 1)):
        config = resolve_config(app.config_class, preset="imdb",
                                overrides={"dataset": str(root), **recipe, "epochs": epochs})
        summary = api.train("sentiment", config, runs_dir=work / "runs", name=name, verbose=0)
        from kerasdl.loading import open_run

        class_names = open_run(summary.run.path).info["class_names"]
        keras = np.array([[row["probabilities"][c] for c in class_names]
                          for row in _keras_rows(summary.run.path, texts)])
        rows += variant_rows(f"sentiment_{name}", f"IMDB {name} ({len(labels)} test reviews)", summary.run.path,
                             "TextClassifier", {"inputs": texts}, labels, keras, python, work / name)
    base = baselines(root)
    return rows, [["IMDB", b[0], b[1]] for b in base]


def forecast(examples: int, work: Path) -> tuple[list, list]:
    """No MediaPipe task forecasts: the converter against LiteRT Quantizer through
    ai-edge-litert (the export's own check), on ETTh1's test windows."""
    from kerasdl import api
    from kerasdl.config import resolve_config
    from kerasdl.export.exporter import export_run
    from kerasdl.registry import get_app
    from kerasdl_edge import read_metadata
    from forecast import ridge_baseline  # bench/forecast.py

    path = str(require(SHARED_DATA / "ett" / "ETTh1.csv"))
    config = resolve_config(get_app("forecast").config_class, preset="etth1",
                            overrides={"dataset": path, "model": "dlinear"})
    summary = api.train("forecast", config, runs_dir=work / "runs", name="dlinear", verbose=0)
    report = export_run(summary.run.path, formats=("tflite",), litert_recipes=RECIPES, out_dir=work / "exports",
                        name="forecast")
    rows = []
    for row in report.rows:
        variant = row["variant"].removeprefix("tflite-")
        made_with = read_metadata(report.tflite[variant].read_bytes())["quantizer"]
        rows.append(["ETTh1 DLinear 336->96 (all test windows)", f"{variant} ({made_with})",
                     f"{row['bytes'] / 1024:.1f} KB", f"{row['metric']:.4f}", f"{row['keras_metric']:.4f}",
                     f"{row['max_abs_diff']:.1e}"])
    for variant, why in report.failed.items():
        rows.append(["ETTh1 DLinear", variant, "-", f"not made: {why[:120]}", "-", "-"])
    mse, _, strength = ridge_baseline(path)
    return rows, [["ETTh1", f"closed-form least-squares linear map (ridge strength {strength:g}), test MSE",
                   f"{mse:.4f}"]]


def _keras_rows(run: Path, texts: list[str]) -> list[dict]:
    from kerasdl import api

    rows = api.predict(run, texts, top_k=100)
    return [{"probabilities": {t["label"]: t["probability"] for t in row["top"]}} for row in rows]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--apps", default="vision,speech,sentiment,forecast")
    parser.add_argument("--examples", type=int, default=3000, help="test examples per data set (a fixed subset)")
    args = parser.parse_args()
    python = mediapipe_python()
    out = fresh_folder("mobile")
    rows, other_rows, baseline_rows = [], [], []
    for name in args.apps.split(","):
        work = out / name
        work.mkdir(parents=True, exist_ok=True)
        if name == "forecast":
            made, base = forecast(args.examples, work)
            other_rows += made
        else:
            made, base = {"vision": vision, "speech": speech, "sentiment": sentiment}[name](python, args.examples, work)
            rows += made
        baseline_rows += base
    table = markdown_table(["data", "variant", "size", "MediaPipe task", "top label = Keras",
                            "accuracy through the task", "Keras accuracy", "max |score diff|"], rows)
    if other_rows:
        table += ("\n\nNo MediaPipe task (forecast): the converter against LiteRT Quantizer through ai-edge-litert, "
                  "the export's own check:\n\n") + markdown_table(
            ["data", "variant", "size", "test MSE", "Keras MSE", "max |diff|"], other_rows)
    table += ("\n\nClassic baselines, same run (vision on the same test images; speech and sentiment on "
              "the whole test split; forecast on all test windows):\n\n") + markdown_table(
        ["data", "baseline", "test metric"], baseline_rows)
    write_result("mobile" if args.apps == parser.get_default("apps") else "mobile-" + args.apps.replace(",", "-"),
                 "Mobile: kerasdl exports in MediaPipe Tasks, converter and LiteRT Quantizer",
                 table, ("python bench/mobile.py " + " ".join(sys.argv[1:])).strip(),
                 notes=f"MediaPipe {_mediapipe_version(python)} (Python; the task graphs Android runs), "
                       "litert-quantizer 0.11. Each file as `kerasdl export --litert all` writes it, task-ready: "
                       "grey images come in as RGB frames, speech as float32 waveforms. Accuracy on a fixed "
                       "random subset of each test split.")
    return 0


def _mediapipe_version(python: str) -> str:
    proc = subprocess.run([python, "-c", "import mediapipe; print(mediapipe.__version__)"],
                          capture_output=True, text=True)
    return proc.stdout.strip() or "?"


if __name__ == "__main__":
    sys.exit(main())
