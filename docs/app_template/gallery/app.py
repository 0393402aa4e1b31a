"""The gallery app: everything an image classifier app writes.

Data (image folders, IDX files, tfds), the SavedModel's endpoints, the TFLite files'
metadata, kerasdl-edge's input reading and the MediaPipe task come from
`ImageClassifierApp` and its task kind; this file names the app, its config and its
models. Register it with one line in `kerasdl/registry.py`:

    "gallery": AppEntry("kerasdl.apps.gallery.app:GalleryApp", "Image classification: a tiny CNN."),
"""

from __future__ import annotations

from types import ModuleType
from typing import TYPE_CHECKING, Any, ClassVar

from kerasdl.tasks.image_classifier import ImageClassifierApp

from .config import GalleryConfig
from .models import MODELS, build_tinynet

if TYPE_CHECKING:
    import keras


class GalleryApp(ImageClassifierApp[GalleryConfig]):
    """Image classification with one small CNN."""

    name: ClassVar[str] = "gallery"
    description: ClassVar[str] = "Image classification: a tiny CNN."
    config_class = GalleryConfig
    models: ClassVar[dict[str, str]] = MODELS
    default_model: ClassVar[str] = "tinynet"

    def build_model(self, config: GalleryConfig, info: dict[str, Any], *,
                    keras_module: ModuleType | None = None, batch_size: int | None = None) -> "keras.Model":
        return build_tinynet(tuple(info["image_shape"]), len(info["class_names"]), config.width,
                             keras_module=keras_module)
