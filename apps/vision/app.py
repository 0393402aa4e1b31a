"""The vision app: image classification from tfds, image folders or IDX files."""

from __future__ import annotations

import logging
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from kerasdl.app import ClassifierApp, Datasets, MobileTask, TaskInput, named_probabilities
from kerasdl.errors import DataError

from kerasdl.apps.vision.baselines import PIXELS, fit_pixels
from kerasdl.apps.vision.config import VisionConfig
from kerasdl.apps.vision.models import MODELS, build_vision_model

if TYPE_CHECKING:
    import keras

    from kerasdl.data.pipeline import Augment

logger = logging.getLogger(__name__)

SAMPLE_DIR = Path(__file__).parent / "sample"


class VisionApp(ClassifierApp[VisionConfig]):
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
    config_class = VisionConfig
    models: ClassVar[dict[str, str]] = MODELS
    default_model: ClassVar[str] = "cnn"
    sample_dir = SAMPLE_DIR
    baseline_advice: ClassVar[str] = (
        "Ship the baseline itself with --model pixels, or train longer, try --model auto or resnet, "
        "or add --augment.")
    auto_recipes: ClassVar[dict[str, dict[str, Any]]] = {"cnn": {"model": "cnn"}, "resnet": {"model": "resnet"},
                                                         PIXELS: {"model": PIXELS, "epochs": 1}}
    baseline_models: ClassVar[dict[str, dict[str, Any]]] = {PIXELS: {"model": PIXELS, "epochs": 1}}

    def fit_baselines(self, config: VisionConfig, data: Datasets) -> list[Any]:
        """A linear classifier on raw pixels: exactly the model `--model pixels` ships
        (`baselines`)."""
        from kerasdl.apps.vision.baselines import fit_baselines

        return fit_baselines(data)

    def load_datasets(self, config: VisionConfig, *, fitted: dict[str, Any] | None = None) -> Datasets:
        from kerasdl.data.images import load_image_datasets

        data = load_image_datasets(
            config.dataset,
            sample_dir=SAMPLE_DIR,
            image_size=config.image_size,
            channels=config.channels,
            validation_split=config.validation_split,
            seed=config.seed,
        )
        if len(data.class_names) < 2:
            raise DataError(
                f"{data.source.split(':', 1)[-1]} holds one class ({data.class_names[0]!r}); a "
                "classifier needs at least two. To learn to make pictures of one kind, use the "
                "dcgan app.")
        datasets = Datasets(train=data.train, validation=data.validation, test=data.test, info=data.info())
        if fitted is None and config.model == PIXELS:
            # Fitted here, in closed form, as sentiment's linear models: training has nothing left to learn.
            fit = fit_pixels(datasets)
            datasets.initial_weights[PIXELS] = {"kernel": fit.kernel, "bias": fit.bias}
            logger.info("Fitted %s in closed form (%s, chosen on the validation split).", PIXELS, fit.setting)
        return datasets

    def search_space(self, hp: Any, config: VisionConfig) -> dict[str, Any]:
        """Architecture and width, regularization, and training."""
        from kerasdl.search_space import choice, training_space

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
        if not layers:
            return None
        augmenter = keras.Sequential(layers, name="augmentation")

        def augment(images: tf.Tensor, labels: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
            out = augmenter(tf.cast(images, tf.float32), training=True)
            return tf.cast(tf.clip_by_value(tf.round(out), 0, 255), tf.uint8), labels

        return augment

    def serving_endpoints(self, model: "keras.Model", info: dict[str, Any]) -> dict[str, Any]:
        """`serving_default` takes encoded images (JPEG, PNG, BMP, GIF bytes) and returns
        probabilities, the top class label and its score; `serve_pixels` takes a uint8
        batch already at the model's size."""
        import tensorflow as tf

        from kerasdl.data.images import decode_image

        height, width, channels = info["image_shape"]
        named_outputs = named_probabilities(info["class_names"])

        def from_bytes(image_bytes: tf.Tensor) -> dict[str, tf.Tensor]:
            images = tf.map_fn(
                lambda b: decode_image(b, (height, width), channels), image_bytes,
                fn_output_signature=tf.TensorSpec([height, width, channels], tf.uint8),
            )
            return named_outputs(model(images, training=False))

        def from_pixels(image: tf.Tensor) -> dict[str, tf.Tensor]:
            return named_outputs(model(image, training=False))

        return {
            "serving_default": (from_bytes, [tf.TensorSpec([None], tf.string, name="image_bytes")]),
            "serve_pixels": (from_pixels, [tf.TensorSpec([None, height, width, channels], tf.uint8, name="image")]),
        }

    def task_input(self, info: dict[str, Any]) -> TaskInput | None:
        """A grey model takes RGB frames (MediaPipe's ImageClassifier hands RGB), made
        grey inside by `RgbToGrey`; a colour model takes them as it is."""
        if info["image_shape"][2] != 1:
            return None

        def wrap(model: "keras.Model") -> "keras.Model":
            import keras

            from kerasdl.layers.task_inputs import rgb_to_grey_class

            height, width, _ = info["image_shape"]
            rgb = keras.Input((height, width, 3), dtype="uint8", name=model.inputs[0].name)
            return keras.Model(rgb, model(rgb_to_grey_class(keras)(name="rgb_to_grey")(rgb)),
                               name=f"{model.name}_rgb")

        return TaskInput(wrap=wrap, convert=lambda images: np.repeat(images, 3, axis=-1),
                         info={"input_channels": 3})

    def mobile_task(self, config: VisionConfig, info: dict[str, Any]) -> MobileTask:
        from kerasdl_edge.standard_metadata import ImageInput, TensorInfo

        channels = info.get("input_channels", info["image_shape"][2])
        space = "RGB" if channels == 3 else "GRAYSCALE"
        image = TensorInfo("image", f"uint8 {space} image, raw pixels 0-255 (scaled inside the model).",
                           image=ImageInput(space, (0.0,) * channels, (1.0,) * channels),
                           value_range=(0.0, 255.0))
        output = self.probabilities_tensor(info)
        if channels == 3:
            return MobileTask(image, output, "ImageClassifier")
        return MobileTask(image, output, None, "MediaPipe's ImageClassifier takes RGB: export "
                          "without --native-input for a file that takes RGB")

    def preprocessing_metadata(self, info: dict[str, Any]) -> dict[str, Any]:
        from kerasdl.apps.vision.preprocessing import SCALE
        from kerasdl.data.images import RESIZE_METHOD

        height, width, channels = info["image_shape"]
        return {
            "input": "uint8 image [batch, height, width, channels], raw pixels 0-255",
            "decode": "PNG/JPEG/BMP/GIF; grey converted to RGB or RGB to grey (ITU-R 601-2 luma) as needed",
            "resize": {"height": height, "width": width, "method": RESIZE_METHOD, "antialias": True},
            "channels": channels,
            "normalization": {"inside_model": True, "scale": SCALE, "offset": 0.0},
        }
