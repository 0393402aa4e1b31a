"""Post-training quantization of a float32 .tflite file with LiteRT Quantizer.

Quantization stores numbers in fewer bits: an int8 weight takes a quarter of the space
of a float32 one, and integer arithmetic runs faster on phones and micro-controllers,
at the price of a small rounding error. This module takes a float32 .tflite file (from
`kerasdl.export.tflite.convert(model, "float32")`) and rewrites it with LiteRT Quantizer
(the `litert-quantizer` package, imported as `litert_quantizer`). It needs no
TensorFlow: it reads and writes the flatbuffer directly.

The recipes (names are LiteRT Quantizer's own: `wi8` = int8 weights, `wi4` = int4
weights, `ai8`/`ai16` = int8/int16 activations, `afp32` = float32 activations):

- `static_wi8_ai8`: full-integer quantization. Weights are int8 (one scale per output
  channel) and so are activations, the values flowing between layers; their ranges are
  measured by running the float model on calibration data. Smallest and fastest, and
  what integer-only accelerators (Edge TPU, many NPUs and DSPs) need.
- `static_wi8_ai16`: as above with int16 activations ("16x8"): much closer to the
  float model when 8 bits of activation range are not enough (audio, regression), but
  fewer runtimes have fast int16 kernels.
- `weight_only_wi8_afp32`: int8 weights, turned back into float32 when the model loads
  or runs; all arithmetic stays float32. A 4x smaller file, almost no accuracy loss, no
  speed-up.
- `weight_only_wi4_afp32`: the same with int4 weights: about 8x smaller weights, a
  larger rounding error.
- `dynamic_wi8_afp32`: "dynamic range" quantization: int8 weights, and the kernels
  quantize each activation on the fly while the model runs, so matrix products run in
  integer without calibration data; inputs, outputs and the other ops stay float32.

The static recipes need calibration data (a few hundred typical inputs from the
training split); the others need none. By default (`float_io=True`) a static model
keeps float32 inputs and outputs: LiteRT Quantizer adds a QUANTIZE op after the input
and a DEQUANTIZE op before the output, so callers (MediaPipe Tasks among them, which
wants float32 or uint8 outputs) feed and read plain floats. With `float_io=False` the
inputs and outputs are integer (int8 for `static_wi8_ai8`, int16 for
`static_wi8_ai16`) with a scale and zero point in the tensor details.

The TFLite converter's own post-training quantization (`converter.optimizations` with a
`representative_dataset`, used by `kerasdl.export.tflite`) is legacy: Google develops
post-training quantization in LiteRT Quantizer now. Calibration here runs the float
model in Python, one step per batch, keeping every intermediate tensor, and takes each
activation's range as its min and max over all the calibration data (as the converter
does); it is slower than the converter's calibration but cannot crash the process. Recurrent layers (LSTM, GRU) are a
known gap of the static recipes: calibration fails with a clear error, so use
`dynamic_wi8_afp32` or a weight-only recipe for them.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import re
import warnings
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from kerasdl.errors import KerasdlError

logger = logging.getLogger(__name__)

QUANTIZER_RECIPES: dict[str, str] = {
    "static_wi8_ai8": "int8 weights and int8 activations (full integer); needs calibration",
    "static_wi8_ai16": "int8 weights and int16 activations (16x8); needs calibration",
    "weight_only_wi8_afp32": "int8 weights dequantized to float32; float32 compute",
    "weight_only_wi4_afp32": "int4 weights dequantized to float32; float32 compute",
    "dynamic_wi8_afp32": "int8 weights; activations quantized on the fly at run time",
}

_STATIC = ("static_wi8_ai8", "static_wi8_ai16")


class QuantizerError(KerasdlError):
    """A float .tflite file cannot be quantized as asked."""


def quantize_tflite(
    float_model: bytes,
    recipe: str,
    calibration: list[np.ndarray] | None = None,
    *,
    float_io: bool = True,
    float_layers: Sequence[str] = (),
) -> bytes:
    """Quantizes a float32 .tflite model with one of LiteRT Quantizer's recipes.

    Args:
        float_model: the float32 .tflite file's bytes (builtin ops only).
        recipe: one of `QUANTIZER_RECIPES`.
        calibration: for the static recipes, input batches for the model's single
            input (first axis = examples), typically a few hundred examples from the
            training split. Each batch is one calibration step; a model whose input
            has a fixed batch size (often 1) gets them split into batches of that
            size. Ignored by the other recipes.
        float_io: for the static recipes, keep float32 inputs and outputs (a QUANTIZE
            op after the input, a DEQUANTIZE op before the output). False gives
            integer inputs and outputs (int8, or int16 for `static_wi8_ai16`). The
            other recipes always keep float32 inputs and outputs.
        float_layers: Keras layers whose ops stay float32 (as the converter's
            selective int8 does): a front end whose values span too many decades
            for 8 bits, such as a power spectrum before its log. Matched in the op
            names the converter gives (`model/layer/...`).

    Returns:
        The quantized .tflite file's bytes.

    Raises:
        QuantizerError: for an unknown recipe, missing or ill-shaped calibration data,
            or any failure of LiteRT Quantizer (its message's first line).
    """
    if recipe not in QUANTIZER_RECIPES:
        raise QuantizerError(
            f"`recipe` must be one of {', '.join(QUANTIZER_RECIPES)}. Received: {recipe!r}"
        )
    if not float_model:
        raise QuantizerError("`float_model` is empty: pass the bytes of a float32 .tflite file.")
    static = recipe in _STATIC
    if isinstance(calibration, np.ndarray):
        calibration = [calibration]
    if static and (calibration is None or len(calibration) == 0):
        raise QuantizerError(
            f"{recipe} needs calibration data: pass `calibration`, a list of input batches "
            "(first axis = examples) from the training split."
        )

    try:
        from litert_quantizer import qtyping
        from litert_quantizer import recipe as recipes
        from litert_quantizer.algorithm_manager import AlgorithmName
        from litert_quantizer.quantizer import Quantizer
    except ImportError as exc:
        raise QuantizerError(
            f"LiteRT Quantizer is not available ({_first_line(exc)}): pip install litert-quantizer"
        ) from None

    model = bytes(float_model)
    with _quiet():
        try:
            quantizer = Quantizer(model, getattr(recipes, recipe)())
            if static and float_io:
                for op in (qtyping.TFLOperationName.INPUT, qtyping.TFLOperationName.OUTPUT):
                    quantizer.update_quantization_recipe(
                        regex=".*", operation_name=op, algorithm_key=AlgorithmName.NO_QUANTIZE
                    )
            if float_layers:  # the latest matching rule wins: these come last
                quantizer.update_quantization_recipe(
                    regex=r"(^|/)(" + "|".join(map(re.escape, float_layers)) + r")(_\d+)?/",
                    operation_name=qtyping.TFLOperationName.ALL_SUPPORTED,
                    algorithm_key=AlgorithmName.NO_QUANTIZE,
                )
        except Exception as exc:  # noqa: BLE001 - any library failure becomes one line
            raise _library_error("read the model or the recipe", exc) from None

        calibration_result = None
        if quantizer.need_calibration:
            dataset = _calibration_dataset(model, calibration or [])
            try:
                calibration_result = _calibrate(model, quantizer.get_quantization_recipe(), dataset)
            except Exception as exc:  # noqa: BLE001
                raise _library_error(
                    "calibrate the model", exc,
                    hint="Static recipes cannot calibrate every graph (LSTM and GRU layers "
                         "fail here): use dynamic_wi8_afp32 or weight_only_wi8_afp32",
                ) from None
        elif calibration is not None:
            logger.debug("%s needs no calibration; ignoring the calibration data.", recipe)

        try:
            result = quantizer.quantize(
                calibration_result, enable_progress_bar=False, enable_progress_report=False
            )
        except Exception as exc:  # noqa: BLE001
            raise _library_error("quantize the model", exc) from None
        if result.quantized_model is None:
            raise QuantizerError("LiteRT Quantizer returned no model.")
        quantized = bytes(result.quantized_model)
        _check_loads(quantized, recipe)
    logger.info("Quantized with %s: %d -> %d bytes.", recipe, len(model), len(quantized))
    return quantized


def _calibration_dataset(model: bytes, calibration: list[np.ndarray]) -> dict[str, list[dict[str, Any]]]:
    """LiteRT Quantizer's calibration data: {signature key: [{input name: batch}, ...]}."""
    from ai_edge_litert.interpreter import Interpreter

    try:
        interpreter = Interpreter(model_content=model)
        signatures = interpreter.get_signature_list()
    except Exception as exc:  # noqa: BLE001
        raise _library_error("read the model", exc) from None
    if not signatures:
        raise QuantizerError(
            "The model has no signature, which calibration needs: convert it with "
            "tf.lite.TFLiteConverter.from_keras_model or from a SavedModel."
        )
    key = "serving_default" if "serving_default" in signatures else next(iter(signatures))
    runner = interpreter.get_signature_runner(key)
    details = runner.get_input_details()
    if len(details) != 1:
        raise QuantizerError(
            f"Calibration supports models with a single input; signature {key!r} has "
            f"{len(details)}: {', '.join(details)}."
        )
    name, detail = next(iter(details.items()))
    expected = [int(d) for d in detail["shape_signature"]]
    batch = expected[0] if expected and expected[0] > 0 else None
    steps: list[dict[str, Any]] = []
    for i, array in enumerate(calibration):
        data = np.asarray(array, dtype=detail["dtype"])
        if data.ndim != len(expected) or any(
            e > 0 and e != d for e, d in zip(expected[1:], data.shape[1:])
        ):
            raise QuantizerError(
                f"Calibration batch {i} has shape {data.shape}; the model's input {name!r} "
                f"has shape {tuple(expected)} (-1: any size)."
            )
        if batch is None:
            steps.append({name: data})
        else:
            if len(data) % batch:
                raise QuantizerError(
                    f"Calibration batch {i} has {len(data)} examples; the model's input "
                    f"has a fixed batch size of {batch}, which must divide it."
                )
            steps.extend({name: data[j:j + batch]} for j in range(0, len(data), batch))
    logger.debug("Calibrating signature %r on %d steps.", key, len(steps))
    return {key: steps}


def _calibrate(model: bytes, recipe: list[dict[str, Any]], dataset: dict[str, Any]) -> dict[str, Any]:
    """Activation ranges: the min and max of each tensor over all calibration steps.

    `Quantizer.calibrate` keeps a moving average (smoothing 0.95) of each step's min
    and max, so its ranges depend on how the data are split into steps: one example
    per step averages the per-example extremes and clips the rest (max |diff| 0.11 on
    a small CNN, against 0.01 with all examples in one batch). The global min/max, as the TFLite
    converter uses, does not depend on the split; LiteRT Quantizer provides it as
    `qsv_utils.min_max_update`.
    """
    from litert_quantizer import calibrator, recipe_manager
    from litert_quantizer.utils import qsv_utils

    manager = recipe_manager.RecipeManager()
    manager.load_quantization_recipe(recipe)
    calib = calibrator.Calibrator(
        model, num_threads=os.cpu_count() or 1, qsv_update_func=qsv_utils.min_max_update
    )
    calib.calibrate(dataset, manager)
    return calib.get_model_qsvs()


def _check_loads(model: bytes, recipe: str) -> None:
    """Fails clearly if the quantized model does not load (LiteRT's own kernels)."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    try:
        Interpreter(
            model_content=model,
            experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
        ).allocate_tensors()
    except Exception as exc:  # noqa: BLE001
        raise QuantizerError(
            f"The {recipe} model that LiteRT Quantizer wrote does not load: {_first_line(exc)}"
        ) from None


def _library_error(stage: str, exc: BaseException, hint: str = "") -> QuantizerError:
    logger.debug("LiteRT Quantizer failed to %s.", stage, exc_info=exc)
    message = f"LiteRT Quantizer could not {stage}: {_first_line(exc)}"
    return QuantizerError(f"{message.rstrip('.')}. {hint}." if hint else message)


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0].strip() if lines else type(exc).__name__


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Keeps LiteRT Quantizer's progress bars, prints and warnings off the console.

    Its calibration interpreter warns that it keeps every intermediate tensor (it must),
    and tqdm bars appear on stderr for larger models; what it writes goes to the debug
    log instead.
    """
    out, err = io.StringIO(), io.StringIO()
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            warnings.filterwarnings("ignore", message=".*experimental_preserve_all_tensors")
            yield
    finally:
        for stream in (out, err):
            if text := stream.getvalue().strip():
                logger.debug("LiteRT Quantizer: %s", text)
