"""Training throughput against the machine's limit (issue 34).

The limit: a large float32 matrix product (2048 x 2048 x 2048, best of several) in
TensorFlow, in GFLOP/s. Each vision model then trains on random uint8 images of one
shape as `kerasdl train` trains it (its compile settings, kerasdl's tf.data pipeline,
the app's augmentation), and the table gives images/s and the fraction of the peak it
reaches, counting 6 floating-point operations per multiply-accumulate of the forward
pass (2 forward, about 4 backward: the gradients of the inputs and of the weights).
Element-wise work (activations, normalization, pooling, the optimizer) is not counted,
so a network heavy in it shows a lower fraction than it keeps the cores busy.

`--where MODEL` times one model under changes, one at a time, to see where the time
goes: the input pipeline, augmentation, the optimizer, the batch size, TensorFlow's
thread pools, oneDNN. Every measurement runs in its own process (thread settings and
oneDNN are fixed when TensorFlow starts).

    python bench/throughput.py                        # every vision model, 32x32x3
    python bench/throughput.py --shape 28,28,1        # Fashion-MNIST's shape
    python bench/throughput.py --where cnn            # where one model's time goes
    python bench/throughput.py --apps                 # the other apps' default models
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from common import markdown_table, write_result  # noqa: E402

MODELS = ("mlp", "lenet", "cnn", "resnet", "mobilenet", "alexnet", "vgg", "densenet", "fastcnn")
CLASSES = 10


def matmul_peak(size: int = 2048, repeats: int = 10) -> float:
    """GFLOP/s of the best of `repeats` float32 size^3 matrix products (2 size^3 FLOPs)."""
    import tensorflow as tf

    a = tf.random.normal([size, size])
    b = tf.random.normal([size, size])
    product = tf.function(lambda x, y: tf.matmul(x, y))
    product(a, b).numpy()
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        product(a, b).numpy()
        best = min(best, time.perf_counter() - started)
    return 2 * size ** 3 / best / 1e9


def measure(model_name: str, shape: tuple[int, int, int], *, batch: int, steps: int, pipeline: str,
            augment: bool, optimizer: str | None, repeats: int = 3) -> dict[str, Any]:
    """Images/s of `steps` training steps (the best of `repeats` epochs of them, after
    a traced, warmed-up one) of the vision
    model `model_name`, compiled as kerasdl compiles it. `pipeline`: "kerasdl" (cache,
    shuffle, batch, augmentation, prefetch, as training runs) or "tensors" (the same
    batches held in memory: compute alone)."""
    import numpy as np
    import tensorflow as tf

    from kerasdl.apps.vision.app import VisionApp
    from kerasdl.apps.vision.config import VisionConfig
    from kerasdl.data.pipeline import training_pipeline
    from kerasdl.evaluation.complexity import count_macs
    from kerasdl.training.setup import prepare_model

    app = VisionApp()
    info = {"image_shape": list(shape), "class_names": [str(i) for i in range(CLASSES)]}
    fields = {"model": model_name, "batch_size": batch, "augment": augment}
    if optimizer:
        fields["optimizer"] = optimizer
    config = VisionConfig(**fields)
    model = prepare_model(app, config, info, steps_per_epoch=steps)
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (batch * steps, *shape)).astype("uint8")
    labels = rng.integers(0, CLASSES, batch * steps).astype("int32")
    if pipeline == "kerasdl":
        ds = training_pipeline(tf.data.Dataset.from_tensor_slices((images, labels)), batch, seed=0,
                               augment=app.augmentation(config, info) if augment else None, drop_remainder=True)
    else:
        ds = tf.data.Dataset.from_tensor_slices((images, labels)).batch(batch, drop_remainder=True).cache()
    model.fit(ds, epochs=1, verbose=0)  # traced; the cache filled
    seconds = float("inf")
    for _ in range(repeats):  # the best of several epochs: other processes and the VM's neighbours add noise
        started = time.perf_counter()
        model.fit(ds, epochs=1, verbose=0)
        seconds = min(seconds, time.perf_counter() - started)
    return {"model": model_name, "macs": count_macs(model), "parameters": model.count_params(),
            "images_per_second": batch * steps / seconds}


def in_child(args: dict[str, Any], env: dict[str, str] | None = None) -> dict[str, Any]:
    """`measure` (or the peak, for {"peak": True}) in a fresh process."""
    done = subprocess.run([sys.executable, __file__, "--child", json.dumps(args)], capture_output=True, text=True,
                          env={**os.environ, **(env or {})})
    if done.returncode:
        sys.exit(f"measurement {args} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


APP_DEFAULTS = ("sentiment", "speech", "forecast")


def app_default_speed(app: str, runs: Any) -> dict[str, Any]:
    """`kerasdl train APP` (its default model, no baselines) for 3 epochs on the app's
    bundled sample, in a child process: examples/s from its metrics, and the model's
    forward multiply-adds per example."""
    from kerasdl.evaluation.complexity import count_macs
    from kerasdl.loading import open_run
    from kerasdl.training.saving import load_app_model

    command = ["kerasdl", "train", app, "--epochs", "3", "--no-baseline", "--runs-dir", str(runs), "--name", app]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"{' '.join(command)} failed:\n{done.stderr[-3000:]}")
    opened = open_run(runs / app / app)
    metrics = json.loads(opened.run.metrics_path.read_text())
    model = load_app_model(opened.app, opened.run.model_path())
    return {"model": opened.config.model, "macs": count_macs(model), "parameters": model.count_params(),
            "images_per_second": metrics["training"]["examples_per_second"]}


def fraction_of_peak(result: dict[str, Any], peak: float) -> tuple[float, float]:
    """(training GFLOP/s counted as 6 FLOPs per forward MAC, its fraction of `peak`)."""
    achieved = 6 * result["macs"] * result["images_per_second"] / 1e9
    return achieved, achieved / peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shape", default="32,32,3", help="Image shape H,W,C (default: CIFAR-10's).")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--steps", type=int, default=30, help="Timed training steps per measurement.")
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--where", metavar="MODEL", help="Time MODEL under one change at a time.")
    parser.add_argument("--apps", action="store_true", help="The other apps' default models on their samples.")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        request = json.loads(args.child)
        if request.get("peak"):
            print(json.dumps({"gflops": matmul_peak()}))
        else:
            print(json.dumps(measure(request["model"], tuple(request["shape"]), batch=request["batch"],
                                     steps=request["steps"], pipeline=request["pipeline"],
                                     augment=request["augment"], optimizer=request.get("optimizer"))))
        return
    import platform

    shape = [int(s) for s in args.shape.split(",")]
    peak = in_child({"peak": True})["gflops"]
    shape_text = "x".join(map(str, shape))
    base = {"shape": shape, "batch": args.batch, "steps": args.steps, "pipeline": "kerasdl", "augment": True}
    machine = f"{platform.machine()} ({os.cpu_count()} cores)"
    if args.apps:
        import tempfile
        from pathlib import Path

        rows = []
        with tempfile.TemporaryDirectory() as runs:
            for app in APP_DEFAULTS:
                result = app_default_speed(app, Path(runs))
                achieved, fraction = fraction_of_peak(result, peak)
                rows.append((app, result["model"], f"{result['parameters']:,}", f"{result['macs'] / 1e6:.2f}",
                             f"{result['images_per_second']:.0f}", f"{achieved:.2f}", f"{100 * fraction:.2f}"))
                print(rows[-1], flush=True)
        table = markdown_table(("app", "default model", "parameters", "forward MMACs / example", "training examples/s",
                                "GFLOP/s (6 x MACs)", "% of matmul peak"), rows)
        notes = (f"`kerasdl train APP --epochs 3 --no-baseline` on each app's bundled sample (its default model and "
                 f"recipe); examples/s over the whole training, validation included, as the run reports it. "
                 f"Matmul peak: {peak:.0f} GFLOP/s. Machine: {machine}.")
        path = write_result("throughput-apps", "Training throughput of the other apps' default models", table,
                            "python bench/throughput.py --apps", notes)
    elif args.where:
        changes = [
            ("as `kerasdl train` runs it (pipeline, augmentation, AdamW)", {}, {}),
            ("no augmentation", {"augment": False}, {}),
            ("batches in memory (no input pipeline, no augmentation)", {"pipeline": "tensors", "augment": False}, {}),
            ("SGD with momentum instead of AdamW", {"optimizer": "momentum"}, {}),
            *((f"batch {b}", {"batch": b}, {}) for b in (32, 64, 256) if b != args.batch),
            ("1 intra-op thread", {}, {"TF_NUM_INTRAOP_THREADS": "1"}),
            ("1 inter-op thread (ops one at a time, each on 2 threads)", {}, {"TF_NUM_INTEROP_THREADS": "1"}),
            ("oneDNN off (TF_ENABLE_ONEDNN_OPTS=0)", {}, {"TF_ENABLE_ONEDNN_OPTS": "0"}),
        ]
        rows = []
        for label, change, env in changes:
            request = {**base, "model": args.where, **change}
            result = in_child(request, env)
            achieved, fraction = fraction_of_peak(result, peak)
            rows.append((label, f"{result['images_per_second']:.0f}", f"{achieved:.1f}", f"{100 * fraction:.1f}"))
            print(rows[-1], flush=True)
        table = markdown_table(("setting", "images/s", "GFLOP/s", "% of peak"), rows)
        notes = (f"Model `{args.where}` on {shape_text} images, batch {args.batch} unless said, {args.steps} timed "
                 f"steps (best of 3 epochs of them) after a warm-up epoch, each row in its own process. Matmul peak: {peak:.0f} GFLOP/s. "
                 f"Machine: {machine}.")
        path = write_result(f"throughput-where-{args.where}-{shape_text}", f"Where the time goes: {args.where}",
                            table, f"python bench/throughput.py --where {args.where} --shape {args.shape} --batch {args.batch} "
                            f"--steps {args.steps}", notes)
    else:
        rows = []
        for name in args.models.split(","):
            result = in_child({**base, "model": name})
            achieved, fraction = fraction_of_peak(result, peak)
            rows.append((name, f"{result['parameters']:,}", f"{result['macs'] / 1e6:.1f}",
                         f"{result['images_per_second']:.0f}", f"{achieved:.1f}", f"{100 * fraction:.1f}"))
            print(rows[-1], flush=True)
        table = markdown_table(("model", "parameters", "forward MMACs / image", "training images/s",
                                "GFLOP/s (6 x MACs)", "% of matmul peak"), rows)
        notes = (f"Training on {shape_text} uint8 images as `kerasdl train` runs it (kerasdl's pipeline with the "
                 f"app's augmentation, each model's compile settings), batch {args.batch}, {args.steps} timed steps "
                 f"(best of 3 epochs of them) after a warm-up epoch, each model in its own process. Matmul peak (2048^3 float32, best of 10): "
                 f"{peak:.0f} GFLOP/s. Machine: {machine}.")
        path = write_result(f"throughput-{shape_text}", "Training throughput against the matmul peak", table,
                            f"python bench/throughput.py --shape {args.shape} --batch {args.batch} --steps {args.steps}", notes)
    print(f"\n{table}\n\nWritten: {path}")


if __name__ == "__main__":
    main()
