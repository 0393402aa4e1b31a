"""LiteRT Quantizer recipes on a float32 .tflite file: each recipe's file runs in LiteRT,
stays close to the Keras model and (for the weight-compressing recipes) is smaller; the
static recipes keep float32 inputs and outputs unless asked not to; recurrent layers
fail static calibration with a clear error."""

from __future__ import annotations

import numpy as np
import pytest

from kerasdl.export.quantizer import QUANTIZER_RECIPES, QuantizerError, quantize_tflite

pytest.importorskip("litert_quantizer")

# Largest |quantized - Keras| softmax probability on 64 held-out examples, a few times
# what min/max calibration on 128 training examples gave over 5 seeds (seed 0 is the
# fixture's): static_wi8_ai8 0.004-0.010, static_wi8_ai16 0.001-0.011 (int8 weights and
# held-out values beyond the calibrated range dominate, not the activation bits),
# weight_only_wi8 0.001-0.002, weight_only_wi4 0.018-0.034, dynamic_wi8 0.002-0.003.
TOLERANCE = {
    "static_wi8_ai8": 0.03,
    "static_wi8_ai16": 0.03,
    "weight_only_wi8_afp32": 0.01,
    "weight_only_wi4_afp32": 0.06,
    "dynamic_wi8_afp32": 0.01,
}
# Largest quantized/float32 file size: int8 weights take a quarter of float32's, int4
# an eighth (measured 0.31-0.35 and 0.19 of the 79 kB float file).
SIZE_RATIO = {
    "static_wi8_ai8": 0.4,
    "static_wi8_ai16": 0.4,
    "weight_only_wi8_afp32": 0.4,
    "weight_only_wi4_afp32": 0.25,
    "dynamic_wi8_afp32": 0.4,
}


def _to_tflite(model) -> bytes:
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    return converter.convert()


def _bands(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """8x8 grey images whose class (0-2) is which band of rows is bright."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    x = rng.normal(0.0, 0.3, (n, 8, 8, 1)).astype("float32")
    for c in range(3):
        x[y == c, 2 * c:2 * c + 3, :, 0] += 1.0
    return x, y


def _run(model: bytes, x: np.ndarray) -> np.ndarray:
    """Runs a .tflite file on `x` in LiteRT; integer inputs quantized, outputs dequantized."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=model)
    inp, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    if inp["dtype"] != np.float32:
        scale, zero = inp["quantization"]
        info = np.iinfo(inp["dtype"])
        x = np.clip(np.round(x / scale + zero), info.min, info.max).astype(inp["dtype"])
    fixed = inp["shape_signature"][0] > 0
    batches = [x[i:i + 1] for i in range(len(x))] if fixed else [x]
    if not fixed:
        interpreter.resize_tensor_input(inp["index"], x.shape)
    interpreter.allocate_tensors()
    outputs = []
    for batch in batches:
        interpreter.set_tensor(inp["index"], batch)
        interpreter.invoke()
        outputs.append(interpreter.get_tensor(out["index"]))
    y = np.concatenate(outputs)
    if y.dtype != np.float32:
        scale, zero = out["quantization"]
        y = (y.astype(np.float32) - zero) * scale
    return y


def _io_dtypes(model: bytes) -> tuple[type, type]:
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=model)
    return interpreter.get_input_details()[0]["dtype"], interpreter.get_output_details()[0]["dtype"]


@pytest.fixture(scope="module")
def cnn():
    """A small trained CNN, its float32 .tflite file, calibration and test data."""
    import keras

    keras.utils.set_random_seed(0)
    x, y = _bands(256, seed=0)
    x_test, _ = _bands(64, seed=100)
    model = keras.Sequential([
        keras.Input((8, 8, 1)),
        keras.layers.Conv2D(4, 3, activation="relu"),
        keras.layers.Flatten(),
        keras.layers.Dense(128, activation="relu"),  # 18k weights: they dominate the file
        keras.layers.Dense(3, activation="softmax"),
    ])
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, epochs=2, batch_size=32, verbose=0)
    assert history.history["accuracy"][-1] > 0.9, "the tiny data set must be learnable"
    calibration = [x[i:i + 32] for i in range(0, 128, 32)]
    return _to_tflite(model), model.predict(x_test, verbose=0), calibration, x_test


@pytest.mark.parametrize("recipe", list(QUANTIZER_RECIPES))
def test_recipe_runs_close_to_keras_and_smaller(cnn, recipe: str, capsys) -> None:
    float_model, expected, calibration, x_test = cnn
    quantized = quantize_tflite(float_model, recipe, calibration)
    assert capsys.readouterr() == ("", ""), "quantize_tflite prints nothing"

    assert _io_dtypes(quantized) == (np.float32, np.float32)
    got = _run(quantized, x_test)
    assert np.isfinite(got).all()
    diff = float(np.abs(got - expected).max())
    assert diff < TOLERANCE[recipe], f"{recipe}: max |diff| {diff:.4f}"
    assert (got.argmax(1) == expected.argmax(1)).mean() >= 0.9
    assert len(quantized) < SIZE_RATIO[recipe] * len(float_model), (len(quantized), len(float_model))


