"""PNG plots of training curves and confusion matrices (matplotlib, no display), and
image grids and animations (Pillow)."""

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


def save(plt: Any, fig: Any, path: str | Path, *, dpi: int = 100) -> Path:
    """`fig` laid out and written to `path` as a PNG (its folder made; atomic), then closed."""
    fig.tight_layout()
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, format="png")
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


def plot_overlaid_curves(
    histories: dict[str, Sequence[Any]], keys: Sequence[str], path: str | Path,
    *, title: str = "",
) -> Path | None:
    """One panel per logged value in `keys` (those some history has), one line per
    run: several runs' training curves side by side. Accuracies are drawn in %.

    A label's value is one run's history (a list of epoch rows) or several seeds'
    histories (a list of such lists): then the line is their mean per epoch and a band
    shows plus or minus one standard deviation.
    """
    runs = {label: [rows] if rows and isinstance(rows[0], dict) else list(rows)
            for label, rows in histories.items()}
    keys = [k for k in keys if any(k in row for seeds in runs.values() for rows in seeds for row in rows)]
    if not runs or not keys:
        return None
    plt = pyplot()
    fig, axes = plt.subplots(1, len(keys), figsize=(4.2 * len(keys), 3.6), squeeze=False)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, (label, seeds) in enumerate(runs.items()):
        for ax, key in zip(axes[0], keys):
            by_epoch: dict[int, list[float]] = {}
            for rows in seeds:
                for r in rows:
                    if isinstance(r.get(key), (int, float)):
                        by_epoch.setdefault(int(r["epoch"]), []).append(float(r[key]))
            if not by_epoch:
                continue
            scale = 100.0 if "accuracy" in key else 1.0
            epochs = sorted(by_epoch)
            mean = np.array([np.mean(by_epoch[e]) for e in epochs]) * scale
            colour = colours[i % len(colours)]
            # Runs stopped early leave later epochs to fewer seeds: the label says so.
            uneven = len({len(by_epoch[e]) for e in epochs}) > 1
            ax.plot(epochs, mean, marker="o", markersize=3, color=colour,
                    label=label if len(seeds) == 1 else f"{label} (mean of {'up to ' if uneven else ''}{len(seeds)})")
            if len(seeds) > 1:
                std = np.array([np.std(by_epoch[e], ddof=1) if len(by_epoch[e]) > 1 else 0.0
                                for e in epochs]) * scale
                ax.fill_between(epochs, mean - std, mean + std, color=colour, alpha=0.2, linewidth=0)
    from matplotlib.ticker import MaxNLocator

    for ax, key in zip(axes[0], keys):
        ax.set_title(key.replace("_", " ") + (" (%)" if "accuracy" in key else ""))
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        if (key == "learning_rate" or key.endswith("loss")) and _spans_decades(ax):
            ax.set_yscale("log")
    axes[0][0].legend(fontsize="small")
    if title:
        fig.suptitle(title)
    return save(plt, fig, path)


def _spans_decades(ax: Any) -> bool:
    values = [v for line in ax.get_lines() for v in line.get_ydata()]
    return bool(values) and min(values) > 0 and max(values) / min(values) > 100


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


def image_grid(images: np.ndarray, columns: int | None = None, *, gap: int = 2) -> np.ndarray:
    """uint8 images [n, h, w, c] tiled into one [H, W, c] image, `gap` pixels apart."""
    images = np.asarray(images)
    n, h, w, c = images.shape
    columns = columns or int(np.ceil(np.sqrt(n)))
    rows = int(np.ceil(n / columns))
    grid = np.full((rows * (h + gap) - gap, columns * (w + gap) - gap, c), 255, np.uint8)
    for i, image in enumerate(images):
        r, col = divmod(i, columns)
        grid[r * (h + gap):r * (h + gap) + h, col * (w + gap):col * (w + gap) + w] = image
    return grid


def save_image(pixels: np.ndarray, path: str | Path, *, scale: int = 1) -> Path:
    """Writes a uint8 [H, W, 1 or 3] array as PNG, enlarged `scale` times with nearest
    neighbours so small images stay crisp."""
    from PIL import Image

    pixels = np.asarray(pixels, np.uint8)
    image = Image.fromarray(pixels[..., 0] if pixels.shape[-1] == 1 else pixels)
    if scale > 1:
        image = image.resize((image.width * scale, image.height * scale), Image.NEAREST)
    path = Path(path)
    with atomic_path(path) as tmp:
        image.save(tmp, format="PNG")
    return path


def save_animation(frames: Sequence[str | Path], path: str | Path, *, seconds_per_frame: float = 0.5) -> Path:
    """An animated GIF of PNG files, in order (the last frame held three times as long)."""
    from PIL import Image

    images = [Image.open(f).convert("RGB") for f in frames]
    if not images:
        raise ValueError("No frames to animate.")
    durations = [int(seconds_per_frame * 1000)] * len(images)
    durations[-1] *= 3
    path = Path(path)
    with atomic_path(path) as tmp:
        images[0].save(tmp, format="GIF", save_all=True, append_images=images[1:],
                       duration=durations, loop=0)
    return path
