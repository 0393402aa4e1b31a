"""TF Serving's REST predict format, both ways.

A request body is `{"signature_name": ..., "instances": [...]}` (row format: one item
per example; an item is the value of the single input or {input: value}) or
`{"inputs": ...}` (column format: the whole batch of the single input, or {input:
batch}). Bytes travel as `{"b64": "..."}`. Row requests are answered with
`{"predictions": [...]}` (one value, or {output: value}, per example), column requests
with `{"outputs": ...}`. String outputs whose name ends in `_bytes` go back as
`{"b64": ...}`, like TF Serving does.

Reference: https://www.tensorflow.org/tfx/serving/api_rest
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

import numpy as np

from kerasdl.errors import KerasdlError

DEFAULT_SIGNATURE = "serving_default"
# Tensors have a few dimensions; a request nested deeper than this is refused before
# any recursive walk over it (JSON nested thousands deep exhausts Python's stack).
MAX_JSON_DEPTH = 32


class BadRequest(KerasdlError):
    """A request the model cannot run (HTTP 400)."""


def parse_body(body: bytes) -> dict[str, Any]:
    try:
        request = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise BadRequest(f"JSON Parse error: {e}") from None
    except RecursionError:
        raise BadRequest(f"JSON Parse error: nested deeper than {MAX_JSON_DEPTH} levels") from None
    if _depth(request) > MAX_JSON_DEPTH:
        raise BadRequest(f"JSON Parse error: nested deeper than {MAX_JSON_DEPTH} levels")
    if not isinstance(request, dict):
        raise BadRequest("JSON Value: the request body must be a JSON object")
    if ("instances" in request) == ("inputs" in request):
        raise BadRequest("Missing 'instances' or 'inputs' key" if "instances" not in request
                         else "Only one of 'instances' or 'inputs' can be specified")
    signature = request.get("signature_name", DEFAULT_SIGNATURE)
    if not isinstance(signature, str):
        raise BadRequest("'signature_name' must be a string")
    return request


def _depth(value: Any) -> int:
    """How deeply lists and objects nest in a parsed JSON value (without recursion)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (list, dict)):
            deepest = max(deepest, depth)
            if depth <= MAX_JSON_DEPTH:
                stack.extend((v, depth + 1) for v in (item.values() if isinstance(item, dict) else item))
    return deepest


def _unwrap_b64(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) != {"b64"} or not isinstance(value["b64"], str):
            raise BadRequest('A JSON object stands for bytes only as {"b64": "<base64 string>"}')
        try:
            return base64.b64decode(value["b64"], validate=True)
        except (binascii.Error, ValueError):
            raise BadRequest("Unable to base64 decode") from None
    if isinstance(value, list):
        return [_unwrap_b64(v) for v in value]
    return value


