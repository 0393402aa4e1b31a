"""Vision benchmark: a recipe's test accuracy and wall time on Fashion-MNIST or CIFAR-10,
over seeds, beside the classic pixel baseline fitted in the same runs.

Each run is `kerasdl train vision` in its own process, as a user runs it: the wall time is
all of it (starting Python and TensorFlow, reading the images, the baseline, training,
evaluation on the test split). Fashion-MNIST: the IDX files in ../shared/data/fashion_mnist
(54,000 train / 6,000 validation / 10,000 test). CIFAR-10: the JPEG archive in
../shared/data/cifar10, extracted once (45,000 / 5,000 / 10,000).

    python bench/vision.py                                   # Fashion-MNIST, its preset
    python bench/vision.py --dataset cifar10 --seeds 0,1,2   # CIFAR-10, the `cifar` preset
    python bench/vision.py --dataset cifar10 --train-images 1000 --previous-default
    python bench/vision.py --dataset fashion_mnist --preset cifar   # a recipe on other data

`--train-images N` keeps N training images (N/10 per class, CIFAR-10 only) and the full
test split; `--previous-default` also trains `kerasdl train vision` with no preset (the
default before the preset) on the same data and seeds.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from common import REPO, SHARED_DATA, VISION_RUN, markdown_table, mean_std, require, train_in_child, write_result  # noqa: E402

WORK = REPO / "bench" / "runs" / "vision-bench"
DEFAULT_PRESET = {"fashion_mnist": "fashion-mnist", "cifar10": "cifar"}


def dataset_folder(dataset: str, train_images: int | None) -> Path:
    if dataset == "fashion_mnist":
        if train_images:
            sys.exit("--train-images is for cifar10 (Fashion-MNIST subsets: bench/compare.py)")
        return require(SHARED_DATA / "fashion_mnist")
    from transfer import SOURCE_CLASSES, TARGET_CLASSES, extract_cifar, link_split

    root = extract_cifar()
    if not train_images:
        return root
    classes = SOURCE_CLASSES + TARGET_CLASSES
    return link_split(root, WORK / "data" / f"cifar10_{train_images}",
                      {"train": ("train", 0, train_images // len(classes)), "test": ("test", 0, 0)}, classes, seed=0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=tuple(DEFAULT_PRESET), default="fashion_mnist")
    parser.add_argument("--preset", help="the recipe (default: fashion-mnist or cifar)")
    parser.add_argument("--seeds", default="42")
    parser.add_argument("--train-images", type=int)
    parser.add_argument("--previous-default", action="store_true")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args()
    preset = args.preset or DEFAULT_PRESET[args.dataset]
    data = dataset_folder(args.dataset, args.train_images)
    seeds = [int(s) for s in args.seeds.split(",")]
    label = f"{args.dataset}-{args.train_images or 'all'}"
    runs = WORK / label
    arms = {f"--preset {preset}": ["--preset", preset, *[a for s in args.set for a in ("--set", s)]]}
    if args.previous_default:
        arms["no preset (the previous default)"] = []

    rows, pixels = [], []
    for arm, options in arms.items():
        accuracy, minutes, rate, epochs, model = [], [], [], set(), set()
        for seed in seeds:
            name = f"{arm.split()[-1] if options else 'default'}-seed{seed}"
            where = runs
            if (args.dataset, preset, seed, bool(options)) == ("fashion_mnist", "fashion-mnist", seeds[0], True):
                where, name = VISION_RUN.parent.parent, VISION_RUN.name  # kept for bench/export.py and others
            metrics = train_in_child("vision", where, data, name, *options, "--seed", str(seed))
            if "wall_seconds" not in metrics:
                sys.exit(f"{where / 'vision' / name} was not trained by a bench (no wall time): delete it")
            accuracy.append(metrics["accuracy"])
            minutes.append(metrics["wall_seconds"] / 60)
            rate.append(metrics["training"]["examples_per_second"])
            epochs.add(metrics["training"]["epochs"])
            model.add(_shipped_model(where / "vision" / name))
            if arm == next(iter(arms)):  # the same baseline in every arm: counted once per seed
                pixels += [b["test"]["accuracy"] for b in metrics.get("baselines", []) if b.get("test")]
            print(arm, seed, f"{100 * metrics['accuracy']:.2f} %", f"{minutes[-1]:.1f} min", flush=True)
        rows.append([arm, ", ".join(sorted(model)), ", ".join(map(str, sorted(epochs))), mean_std(accuracy),
                     f"{statistics.mean(minutes):.1f} (max {max(minutes):.1f})", f"{statistics.mean(rate):.0f}"])
    if pixels:
        rows.append(["pixel baseline (ridge on pixels, fitted in the same runs)", "pixels", "-", mean_std(pixels),
                     "-", "-"])
    table = markdown_table(["recipe", "model", "epochs", f"test accuracy % ({len(seeds)} seed{'s' if len(seeds) > 1 else ''})",
                            "wall minutes per run", "training images/s"], rows)
    command = "python bench/vision.py " + " ".join(sys.argv[1:])
    notes = (f"Data: {args.dataset}, {args.train_images or 'all'} training images (10 % of them for "
             f"validation), the full test split; seeds {args.seeds}. Wall minutes: the whole "
             "`kerasdl train vision` process (TensorFlow start, image reading, baselines, training, test "
             "evaluation). Training images/s counts whole epochs (steps, validation, checkpoints). Runs are "
             f"kept in {runs.relative_to(REPO)}.")
    suffix = f"-{args.train_images}" if args.train_images else ""
    write_result(f"vision-{args.dataset}{suffix}-{preset}", f"Vision: {args.dataset}, preset {preset}",
                 table, command.strip(), notes)
    return 0


def _shipped_model(run: Path) -> str:
    """The model the run shipped (a baseline model wins when better on validation)."""
    import json
    import tomllib

    record = json.loads((run / "run.json").read_text())
    if record.get("auto", {}).get("winner"):
        return str(record["auto"]["winner"])
    return str(tomllib.loads((run / "config.toml").read_text())["model"])


if __name__ == "__main__":
    sys.exit(main())
