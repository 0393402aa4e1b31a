"""Opening what kerasdl wrote: a run with its app, config and data info; any model.

Every command that starts from a run (evaluate, export, optimize, benchmark, compare)
opens it here, and every command that takes "a model" (a run, a .tflite file, a
SavedModel folder) loads it here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from kerasdl.config import TrainConfig
from kerasdl.errors import KerasdlError
from kerasdl.registry import get_app
from kerasdl.runs import Run, run_config
from kerasdl.training.saving import load_app_model

if TYPE_CHECKING:
    import keras

    from kerasdl.app import App


@dataclass
class OpenedRun:
    """A run directory with its app, its resolved config and its data info."""

    run: Run
    app: "App[Any]"
    config: TrainConfig
    info: dict[str, Any]

    def load_model(self, *, compile: bool = False) -> "keras.Model":
        """The run's best model (its last one when no best was kept)."""
        return load_app_model(self.app, self.run.model_path(), compile=compile)


def open_run(path: str | Path) -> OpenedRun:
    """Opens a run directory.

    Raises:
        KerasdlError: for a folder that is not a run, or a run of an unknown app.
    """
    run = Run.open(path)
    app = get_app(run.meta.get("app", ""))
    return OpenedRun(run=run, app=app, config=run_config(run), info=run.meta["data"])


def load_any_model(path: str | Path) -> tuple["App[Any]", dict[str, Any], Any]:
    """(app, data info, a callable model) from a run directory, a kerasdl .tflite file
    or a kerasdl SavedModel version folder.

    Raises:
        KerasdlError: for a missing or damaged file, or one kerasdl did not write.
    """
    from kerasdl.saved_model_format import (MODEL_INPUT_ENDPOINT, is_saved_model, load_saved_model,
                                            read_saved_model_metadata)

    path = Path(path)
    if path.suffix == ".tflite":
        from kerasdl_edge import EdgeModel

        if not path.is_file():
            raise KerasdlError(f"TFLite file not found: {path}")
        try:
            edge = EdgeModel(path)
        except (ValueError, RuntimeError) as e:
            raise KerasdlError(f"Cannot load {path} as a TFLite model: {e}") from None
        meta = edge.metadata
        if not meta:
            raise KerasdlError(f"{path} has no kerasdl metadata; was it exported by kerasdl?")
        return get_app(meta["app"]), meta["info"], edge
    if path.is_dir() and is_saved_model(path):
        import tensorflow as tf

        meta = read_saved_model_metadata(path)
        if not meta:
            raise KerasdlError(f"{path} is a SavedModel without kerasdl metadata.")
        endpoint = load_saved_model(path).signatures[MODEL_INPUT_ENDPOINT]
        names = list(endpoint.structured_input_signature[1])

        def call(x: Any, training: bool = False) -> np.ndarray:
            # One input, or several by name (a pretrained text encoder's ids, mask, segment_ids).
            inputs = {n: tf.constant(x[n]) for n in names} if isinstance(x, dict) else {names[0]: tf.constant(x)}
            return endpoint(**inputs)["outputs"].numpy()

        return get_app(meta["app"]), meta["info"], call

    opened = open_run(path)
    return opened.app, opened.info, opened.load_model()


def inference_mode(model: Any) -> Any:
    """`model` called in inference mode, whatever calls it (the codecs call `model(x)`).
    A reloaded Keras model with a backbone nested inside it (trained from random weights)
    was seen to run batch normalization on the batch's own statistics when `training` was
    left unset (Keras 3.15), so its answers depended on the batch; edge models and
    SavedModel endpoints are returned as they are."""
    if not hasattr(model, "layers"):
        return model

    def infer(x: Any, training: bool = False) -> Any:
        return model(x, training=False)

    return infer
