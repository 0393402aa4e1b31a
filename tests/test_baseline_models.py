"""The vision and speech baselines as shippable models (issue 30): `--model pixels` and
`--model log-mel-lr` are the printed baselines, number for number, with nothing to
train, and they reload and export to TFLite as any model does."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest

from kerasdl import api
from kerasdl.app import App
from kerasdl.apps.speech.config import SpeechConfig
from kerasdl.apps.vision.config import VisionConfig
from kerasdl.config import TrainConfig


def _check_baseline_model(app: App[Any], config: TrainConfig, baseline_name: str, tmp_path: Path,
                          fit: Callable[[Any], Any]) -> None:
    """Trains `config`'s baseline model, then checks it against the printed baseline
    named `baseline_name` and against `fit` (the shared fit's outputs), its reload and
    its float32 TFLite file (with the app's device input)."""
    from kerasdl.evaluation.baselines import split_arrays
    from kerasdl.export.exporter import export_run
    from kerasdl.training.saving import load_app_model
    from kerasdl_edge import EdgeModel

    summary = api.train(app.name, config, runs_dir=tmp_path, name="baseline", verbose=0)
    assert summary.epochs_completed == 1  # nothing to train: one epoch scores it
    metrics = json.loads(summary.run.metrics_path.read_text())
    baseline = next(b for b in metrics["baselines"] if b["name"] == baseline_name)
    assert metrics["validation"]["accuracy"] == pytest.approx(baseline["validation"]["accuracy"], abs=1e-9)
    for key in ("accuracy", "macro_roc_auc"):
        assert metrics[key] == pytest.approx(baseline["test"][key], abs=1e-6), key
    assert not metrics.get("baseline_warning")

    model = load_app_model(app, summary.run.model_path())
    assert not model.trainable_weights and not summary.model.trainable_weights
    info = summary.run.meta["data"]
    images, _ = split_arrays(app.load_datasets(config, fitted=info).test)
    keras_out = np.asarray(model(images, training=False))
    np.testing.assert_allclose(keras_out, np.asarray(summary.model(images, training=False)), atol=1e-6)
    # The very function the printed baseline comes from gives the model's probabilities.
    np.testing.assert_allclose(keras_out, fit(app.load_datasets(config)).outputs["test"], atol=1e-5)

    report = export_run(summary.run.path, formats=("tflite",), quantizations=("float32",),
                        out_dir=tmp_path / "export", check=False)
    task = app.export_spec(config, info).task_input()
    edge = EdgeModel(report.tflite["float32"])
    np.testing.assert_allclose(edge(task.convert(images) if task else images), keras_out, atol=1e-4)


def test_pixels_model_is_the_printed_pixel_baseline(idx_folder: Path, tmp_path: Path) -> None:
    from kerasdl.apps.vision.app import VisionApp
    from kerasdl.apps.vision.baselines import fit_pixels, pixels_name

    # No backbone: a run given --backbone still fits the pixel baseline on the raw pixels.
    assert VisionApp.baseline_models["pixels"] == VisionApp.auto_recipes["pixels"] == {"model": "pixels",
                                                                                     "epochs": 1, "backbone": ""}
    config = VisionConfig(dataset=str(idx_folder), **{**VisionConfig.presets["tiny"], "model": "pixels"})
    # Grey images: the TFLite file takes RGB frames (MediaPipe's), made grey inside.
    _check_baseline_model(VisionApp(), config, pixels_name((12, 12, 1)), tmp_path, fit_pixels)


def test_pixels_of_large_images_are_averaged_in_the_fit_and_the_model(
        colour_folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from kerasdl.apps.vision import baselines
    from kerasdl.apps.vision.app import VisionApp
    from kerasdl.evaluation.baselines import split_arrays

    assert baselines.pixel_pool((224, 224, 3)) == 7  # 32 x 32 x 3 = 3,072 features
    # Small images with a small limit (each 4,096-feature ridge solve takes seconds).
    monkeypatch.setattr(baselines, "MAX_PIXEL_FEATURES", 200)
    app = VisionApp()
    config = VisionConfig(dataset=str(colour_folder), image_size=17, model="pixels")  # 17 // 2 = 8
    data = app.load_datasets(config)
    assert baselines.pixel_pool(data.info["image_shape"]) == 2  # 8 x 8 x 3 = 192 features
    [baseline] = baselines.fit_baselines(data)
    assert baseline.name.startswith("linear classifier on pixels averaged over 2x2 blocks")
    model = app.build_model(config, {**data.info, **data.initial_weights})
    assert model.get_layer("pixel_blocks").pool_size == (2, 2) and not model.trainable_weights
    images, _ = split_arrays(data.validation)  # the folder has no test split
    np.testing.assert_allclose(np.asarray(model(images)), baseline.outputs["validation"], atol=1e-5)


def test_log_mel_lr_model_is_the_printed_log_mel_baseline(tone_folder: Path, tmp_path: Path) -> None:
    from kerasdl.apps.speech.app import SpeechApp
    from kerasdl.apps.speech.baselines import fit_log_mel_lr

    assert SpeechApp.baseline_models["log-mel-lr"] == SpeechApp.auto_recipes["log-mel-lr"] == {
        "model": "log-mel-lr", "epochs": 1, "backbone": ""}
    config = SpeechConfig(dataset=str(tone_folder), **{**SpeechConfig.presets["tiny"], "model": "log-mel-lr"})
    # The TFLite file takes float32 waveforms (MediaPipe's), made int16 PCM inside.
    _check_baseline_model(SpeechApp(), config, "log-mel band mean and std + logistic regression", tmp_path,
                          fit_log_mel_lr)


def test_band_statistics_are_numpys_mean_and_population_std() -> None:
    import keras

    from kerasdl.apps.speech.baselines import band_statistics

    rng = np.random.default_rng(0)
    frames = rng.normal(3.0, 2.0, (4, 30, 5)).astype(np.float32)
    frames[0, :, 1] = -13.8155  # a silent band (log of the floor): no deviation but rounding, no NaN
    inputs = keras.Input((30, 5))
    out = np.asarray(keras.Model(inputs, band_statistics(inputs, keras))(frames))
    np.testing.assert_allclose(out, np.concatenate([frames.mean(axis=1), frames.std(axis=1)], axis=1),
                               atol=1e-5)
    assert 0.0 <= out[0, 5 + 1] < 1e-5


@pytest.mark.parametrize("classes, labels", [(2, [0, 1]), (4, [0, 1, 3])])
def test_class_logits_reproduce_scikit_learns_probabilities(classes: int, labels: list[int]) -> None:
    from sklearn.linear_model import LogisticRegression

    from kerasdl.apps.speech.baselines import class_logits

    rng = np.random.default_rng(1)
    y = np.array(labels * 20)
    x = rng.normal(size=(len(y), 3)) + y[:, None]
    regression = LogisticRegression().fit(x, y)
    kernel, bias = class_logits(regression, 3, classes)
    logits = x @ kernel + bias
    probabilities = np.exp(logits - logits.max(axis=1, keepdims=True))
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    expected = np.zeros((len(y), classes))
    expected[:, regression.classes_] = regression.predict_proba(x)
    np.testing.assert_allclose(probabilities, expected, atol=1e-9)  # the absent class: ~1e-13
