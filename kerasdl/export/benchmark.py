"""Latency of TFLite files, Keras models and SavedModels on this machine."""

from __future__ import annotations

import time
from typing import Any, Callable

import numpy as np


def example_input(shape: tuple[int | None, ...], dtype: Any, seed: int = 0) -> np.ndarray:
    """A random batch of one in the model's input shape and dtype."""
    dims = [1] + [int(d) if d and d > 0 else 1 for d in shape[1:]]
    rng = np.random.default_rng(seed)
    dtype = np.dtype(dtype)
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return rng.integers(max(info.min, 0), min(info.max, 255) + 1, size=dims).astype(dtype)
    return rng.random(dims, dtype=np.float32).astype(dtype)


def measure(run: Callable[[], Any], *, runs: int = 200, warmup: int = 20) -> dict[str, float]:
    """p50 / p90 latency in milliseconds and calls per second of `run`."""
    for _ in range(warmup):
        run()
    times = np.empty(runs)
    for i in range(runs):
        start = time.perf_counter()
        run()
        times[i] = time.perf_counter() - start
    return {
        "p50_ms": float(np.percentile(times, 50) * 1e3),
        "p90_ms": float(np.percentile(times, 90) * 1e3),
        "per_second": float(runs / times.sum()),
    }


def tflite_latency(path: str, threads: int, *, runs: int = 200) -> dict[str, float]:
    from kerasdl_edge import EdgeModel

    model = EdgeModel(path, num_threads=threads)
    x = example_input(model.input_shape, model.input_dtype)
    return measure(lambda: model(x), runs=runs)


def keras_latency(model: Any, *, runs: int = 200) -> dict[str, float]:
    import tensorflow as tf

    spec = model.inputs[0]
    x = tf.constant(example_input(tuple(spec.shape), spec.dtype))
    call = tf.function(lambda inputs: model(inputs, training=False))
    return measure(lambda: call(x).numpy(), runs=runs)


def saved_model_latency(path: str, *, runs: int = 200) -> dict[str, float]:
    import tensorflow as tf

    from kerasdl.export.saved_model import MODEL_INPUT_ENDPOINT

    loaded = tf.saved_model.load(path)
    endpoint = loaded.signatures[MODEL_INPUT_ENDPOINT]
    (name, spec), = endpoint.structured_input_signature[1].items()
    x = tf.constant(example_input(tuple(spec.shape), spec.dtype.as_numpy_dtype))
    return measure(lambda: endpoint(**{name: x})["outputs"].numpy(), runs=runs)


def benchmark_models(paths: list[str], threads: list[int], *, runs: int = 200) -> list[dict[str, Any]]:
    """One row per model and thread count: .tflite files at each of `threads`, Keras
    models (run directories) and SavedModels at TensorFlow's own thread count."""
    from pathlib import Path

    from kerasdl.errors import KerasdlError
    from kerasdl.export.saved_model import is_saved_model

    rows = []
    for p in paths:
        path = Path(p)
        if path.suffix == ".tflite":
            for t in threads:
                rows.append({"model": path.name, "format": "tflite", "threads": t,
                             **tflite_latency(str(path), t, runs=runs)})
        elif path.is_dir() and is_saved_model(path):
            rows.append({"model": str(path), "format": "saved_model", "threads": "tf",
                         **saved_model_latency(str(path), runs=runs)})
        elif (path / "run.json").is_file():
            from kerasdl.loading import open_run

            model = open_run(path).load_model()
            rows.append({"model": str(path), "format": "keras", "threads": "tf",
                         **keras_latency(model, runs=runs)})
        else:
            raise KerasdlError(
                f"{path} is not a .tflite file, a SavedModel folder or a run directory."
            )
    return rows