def _is_b64(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {"b64"}


def to_tensor_value(value: Any, spec: Any, name: str) -> np.ndarray:
    """`value` (JSON, b64 unwrapped) as an array of `spec`'s dtype and shape."""
    import tensorflow as tf

    if spec.dtype == tf.string:
        array = np.asarray(_strings(value, name), dtype=object)
    else:
        if _contains(value, lambda v: isinstance(v, (str, bytes, dict))):
            raise BadRequest(f"Input '{name}' takes numbers ({spec.dtype.name}), not strings or objects")
        try:
            array = np.asarray(value, dtype=np.float64 if spec.dtype.is_floating else None)
        except ValueError:
            raise BadRequest(f"Input '{name}' is ragged: every example must have the same shape") from None
        if array.dtype == object:
            raise BadRequest(f"Input '{name}' is ragged: every example must have the same shape")
        if spec.dtype == tf.bool:
            if array.dtype != np.bool_:
                raise BadRequest(f"Input '{name}' takes true/false values")
        elif spec.dtype.is_integer:
            if array.size and not np.issubdtype(array.dtype, np.integer):
                raise BadRequest(f"Input '{name}' takes integers ({spec.dtype.name})")
            info = np.iinfo(spec.dtype.as_numpy_dtype)
            if array.size and (array.min() < info.min or array.max() > info.max):
                raise BadRequest(f"Input '{name}' has values outside {spec.dtype.name}'s range "
                                 f"[{info.min}, {info.max}]")
        array = array.astype(spec.dtype.as_numpy_dtype)
    expected = spec.shape
    if expected.rank is not None:
        if array.ndim != expected.rank or any(
            d is not None and d != a for d, a in zip(expected.as_list(), array.shape)
        ):
            shown = [d if d is not None else -1 for d in expected.as_list()]
            raise BadRequest(f"Input '{name}' has shape {list(array.shape)}; the signature "
                             f"takes {shown} (-1: any size)")
    return array


def _strings(value: Any, name: str) -> Any:
    if isinstance(value, list):
        return [_strings(v, name) for v in value]
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8")
    raise BadRequest(f"Input '{name}' takes strings (bytes as {{\"b64\": ...}}); "
                     f"received {type(value).__name__}")


def _contains(value: Any, test: Any) -> bool:
    if isinstance(value, list):
        return any(_contains(v, test) for v in value)
    return bool(test(value))


def _named(value: Any, names: list[str], where: str) -> dict[str, Any]:
    """{input: value} from an object naming every input, or the value of a single input."""
    if isinstance(value, dict) and not _is_b64(value):
        missing = [n for n in names if n not in value]
        extra = [k for k in value if k not in names]
        if missing or extra:
            raise BadRequest(f"{where} must name the inputs {names}"
                             + (f"; unknown: {extra}" if extra else f"; missing: {missing}"))
        return {n: _unwrap_b64(value[n]) for n in names}
    if len(names) == 1:
        return {names[0]: _unwrap_b64(value)}
    raise BadRequest(f"The signature has several inputs {names}: {where} must be an object naming them")


def request_tensors(request: dict[str, Any], inputs: dict[str, Any]) -> tuple[dict[str, np.ndarray], bool]:
    """The signature's named inputs from a parsed request, and whether it was row format."""
    names = list(inputs)
    if "instances" in request:
        instances = request["instances"]
        if not isinstance(instances, list) or not instances:
            raise BadRequest("'instances' must be a non-empty list")
        rows = [_named(instance, names, f"instances[{i}]") for i, instance in enumerate(instances)]
        return {n: to_tensor_value([row[n] for row in rows], inputs[n], n) for n in names}, True
    batch = _named(request["inputs"], names, "'inputs'")
    return {n: to_tensor_value(v, inputs[n], n) for n, v in batch.items()}, False


def _jsonable(array: np.ndarray, name: str) -> Any:
    if array.dtype == object or array.dtype.kind == "S":
        if name.endswith("_bytes"):
            return np.vectorize(lambda b: {"b64": base64.b64encode(b).decode("ascii")},
                                otypes=[object])(array).tolist() if array.ndim else \
                {"b64": base64.b64encode(array.item()).decode("ascii")}
        decode = np.vectorize(lambda b: b.decode("utf-8", "replace"), otypes=[object])
        return decode(array).tolist()
    if array.dtype.kind == "f":
        # NaN and infinity are not JSON; TF Serving writes them as such tokens too.
        return array.astype(np.float64).tolist()
    return array.tolist()


def response_body(outputs: dict[str, Any], row_format: bool) -> dict[str, Any]:
    """{"predictions": ...} for a row request, {"outputs": ...} for a column request."""
    arrays = {k: np.asarray(v) for k, v in outputs.items()}
    if not row_format:
        if len(arrays) == 1:
            (name, array), = arrays.items()
            return {"outputs": _jsonable(array, name)}
        return {"outputs": {k: _jsonable(a, k) for k, a in arrays.items()}}
    values = {k: _jsonable(a, k) for k, a in arrays.items()}
    sizes = {len(v) if isinstance(v, list) else -1 for v in values.values()}
    if len(sizes) != 1 or -1 in sizes:
        raise BadRequest("The outputs do not share a batch size; use the 'inputs' (column) format")
    if len(values) == 1:
        return {"predictions": next(iter(values.values()))}
    count = sizes.pop()
    return {"predictions": [{k: v[i] for k, v in values.items()} for i in range(count)]}


_DTYPE_NAMES = {"string": "DT_STRING", "float32": "DT_FLOAT", "float64": "DT_DOUBLE", "int32": "DT_INT32",
                "int64": "DT_INT64", "uint8": "DT_UINT8", "int8": "DT_INT8", "int16": "DT_INT16",
                "bool": "DT_BOOL", "float16": "DT_HALF"}


def _tensor_info(spec: Any, tensor_name: str) -> dict[str, Any]:
    shape = spec.shape
    dims = [] if shape.rank is None else [{"size": str(d if d is not None else -1), "name": ""}
                                          for d in shape.as_list()]
    return {"dtype": _DTYPE_NAMES.get(spec.dtype.name, f"DT_{spec.dtype.name.upper()}"),
            "tensor_shape": {"dim": dims, "unknown_rank": shape.rank is None},
            "name": tensor_name}


def metadata_body(servable: Any) -> dict[str, Any]:
    """TF Serving's GET .../metadata answer: every signature's inputs and outputs."""
    signatures = {}
    for name, signature in sorted(servable.signatures.items()):
        signatures[name] = {
            "inputs": {k: _tensor_info(s, f"{name}_{k}:0") for k, s in signature.inputs.items()},
            "outputs": {k: _tensor_info(s, f"StatefulPartitionedCall:{i}")
                        for i, (k, s) in enumerate(sorted(signature.outputs.items()))},
            "method_name": "tensorflow/serving/predict",
            "defaults": {},
        }
    return {"model_spec": {"name": servable.name, "signature_name": "", "version": str(servable.version)},
            "metadata": {"signature_def": {"signature_def": signatures}}}
