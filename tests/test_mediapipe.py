"""kerasdl's TFLite exports run as they are in MediaPipe Tasks (ImageClassifier,
AudioClassifier, TextClassifier), the runtime Android, iOS and web apps ship, in a
virtual environment holding MediaPipe and no TensorFlow: the tasks read the labels from
the standard metadata and agree with `kerasdl predict`.

The environment is `$KERASDL_MEDIAPIPE_PYTHON` (CI builds it, see `.ci/run`), or one
this module builds with pip; without either, the tests skip and say why.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import build_once, tflite_files, write_idx_folder
from kerasdl import api
from kerasdl.config import resolve_config
from kerasdl.export.exporter import export_run
from kerasdl.registry import get_app

# Top-label agreement is required unless Keras' own top two are closer than this; the
# scores differ by at most this (MediaPipe runs the same TFLite kernels: measured 0).
TOLERANCE = {"float32": 1e-4, "float16": 1e-2, "dynamic": 0.05, "int8": 0.1}
MEDIAPIPE = ("mediapipe==1.2.*", "ai-edge-litert", "pillow")

RUNNER = Path(__file__).with_name("mediapipe_runner.py")


@pytest.fixture(scope="module")
def mediapipe_python(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, str]]:
    """(python, environment): a Python with MediaPipe Tasks and kerasdl-edge, without
    TensorFlow."""
    import kerasdl_edge

    python = os.environ.get("KERASDL_MEDIAPIPE_PYTHON")
    if python:
        assert Path(python).is_file(), f"KERASDL_MEDIAPIPE_PYTHON={python} does not exist"
    else:
        def install(folder: Path) -> None:
            subprocess.run([sys.executable, "-m", "venv", str(folder / "venv")], check=True)
            pip = subprocess.run([str(folder / "venv" / "bin" / "python"), "-m", "pip", "install", "--quiet",
                                  "--disable-pip-version-check", *MEDIAPIPE], capture_output=True, text=True,
                                 timeout=900)
            if pip.returncode != 0:
                pytest.skip("MediaPipe could not be installed (no package index?): "
                            + (pip.stderr.strip().splitlines() or ["pip failed"])[-1])

        python = str(build_once(tmp_path_factory, "mediapipe-venv", install) / "venv" / "bin" / "python")
    # kerasdl-edge from this checkout, alone on the path (its parent folder may hold TensorFlow).
    edge_path = tmp_path_factory.mktemp("edge-path")
    (edge_path / "kerasdl_edge").symlink_to(Path(kerasdl_edge.__file__).parent)
    env = {**os.environ, "PYTHONPATH": str(edge_path)}
    check = subprocess.run([python, "-c", "import mediapipe, kerasdl_edge\ntry:\n import tensorflow\n"
                            "except ImportError:\n pass\nelse:\n raise SystemExit('tensorflow importable')"],
                           capture_output=True, text=True, env=env)
    assert check.returncode == 0, check.stderr[-2000:]
    return python, env


def run_tasks(mediapipe_python: tuple[str, dict[str, str]], jobs: list[dict], tmp_path: Path) -> list:
    python, env = mediapipe_python
    (tmp_path / "jobs.json").write_text(json.dumps(jobs))
    proc = subprocess.run([python, str(RUNNER), str(tmp_path / "jobs.json")],
                          capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def assert_agrees(task_rows: list[dict[str, float]], keras_rows: list[dict], quantization: str) -> None:
    tolerance = TOLERANCE[quantization]
    for task, keras in zip(task_rows, keras_rows, strict=True):
        probabilities = {t["label"]: t["probability"] for t in keras["top"]}
        assert set(task) == set(probabilities), "MediaPipe does not show kerasdl's label names"
        mediapipe_top = max(task, key=task.get)
        assert mediapipe_top == keras["label"] or \
            probabilities[keras["label"]] - probabilities[mediapipe_top] < tolerance, (task, keras)
        for label, p in probabilities.items():
            assert abs(task[label] - p) <= tolerance, (quantization, label, task[label], p)


def _train(app: str, root: Path, **overrides) -> Path:
    config = resolve_config(get_app(app).config_class, preset="tiny", overrides=overrides)
    return api.train(app, config, runs_dir=root / "runs", name=app, verbose=0).run.path


def _export(run: Path, out: Path, quantizations: tuple[str, ...]) -> dict[str, Path]:
    report = export_run(run, formats=("tflite",), quantizations=quantizations, out_dir=out, check=False)
    assert not report.failed
    return report.tflite


def test_vision_colour_and_grey_in_image_classifier(mediapipe_python, trained_run: Path,
                                                    colour_folder: Path, tmp_path: Path) -> None:
    from PIL import Image

    from kerasdl_edge import Predictor

    grey_run = _train("vision", tmp_path, dataset=str(write_idx_folder(tmp_path / "idx")))
    cases = []
    # The grey model's data is IDX files: it reads grey frames drawn here instead.
    grey_frames = [np.random.default_rng(0).integers(0, 256, (12, 12), dtype=np.uint8) for _ in range(8)]
    for run, images, quantizations in (
        (trained_run, [str(p) for p in sorted(colour_folder.rglob("*.png"))[::10]],  # 12, all classes
         ("float32", "dynamic", "float16", "int8")),
        (grey_run, grey_frames, ("float32", "int8")),
    ):
        files = _export(run, tmp_path / "out" / run.name, quantizations)
        predictor = Predictor(files["float32"])
        assert predictor.model.input_shape[-1] == 3  # RGB in, grey models included
        # At the model's size, so that neither side resizes (their filters differ).
        frames = predictor.read(images)
        pngs = []
        for i, pixels in enumerate(frames):
            pngs.append(str(tmp_path / f"{run.name}-{i}.png"))
            Image.fromarray(pixels).save(pngs[-1])
        np.save(tmp_path / f"{run.name}.npy", frames)
        cases += [(q, path, pngs, run) for q, path in files.items()]
    jobs = [{"model": str(p), "task": "ImageClassifier", "inputs": str(tmp_path / f"{r.name}.npy")}
            for _, p, _, r in cases]
    results = run_tasks(mediapipe_python, jobs, tmp_path)
    for (q, _, images, run), rows in zip(cases, results):
        keras = api.predict(run, images, top_k=100)
        assert_agrees(rows, keras, q)


def test_pretrained_backbone_in_image_classifier(mediapipe_python, colour_folder: Path, mobilenet_run: Path,
                                                 mobilenet_export: Path, tmp_path: Path) -> None:
    """A MobileNetV3-Small model (issue 32): resizing and the backbone's own scaling are
    inside the file, so MediaPipe hands it RGB frames and needs nothing else."""
    from PIL import Image

    from kerasdl_edge import Predictor

    run, files = mobilenet_run, tflite_files(mobilenet_export)
    assert set(files) == {"float32", "int8"}
    images = [str(p) for p in sorted(colour_folder.rglob("*.png"))[::10]]
    frames = Predictor(files["float32"]).read(images)
    pngs = []
    for i, pixels in enumerate(frames):
        pngs.append(str(tmp_path / f"frame-{i}.png"))
        Image.fromarray(pixels).save(pngs[-1])
    np.save(tmp_path / "frames.npy", frames)
    results = run_tasks(mediapipe_python, [{"model": str(p), "task": "ImageClassifier",
                                            "inputs": str(tmp_path / "frames.npy")} for p in files.values()], tmp_path)
    keras = api.predict(run, pngs, top_k=100)
    assert_agrees(results[0], keras, "float32")
    # int8: the same answers as kerasdl's own reading of the same file (its distance from
    # Keras, large for the random stand-in weights, is the export check's to report).
    assert_agrees(results[1], api.predict(files["int8"], pngs, top_k=100), "float32")


def test_speech_in_audio_classifier(mediapipe_python, tone_folder: Path, tmp_path: Path) -> None:
    from kerasdl_edge import Predictor

    run = _train("speech", tmp_path, dataset=str(tone_folder))
    wavs = [str(p) for p in sorted((tone_folder / "test").rglob("*.wav"))[:9]]
    keras = api.predict(run, wavs, top_k=100)
    jobs, quantizations = [], []
    for q, path in _export(run, tmp_path / "out", ("float32", "int8")).items():
        predictor = Predictor(path)
        assert predictor.model.input_dtype == np.float32  # the task-ready waveform input
        np.save(tmp_path / f"{q}.npy", predictor.read(wavs).astype(np.float32))
        jobs.append({"model": str(path), "task": "AudioClassifier", "inputs": str(tmp_path / f"{q}.npy"),
                     "sample_rate": predictor.info["sample_rate"]})
        quantizations.append(q)
    for q, rows in zip(quantizations, run_tasks(mediapipe_python, jobs, tmp_path)):
        assert_agrees(rows, keras, q)


def test_yamnet_backbone_in_audio_classifier(mediapipe_python, yamnet_run: Path, tone_folder: Path,
                                             tmp_path: Path) -> None:
    """YAMNet's front end and network (a stand-in weights file, issue 33) at 16 kHz: the
    AudioClassifier hands the file float32 waveforms and shows kerasdl's labels."""
    from kerasdl_edge import Predictor

    run = yamnet_run
    wavs = [str(p) for p in sorted((tone_folder / "test").rglob("*.wav"))[:6]]
    keras = api.predict(run, wavs, top_k=100)
    jobs, quantizations = [], []
    # float32 only: reduced precision moves the random stand-in's scores beyond the
    # tolerances (int8 weights by 0.17, float16 by 0.011), not a property of the published
    # weights, so not held here.
    for q, path in _export(run, tmp_path / "out", ("float32",)).items():
        predictor = Predictor(path)
        assert predictor.info["sample_rate"] == 16000
        np.save(tmp_path / f"{q}.npy", predictor.read(wavs).astype(np.float32))
        jobs.append({"model": str(path), "task": "AudioClassifier", "inputs": str(tmp_path / f"{q}.npy"),
                     "sample_rate": 16000})
        quantizations.append(q)
    for q, rows in zip(quantizations, run_tasks(mediapipe_python, jobs, tmp_path)):
        assert_agrees(rows, keras, q)


