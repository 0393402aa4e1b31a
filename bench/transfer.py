"""Transfer learning measured here: a backbone pretrained by kerasdl on one half of
CIFAR-10, fine-tuned on small sets of the other half through `--weights PATH`.

ImageNet weights cannot be downloaded on this machine, so the mechanism is measured with
a stand-in: MobileNetV3-Small is trained from random weights on CIFAR-10's first five
classes (airplane, automobile, bird, cat, deer; 25,000 images), its backbone saved as a
weights file, then `kerasdl train vision --backbone mobilenet_v3_small --weights FILE` learns
the other five classes (dog, frog, horse, ship, truck) from 100 or 1,000 training images
(with 250 validation images), against the same network from random weights (`--weights
none`) and kerasdl's default CNN, 3 seeds each, scored on those classes' 5,000 test images.
The classic pixel baseline is measured in the same runs.

    python bench/transfer.py [--pretrain-epochs 8] [--epochs 12] [--sizes 100,1000] [--seeds 0,1,2]
    python bench/transfer.py --latency      # int8 size and latency of every image backbone
    python bench/transfer.py --text         # text: a kerasdl-pretrained BERT (bench/transfer_text.py)
    python bench/transfer.py --speech       # speech: YAMNet pretrained on FSDD (bench/transfer_speech.py)
    python bench/transfer.py --text --latency; python bench/transfer.py --speech --latency   # CPU cost
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tarfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from common import (REPO, SHARED_DATA, fine_tuning_speeds, markdown_table, mean_std, require,  # noqa: E402
                    train_in_child, write_result)

SOURCE_CLASSES = ("airplane", "automobile", "bird", "cat", "deer")
TARGET_CLASSES = ("dog", "frog", "horse", "ship", "truck")
BACKBONE = "mobilenet_v3_small"
WORK = REPO / "bench" / "runs" / "transfer"


def extract_cifar() -> Path:
    """The JPEG tree of ../shared/data/cifar10, extracted once under bench/runs."""
    archive = require(SHARED_DATA / "cifar10" / "cifar10_jpg.tar.gz")
    root = WORK / "cifar10_jpg"
    if not (root / "test").is_dir():
        WORK.mkdir(parents=True, exist_ok=True)
        with tarfile.open(archive) as tar:
            tar.extractall(WORK, filter="data")
    return root


def link_split(root: Path, out: Path, split_counts: dict[str, tuple[str, int, int]], classes: tuple[str, ...],
               seed: int) -> Path:
    """A class-folder data set of symbolic links: split -> (source split, first image, count)."""
    if out.is_dir():
        return out
    for split, (source, start, count) in split_counts.items():
        for name in classes:
            files = sorted((root / source / name).iterdir())
            random.Random(seed).shuffle(files)
            folder = out / split / name
            folder.mkdir(parents=True)
            for path in files[start:start + (count if count else len(files))]:
                (folder / path.name).symlink_to(path)
    return out


def train(dataset: Path, name: str, *args: str) -> dict:
    """`kerasdl train vision` in a child process (`common.train_in_child`); its metrics.json."""
    return train_in_child("vision", WORK / "runs", dataset, name, *args)


def save_backbone(run: Path, path: Path) -> None:
    import keras

    from kerasdl.registry import get_app
    from kerasdl.training.saving import load_app_model
    from kerasdl.runs import Run

    model = load_app_model(get_app("vision"), Run.open(run).model_path())
    model.get_layer("backbone").save_weights(str(path))
    keras.backend.clear_session()


def transfer(args: argparse.Namespace) -> None:
    root = extract_cifar()
    size = str(args.backbone_size)
    source = link_split(root, WORK / "source5", {"train": ("train", 0, 0), "test": ("test", 0, 0)},
                        SOURCE_CLASSES, seed=0)
    weights = WORK / f"{BACKBONE}_cifar5.weights.h5"
    if not weights.is_file():
        pre = train(source, "pretrain", "--model", "pretrained", "--backbone", BACKBONE, "--weights", "none",
                    "--set", f"backbone_size={size}", "--epochs", str(args.pretrain_epochs), "--augment",
                    "--no-baseline")
        print(f"pretrained on 5 classes: test accuracy {pre['accuracy']:.4f}, "
              f"{pre['training']['seconds']:.0f} s", flush=True)
        save_backbone(WORK / "runs" / "vision" / "pretrain", weights)
    arms = {
        "pretrained backbone (--weights FILE)": ["--model", "pretrained", "--backbone", BACKBONE, "--weights",
                                                 str(weights), "--set", f"backbone_size={size}"],
        "same network, random weights (--weights none)": ["--model", "pretrained", "--backbone", BACKBONE,
                                                          "--weights", "none", "--set", f"backbone_size={size}"],
        "default CNN (--model cnn)": ["--model", "cnn"],
        # The recipe's other end: a short head phase, then every layer at a tenth of the rate.
        "pretrained, all layers fine-tuned (--fine-tune-layers -1, head_epochs=2)": [
            "--model", "pretrained", "--backbone", BACKBONE, "--weights", str(weights), "--set", f"backbone_size={size}",
            "--fine-tune-layers", "-1", "--set", "head_epochs=2"],
        # The `photos` preset as shipped (never tuned on this data): 10 epochs, batch 32, rate 1e-3,
        # label smoothing 0.1, mirror + 10 % shift + 15 % zoom.
        "photos preset (--preset photos --weights FILE)": [
            "--preset", "photos", "--model", "pretrained", "--weights", str(weights), "--set",
            f"backbone_size={size}", "--epochs", "10"],
    }
    rows = []
    for count in args.sizes:
        per_class = count // len(TARGET_CLASSES)
        target = link_split(root, WORK / f"target5_{count}",
                            {"train": ("train", 0, per_class), "validation": ("train", 4000, 50),
                             "test": ("test", 0, 0)}, TARGET_CLASSES, seed=1)
        baseline: list[float] = []
        for index, (arm, extra) in enumerate(arms.items()):
            accuracies, seconds, epoch_seconds = [], [], []
            for seed in args.seeds:
                # The arm's own options last: they win over the common ones (the photos preset's epochs).
                m = train(target, f"n{count}-arm{index}-seed{seed}", "--epochs", str(args.epochs),
                          "--seed", str(seed), "--augment", *extra)
                accuracies.append(m["accuracy"])
                seconds.append(m["training"]["seconds"])
                epoch_seconds.append(m["training"]["seconds"] / max(1, m["training"]["epochs"]))
                baseline += [b["test"]["accuracy"] for b in m.get("baselines", [])[:1]]
                print(f"{count} images, {arm}, seed {seed}: {m['accuracy']:.4f}", flush=True)
            rows.append([count, arm, mean_std(accuracies), f"{statistics.mean(epoch_seconds):.1f}",
                         f"{statistics.mean(seconds):.0f}"])
        rows.append([count, "classic baseline: ridge on pixels", mean_std(baseline[:1]), "-", "-"])
    table = markdown_table(["training images", "model", "test accuracy % (3 seeds)", "s / epoch",
                            "training s / run"], rows)
    notes = (f"Backbone {BACKBONE} at {size}x{size} (CIFAR's 32x32 images resized inside the model), pretrained "
             f"by kerasdl for {args.pretrain_epochs} epochs on the 25,000 training images of {', '.join(SOURCE_CLASSES)}"
             f"; fine-tuned for {args.epochs} epochs (the photos preset: its own 10; the default recipe: the head alone on the frozen backbone for "
             f"half of them, then the top 40 layers at a tenth of the learning rate, batch normalization frozen) on "
             f"{', '.join(TARGET_CLASSES)}, 250 validation images, scored on their 5,000 test images. --augment on "
             "for every arm. ImageNet weights could not be downloaded here: this measures the mechanism, "
             "not the published weights.")
    write_result("transfer", "Transfer learning: a kerasdl-pretrained backbone fine-tuned on small sets",
                 table, "python bench/transfer.py", notes)


def training_speed(model, config, batch: int = 16, steps: int = 8) -> tuple[float, float]:
    """Training images/s at 224x224, head only and fine-tuning (`common.fine_tuning_speeds`)."""
    import numpy as np

    x = np.random.default_rng(0).integers(0, 256, (batch * steps, 224, 224, 3), dtype=np.uint8)
    y = np.random.default_rng(1).integers(0, 5, batch * steps)
    return fine_tuning_speeds(model, config, x, y, batch)


def latency(args: argparse.Namespace) -> None:
    """Training speed, int8 size and latency of each image backbone with a 5-class head
    at 224x224 (random weights: size and speed do not depend on the values)."""
    import tempfile

    import numpy as np

    from kerasdl.apps.vision.config import VisionConfig
    from kerasdl.apps.vision.models import build_vision_model
    from kerasdl.backbones.image import IMAGE_BACKBONES
    from kerasdl.export.benchmark import benchmark_models
    from kerasdl.export.tflite import convert

    rows = []
    for name in IMAGE_BACKBONES:
        config = VisionConfig(backbone=name, weights="imagenet")  # inference-mode batch norm, as fine-tuned
        model = build_vision_model("pretrained", (224, 224, 3), 5, config)
        head_speed, tune_speed = training_speed(model, config)
        calibration = [np.random.default_rng(i).integers(0, 256, (1, 224, 224, 3), dtype=np.uint8)
                       for i in range(8)]
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / f"{name}-int8.tflite"
            started = time.perf_counter()
            path.write_bytes(convert(model, "int8", calibration))
            seconds = time.perf_counter() - started
            timing = benchmark_models([str(path)], [2], runs=100)[0]
            rows.append([name, f"{model.count_params():,}", f"{head_speed:.0f}", f"{tune_speed:.0f}",
                         f"{path.stat().st_size / 1e6:.2f}", f"{timing['p50_ms']:.1f}", f"{seconds:.0f}"])
    table = markdown_table(["backbone", "parameters (5-class head)", "training images/s, head only",
                            "training images/s, top 40 layers", "int8 MB", "int8 p50 ms (2 threads)",
                            "int8 conversion s"], rows)
    write_result("transfer-latency", "Image backbones at 224x224: training speed, int8 TFLite size and latency", table,
                 "python bench/transfer.py --latency")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pretrain-epochs", type=int, default=8)  # images
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--backbone-size", type=int, default=64)
    parser.add_argument("--sizes", type=lambda s: [int(v) for v in s.split(",")], default=[100, 1000])
    parser.add_argument("--seeds", type=lambda s: [int(v) for v in s.split(",")], default=[0, 1, 2])
    parser.add_argument("--latency", action="store_true")
    parser.add_argument("--text", action="store_true")
    parser.add_argument("--speech", action="store_true")
    import transfer_speech
    import transfer_text

    transfer_text.add_arguments(parser)
    transfer_speech.add_arguments(parser)
    args = parser.parse_args()
    if args.text:
        transfer_text.latency(args) if args.latency else transfer_text.measure(args)
    elif args.speech:
        transfer_speech.latency(args) if args.latency else transfer_speech.measure(args)
    else:
        latency(args) if args.latency else transfer(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
