"""Running a kerasdl .tflite export with ai-edge-litert."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from kerasdl_edge.metadata import read_metadata
from kerasdl_edge.standard_metadata import StandardMetadata, read_standard_metadata

TFLITE_IDENTIFIER = b"TFL3"  # the FlatBuffer file identifier, bytes 4-8 of every model


def _first_line(error: Exception) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__


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
            short, another kind of file), in one line.
    """

    def __init__(self, model: str | Path | bytes, *, num_threads: int | None = None) -> None:
        from ai_edge_litert.interpreter import Interpreter

        content = model if isinstance(model, bytes) else Path(model).read_bytes()
        if not content:
            raise ValueError("the file is empty")
        if content[4:8] != TFLITE_IDENTIFIER:
            raise ValueError("it does not start like one (no TFL3 identifier); is it another kind of file?")
        try:
            # The interpreter verifies the whole FlatBuffer: read the metadata only after.
            self._interpreter = Interpreter(model_content=content, num_threads=num_threads)
            self._interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as e:
            raise ValueError(f"the model is damaged or cut short (a copy interrupted?): "
                             f"{_first_line(e)}") from None
        self.metadata: dict[str, Any] = read_metadata(content)
        # The standard metadata (MediaPipe's and Android Studio's), its labels and
        # vocabulary read from the archive after the model: a copy cut short fails here.
        self.standard_metadata: StandardMetadata | None = read_standard_metadata(content)
        self.size_bytes = len(content)
        self._input = self._interpreter.get_input_details()[0]
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

    def _resize(self, batch: int) -> None:
        if batch != self._batch:
            shape = [batch, *self._input["shape"][1:]]
            self._interpreter.resize_tensor_input(self._input["index"], shape)
            self._interpreter.allocate_tensors()
            self._input = self._interpreter.get_input_details()[0]
            self._output = self._interpreter.get_output_details()[0]
            self._batch = batch

    def __call__(self, inputs: Any, training: bool = False) -> np.ndarray:
        """Runs the model on a batch; `training` is accepted (and ignored) so code written
        for Keras models can call it."""
        x = np.asarray(inputs)
        if self.fixed_batch is not None and len(x) != self.fixed_batch:
            return self._in_fixed_batches(x)
        if self.fixed_batch is None:
            self._resize(len(x))
        scale, zero_point = self._input["quantization"]
        if scale and np.issubdtype(self.input_dtype, np.integer) and not np.issubdtype(x.dtype, np.integer):
            info = np.iinfo(self.input_dtype)
            x = np.clip(np.round(x / scale + zero_point), info.min, info.max)
        self._interpreter.set_tensor(self._input["index"], x.astype(self.input_dtype))
        self._interpreter.invoke()
        y = self._interpreter.get_tensor(self._output["index"])
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
