"""Running a kerasdl .tflite export with ai-edge-litert."""

from __future__ import annotations

import contextlib
import re
from pathlib import Path
from typing import Any, Callable, TypeVar

import numpy as np

from kerasdl_edge.errors import EdgeError
from kerasdl_edge.native_log import filtered_stderr
from kerasdl_edge.metadata import read_metadata
from kerasdl_edge.standard_metadata import StandardMetadata, read_standard_metadata

TFLITE_IDENTIFIER = b"TFL3"  # the FlatBuffer file identifier, bytes 4-8 of every model
DAMAGED_HINT = "re-export the model or check the file was copied whole"
_T = TypeVar("_T")

# LiteRT's C++ side writes this to the process's standard error (fd 2) when the first
# interpreter of a process applies its default XNNPACK delegate (at allocate_tensors).
# No environment variable (TF_CPP_MIN_LOG_LEVEL included) or Python API quiets that
# logger, so those lines are filtered out of fd 2 around the call; others pass on.
_NATIVE_INFO = re.compile(r"^INFO: (Created TensorFlow Lite XNNPACK delegate for CPU"
                          r"|Initialized TensorFlow Lite runtime)\.\s*$")


def quiet_native_info() -> "contextlib.AbstractContextManager[None]":
    """Runs a block with LiteRT's INFO lines kept out of fd 2 (`native_log`)."""
    return filtered_stderr(_NATIVE_INFO)


def interpreter_message(error: Exception, limit: int = 400) -> str:
    """The interpreter's error on one line. Its error reporter joins messages with no
    separator ("...out of boundsNode number 3 (GATHER) failed to invoke."): put "; "
    back between them."""
    text = " ".join(str(error).split())
    text = re.sub(r"(?<=\S)(?=Node number \d)", "; ", text)
    text = re.sub(r"(?<=XNNPACK delegate)(?=\w)", "; ", text)
    text = text.rstrip(". ")  # the caller's hint follows after "; "
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return text or type(error).__name__


