"""Named metadata buffers inside a .tflite file, and kerasdl's own entry.

The TFLite flatbuffer has a `metadata` list of named buffers. kerasdl stores one entry,
`kerasdl`, holding JSON: the app, class names, input layout and preprocessing, so a
.tflite file is self-sufficient on a phone or a Raspberry Pi. The standard metadata
(`kerasdl_edge.standard_metadata`) is another entry, `TFLITE_METADATA`, whose files sit
in a zip archive after the model; rewriting one entry keeps the others and the archive.
"""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

METADATA_NAME = "kerasdl"


def metadata_buffer_named(model_bytes: bytes, name: str) -> bytes | None:
    """The bytes of the metadata entry `name` (None if there is none).

    Raises:
        ValueError: when the bytes are not a readable FlatBuffer.
    """
    import struct

    from ai_edge_litert import schema_py_generated as schema

    try:
        model = schema.Model.GetRootAs(model_bytes, 0)
        for i in range(model.MetadataLength()):
            entry = model.Metadata(i)
            if entry.Name() == name.encode():
                return bytes(model.Buffers(entry.Buffer()).DataAsNumpy())
    except (struct.error, IndexError, TypeError, AttributeError, ValueError) as e:
        raise ValueError(f"its metadata list is damaged ({type(e).__name__})") from None
    return None


def subgraph_count(model_bytes: bytes) -> int:
    """How many subgraphs the model has (more than one: control flow such as the WHILE
    loop of a recurrent layer)."""
    from ai_edge_litert import schema_py_generated as schema

    return schema.Model.GetRootAs(model_bytes, 0).SubgraphsLength()


def model_inputs_outputs(model_bytes: bytes) -> tuple[int, int]:
    """How many inputs and outputs the model's main subgraph has."""
    from ai_edge_litert import schema_py_generated as schema

    subgraph = schema.Model.GetRootAs(model_bytes, 0).Subgraphs(0)
    return subgraph.InputsLength(), subgraph.OutputsLength()


def model_input_names(model_bytes: bytes) -> list[str]:
    """The main subgraph's input tensor names, in the model's input order, as the
    converter wrote them ("serving_default_ids:0")."""
    from ai_edge_litert import schema_py_generated as schema

    subgraph = schema.Model.GetRootAs(model_bytes, 0).Subgraphs(0)
    return [subgraph.Tensors(subgraph.Inputs(i)).Name().decode("utf-8") for i in range(subgraph.InputsLength())]


def input_key(tensor_name: str) -> str:
    """A Keras input's name from its TFLite tensor's ("serving_default_ids:0" -> "ids")."""
    return tensor_name.removeprefix("serving_default_").rsplit(":", 1)[0]


def set_metadata_buffer(model_bytes: bytes, name: str, data: bytes, *,
                        files: dict[str, bytes] | None = None) -> bytes:
    """The .tflite bytes with the metadata entry `name` holding `data` (replacing an older
    one), the files already after the model kept and `files` added to them."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    import numpy as np

    kept = associated_files(model_bytes)
    kept.update(files or {})
    model = schema.ModelT.InitFromObj(schema.Model.GetRootAs(model_bytes, 0))
    # Buffers stored after the FlatBuffer at an offset (LiteRT Quantizer writes its
    # weights so) come back inside it: packing again moves everything, so an offset
    # into the old file would point at nothing.
    for buffer in model.buffers or []:
        if (buffer.offset or 0) > 1:
            buffer.data = np.frombuffer(model_bytes, np.uint8, count=buffer.size, offset=buffer.offset)
            buffer.offset = buffer.size = 0
    old = [m for m in (model.metadata or []) if m.name == name.encode()]
    model.metadata = [m for m in (model.metadata or []) if m.name != name.encode()]
    buffer = schema.BufferT()
    buffer.data = np.frombuffer(data, np.uint8)  # packed as one vector, not byte by byte
    if old:
        model.buffers[old[0].buffer] = buffer
        index = old[0].buffer
    else:
        model.buffers.append(buffer)
        index = len(model.buffers) - 1
    entry = schema.MetadataT()
    entry.name = name
    entry.buffer = index
    model.metadata.append(entry)
    builder = flatbuffers.Builder(len(model_bytes) + len(data) + 4096)
    # (buffers are aligned as the converter writes them: CreateNumpyVector aligns each to its
    # element size; the interpreter copies what it needs)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    content = bytes(builder.Output())
    if not kept:
        return content
    out = io.BytesIO(content)
    out.seek(0, io.SEEK_END)
    with zipfile.ZipFile(out, "a") as archive:
        for file_name, file_bytes in kept.items():
            archive.writestr(file_name, file_bytes)
    return out.getvalue()


def associated_files(model_bytes: bytes) -> dict[str, bytes]:
    """The files in the zip archive after the model ({} if there is none)."""
    try:
        with zipfile.ZipFile(io.BytesIO(model_bytes)) as archive:
            return {n: archive.read(n) for n in archive.namelist()}
    except zipfile.BadZipFile:
        return {}


def read_metadata(model_bytes: bytes) -> dict[str, Any]:
    """The `kerasdl` JSON stored in a .tflite file's bytes ({} if there is none).

    Raises:
        ValueError: when the bytes are not a readable FlatBuffer or the entry is not JSON.
    """
    data = metadata_buffer_named(model_bytes, METADATA_NAME)
    if data is None:
        return {}
    try:
        value = json.loads(data.decode("utf-8"))
        if not isinstance(value, dict):
            raise ValueError("not a JSON object")
    except ValueError as e:  # json's and UnicodeDecodeError are ValueErrors too.
        raise ValueError(f"its '{METADATA_NAME}' metadata is damaged ({type(e).__name__})") from None
    return value


def write_metadata(model_bytes: bytes, metadata: dict[str, Any]) -> bytes:
    """Returns the .tflite bytes with `metadata` stored (replacing an older entry)."""
    return set_metadata_buffer(model_bytes, METADATA_NAME,
                               json.dumps(metadata, sort_keys=True).encode("utf-8"))
