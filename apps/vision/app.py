"""The vision app: image classification from tfds, image folders or IDX files."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, ClassVar, Sequence

import numpy as np

from kerasdl.app import ClassifierApp, Datasets
from kerasdl.config import TrainConfig

from kerasdl.apps.vision.config import VisionConfig
from kerasdl.apps.vision.models import MODELS, build_vision_model

if TYPE_CHECKING:
    import keras

    from kerasdl.data.pipeline import Augment

SAMPLE_DIR = Path(__file__).parent / "sample"


class VisionApp(ClassifierApp):
    """Image classification.

    Example:
    >>> from kerasdl.apps.vision.app import VisionApp
    >>> from kerasdl.apps.vision.config import VisionConfig
    >>> app = VisionApp()
    >>> data = app.load_datasets(VisionConfig())  # the bundled Fashion-MNIST sample
    >>> data.info["image_shape"]
    [28, 28, 1]
    """

    name: ClassVar[str] = "vision"
    description: ClassVar[str] = "Image classification."
    config_class: ClassVar[type[TrainConfig]] = VisionConfig
    models: ClassVar[dict[str, str]] = MODELS
    default_model: ClassVar[str] = "cnn"

    def load_datasets(self, config: TrainConfig) -> Datasets:
        from kerasdl.data.images import load_image_datasets

        assert isinstance(config, VisionConfig)
        data = load_image_datasets(
            config.dataset,
            sample_dir=SAMPLE_DIR,
            image_size=config.image_size,
            channels=config.channels,
            validation_split=config.validation_split,
            seed=config.seed,
        )
        return Datasets(train=data.train, validation=data.validation, test=data.test,
                        info=data.info())

    def build_model(
        self, config: TrainConfig, info: dict[str, Any], *, keras_module: ModuleType | None = None
    ) -> "keras.Model":
        assert isinstance(config, VisionConfig)
        return build_vision_model(
            self.model_name(config), tuple(info["image_shape"]), len(info["class_names"]),
            config, keras_module=keras_module,
        )

    def augmentation(self, config: TrainConfig, info: dict[str, Any]) -> "Augment | None":
        import keras
        import tensorflow as tf

        assert isinstance(config, VisionConfig)
        layers = []
        if config.augment_flip:
            layers.append(keras.layers.RandomFlip("horizontal", seed=config.seed))
        if config.augment_shift:
            layers.append(keras.layers.RandomTranslation(
                config.augment_shift, config.augment_shift, fill_mode="constant",
                seed=config.seed + 1))
        if not layers:
            return None
        augmenter = keras.Sequential(layers, name="augmentation")

        def augment(images: tf.Tensor, labels: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
            out = augmenter(tf.cast(images, tf.float32), training=True)
            return tf.cast(tf.clip_by_value(tf.round(out), 0, 255), tf.uint8), labels

        return augment

    def read_inputs(self, inputs: Sequence[str], info: dict[str, Any]) -> np.ndarray:
        from kerasdl.data.images import read_image_files

        height, width, channels = info["image_shape"]
        return read_image_files(inputs, (height, width), channels)
