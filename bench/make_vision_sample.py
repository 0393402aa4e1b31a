"""Rebuilds the vision app's bundled sample from ../shared/data/fashion_mnist.

The sample is a class-balanced subset of Fashion-MNIST (MIT licence): 300 training and
60 test images per class as IDX files, plus one PNG per class for `kerasdl predict`,
drawn at random (seed 0) from the sample's test split: a model answers them about as
often right as its test accuracy says (picking the first image of each class, as
before, gave examples harder than the split: 6 of 10 right for a model at 89 %).

    python bench/make_vision_sample.py [--examples-only]
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image

from kerasdl.data.idx import read_idx, write_idx

SOURCE = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "fashion_mnist"
TARGET = Path(__file__).resolve().parents[1] / "apps" / "vision" / "sample"
CLASS_NAMES = ["t-shirt", "trouser", "pullover", "dress", "coat",
               "sandal", "shirt", "sneaker", "bag", "ankle-boot"]


def balanced(labels: np.ndarray, per_class: int, skip: int = 0) -> np.ndarray:
    picks = [np.flatnonzero(labels == c)[skip:skip + per_class] for c in range(10)]
    order = np.concatenate(picks)
    return np.sort(order)


EXAMPLES_SEED = 0


def main() -> int:
    examples_only = "--examples-only" in sys.argv[1:]
    if not SOURCE.is_dir():
        print(f"missing {SOURCE}", file=sys.stderr)
        return 1
    TARGET.mkdir(parents=True, exist_ok=True)
    for split, prefix, per_class in (("train", "train", 300), ("test", "t10k", 60)):
        images = read_idx(SOURCE / f"{prefix}-images-idx3-ubyte.gz")
        labels = read_idx(SOURCE / f"{prefix}-labels-idx1-ubyte.gz")
        keep = balanced(labels, per_class)
        if not examples_only:
            write_idx(TARGET / f"{prefix}-images-idx3-ubyte.gz", images[keep])
            write_idx(TARGET / f"{prefix}-labels-idx1-ubyte.gz", labels[keep])
        if split == "test":
            examples = TARGET / "examples"
            examples.mkdir(exist_ok=True)
            rng = np.random.default_rng(EXAMPLES_SEED)
            for c, name in enumerate(CLASS_NAMES):  # stratified: one of each class, at random
                i = rng.choice(keep[labels[keep] == c])
                Image.fromarray(images[i]).save(examples / f"{name}.png")
    (TARGET / "labels.txt").write_text("\n".join(CLASS_NAMES) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