@pytest.mark.parametrize("model, settings", [("cnn", {}), ("nb-lr", {"binary": False})])
def test_unigram_sentiment_in_text_classifier(mediapipe_python, review_csv: Path, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str], model: str,
                                              settings: dict) -> None:
    """A learned model and the classic NB-weighted baseline model (issue 30), on word ids."""
    run = _train("sentiment", tmp_path, dataset=str(review_csv), model=model, ngrams=1,
                 standardize="split_punctuation", **settings)
    texts = ["A great film, I loved it!", "Terrible. Boring and BAD...", "", "great great great",
             "not good; not bad either?", "Ünïcode wörds, emoji 🎬 and full-width ！"]
    keras = api.predict(run, texts, top_k=100)
    files = _export(run, tmp_path / "out", ("float32", "int8"))
    results = run_tasks(mediapipe_python, [{"model": str(p), "task": "TextClassifier", "inputs": texts}
                                           for p in files.values()], tmp_path)
    for q, rows in zip(files, results):
        assert_agrees(rows, keras, q)
    # What kerasdl-edge shows of the file: the task and the standard metadata it read.
    from kerasdl_edge.cli import main

    assert main(["info", str(files["int8"])]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["mediapipe_task"] == "TextClassifier"
    assert shown["standard_metadata"]["inputs"][0]["regex_tokenizer"].startswith("[")
    assert shown["standard_metadata"]["outputs"][0]["labels"] == 2


def test_pretrained_text_encoder_in_text_classifier(mediapipe_python, bert_run: Path, tmp_path: Path) -> None:
    """A BERT-family encoder (a preset folder, issue 33): MediaPipe's TextClassifier
    tokenizes with the file's BertTokenizer metadata into its three inputs and agrees with
    `kerasdl predict` on texts its tokenizer reads as keras-hub's does."""
    from kerasdl_edge.wordpiece import WordPiece

    run = bert_run
    texts = ["A great film, I loved it!", "Terrible. Boring and BAD...", "", "wonderful wonderful",
             "这个东西很好。喜欢", "质量很差。后悔", "mixed 中文 and English, 123"]
    twin = WordPiece.from_spec(json.loads((run / "run.json").read_text())["data"]["tokenizer"])
    assert all(twin.mediapipe_agrees(t) for t in texts)
    # Full-width punctuation, common in Chinese, is where they part: case folding (this
    # uncased preset's) makes "，" a ",", MediaPipe keeps it.
    assert not twin.mediapipe_agrees("很好，喜欢！")
    keras = api.predict(run, texts, top_k=100)
    files = _export(run, tmp_path / "out", ("float32", "dynamic"))
    results = run_tasks(mediapipe_python, [{"model": str(p), "task": "TextClassifier", "inputs": texts}
                                           for p in files.values()], tmp_path)
    for q, rows in zip(files, results):
        assert_agrees(rows, keras, q)


def test_ngram_sentiment_export_says_which_task_cannot_run_it(review_csv: Path, tmp_path: Path) -> None:
    run = _train("sentiment", tmp_path, dataset=str(review_csv), model="bag", ngrams=2)
    report = export_run(run, formats=("tflite",), quantizations=("float32",), out_dir=tmp_path / "out",
                        check=False)
    assert report.tasks == {"float32": "-"}
    assert "2-grams" in report.task_notes["float32"] and "standardize=split_punctuation" in report.task_notes["float32"]
    card = report.model_card.read_text()
    for heading in ("## Data", "## Training recipe", "## Test metrics", "## Files and their agreement with Keras",
                    "## Intended use and limits", "## How to call it"):
        assert heading in card
    assert "No MediaPipe task: MediaPipe's TextClassifier cannot reproduce" in card
    assert "kerasdl-edge predict sentiment-1-float32.tflite" in card


def test_recurrent_sentiment_export_says_mediapipe_cannot_run_it(review_csv: Path, tmp_path: Path) -> None:
    # A describable tokenizer, but the GRU's WHILE loop makes several subgraphs, which
    # MediaPipe's classifiers refuse ("assumed to have a single subgraph").
    run = _train("sentiment", tmp_path, dataset=str(review_csv), model="gru", ngrams=1,
                 standardize="split_punctuation")
    report = export_run(run, formats=("tflite",), quantizations=("float32",), out_dir=tmp_path / "out",
                        check=False)
    assert report.tasks == {"float32": "-"}
    assert "single-subgraph" in report.task_notes["float32"]
