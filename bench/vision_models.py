"""The primers' architectures side by side (issue 34): LeNet, the CNN, the ResNet, the
MobileNet, AlexNet-, VGG- and DenseNet-style networks and fastcnn, each trained with 3
seeds on the same CIFAR-10 subset and the same recipe, with test accuracy, parameters,
multiply-adds per image, training time per epoch, and the int8 TFLite file's size and
latency (one CPU thread, batch 1).

    python bench/vision_models.py [--epochs 5] [--width 16] [--seeds 3] [--train-images 10000]

The runs go through `kerasdl.comparison.compare` (what `kerasdl compare vision --vary
model=...` does), kept in bench/runs/vision-models, so an interrupted bench resumes.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from common import REPO, markdown_table, mean_std, write_result  # noqa: E402

MODELS = ("lenet", "cnn", "resnet", "mobilenet", "alexnet", "vgg", "densenet", "fastcnn")
RUNS = REPO / "bench" / "runs" / "vision-models"


def int8_latency_ms(path: str, repeats: int = 200) -> float:
    """Median milliseconds of one int8 TFLite inference, batch 1, one thread."""
    import time

    import numpy as np
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=path, num_threads=1)
    interpreter.allocate_tensors()
    detail = interpreter.get_input_details()[0]
    image = np.random.default_rng(0).integers(0, 256, detail["shape"]).astype(detail["dtype"])
    interpreter.set_tensor(detail["index"], image)
    for _ in range(10):
        interpreter.invoke()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        interpreter.invoke()
        times.append(time.perf_counter() - started)
    return 1000 * statistics.median(times)


def macs_per_image(run: Path) -> int:
    from kerasdl.evaluation.complexity import count_macs
    from kerasdl.registry import get_app
    from kerasdl.runs import Run
    from kerasdl.training.saving import load_app_model

    return count_macs(load_app_model(get_app("vision"), Run.open(run).model_path()))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--width", type=int, default=16)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--train-images", type=int, default=10_000)
    parser.add_argument("--models", default=",".join(MODELS))
    args = parser.parse_args()
    from vision import dataset_folder

    data = dataset_folder("cifar10", args.train_images)

    from kerasdl.comparison import compare
    from kerasdl.config import resolve_config
    from kerasdl.registry import get_app

    config = resolve_config(get_app("vision").config_class,
                            overrides={"dataset": str(data), "epochs": args.epochs, "width": args.width})
    name = f"cifar10-{args.train_images}-w{args.width}-e{args.epochs}"
    result = compare("vision", config, [("model", args.models.split(","))], compare_dir=RUNS / "comparisons",
                     runs_dir=RUNS, name=name, resume=(RUNS / "comparisons" / "vision" / name).exists(),
                     verbose=2, seeds=args.seeds, int8=True)
    groups: dict[str, list[dict]] = {}
    for row in result.rows:
        groups.setdefault(row["label"], []).append(row)
    rows, pixels = [], []
    for label, group in groups.items():
        done = [r for r in group if r.get("metric") is not None]
        if not done:
            rows.append([label, "failed: " + "; ".join(str(r.get("error", "?")) for r in group)] + ["-"] * 5)
            continue
        int8 = next((r["int8_file"] for r in group if r.get("int8_file")), None)
        pixels += [r["baseline"]["metric"] for r in done if r.get("baseline") and r["baseline"].get("metric")]
        per_epoch = statistics.mean(r["seconds"] / r["epochs"] for r in done)
        rows.append([label, mean_std([r["metric"] for r in done]), f"{done[0]['parameters']:,}",
                     f"{macs_per_image(RUNS / 'vision' / done[0]['run']) / 1e6:.1f}", f"{per_epoch:.1f}",
                     f"{Path(int8).stat().st_size / 1024:.0f}" if int8 else "-",
                     f"{int8_latency_ms(int8):.2f}" if int8 else "-"])
    if pixels:
        rows.append(["pixel baseline (ridge, same runs)", mean_std(pixels), "30,730", "0.03", "-", "-", "-"])
    table = markdown_table(["model", f"test accuracy % ({args.seeds} seeds)", "parameters", "MMACs / image",
                            "training s / epoch", "int8 TFLite KB", "int8 ms / image (1 thread)"], rows)
    notes = (f"CIFAR-10, {args.train_images:,} training images (1,000 per class; 10 % of them for validation), "
             f"the full 10,000-image test split; `kerasdl train vision --model M --width {args.width} --epochs "
             f"{args.epochs}` (the default recipe: Adam 2e-3, cosine, dropout 0.2, no augmentation), seeds "
             f"{', '.join(str(config.seed + i) for i in range(args.seeds))}. A small budget for every model: "
             "the deep ones (VGG, DenseNet) are furthest from what they reach with time. Training time on 2 "
             "cores; latency: ai-edge-litert's interpreter, one thread, median of 200 runs.")
    write_result(f"vision-models-{name}", "Vision: the classic architectures on CIFAR-10", table,
                 "python bench/vision_models.py " + " ".join(sys.argv[1:]), notes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
