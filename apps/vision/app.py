"""The vision app: image classification from tfds, image folders or IDX files."""

from __future__ import annotations

import logging
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, ClassVar

from kerasdl.app import Datasets
from kerasdl.backbones import BACKBONE_WEIGHTS
from kerasdl.tasks.image_classifier import ImageClassifierApp

from kerasdl.apps.vision.baselines import PIXELS, fit_pixels
from kerasdl.apps.vision.config import PRETRAINED, VisionConfig
from kerasdl.apps.vision.models import MODELS, build_vision_model

if TYPE_CHECKING:
    import keras

    from kerasdl.data.pipeline import Augment

logger = logging.getLogger(__name__)

SAMPLE_DIR = Path(__file__).parent / "sample"


class VisionApp(ImageClassifierApp[VisionConfig]):
    """Image classification with kerasdl's own models (data, export and preprocessing
from `ImageClassifierApp`).

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
    config_class = VisionConfig
    models: ClassVar[dict[str, str]] = MODELS
    default_model: ClassVar[str] = "cnn"
    sample_dir = SAMPLE_DIR
    baseline_advice: ClassVar[str] = (
        "Ship the baseline itself with --model pixels, or train longer, try --model auto or resnet, "
        "or add --augment.")
    # kerasdl's own models name no backbone (a config given --backbone keeps it for the
    # pretrained candidate alone). fastcnn comes with the `cifar` preset's recipe (its
    # optimizer, schedule, batch and regularization; the run's own epochs): the fast colour
    # recipe wins on CIFAR-scale data and fails on a thousand images, so validation picks.
    auto_recipes: ClassVar[dict[str, dict[str, Any]]] = {
        "cnn": {"model": "cnn", "backbone": ""},
        "fastcnn": {**{k: v for k, v in VisionConfig.presets["cifar"].items() if k != "epochs"}, "backbone": ""},
        "resnet": {"model": "resnet", "backbone": ""},
        PIXELS: {"model": PIXELS, "epochs": 1, "backbone": ""},
        PRETRAINED: {"model": PRETRAINED},
    }
    baseline_models: ClassVar[dict[str, dict[str, Any]]] = {PIXELS: {"model": PIXELS, "epochs": 1, "backbone": ""}}

    def auto_candidates(self, config: VisionConfig) -> dict[str, dict[str, Any]]:
        """kerasdl's own models and the pixel baseline; the pretrained model too when its
        weights are here (a file, or the published file in the cache: auto never
        downloads)."""
        from kerasdl.backbones.image import DEFAULT_IMAGE_BACKBONE, image_backbone

        candidates = dict(self.auto_recipes)
        spec = image_backbone(config.backbone or DEFAULT_IMAGE_BACKBONE)
        if not spec.has_weights_here(config.weights):
            logger.info("No %s weights here (weights=%s): --model auto leaves the pretrained candidate out; "
                        "`kerasdl fetch-weights %s` brings them.", spec.name, config.weights, spec.name)
            del candidates[PRETRAINED]
        else:
            candidates[PRETRAINED] = {"model": PRETRAINED, "backbone": spec.name}
        return candidates

    def mixed_size(self, config: VisionConfig) -> int | None:
        return self._backbone_size(config) if config.model == PRETRAINED else None

    def fit_baselines(self, config: VisionConfig, data: Datasets) -> list[Any]:
        """A linear classifier on raw pixels: exactly the model `--model pixels` ships
        (`baselines`)."""
        from kerasdl.apps.vision.baselines import fit_baselines

        return fit_baselines(data)

    def load_datasets(self, config: VisionConfig, *, fitted: dict[str, Any] | None = None) -> Datasets:
        # A new pretrained model's weights are found first: offline, that fails in seconds,
        # before any image is read.
        from kerasdl.backbones.image import image_backbone

        weights = config.new_model_weights(image_backbone) if fitted is None else None
        datasets = super().load_datasets(config, fitted=fitted)
        if weights is not None:
            datasets.initial_weights[BACKBONE_WEIGHTS] = weights
            datasets.info["backbone"] = {"name": config.backbone, "input_size": self._backbone_size(config),
                                         "weights": weights.describe()}
        if fitted is None and config.model == PIXELS:
            # Fitted here, in closed form, as sentiment's linear models: training has nothing left to learn.
            fit = fit_pixels(datasets)
            datasets.initial_weights[PIXELS] = {"kernel": fit.kernel, "bias": fit.bias}
            logger.info("Fitted %s in closed form (%s, chosen on the validation split).", PIXELS, fit.setting)
        return datasets

    @staticmethod
    def _backbone_size(config: VisionConfig) -> int:
        """The resolution the pretrained model's images reach its backbone at."""
        from kerasdl.backbones.image import image_backbone

        return config.backbone_size or image_backbone(config.backbone).input_size

    def search_space(self, hp: Any, config: VisionConfig) -> dict[str, Any]:
        """Architecture and width, regularization, and training; for a pretrained
        backbone, how much of it is fine-tuned and how fast."""
        from kerasdl.search_space import choice, training_space

        if config.model == PRETRAINED:
            return {
                **training_space(hp, config),
                "fine_tune_layers": choice(hp, "fine_tune_layers", [0, 20, 40, -1], config.fine_tune_layers),
                "fine_tune_rate": choice(hp, "fine_tune_rate", [0.03, 0.1, 0.3], config.fine_tune_rate),
                "label_smoothing": choice(hp, "label_smoothing", [0.0, 0.1], config.label_smoothing),
            }
        return {
            **training_space(hp, config),
            "model": choice(hp, "model", ["cnn", "resnet", "mobilenet"], self.model_name(config)),
            "width": choice(hp, "width", [16, 32, 64], config.width),
            "label_smoothing": choice(hp, "label_smoothing", [0.0, 0.1], config.label_smoothing),
        }

    def build_model(
        self, config: VisionConfig, info: dict[str, Any], *, keras_module: ModuleType | None = None,
        batch_size: int | None = None,
    ) -> "keras.Model":
        return build_vision_model(
            self.model_name(config), tuple(info["image_shape"]), len(info["class_names"]),
            config, keras_module=keras_module, statistics=info.get(PIXELS),
            backbone_weights=info.get(BACKBONE_WEIGHTS),
        )

    def augmentation(self, config: VisionConfig, info: dict[str, Any]) -> "Augment | None":
        import keras
        import tensorflow as tf

        if config.model == PIXELS:  # fitted in closed form: nothing learns from altered images
            return None
        layers = []
        if config.augment_flip:
            layers.append(keras.layers.RandomFlip("horizontal", seed=config.seed))
        if config.augment_shift:
            layers.append(keras.layers.RandomTranslation(
                config.augment_shift, config.augment_shift, fill_mode="constant",
                seed=config.seed + 1))
        if config.augment_zoom:
            layers.append(keras.layers.RandomZoom(
                (-config.augment_zoom, config.augment_zoom), fill_mode="reflect", seed=config.seed + 2))
        if not layers:
            return None
        augmenter = keras.Sequential(layers, name="augmentation")

        def augment(images: tf.Tensor, labels: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
            out = augmenter(tf.cast(images, tf.float32), training=True)
            return tf.cast(tf.clip_by_value(tf.round(out), 0, 255), tf.uint8), labels

        return augment
