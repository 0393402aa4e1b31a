"""TFLite conversion with builtin ops only, run in a child process.

The converter can crash the whole process (it segfaults on full-int8 conversion of some
recurrent layers) and prints a SavedModel summary on stdout; in a child process a crash
becomes a clear error and the output stays out of the user's way.

    python -m kerasdl.export.tflite MODEL.keras QUANTIZATION REPRESENTATIVE.npz OUT.tflite
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from kerasdl.errors import KerasdlError

QUANTIZATIONS = ("float32", "dynamic", "float16", "int8")


class ExportError(KerasdlError):
    """A model cannot be converted as asked."""


def convert(
    model: Any, quantization: str, representative: list[np.ndarray] | None = None,
    *, float_layers: Sequence[str] = (), int8_output: str = "float32", timeout: float = 1800,
) -> bytes:
    """Converts a Keras model to TFLite bytes (builtin ops only) in a child process.

    Args:
        model: the Keras model (saved to a temporary file for the child).
        quantization: float32, dynamic (int8 weights), float16 (float16 weights) or
            int8 (int8 weights and activations inside; see `_int8_io` for the input
            and output types).
        representative: calibration input batches for int8 (from the training split).
        float_layers: for int8, layers whose ops stay float32 (selective
            quantization): a front end whose values span too many decades for 8 bits,
            such as a power spectrum before its log.
        int8_output: for int8, the output's type: float32, or uint8 (probabilities
            in [0, 1], what MediaPipe's classifiers take).

    Raises:
        ExportError: if the model needs ops outside TFLite's builtins, or the
            converter fails or crashes.
    """
    from kerasdl.training.saving import save_model

    if quantization not in QUANTIZATIONS:
        raise ExportError(
            f"`quantization` must be one of {', '.join(QUANTIZATIONS)}. Received: {quantization!r}"
        )
    if quantization == "int8" and not representative:
        raise ExportError("int8 quantization needs representative data.")
    with tempfile.TemporaryDirectory(prefix="kerasdl-convert-") as tmp:
        tmp_path = Path(tmp)
        model_path = save_model(model, tmp_path / "model.keras")
        data_path = tmp_path / "representative.npz"
        np.savez(data_path, **_calibration_arrays(representative or []))
        return _run_child(model_path, quantization, data_path, tmp_path, timeout, float_layers, int8_output)


def convert_qat(model_path: Path, *, int8_output: str = "float32", timeout: float = 1800) -> bytes:
    """Converts a quantization-aware-trained tf_keras model (saved by `kerasdl
    optimize --qat`) to a full-int8 TFLite model: its own learned ranges, no calibration."""
    with tempfile.TemporaryDirectory(prefix="kerasdl-convert-") as tmp:
        return _run_child(Path(model_path), "qat", Path(tmp) / "none.npz", Path(tmp), timeout,
                          int8_output=int8_output)


def _calibration_arrays(batches: Sequence[Any]) -> dict[str, np.ndarray]:
    """Calibration batches as .npz entries: "arr_I" for an array, "arr_I/NAME" for each
    input of a batch of named inputs."""
    arrays: dict[str, np.ndarray] = {}
    for i, batch in enumerate(batches):
        if isinstance(batch, dict):
            arrays.update({f"arr_{i}/{name}": np.asarray(value) for name, value in batch.items()})
        else:
            arrays[f"arr_{i}"] = np.asarray(batch)
    return arrays


def _calibration_batches(arrays: dict[str, np.ndarray]) -> list[Any]:
    """`_calibration_arrays` read back, in order."""
    batches: dict[int, Any] = {}
    for key, value in arrays.items():
        index, _, name = key.removeprefix("arr_").partition("/")
        if name:
            batches.setdefault(int(index), {})[name] = value
        else:
            batches[int(index)] = value
    return [batches[i] for i in sorted(batches)]


def _run_child(model_path: Path, quantization: str, data_path: Path, tmp_path: Path, timeout: float,
               float_layers: Sequence[str] = (), int8_output: str = "float32") -> bytes:
    out_path = tmp_path / "model.tflite"
    env = {**os.environ, "TMPDIR": str(tmp_path), "TF_CPP_MIN_LOG_LEVEL": "2"}
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "kerasdl.export.tflite", str(model_path), quantization,
             str(data_path), str(out_path), json.dumps(list(float_layers)), int8_output],
            capture_output=True, text=True, env=env, timeout=timeout,
            cwd=tmp_path,  # `-m` puts the working folder first on sys.path: keep it empty
        )
    except subprocess.TimeoutExpired:
        raise ExportError(f"TFLite conversion ({quantization}) took over {timeout:.0f} s.") from None
    if proc.returncode < 0:
        raise ExportError(
            f"The TFLite converter crashed (signal {-proc.returncode}) converting to "
            f"{quantization}; try another `quantize` (full int8 of GRU/LSTM layers is "
            "known to crash it)."
        )
    if proc.returncode != 0:
        raise ExportError(_child_error(proc.stdout + proc.stderr, quantization))
    return out_path.read_bytes()


def _child_error(output: str, quantization: str) -> str:
    for line in output.splitlines():
        if line.startswith("KERASDL_ERROR "):
            return json.loads(line[len("KERASDL_ERROR "):])["message"]
    tail = " ".join(output.strip().splitlines()[-2:])[-400:]
    return f"TFLite conversion ({quantization}) failed: {tail}"


def _flex_ops(message: str) -> list[str]:
    ops = set()
    for token in message.replace(",", " ").split():
        if token.startswith("tf.") and token[3:4].isupper():
            ops.add(token.rstrip(".:"))
    return sorted(ops)


def _int8_io(converter: Any, model: Any, output: str) -> None:
    """A full-int8 file's input and output types. Inputs keep their type: raw integers
    (uint8 pixels, int16 PCM, int32 token ids) as they are, float inputs stay float32 and
    are quantized inside (a waveform is not cut to 8 bits before the model sees it).
    The output is float32, or uint8 for probabilities: MediaPipe's classifiers take
    float32 or uint8 outputs and refuse int8."""
    import tensorflow as tf

    if tf.as_dtype(model.inputs[0].dtype) == tf.uint8:
        converter.inference_input_type = tf.uint8
    converter.inference_output_type = tf.uint8 if output == "uint8" else tf.float32


def _float_tensors(model: Any, layers: Sequence[str]) -> list[str]:
    """Names of the TFLite tensors computed by `layers` (and the input casts before
    them), read from a float conversion: the nodes selective quantization leaves float."""
    import tensorflow as tf
    from ai_edge_litert.interpreter import Interpreter

    content = tf.lite.TFLiteConverter.from_keras_model(model).convert()
    interpreter = Interpreter(model_content=content)
    names = [t["name"] for t in interpreter.get_tensor_details()]
    segment = re.compile(r"(^|/)(" + "|".join(map(re.escape, layers)) + r")(_\d+)?/")
    input_cast = re.compile(r"^[^/;]+/Cast(_\d+)?$")
    chosen = [n for n in names if any(segment.search(part) or input_cast.match(part) for part in n.split(";"))]
    # The op that computes an output is named after the output (StatefulPartitionedCall:0),
    # not after its layer: a float layer there (a forecast's level added back) would
    # otherwise stay int8, its range clipped to the calibration data's.
    outputs = interpreter.get_output_details()
    producers = [getattr(getattr(t, "_keras_history", None), "operation", None) for t in model.outputs]
    if len(outputs) == len(producers):
        chosen += [o["name"] for o, layer in zip(outputs, producers) if getattr(layer, "name", None) in layers]
    return chosen


def _convert_in_this_process(model_path: str, quantization: str, data_path: str, out_path: str,
                             float_layers_json: str = "[]", int8_output: str = "float32") -> None:
    import tensorflow as tf

    if quantization == "qat":
        from kerasdl.training.saving import load_quantization_aware_model

        model = load_quantization_aware_model(model_path)
    else:
        from kerasdl.training.saving import load_model

        model = load_model(model_path)
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if quantization == "qat":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        _int8_io(converter, model, int8_output)
    elif quantization != "float32":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if quantization == "float16":
        converter.target_spec.supported_types = [tf.float16]
    if quantization == "int8":
        with np.load(data_path) as data:
            batches = _calibration_batches({k: data[k] for k in data.files})
        def representative() -> Any:
            for batch in batches:
                if isinstance(batch, dict):  # named inputs: by the signature's names
                    for i in range(len(next(iter(batch.values())))):
                        yield {name: values[i][None] for name, values in batch.items()}
                else:
                    for row in batch:
                        yield [row[None]]

        converter.representative_dataset = representative
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        _int8_io(converter, model, int8_output)
    float_layers = json.loads(float_layers_json)
    if quantization == "int8" and float_layers:
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8,
                                               tf.lite.OpsSet.TFLITE_BUILTINS]
    try:
        if quantization == "int8" and float_layers:
            options = tf.lite.experimental.QuantizationDebugOptions(
                denylisted_nodes=_float_tensors(model, float_layers))
            debugger = tf.lite.experimental.QuantizationDebugger(
                converter=converter, debug_dataset=representative, debug_options=options)
            content = debugger.get_nondebug_quantized_model()
        else:
            content = converter.convert()
    except Exception as e:  # ConverterError and friends: report, then exit non-zero
        message = str(e)
        flex = _flex_ops(message)
        if flex or "not supported by" in message or "Select TF" in message:
            text = (f"The model needs TensorFlow ops that TFLite's builtins lack "
                    f"({', '.join(flex) or 'see the converter log'}); kerasdl exports "
                    "builtin ops only (no Flex delegate runs on the edge runtimes).")
        else:
            text = f"TFLite conversion ({quantization}) failed: {message.splitlines()[0][:300]}"
        print("KERASDL_ERROR " + json.dumps({"message": text}), flush=True)
        sys.exit(3)
    Path(out_path).write_bytes(content)


if __name__ == "__main__":
    _convert_in_this_process(*sys.argv[1:7])
