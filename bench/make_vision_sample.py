"""Rebuilds the vision app's bundled sample from ../shared/data/fashion_mnist.

The sample is a class-balanced subset of Fashion-MNIST (MIT licence): 300 training and
60 test images per class as IDX files, plus one PNG per class for `kerasdl predict`.

    python bench/make_vision_sample.py
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


def main() -> int:
    if not SOURCE.is_dir():
        print(f"missing {SOURCE}", file=sys.stderr)
        return 1
    TARGET.mkdir(parents=True, exist_ok=True)
    for split, prefix, per_class in (("train", "train", 300), ("test", "t10k", 60)):
        images = read_idx(SOURCE / f"{prefix}-images-idx3-ubyte.gz")
        labels = read_idx(SOURCE / f"{prefix}-labels-idx1-ubyte.gz")
        keep = balanced(labels, per_class)
        write_idx(TARGET / f"{prefix}-images-idx3-ubyte.gz", images[keep])
        write_idx(TARGET / f"{prefix}-labels-idx1-ubyte.gz", labels[keep])
        if split == "test":
            examples = TARGET / "examples"
            examples.mkdir(exist_ok=True)
            unseen = balanced(labels, 1, skip=per_class)  # not in the sample's test split
            for i in unseen:
                name = CLASS_NAMES[labels[i]]
                Image.fromarray(images[i]).save(examples / f"{name}.png")
    (TARGET / "labels.txt").write_text("\n".join(CLASS_NAMES) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
