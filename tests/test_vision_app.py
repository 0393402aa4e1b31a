from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from app_contract import run_app_contract
from kerasdl.apps.vision.app import VisionApp
from kerasdl.apps.vision.config import VisionConfig


@pytest.mark.parametrize("image_size, channels", [(None, None), (64, 1)])
def test_contract_all_models(colour_folder: Path, tmp_path: Path, image_size, channels) -> None:
    # The pretrained model at its smallest input, from random weights (none can be downloaded here).
    config = VisionConfig(dataset=str(colour_folder), width=4, augment=True, epochs=3, learning_rate=0.01,
                          image_size=image_size, channels=channels, backbone_size=32, weights="none")
    first = [sorted((colour_folder / c).glob("*.png"))[0] for c in ("blue", "green", "red")]
    every = {"mlp", "lenet", "cnn", "resnet", "mobilenet", "alexnet", "vgg", "densenet", "fastcnn", "pixels",
             "pretrained"}
    # Resized to 64x64 grey, the data path and the strided stems: a convolutional model of
    # each kind trains, saves and reloads; every model builds and runs on it below.
    models = None if image_size is None else ["cnn", "resnet", "densenet", "pixels", "pretrained"]
    results = run_app_contract(VisionApp(), config, tmp_path, inputs=first, models=models,
                               learned=(lambda m: m["accuracy"] > 0.6) if image_size is None else None)
    results.pop("trained", None)
    assert set(results) == (every if models is None else set(models))
    for name, r in results.items():
        assert r["output_shape"] == (4, 3), name
    if models is not None:
        from kerasdl.apps.vision.models import build_vision_model

        pixels = np.zeros((2, 64, 64, 1), np.uint8)
        for name in every - set(models):
            net = build_vision_model(name, (64, 64, 1), 3, config)
            assert np.asarray(net(pixels)).shape == (2, 3), name


def test_augmentation_changes_pixels_not_shapes(colour_folder: Path) -> None:
    import tensorflow as tf

    app = VisionApp()
    config = VisionConfig(dataset=str(colour_folder), augment=True, augment_shift=0.25)
    data = app.load_datasets(config)
    images = tf.stack([x for x, _ in data.train.take(8)])
    labels = tf.zeros([8], tf.int32)
    out, same_labels = app.augmentation(config, data.info)(images, labels)
    assert out.dtype == tf.uint8 and out.shape == images.shape
    assert not np.array_equal(out.numpy(), images.numpy())
    assert np.array_equal(same_labels.numpy(), labels.numpy())
    off = VisionConfig(dataset=str(colour_folder), augment_flip=False, augment_shift=0.0)
    assert app.augmentation(off, data.info) is None


def test_model_input_is_a_raw_uint8_image() -> None:
    from kerasdl.apps.vision.models import build_vision_model

    model = build_vision_model("mobilenet", (96, 96, 3), 5, VisionConfig(width=4))
    assert model.input.dtype == "uint8" and model.input.name == "image"
    assert tuple(model.output.shape) == (None, 5)
    assert model.output.dtype == "float32"


@pytest.mark.parametrize("model, activation, norm", [
    ("cnn", "gelu", "layer"), ("resnet", "swish", "none"), ("mlp", "leaky_relu", "batch"),
    ("lenet", "tanh", "layer"), ("mobilenet", "elu", "none"),
])
def test_activation_and_norm_switches_build_train_and_convert(model: str, activation: str, norm: str) -> None:
    """Every activation and normalization a learner can pick trains and converts to
    TFLite builtins with the same outputs."""
    import keras

    from kerasdl.apps.vision.models import build_vision_model
    from kerasdl.export.tflite import convert
    from kerasdl_edge import EdgeModel

    config = VisionConfig(activation=activation, norm=norm, width=4)
    net = build_vision_model(model, (16, 16, 3), 3, config)
    layers = {type(layer).__name__ for layer in net.layers}
    assert ("BatchNormalization" in layers) == (norm == "batch")
    assert ("LayerNormalization" in layers) == (norm == "layer")
    assert any(getattr(layer, "activation", None) is keras.activations.get(activation) for layer in net.layers)
    images = np.random.default_rng(0).integers(0, 256, (8, 16, 16, 3)).astype("uint8")
    net.compile("adam", "sparse_categorical_crossentropy")
    net.fit(images, np.arange(8) % 3, epochs=1, verbose=0)
    tflite = EdgeModel(convert(net, "float32"))
    np.testing.assert_allclose(tflite(images), np.asarray(net(images)), atol=1e-4)