class EdgeModel:
    """A .tflite model that takes and returns float or integer arrays of any batch size.

    Quantized inputs are quantized and quantized outputs dequantized with the scale and
    zero point stored in the file, so callers always pass the model's natural input
    (for images: uint8 pixels) and get float outputs back.

    Args:
        model: a .tflite path or its bytes.
        num_threads: CPU threads for the interpreter (None: its default).

    Example:
    >>> from kerasdl_edge import EdgeModel
    >>> model = EdgeModel("saved_models/tflite/vision-1-int8.tflite")  # doctest: +SKIP
    >>> model.metadata["info"]["class_names"][:2]  # doctest: +SKIP
    ['t-shirt', 'trouser']

    Raises:
        ValueError: for bytes that are not a whole TFLite model (an empty file, a copy cut
            short, another kind of file), in one line (an `EdgeError` when the interpreter
            refuses it); the caller adds the file's name.
        EdgeError: when running it, if the interpreter fails (resize, set_tensor, invoke:
            a file with damaged weights or shapes), in one line naming the file.
    """

    def __init__(self, model: str | Path | bytes, *, num_threads: int | None = None) -> None:
        from ai_edge_litert.interpreter import Interpreter

        # Errors while running name the file; bytes have no name.
        self.name = "the model" if isinstance(model, bytes) else str(model)
        content = model if isinstance(model, bytes) else Path(model).read_bytes()
        if not content:
            raise ValueError("the file is empty")
        if content[4:8] != TFLITE_IDENTIFIER:
            raise ValueError("it does not start like one (no TFL3 identifier); is it another kind of file?")
        step = "load it"
        try:
            # The interpreter verifies the whole FlatBuffer: read the metadata only after.
            # Its delegate (XNNPACK) checks weights and quantization at allocate_tensors.
            with quiet_native_info():
                self._interpreter = Interpreter(model_content=content, num_threads=num_threads)
                step = "allocate its tensors"
                self._interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as e:
            raise EdgeError(f"the model is damaged or cut short (the interpreter failed to {step}: "
                            f"{interpreter_message(e)}); {DAMAGED_HINT}") from None
        self.metadata: dict[str, Any] = read_metadata(content)
        # The standard metadata (MediaPipe's and Android Studio's), its labels and
        # vocabulary read from the archive after the model: a copy cut short fails here.
        self.standard_metadata: StandardMetadata | None = read_standard_metadata(content)
        self.size_bytes = len(content)
        self._inputs = self._interpreter.get_input_details()
        self._input = self._inputs[0]
        self._output = self._interpreter.get_output_details()[0]
        self._batch = int(self._input["shape"][0])
        # Models exported with a fixed batch (recurrent layers) cannot be resized: they
        # run a batch of that size at a time.
        self.fixed_batch = int(self._input["shape_signature"][0]) if self._input["shape_signature"][0] > 0 else None

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(int(d) for d in self._input["shape_signature"])

    @property
    def input_dtype(self) -> np.dtype:
        return np.dtype(self._input["dtype"])

    def describe_input(self) -> str:
        """The input tensor as the interpreter has it, e.g. "float32 [batch, 8000], values
        in [-1, 1]": dtype and shape from the file's tensor (a dynamic batch shown as
        `batch`), the value range from its standard metadata when it gives one. The
        kerasdl metadata's `preprocessing` text is written once per export for the
        model's own input, so it does not tell a task-ready variant's (float32
        waveform, RGB) apart."""
        shape = ", ".join("batch" if i == 0 and d < 0 else str(d) for i, d in enumerate(self.input_shape))
        text = f"{self.input_dtype.name} [{shape}]"
        if len(self._inputs) > 1:  # named inputs (a BERT model's), all of one shape
            text += f" each: {', '.join(self.input_names)}"
        inputs = self.standard_metadata.inputs if self.standard_metadata is not None else ()
        value_range = inputs[0].value_range if len(inputs) == 1 else None
        if value_range is not None:
            text += f", values in [{value_range[0]:g}, {value_range[1]:g}]"
        return text

    def _run(self, step: str, call: Callable[..., _T], *args: Any) -> _T:
        """`call(*args)`, an interpreter method; its failure (a damaged file passes
        loading but not every later step) as one line naming the file."""
        try:
            return call(*args)
        except (ValueError, RuntimeError) as e:
            raise EdgeError(f"{self.name}: the TFLite interpreter failed to {step}: "
                            f"{interpreter_message(e)}; {DAMAGED_HINT}") from None

    @property
    def input_specs(self) -> list[tuple[str, tuple[int, ...], np.dtype]]:
        """(name, shape with -1 for a dynamic size, dtype) of each input, in the file's order."""
        from kerasdl_edge.metadata import input_key

        return [(input_key(d["name"]), tuple(int(n) for n in d["shape_signature"]), np.dtype(d["dtype"]))
                for d in self._inputs]

    @property
    def input_names(self) -> list[str]:
        """The inputs' Keras names, in the file's order ("ids", "mask", "segment_ids")."""
        from kerasdl_edge.metadata import input_key

        return [input_key(d["name"]) for d in self._inputs]

    def _resize(self, batch: int) -> None:
        if batch != self._batch:
            for detail in self._inputs:
                shape = [batch, *(int(d) for d in detail["shape"][1:])]
                self._run(f"resize the input to {shape}", self._interpreter.resize_tensor_input,
                          detail["index"], shape)
            self._run("allocate its tensors", self._interpreter.allocate_tensors)
            self._inputs = self._interpreter.get_input_details()
            self._input = self._inputs[0]
            self._output = self._interpreter.get_output_details()[0]
            self._batch = batch

    def _named_inputs(self, inputs: Any) -> list[np.ndarray]:
        """The batch as one array per input of the file, in its order: an array for a
        model of one input, {name: array} for a model of several (a BERT model's)."""
        if not isinstance(inputs, dict):
            if len(self._inputs) != 1:
                raise EdgeError(f"{self.name} takes {len(self._inputs)} inputs ({', '.join(self.input_names)}); "
                                "give them by name.")
            return [np.asarray(inputs)]
        missing = [name for name in self.input_names if name not in inputs]
        if missing:
            raise EdgeError(f"{self.name} takes the inputs {', '.join(self.input_names)}; "
                            f"{', '.join(missing)} not given.")
        return [np.asarray(inputs[name]) for name in self.input_names]

    def __call__(self, inputs: Any, training: bool = False) -> np.ndarray:
        """Runs the model on a batch (an array, or {input name: array} for a model of
        several inputs); `training` is accepted (and ignored) so code written for Keras
        models can call it."""
        arrays = self._named_inputs(inputs)
        batch = len(arrays[0])
        if self.fixed_batch is not None and batch != self.fixed_batch:
            return self._in_fixed_batches(arrays[0])
        if self.fixed_batch is None:
            self._resize(batch)
        for detail, x in zip(self._inputs, arrays):
            dtype = np.dtype(detail["dtype"])
            scale, zero_point = detail["quantization"]
            if scale and np.issubdtype(dtype, np.integer) and not np.issubdtype(x.dtype, np.integer):
                info = np.iinfo(dtype)
                x = np.clip(np.round(x / scale + zero_point), info.min, info.max)
            self._run("set the input", self._interpreter.set_tensor, detail["index"], x.astype(dtype))
        self._run("run the model (invoke)", self._interpreter.invoke)
        y = self._run("read the output", self._interpreter.get_tensor, self._output["index"])
        scale, zero_point = self._output["quantization"]
        if scale and np.issubdtype(y.dtype, np.integer):
            return (y.astype(np.float32) - zero_point) * scale
        return y.astype(np.float32, copy=True)

    def _in_fixed_batches(self, x: np.ndarray) -> np.ndarray:
        size = self.fixed_batch
        outputs = []
        for start in range(0, len(x), size):
            chunk = x[start:start + size]
            padded = np.concatenate([chunk, np.repeat(chunk[-1:], size - len(chunk), axis=0)])
            outputs.append(self(padded)[: len(chunk)])
        if not outputs:
            return np.zeros((0, *self._output["shape"][1:]), np.float32)
        return np.concatenate(outputs)
