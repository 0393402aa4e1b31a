"""Image classification, for every app of that kind: its config fields, its one
preprocessing definition and an app base class.

- `ImageClassifierConfig`: the image fields (`image_size`, `channels`) beside the
  classifier's.
- `ImagePreprocessor`: the one preprocessing definition. The model takes what a client
  has, a uint8 image [height, width, channels]; scaling to [0, 1] is the model's first
  layer (`scale_pixels`; for a pretrained backbone `backbone_pixels`: RGB, resized to the
  backbone's size, its own scaling inside it), so training, the SavedModel, every TFLite
  file and kerasdl-edge share it.
  Decoding and resizing a file is `kerasdl.data.images.decode_image` (the data pipeline
  and the SavedModel) and its numpy twin `kerasdl_edge.images.conform_image` (devices),
  tested equal. The preprocessor also writes the SavedModel endpoints, the task input a
  mobile runtime hands the model, the standard metadata and the edge metadata.
- `ImageClassifierExport`: the export specification (`kerasdl.app_export`) made from
  the preprocessor.
- `ImageClassifierApp`: reads image folders, IDX files or tfds, and exports with
  `ImageClassifierExport`; an app of this kind writes its config, its models and
  `build_model`.

Example:
>>> from kerasdl.tasks.image_classifier import ImagePreprocessor
>>> preprocessor = ImagePreprocessor({"image_shape": [28, 28, 1], "class_names": ["a", "b"]})
>>> preprocessor.metadata()["normalization"]
{'inside_model': True, 'scale': 0.00392156862745098, 'offset': 0.0}
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

import numpy as np

from kerasdl.app import ClassifierApp, Datasets
from kerasdl.app_export import ClassifierExportSpec, ExportSpec, MobileTask, TaskInput, named_probabilities
from kerasdl.config import ADVERSARIAL_ATTACKS, ClassifierConfig, _check_choice, _check_positive_int, _check_range
from kerasdl.errors import ConfigError, DataError
from kerasdl.layers.blocks import keras_or

if TYPE_CHECKING:
    import keras
    import tensorflow as tf

    from kerasdl_edge.standard_metadata import TensorInfo

INPUT_NAME = "image"
SCALE = 1.0 / 255.0
MIN_IMAGE_SIZE = 8


@dataclass
class ImageClassifierConfig(ClassifierConfig):
    """A classifier of images.

    Attributes:
        image_size: resize every image to this square size; None keeps the data's own
            size (which must then be the same for every image).
        channels: 1 (grey) or 3 (colour); None keeps the data's own.
        adversarial: none, fgsm or pgd: train on adversarial examples made by that
            attack at every step (`kerasdl.training.adversarial`).
        epsilon: the attack's budget: how far each pixel (in [0, 1]) may move;
            8/255 is CIFAR-10's usual one.
        adversarial_steps: PGD's steps when training with pgd.
        adversarial_weight: the weight w of the adversarial loss; 1 - w goes to the
            clean one (0.5: Goodfellow et al.; 1: Madry et al.).
    """

    image_size: int | None = None
    channels: int | None = None
    adversarial: str = "none"
    epsilon: float = 8 / 255
    adversarial_steps: int = 5
    adversarial_weight: float = 0.5

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.image_size is not None:
            _check_positive_int(self, "image_size")
            if self.image_size < MIN_IMAGE_SIZE:
                raise ConfigError(
                    f"`image_size` must be at least {MIN_IMAGE_SIZE}. Received: image_size={self.image_size}"
                )
        if self.channels not in (None, 1, 3):
            raise ConfigError(f"`channels` must be 1 or 3. Received: channels={self.channels!r}")
        _check_choice(self, "adversarial", ("none", *ADVERSARIAL_ATTACKS))
        _check_range(self, "epsilon", 0.0, 1.0, low_open=True)
        _check_positive_int(self, "adversarial_steps")
        _check_range(self, "adversarial_weight", 0.0, 1.0)
        if self.adversarial != "none" and getattr(self, "teacher", None):
            raise ConfigError("Give `teacher` (distillation) or `adversarial` (adversarial training), not both: "
                              "each replaces the training loss.")


def image_input(image_shape: tuple[int, int, int], *, keras_module: ModuleType | None = None) -> Any:
    """The model's input: a uint8 image batch of `image_shape`."""
    k = keras_or(keras_module)
    return k.Input(shape=tuple(image_shape), dtype="uint8", name=INPUT_NAME)