def test_int4_weights_are_smaller_than_int8(cnn) -> None:
    float_model = cnn[0]
    int8 = quantize_tflite(float_model, "weight_only_wi8_afp32")
    int4 = quantize_tflite(float_model, "weight_only_wi4_afp32")
    assert len(int4) < 0.75 * len(int8)


@pytest.mark.parametrize("recipe, dtype", [("static_wi8_ai8", np.int8), ("static_wi8_ai16", np.int16)])
def test_static_integer_io(cnn, recipe: str, dtype: type) -> None:
    float_model, expected, calibration, x_test = cnn
    quantized = quantize_tflite(float_model, recipe, calibration, float_io=False)
    assert _io_dtypes(quantized) == (dtype, dtype)
    got = _run(quantized, x_test)
    assert float(np.abs(got - expected).max()) < TOLERANCE[recipe]


def test_calibration_does_not_depend_on_batching(cnn) -> None:
    float_model, _, calibration, x_test = cnn
    examples = np.concatenate(calibration)
    whole = quantize_tflite(float_model, "static_wi8_ai8", [examples])
    one_by_one = quantize_tflite(float_model, "static_wi8_ai8", list(examples[:, None]))
    # Min/max ranges: the same whatever the split (the library's default moving average
    # of per-step ranges gave 0.11 here one example at a time, 0.01 in one batch).
    np.testing.assert_allclose(_run(whole, x_test), _run(one_by_one, x_test), atol=0.01)


def test_fixed_batch_model_is_calibrated_one_example_at_a_time() -> None:
    import keras

    keras.utils.set_random_seed(1)
    model = keras.Sequential([
        keras.Input((6,), batch_size=1),
        keras.layers.Dense(16, activation="relu"),
        keras.layers.Dense(3, activation="softmax"),
    ])
    x = np.random.default_rng(1).normal(size=(48, 6)).astype("float32")
    quantized = quantize_tflite(_to_tflite(model), "static_wi8_ai8", [x[:32]])
    got, expected = _run(quantized, x[32:]), model.predict(x[32:], batch_size=1, verbose=0)
    assert float(np.abs(got - expected).max()) < TOLERANCE["static_wi8_ai8"]


def test_unknown_recipe(cnn) -> None:
    with pytest.raises(QuantizerError, match="must be one of static_wi8_ai8, static_wi8_ai16"):
        quantize_tflite(cnn[0], "int8")


@pytest.mark.parametrize("recipe", ["static_wi8_ai8", "static_wi8_ai16"])
@pytest.mark.parametrize("calibration", [None, []])
def test_static_recipe_needs_calibration(cnn, recipe: str, calibration) -> None:
    with pytest.raises(QuantizerError, match=f"{recipe} needs calibration data"):
        quantize_tflite(cnn[0], recipe, calibration)


def test_calibration_of_the_wrong_shape(cnn) -> None:
    with pytest.raises(QuantizerError, match=r"Calibration batch 0 has shape \(4, 8, 8\)"):
        quantize_tflite(cnn[0], "static_wi8_ai8", [np.zeros((4, 8, 8), "float32")])


def test_not_a_tflite_file() -> None:
    with pytest.raises(QuantizerError, match="LiteRT Quantizer could not read the model") as info:
        quantize_tflite(b"not a flatbuffer" * 8, "dynamic_wi8_afp32")
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("layer", ["LSTM", "GRU"])
def test_recurrent_layer(layer: str) -> None:
    """Full-integer LSTM/GRU: the TFLite converter segfaults on them; LiteRT Quantizer
    (0.11) fails calibration with an exception, and the other recipes work."""
    import keras

    keras.utils.set_random_seed(2)
    model = keras.Sequential([
        keras.Input((10, 4), batch_size=1),
        getattr(keras.layers, layer)(8),
        keras.layers.Dense(3, activation="softmax"),
    ])
    float_model = _to_tflite(model)
    x = np.random.default_rng(2).normal(size=(24, 10, 4)).astype("float32")
    expected = model.predict(x[16:], batch_size=1, verbose=0)

    with pytest.raises(QuantizerError, match="could not calibrate the model") as info:
        quantize_tflite(float_model, "static_wi8_ai8", [x[:16]])
    assert "use dynamic_wi8_afp32 or weight_only_wi8_afp32" in str(info.value)
    assert "\n" not in str(info.value)

    for recipe in ("dynamic_wi8_afp32", "weight_only_wi8_afp32"):
        got = _run(quantize_tflite(float_model, recipe), x[16:])
        assert float(np.abs(got - expected).max()) < TOLERANCE[recipe], recipe
