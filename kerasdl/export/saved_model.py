"""SavedModel export in TF Serving's layout, with the app's client-format signatures.

What a reader of the folder needs (the `model_input` signature's name, where kerasdl's
metadata lies) is in `kerasdl.saved_model_format`, below `loading` and this package.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from pathlib import Path
from typing import Any

from kerasdl.saved_model_format import METADATA_FILE, MODEL_INPUT_ENDPOINT


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

    if version_dir.exists():
        raise FileExistsError(f"{version_dir} already exists")
    archive = keras.export.ExportArchive()
    archive.track(model)
    for name, (function, signature, *resources) in endpoints.items():
        for resource in resources[0] if resources else ():
            archive.track(resource)
        archive.add_endpoint(name, function, input_signature=signature)
    model_input = _model_input_specs(model)
    # A model of named inputs (a dict: a pretrained text encoder's) takes them by name.
    named = isinstance(model.input, dict)

    def from_model_input(*inputs: Any) -> dict[str, Any]:
        if named:
            return {"outputs": model({spec.name: x for spec, x in zip(model_input, inputs)}, training=False)}
        return {"outputs": model(list(inputs) if len(inputs) > 1 else inputs[0], training=False)}

    archive.add_endpoint(MODEL_INPUT_ENDPOINT, from_model_input, input_signature=model_input)
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


def _model_input_specs(model: Any) -> list[Any]:
    import tensorflow as tf

    return [tf.TensorSpec(t.shape, t.dtype, name=t.name.split(":")[0]) for t in model.inputs]


def _describe(dtype: str, dims: list[int] | None) -> str:
    """`uint8[-1,16,16,3]` (-1: any size; `[?]`: any rank)."""
    return f"{dtype}[{','.join(map(str, dims))}]" if dims is not None else f"{dtype}[?]"


def endpoint_inputs(model: Any, endpoints: dict[str, Any]) -> dict[str, dict[str, str]]:
    """{signature: {input: "dtype[shape]"}} of the SavedModel `export_saved_model` would
    write for `model` and `endpoints`, as `signature_inputs` reads one back."""
    import inspect

    described = {}
    for name, (function, signature, *_) in {**endpoints, MODEL_INPUT_ENDPOINT: (None, _model_input_specs(model))}.items():
        try:  # an unnamed spec takes the name of its function's argument
            params = list(inspect.signature(function).parameters) if function is not None else []
        except (TypeError, ValueError):
            params = []
        described[name] = {
            spec.name or (params[i] if i < len(params) else f"input_{i}"):
                _describe(spec.dtype.name, None if spec.shape.rank is None else
                          [-1 if d is None else int(d) for d in spec.shape.as_list()])
            for i, spec in enumerate(signature)}
    return described


def signature_inputs(version_dir: Path) -> dict[str, dict[str, str]]:
    """{signature: {input: "dtype[shape]"}} of a SavedModel, from its saved_model.pb
    (nothing is loaded): what its clients send."""
    import tensorflow as tf
    from tensorflow.core.protobuf import saved_model_pb2

    saved = saved_model_pb2.SavedModel()
    saved.ParseFromString((version_dir / "saved_model.pb").read_bytes())
    described = {}
    for name, signature in saved.meta_graphs[0].signature_def.items():
        if name.startswith("__"):  # __saved_model_init_op: no client calls it
            continue
        described[name] = {
            key: _describe(tf.dtypes.as_dtype(info.dtype).name,
                           None if info.tensor_shape.unknown_rank else [d.size for d in info.tensor_shape.dim])
            for key, info in signature.inputs.items()}
    return described