def scale_pixels(image: Any, *, keras_module: ModuleType | None = None) -> Any:
    """uint8 pixels to float32 in [0, 1]: the model's first layer."""
    k = keras_or(keras_module)
    return k.layers.Rescaling(SCALE, name="scale_pixels")(image)


def backbone_pixels(image: Any, size: int, *, keras_module: ModuleType | None = None) -> Any:
    """uint8 pixels to what a pretrained backbone takes: float32 RGB still in [0, 255]
    (a grey image's channel repeated), resized to `size` x `size` (bilinear). The
    backbone scales them its own way inside (`kerasdl.backbones.image`)."""
    k = keras_or(keras_module)
    x = k.layers.Rescaling(1.0, name="to_float")(image)
    if image.shape[-1] == 1:
        x = k.layers.Concatenate(name="grey_to_rgb")([x, x, x])
    if tuple(image.shape[1:3]) != (size, size):
        x = k.layers.Resizing(size, size, interpolation="bilinear", name="resize_to_backbone")(x)
    return x


class ImagePreprocessor:
    """What an image classifier's inputs are, wherever they are read: the SavedModel's
    decoding, the task input a mobile runtime hands the model, the standard metadata's
    input tensor and the edge metadata. (The in-model layers are `image_input` and
    `scale_pixels` above.)

    Args:
        info: the data info, read as `kerasdl_edge.facts.ImageFacts` (`class_names`,
            `image_shape`; `input_channels` when a task-ready export takes RGB for a grey
            model).
    """

    def __init__(self, info: dict[str, Any]) -> None:
        from kerasdl_edge.facts import ImageFacts, parse_facts

        self.info = info
        # The schema the image classification codec reads on devices, parsed the same way.
        self.facts = parse_facts(ImageFacts, info)
        self.height, self.width, self.channels = self.facts.image_shape

    def decode(self, image_bytes: "tf.Tensor") -> "tf.Tensor":
        """Encoded images (JPEG, PNG, BMP, GIF bytes) [batch] to the model's uint8 input,
        as the data pipeline decodes and resizes them."""
        import tensorflow as tf

        from kerasdl.data.images import decode_image

        size = (self.height, self.width)
        return tf.map_fn(lambda b: decode_image(b, size, self.channels), image_bytes,
                         fn_output_signature=tf.TensorSpec([self.height, self.width, self.channels], tf.uint8))

    def pixels_spec(self) -> "tf.TensorSpec":
        """The model's own input: a uint8 batch at its size."""
        import tensorflow as tf

        return tf.TensorSpec([None, self.height, self.width, self.channels], tf.uint8, name=INPUT_NAME)

    def task_input(self) -> TaskInput | None:
        """A grey model takes RGB frames (MediaPipe's ImageClassifier hands RGB), made
        grey inside by `RgbToGrey`; a colour model takes them as it is."""
        if self.channels != 1:
            return None
        height, width = self.height, self.width

        def wrap(model: "keras.Model") -> "keras.Model":
            import keras

            from kerasdl.layers.task_inputs import rgb_to_grey_class

            rgb = keras.Input((height, width, 3), dtype="uint8", name=model.inputs[0].name)
            return keras.Model(rgb, model(rgb_to_grey_class(keras)(name="rgb_to_grey")(rgb)),
                               name=f"{model.name}_rgb")

        return TaskInput(wrap=wrap, convert=lambda images: np.repeat(images, 3, axis=-1),
                         info={"input_channels": 3})

    def input_tensor(self) -> "TensorInfo":
        """The standard metadata of the image input (RGB for a task-ready file)."""
        from kerasdl_edge.standard_metadata import ImageInput, TensorInfo

        channels = self.facts.channels_in
        space = "RGB" if channels == 3 else "GRAYSCALE"
        return TensorInfo("image", f"uint8 {space} image, raw pixels 0-255 (scaled inside the model).",
                          image=ImageInput(space, (0.0,) * channels, (1.0,) * channels),
                          value_range=(0.0, 255.0))

    def metadata(self) -> dict[str, Any]:
        """How a client turns an image file into the model's input (the export's
        `preprocessing` entry, for edge runtimes)."""
        from kerasdl.data.images import RESIZE_METHOD

        return {
            "input": "uint8 image [batch, height, width, channels], raw pixels 0-255",
            "decode": "PNG/JPEG/BMP/GIF; grey converted to RGB or RGB to grey (ITU-R 601-2 luma) as needed",
            "resize": {"height": self.height, "width": self.width, "method": RESIZE_METHOD, "antialias": True},
            "channels": self.channels,
            "normalization": {"inside_model": True, "scale": SCALE, "offset": 0.0},
        }


