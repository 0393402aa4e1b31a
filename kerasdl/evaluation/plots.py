"""PNG plots of training curves and confusion matrices (matplotlib, no display)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

from kerasdl.io import atomic_path


def pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save(plt: Any, fig: Any, path: str | Path) -> Path:
    fig.tight_layout()
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=100, format="png")
    plt.close(fig)
    return path


def plot_history(rows: Sequence[dict[str, Any]], path: str | Path) -> Path | None:
    """One panel per metric (loss, accuracy ...), train and validation overlaid."""
    if not rows:
        return None
    plt = pyplot()
    keys = [k for k in rows[0] if k not in ("epoch", "learning_rate") and not k.startswith("val_")]
    panels = keys + (["learning_rate"] if "learning_rate" in rows[0] else [])
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.4), squeeze=False)
    epochs = [r["epoch"] for r in rows]
    for ax, key in zip(axes[0], panels):
        ax.plot(epochs, [r.get(key) for r in rows], marker="o", label="train" if key != "learning_rate" else "lr")
        if f"val_{key}" in rows[0]:
            ax.plot(epochs, [r.get(f"val_{key}") for r in rows], marker="o", label="validation")
        ax.set_title(key.replace("_", " "))
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.legend()
    return save(plt, fig, path)


def plot_confusion_matrix(
    matrix: np.ndarray, class_names: Sequence[str], path: str | Path
) -> Path:
    """Counts in each cell, colours by the row-normalised rate (the recall per class)."""
    plt = pyplot()
    n = len(class_names)
    size = min(12.0, 2.5 + 0.55 * n)
    fig, ax = plt.subplots(figsize=(size, size))
    rates = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(n), class_names, rotation=45, ha="right")
    ax.set_yticks(range(n), class_names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if n <= 30:
        for i in range(n):
            for j in range(n):
                ax.text(j, i, str(matrix[i, j]), ha="center", va="center", fontsize=8,
                        color="white" if rates[i, j] > 0.5 else "black")
    ax.set_title("Confusion matrix")
    return save(plt, fig, path)
