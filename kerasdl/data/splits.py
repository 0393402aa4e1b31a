"""What every classification source shares: split folders, label order, and holding
out a validation split."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from kerasdl.errors import DataError

if TYPE_CHECKING:
    import tensorflow as tf


@dataclass
class LabelledSplits:
    """Three splits of `(example, int32 label)` pairs and what describes them; each
    kind of data adds its own description."""

    train: "tf.data.Dataset"
    validation: "tf.data.Dataset"
    test: "tf.data.Dataset | None"
    class_names: list[str]
    sizes: dict[str, int]
    source: str

    def info(self) -> dict[str, Any]:
        return {"source": self.source, "class_names": self.class_names, "sizes": self.sizes}


# Below these sizes a split's metric is noise: one test example scores 0 % or 100 %,
# and at 10 examples accuracy moves in steps of 10 points (a standard error of about 16).
MIN_EVALUATION_EXAMPLES = 10
MIN_TRAINING_EXAMPLES_PER_CLASS = 2


def check_split_sizes(sizes: dict[str, int], num_classes: int | None = None) -> None:
    """Refuses splits too small for their metric to mean anything.

    Args:
        sizes: examples per split ("train", "validation", "test"; a missing or None
            split is not checked). Sizes of 0 for validation or test mean "absent".
        num_classes: for classifiers, the training split needs
            `MIN_TRAINING_EXAMPLES_PER_CLASS` examples per class.

    Raises:
        DataError: naming the split and its size.
    """
    train = sizes.get("train")
    need = MIN_TRAINING_EXAMPLES_PER_CLASS * num_classes if num_classes else 1
    if train is not None and 0 <= train < need:
        what = f"{num_classes} classes" if num_classes else "anything"
        raise DataError(f"The training split has {train} example{'s' if train != 1 else ''}, too few "
                        f"to learn {what} from (at least {need}).")
    for split in ("validation", "test"):
        size = sizes.get(split)
        if size and size < MIN_EVALUATION_EXAMPLES:
            raise DataError(
                f"The {split} split has {size} example{'s' if size != 1 else ''}: a metric on "
                f"fewer than {MIN_EVALUATION_EXAMPLES} means nothing (one example scores 0 % "
                f"or 100 %). Add data to it, or raise validation_split.")


def split_folders(root: Path) -> dict[str, Path]:
    """The `train/`, `validation/` (or `val/`) and `test/` sub-folders `root` has."""
    found = {}
    for split, names in (("train", ("train",)), ("validation", ("validation", "val")), ("test", ("test",))):
        for name in names:
            if (root / name).is_dir() and split not in found:
                found[split] = root / name
    return found


def ordered_labels(labels: list[str]) -> list[str]:
    """The distinct labels, sorted as numbers when they all are ("2" before "10")."""
    unique = sorted(set(labels))
    if all(u.lstrip("-").isdigit() for u in unique):
        return sorted(unique, key=int)
    return unique


def hold_out(
    x: np.ndarray, y: np.ndarray, fraction: float, seed: int
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """((x, y) for training, (x, y) for validation): a random `fraction` held out.

    Raises:
        DataError: when too few examples are left to train on.
    """
    order = np.random.default_rng(seed).permutation(len(x))
    n_val = max(1, int(round(len(x) * fraction)))
    if n_val >= len(x):
        raise DataError(f"Only {len(x)} training examples: too few to hold out a validation split.")
    val, train = order[:n_val], order[n_val:]
    return (x[train], y[train]), (x[val], y[val])


def encode_labels(labels: dict[str, list[str]], where: str) -> tuple[list[str], dict[str, np.ndarray]]:
    """(class names, {split: int32 label ids}) from each split's label strings; the
    classes are the training split's.

    Raises:
        DataError: for a single class, or a label the training split lacks.
    """
    class_names = ordered_labels(labels["train"])
    if len(class_names) < 2:
        raise DataError(
            f"{where}: the training data has only one class ({class_names[0]!r}); a "
            "classifier needs at least two."
        )
    index = {name: i for i, name in enumerate(class_names)}
    ids = {}
    for split, names in labels.items():
        unknown = sorted(set(names) - set(index))
        if unknown:
            raise DataError(
                f"The {split} split has labels {unknown[:5]} that the training split lacks "
                f"(it has {class_names})."
            )
        ids[split] = np.asarray([index[name] for name in names], np.int32)
    return class_names, ids
