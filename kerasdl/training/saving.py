"""Loading models that use kerasdl's registered layers, losses and schedules."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kerasdl.errors import KerasdlError


def load_model(path: str | Path, *, compile: bool = False) -> Any:
    """Loads a `.keras` model saved by kerasdl.

    Raises:
        KerasdlError: if the file is missing or not a Keras model.
    """
    import keras

    # Importing these registers kerasdl's serializable objects with Keras.
    from kerasdl.layers import audio_features, position_embedding
    from kerasdl.training import losses, optimizers  # noqa: F401

    position_embedding.register()
    audio_features.register()

    path = Path(path)
    if not path.exists():
        raise KerasdlError(f"Model file not found: {path}")
    try:
        return keras.models.load_model(path, compile=compile)
    except (ValueError, OSError) as e:
        raise KerasdlError(f"Cannot load model {path}: {str(e).splitlines()[0]}") from None


def save_model(model: Any, path: str | Path) -> Path:
    """Saves `model` as `.keras` atomically: a crash leaves the previous file intact."""
    from kerasdl.io import atomic_path

    path = Path(path)
    with atomic_path(path) as tmp:
        model.save(tmp)
    return path