class ImageClassifierExport(ClassifierExportSpec[Any]):
    """An image classifier's export, from its `ImagePreprocessor`: `serving_default`
    takes encoded images and returns probabilities, the top class label and its score;
    `serve_pixels` takes a uint8 batch already at the model's size; task-ready TFLite
    files take RGB and run in MediaPipe's ImageClassifier."""

    def __init__(self, app: Any, config: Any, info: dict[str, Any]) -> None:
        super().__init__(app, config, info)
        self.preprocessor = ImagePreprocessor(info)

    def serving_endpoints(self, model: "keras.Model") -> dict[str, Any]:
        import tensorflow as tf

        named_outputs = named_probabilities(self.info["class_names"])

        def from_bytes(image_bytes: tf.Tensor) -> dict[str, tf.Tensor]:
            return named_outputs(model(self.preprocessor.decode(image_bytes), training=False))

        def from_pixels(image: tf.Tensor) -> dict[str, tf.Tensor]:
            return named_outputs(model(image, training=False))

        return {
            "serving_default": (from_bytes, [tf.TensorSpec([None], tf.string, name="image_bytes")]),
            "serve_pixels": (from_pixels, [self.preprocessor.pixels_spec()]),
        }

    def task_input(self) -> TaskInput | None:
        return self.preprocessor.task_input()

    def mobile_task(self) -> MobileTask:
        image = self.preprocessor.input_tensor()
        if image.image is not None and image.image.color_space == "RGB":
            return MobileTask(image, self.probabilities_tensor(), "ImageClassifier")
        return MobileTask(image, self.probabilities_tensor(), None, "MediaPipe's ImageClassifier takes RGB: "
                          "export without --native-input for a file that takes RGB")

    def preprocessing_metadata(self) -> dict[str, Any]:
        return self.preprocessor.metadata()


ImageConfigT = TypeVar("ImageConfigT", bound=ImageClassifierConfig)


class ImageClassifierApp(ClassifierApp[ImageConfigT], Generic[ImageConfigT]):
    """An app that classifies images: data from image folders, IDX files or tfds (the
    bundled `sample_dir` when no dataset is given), exported through
    `ImagePreprocessor`. It writes `name`, `description`, `config_class`, `models`,
    `default_model`, `sample_dir` and `build_model` (whose input is `image_input`, then
    `scale_pixels`)."""

    task: ClassVar[str] = "image_classification"
    export_spec_class: ClassVar[type[ExportSpec]] = ImageClassifierExport

    def mixed_size(self, config: ImageConfigT) -> int | None:
        """The size images of different sizes are resized to when `image_size` is not
        set (a pretrained backbone's input size); None: such data is an error."""
        return None

    def load_datasets(self, config: ImageConfigT, *, fitted: dict[str, Any] | None = None) -> Datasets:
        from kerasdl.data.images import load_image_datasets

        if config.dataset is None and self.sample_dir is None:
            raise ConfigError(f"The {self.name} app ships no sample: give `dataset` (an image folder, "
                              "IDX files or a tfds name).")
        data = load_image_datasets(
            config.dataset,
            sample_dir=self.sample_dir or Path("."),
            image_size=config.image_size,
            channels=config.channels,
            validation_split=config.validation_split,
            seed=config.seed,
            mixed_size=self.mixed_size(config),
        )
        if len(data.class_names) < 2:
            raise DataError(
                f"{data.source.split(':', 1)[-1]} holds one class ({data.class_names[0]!r}); a "
                "classifier needs at least two. To learn to make pictures of one kind, train an image "
                "generator (`kerasdl apps` lists the apps).")
        return Datasets(train=data.train, validation=data.validation, test=data.test, info=data.info())
