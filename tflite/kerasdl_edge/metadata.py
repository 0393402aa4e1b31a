"""kerasdl's metadata inside a .tflite file.

The TFLite flatbuffer has a `metadata` list of named buffers. kerasdl stores one entry,
`kerasdl`, holding JSON: the app, class names, input layout and preprocessing, so a
.tflite file is self-sufficient on a phone or a Raspberry Pi.
"""

from __future__ import annotations

import json
from typing import Any

METADATA_NAME = "kerasdl"


def read_metadata(model_bytes: bytes) -> dict[str, Any]:
    """The `kerasdl` JSON stored in a .tflite file's bytes ({} if there is none).

    Raises:
        ValueError: when the bytes are not a readable FlatBuffer or the entry is not JSON.
    """
    import struct

    from ai_edge_litert import schema_py_generated as schema

    try:
        model = schema.Model.GetRootAs(model_bytes, 0)
        for i in range(model.MetadataLength()):
            entry = model.Metadata(i)
            if entry.Name() == METADATA_NAME.encode():
                data = model.Buffers(entry.Buffer()).DataAsNumpy()
                value = json.loads(bytes(data).decode("utf-8"))
                if not isinstance(value, dict):
                    raise ValueError("not a JSON object")
                return value
    except (struct.error, IndexError, TypeError, AttributeError, ValueError) as e:
        # json's and UnicodeDecodeError are ValueErrors too.
        raise ValueError(f"its '{METADATA_NAME}' metadata is damaged ({type(e).__name__})") from None
    return {}


def write_metadata(model_bytes: bytes, metadata: dict[str, Any]) -> bytes:
    """Returns the .tflite bytes with `metadata` stored (replacing an older entry)."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    model = schema.ModelT.InitFromObj(schema.Model.GetRootAs(model_bytes, 0))
    model.metadata = [m for m in (model.metadata or []) if m.name != METADATA_NAME.encode()]
    buffer = schema.BufferT()
    buffer.data = list(json.dumps(metadata, sort_keys=True).encode("utf-8"))
    model.buffers.append(buffer)
    entry = schema.MetadataT()
    entry.name = METADATA_NAME
    entry.buffer = len(model.buffers) - 1
    model.metadata.append(entry)
    builder = flatbuffers.Builder(len(model_bytes) + 4096)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())