@pytest.mark.parametrize("model", ["alexnet", "vgg", "densenet"])
def test_classic_architectures_train_and_convert_to_every_precision(model: str) -> None:
    """The primers' classic networks: their defining structure is there, they train
    (the app contract trains, saves and reloads each too), and full int8 TFLite
    (weights and activations, calibrated through their pools and concatenations) keeps
    their predictions. Float32 files and the weight-only variants (dynamic, float16)
    change no op of these layers' kinds and are checked for every model by the
    export's check (bench/export.py)."""
    from kerasdl.apps.vision.models import build_vision_model
    from kerasdl.export.tflite import convert
    from kerasdl_edge import EdgeModel

    net = build_vision_model(model, (16, 16, 3), 3, VisionConfig(width=4))
    kinds = [type(layer).__name__ for layer in net.layers]
    if model == "alexnet":  # five convolutions, the first 5x5, then two hidden dense layers
        convs = [layer for layer in net.layers if type(layer).__name__ == "Conv2D"]
        assert len(convs) == 5 and convs[0].kernel_size == (5, 5) and kinds.count("Dense") == 3
    elif model == "vgg":  # only 3x3 convolutions, two per stage
        convs = [layer for layer in net.layers if type(layer).__name__ == "Conv2D"]
        assert {c.kernel_size for c in convs} == {(3, 3)} and len(convs) == 2 * kinds.count("MaxPooling2D")
    else:  # dense connectivity: every layer's input holds all earlier maps
        concat = net.get_layer("block1_layer4_concat")
        assert concat.output.shape[-1] == net.get_layer("stem_conv").output.shape[-1] + 4 * 2
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (16, 16, 16, 3)).astype("uint8")
    net.compile("adam", "sparse_categorical_crossentropy")
    history = net.fit(images, np.arange(16) % 3, epochs=1, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    expected = np.asarray(net(images))
    tflite = EdgeModel(convert(net, "int8", [images[i:i + 4] for i in range(0, 16, 4)]))
    np.testing.assert_allclose(tflite(images), expected, atol=0.2)


def test_auto_style_keeps_each_model_as_designed() -> None:
    config = VisionConfig()
    assert [config.norm_for(m) for m in ("mlp", "lenet", "cnn", "resnet")] == ["none", "none", "batch", "batch"]
    assert config.activation_for("mobilenet") == "relu6" and config.activation_for("cnn") == "relu"
    with pytest.raises(Exception, match="activation"):
        VisionConfig(activation="softsign")


def test_auto_tries_the_fast_colour_recipe_with_the_runs_epochs() -> None:
    """`--model auto`'s fastcnn candidate is the `cifar` preset's recipe, less its epochs:
    the run's own epochs (a tiny run stays tiny)."""
    recipe = VisionApp().auto_candidates(VisionConfig(model="auto", weights="none"))["fastcnn"]
    preset = VisionConfig.presets["cifar"]
    assert "epochs" not in recipe and recipe["model"] == "fastcnn"
    assert {k: recipe[k] for k in ("optimizer", "learning_rate", "batch_size", "label_smoothing")} == \
        {k: preset[k] for k in ("optimizer", "learning_rate", "batch_size", "label_smoothing")}
    candidate = VisionConfig(**{**VisionConfig.presets["tiny"], "model": "auto", **recipe})
    assert candidate.epochs == VisionConfig.presets["tiny"]["epochs"]


def test_explain_writes_grad_cam_overlays_and_filters(trained_run: Path, tmp_path: Path, colour_folder: Path) -> None:
    """Grad-CAM writes an overlay per image and the first filters, and puts the
    evidence for a colour where that colour is."""
    from click.testing import CliRunner
    from PIL import Image

    from kerasdl.cli import cli
    from kerasdl.evaluation.saliency import first_layer_activations, grad_cam, last_conv_layer
    from kerasdl.loading import open_run
    from kerasdl.training.saving import load_app_model

    images = sorted(colour_folder.rglob("*.png"))[:2]
    result = CliRunner().invoke(cli, ["explain", str(trained_run), *map(str, images), "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert len(list(tmp_path.glob("*-gradcam.png"))) == 2 and (tmp_path / "filters.png").is_file()
    assert len(list(tmp_path.glob("*-activations.png"))) == 2
    opened = open_run(trained_run)
    model = load_app_model(opened.app, opened.run.model_path())
    # The activation maps are the first block's ReLU output: one map per filter, none negative.
    layer, maps = first_layer_activations(model, np.stack([np.asarray(Image.open(p).convert("RGB")) for p in images]))
    conv = next(lay for lay in model.layers if type(lay).__name__ == "Conv2D")
    assert layer.endswith("relu") and maps.shape[-1] == conv.filters and maps.min() >= 0 and maps.max() > 0
    assert last_conv_layer(model).name.startswith(("pool", "block"))
    pixels = np.stack([np.asarray(Image.open(p).convert("RGB")) for p in images])
    cams, chosen = grad_cam(model, pixels)
    assert cams.shape == pixels.shape[:3] and cams.min() >= 0 and cams.max() <= 1
    # A red square on grey: the evidence for "red" lies on the square.
    patch = np.full((1, 16, 16, 3), 128, np.uint8)
    patch[0, 2:9, 2:9] = (230, 20, 20)
    red = opened.info["class_names"].index("red")
    cam = grad_cam(model, patch, classes=[red])[0][0]
    assert cam[2:9, 2:9].mean() > cam[10:, 10:].mean()
    missing = CliRunner().invoke(cli, ["explain", str(trained_run), "no-such.png"])
    assert missing.exit_code != 0 and "Traceback" not in missing.output
