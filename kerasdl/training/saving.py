"""Loading models that use kerasdl's registered layers, losses and schedules."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import Any

from kerasdl.errors import KerasdlError


def load_model(path: str | Path, *, compile: bool = False,
               custom_objects: dict[str, Any] | None = None) -> Any:
    """Loads a `.keras` model saved by kerasdl (`custom_objects`: an app's own model
    classes, from `App.custom_objects`).

    Raises:
        KerasdlError: if the file is missing or not a Keras model.
    """
    import keras

    # Importing these registers kerasdl's serializable losses and schedules.
    from kerasdl.layers import losses  # noqa: F401
    from kerasdl.training import optimizers  # noqa: F401

    register_custom_layers(keras)
    path = Path(path)
    if not path.exists():
        raise KerasdlError(f"Model file not found: {path}")
    if _uses_keras_hub(path):
        try:
            import keras_hub  # noqa: F401  (registers its layers for deserialization)
        except ImportError:
            raise KerasdlError(f"{path} holds a keras-hub backbone: `pip install keras-hub` to load it.") from None
    try:
        return keras.models.load_model(path, compile=compile, custom_objects=custom_objects)
    except (ValueError, OSError) as e:
        raise KerasdlError(f"Cannot load model {path}: {str(e).splitlines()[0]}") from None


def _uses_keras_hub(path: Path) -> bool:
    """Whether a `.keras` file's architecture names keras-hub classes (a pretrained
    backbone from a keras-hub preset)."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            return b'"keras_hub' in archive.read("config.json")
    except (zipfile.BadZipFile, KeyError, OSError):
        return False


def load_app_model(app: Any, path: str | Path, *, compile: bool = False) -> Any:
    """Loads one of `app`'s saved `.keras` models, with its own classes (a GAN)."""
    return load_model(path, compile=compile, custom_objects=app.custom_objects())


def save_quantization_aware_model(model: Any, path: str | Path) -> Path:
    """Saves a tfmot quantization-aware tf_keras model (`kerasdl optimize --qat`)."""
    import tensorflow_model_optimization as tfmot

    with tfmot.quantization.keras.quantize_scope():
        model.save(path)
    return Path(path)


def load_quantization_aware_model(path: str | Path) -> Any:
    """Loads a model `save_quantization_aware_model` wrote, as tf_keras with tfmot's
    quantization wrappers (its TFLite conversion reads their learned ranges)."""
    import tensorflow_model_optimization as tfmot
    import tf_keras

    register_custom_layers(tf_keras)
    with tfmot.quantization.keras.quantize_scope():
        return tf_keras.models.load_model(path, compile=False)


def register_custom_layers(keras_module: ModuleType) -> None:
    """Defines (and so registers) kerasdl's custom layers for `keras_module` (keras or
    tf_keras), so that saved models using them load."""
    from kerasdl.layers.audio_features import log_mel_class
    from kerasdl.layers.masked_mean import masked_mean_class
    from kerasdl.layers.position_embedding import position_embedding_class
    from kerasdl.layers.spec_augment import spec_augment_class
    from kerasdl.layers.task_inputs import rgb_to_grey_class, waveform_to_pcm_class
    from kerasdl.layers.token_scores import token_scores_class

    for define in (position_embedding_class, log_mel_class, spec_augment_class, masked_mean_class,
                   rgb_to_grey_class, waveform_to_pcm_class, token_scores_class):
        define(keras_module)


def save_model(model: Any, path: str | Path) -> Path:
    """Saves `model` as `.keras` atomically: a crash leaves the previous file intact."""
    from kerasdl.io import atomic_path

    path = Path(path)
    with atomic_path(path) as tmp:
        model.save(tmp)
    return path
