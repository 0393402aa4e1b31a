"""What a kerasdl SavedModel folder holds, for whoever writes it and whoever reads it.

`kerasdl.export.saved_model` writes SavedModels; `kerasdl.loading` (and the export
benchmarks) read them. The facts both sides rely on live here, at the bottom of the
layers, so that reading a model does not import the exporter, which itself opens runs
through `loading`.

Example:
>>> from pathlib import Path
>>> is_saved_model(Path("no-such-folder")), read_saved_model_metadata(Path("no-such-folder"))
(False, {})
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

# The signature that takes the model's own input and returns its raw outputs (the app's
# signatures take what its clients send).
MODEL_INPUT_ENDPOINT = "model_input"
# kerasdl's metadata (app, data info, preprocessing): JSON beside the model, which TF
# Serving ignores.
METADATA_FILE = "assets.extra/kerasdl.json"


def read_saved_model_metadata(path: Path) -> dict[str, Any]:
    """kerasdl's metadata of the SavedModel folder `path`; {} for one without it."""
    file = path / METADATA_FILE
    return json.loads(file.read_text()) if file.exists() else {}


def is_saved_model(path: Path) -> bool:
    """Whether `path` is a SavedModel folder (it holds saved_model.pb)."""
    return (path / "saved_model.pb").is_file()


def load_saved_model(path: Path | str) -> Any:
    """`tf.saved_model.load(path)`, with tensorflow-text's ops registered first: a
    pretrained text encoder's signature tokenizes with them (WordPiece), and TensorFlow
    knows them only once `tensorflow_text` is imported."""
    import tensorflow as tf

    try:
        import tensorflow_text  # noqa: F401  (registers the ops)
    except ImportError:
        pass  # only a model that uses its ops needs it; TensorFlow then names the missing op
    return tf.saved_model.load(str(path))
