from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from app_contract import run_app_contract
from kerasdl.apps.vision.app import VisionApp
from kerasdl.apps.vision.config import VisionConfig


@pytest.mark.parametrize("image_size, channels", [(None, None), (64, 1)])
def test_contract_all_models(colour_folder: Path, tmp_path: Path, image_size, channels) -> None:
    config = VisionConfig(dataset=str(colour_folder), width=4, augment=True, epochs=3, learning_rate=0.01,
                          image_size=image_size, channels=channels)
    first = [sorted((colour_folder / c).glob("*.png"))[0] for c in ("blue", "green", "red")]
    results = run_app_contract(VisionApp(), config, tmp_path, inputs=first,
                               learned=(lambda m: m["accuracy"] > 0.6) if image_size is None else None)
    results.pop("trained", None)
    assert set(results) == {"mlp", "lenet", "cnn", "resnet", "mobilenet"}
    for name, r in results.items():
        assert r["output_shape"] == (4, 3), name


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
