"""SavedModel export in TF Serving's layout, with the app's client-format signatures."""

from __future__ import annotations

import json
import os
import shutil
import uuid
from pathlib import Path
from typing import Any

MODEL_INPUT_ENDPOINT = "model_input"
METADATA_FILE = "assets.extra/kerasdl.json"


def export_saved_model(
    model: Any, endpoints: dict[str, Any], metadata: dict[str, Any], version_dir: Path
) -> Path:
    """Writes a SavedModel to `version_dir` atomically.

    Args:
        model: the Keras model.
        endpoints: {name: (function, input_signature[, layers to track])} from the
            app; `model_input`
            (the model's own input, raw outputs) is added to them.
        metadata: JSON written to `assets.extra/kerasdl.json` (TF Serving ignores it).
        version_dir: e.g. saved_models/vision/3; must not exist.
    """
    import keras
    import tensorflow as tf

    if version_dir.exists():
        raise FileExistsError(f"{version_dir} already exists")
    archive = keras.export.ExportArchive()
    archive.track(model)
    for name, (function, signature, *resources) in endpoints.items():
        for resource in resources[0] if resources else ():
            archive.track(resource)
        archive.add_endpoint(name, function, input_signature=signature)
    model_input = [
        tf.TensorSpec(t.shape, t.dtype, name=t.name.split(":")[0]) for t in model.inputs
    ]
    archive.add_endpoint(
        MODEL_INPUT_ENDPOINT,
        lambda *inputs: {"outputs": model(list(inputs) if len(inputs) > 1 else inputs[0], training=False)},
        input_signature=model_input,
    )
    version_dir.parent.mkdir(parents=True, exist_ok=True)
    # Hidden and non-numeric: TF Serving ignores it until the rename.
    tmp = version_dir.parent / f".tmp-{version_dir.name}-{uuid.uuid4().hex[:8]}"
    try:
        archive.write_out(str(tmp), verbose=False)
        extra = tmp / METADATA_FILE
        extra.parent.mkdir(parents=True, exist_ok=True)
        extra.write_text(json.dumps(metadata, indent=2))
        os.rename(tmp, version_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return version_dir


def read_saved_model_metadata(path: Path) -> dict[str, Any]:
    file = path / METADATA_FILE
    return json.loads(file.read_text()) if file.exists() else {}


def is_saved_model(path: Path) -> bool:
    return (path / "saved_model.pb").is_file()
