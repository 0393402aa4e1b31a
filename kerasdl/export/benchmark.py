"""Latency of TFLite files, Keras models and SavedModels on this machine."""

from __future__ import annotations

import time
from typing import Any, Callable

import numpy as np

from kerasdl.errors import KerasdlError


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
    specs = model.input_specs
    x = (example_input(model.input_shape, model.input_dtype) if len(specs) == 1
         else {name: named_example_input(shape, dtype) for name, shape, dtype in specs})
    return measure(lambda: model(x), runs=runs)


def named_example_input(shape: tuple[int | None, ...], dtype: Any) -> np.ndarray:
    """One input of a model of several named inputs (a BERT model's ids, mask, segment
    ids): zeros for integers, a valid index into any lookup whatever it indexes (random
    segment ids overrun a two-row table); latency does not depend on the values."""
    if np.issubdtype(np.dtype(dtype), np.integer):
        return np.zeros([1] + [int(d) if d and d > 0 else 1 for d in shape[1:]], dtype)
    return example_input(shape, dtype)


def keras_latency(model: Any, *, runs: int = 200) -> dict[str, float]:
    import tensorflow as tf

    if isinstance(model.input, dict):  # named inputs (a pretrained text encoder's)
        x = {name: tf.constant(named_example_input(tuple(t.shape), t.dtype)) for name, t in model.input.items()}
    else:
        spec = model.inputs[0]
        x = tf.constant(example_input(tuple(spec.shape), spec.dtype))
    call = tf.function(lambda inputs: model(inputs, training=False))
    return measure(lambda: call(x).numpy(), runs=runs)


def saved_model_latency(path: str, *, runs: int = 200) -> dict[str, float]:
    import tensorflow as tf

    from kerasdl.saved_model_format import MODEL_INPUT_ENDPOINT, load_saved_model

    loaded = load_saved_model(path)
    endpoint = loaded.signatures[MODEL_INPUT_ENDPOINT]
    signature = endpoint.structured_input_signature[1]
    make = named_example_input if len(signature) > 1 else example_input
    inputs = {name: tf.constant(make(tuple(spec.shape), spec.dtype.as_numpy_dtype)) for name, spec in signature.items()}
    return measure(lambda: endpoint(**inputs)["outputs"].numpy(), runs=runs)


def benchmark_models(paths: list[str], threads: list[int], *, runs: int = 200) -> list[dict[str, Any]]:
    """One row per model and thread count: .tflite files at each of `threads`, Keras
    models (run directories) and SavedModels at TensorFlow's own thread count."""
    from pathlib import Path

    from kerasdl.saved_model_format import is_saved_model

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


def parse_thread_counts(text: str) -> list[int]:
    """Thread counts written "1,2" as [1, 2].

    Raises:
        KerasdlError: for anything but positive integers.
    """
    try:
        counts = [int(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise KerasdlError(f"`threads` takes integers like 1,2. Received: {text!r}") from None
    if not counts or min(counts) < 1:
        raise KerasdlError(f"`threads` takes positive integers like 1,2. Received: {text!r}")
    return counts


def benchmark_table(rows: list[dict[str, Any]]) -> str:
    """`benchmark_models`' rows as a table, with the fastest named last.

    Example:
    >>> print(benchmark_table([{"model": "m.tflite", "format": "tflite", "threads": 1, "p50_ms": 0.5,
    ...                          "p90_ms": 0.6, "per_second": 2000.0}]))
    model     format      threads    p50 ms    p90 ms     per s
    m.tflite  tflite            1     0.500     0.600      2000
    Fastest here: m.tflite (tflite, 1 threads), p50 0.500 ms
    """
    width = max(len("model"), *(len(r["model"]) for r in rows))
    lines = [f"{'model':<{width}}  {'format':<11} {'threads':>7}  {'p50 ms':>8}  {'p90 ms':>8}  {'per s':>8}"]
    for r in rows:
        lines.append(f"{r['model']:<{width}}  {r['format']:<11} {r['threads']:>7}  "
                     f"{r['p50_ms']:>8.3f}  {r['p90_ms']:>8.3f}  {r['per_second']:>8.0f}")
    best = min(rows, key=lambda r: r["p50_ms"])
    lines.append(f"Fastest here: {best['model']} ({best['format']}, {best['threads']} threads), "
                 f"p50 {best['p50_ms']:.3f} ms")
    return "\n".join(lines)
