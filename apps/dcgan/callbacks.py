"""What the dcgan app watches each epoch: sample grids, FID, mode collapse."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import keras
import numpy as np

from kerasdl.errors import TrainingError
from kerasdl.evaluation.generative import diversity
from kerasdl.evaluation.plots import image_grid, save_animation, save_image

from kerasdl.apps.dcgan.noise import GRID_SIZE, fixed_noise


class GanMonitor(keras.callbacks.Callback):
    """Each epoch: generates `len(real)` images, logs `fid` and `inception_score`
    (with a `scorer`), `c2st_accuracy` and `c2st_loss` (with `two_sample`: the
    classifier two-sample test) and `diversity_ratio`, read by the checkpoint that keeps
    the best epoch; writes the fixed noise batch's grid to `samples/epoch-NNN.png`; at
    the end, an animation of the grids. Stops with a clear message when the generator
    collapses.
    """

    def __init__(self, *, scorer: Any, real: np.ndarray, latent_dim: int, samples_dir: Path,
                 collapse_ratio: float, two_sample: bool = False, first_checked_epoch: int = 3) -> None:
        super().__init__()
        self.scorer = scorer
        self.two_sample = two_sample
        self.real = real
        self.real_diversity = diversity(real[:GRID_SIZE])
        self.noise = fixed_noise(len(real), latent_dim, seed=0)
        self.grid_noise = fixed_noise(GRID_SIZE, latent_dim)
        self.samples_dir = Path(samples_dir)
        self.collapse_ratio = collapse_ratio
        self.first_checked_epoch = first_checked_epoch

    def _generate(self, noise: np.ndarray) -> np.ndarray:
        generator = self.model.generator
        return np.concatenate([np.asarray(generator(noise[i:i + 256], training=False))
                               for i in range(0, len(noise), 256)])

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        from kerasdl.evaluation.two_sample import two_sample_test

        logs = logs if logs is not None else {}
        generated = self._generate(self.noise)
        if self.scorer is not None:
            scores = self.scorer.compare(self.real, generated)
            logs.update(fid=scores["fid"], inception_score=scores["inception_score"])
        if self.two_sample:
            test = two_sample_test(self.real, generated, seed=epoch)
            logs.update(c2st_accuracy=test.accuracy, c2st_loss=test.loss)
        grid = self._generate(self.grid_noise)
        ratio = diversity(grid) / max(self.real_diversity, 1e-9)
        logs.update(diversity_ratio=ratio)
        pixels = np.clip(np.round(grid), 0, 255).astype(np.uint8)
        save_image(image_grid(pixels, 8), self.samples_dir / f"epoch-{epoch + 1:03d}.png", scale=2)
        if epoch + 1 >= self.first_checked_epoch and ratio < self.collapse_ratio:
            raise TrainingError(
                f"Mode collapse at epoch {epoch + 1}: the generated images differ from each "
                f"other {ratio:.2f} times as much as real ones (under `collapse_ratio="
                f"{self.collapse_ratio:g}`). Try a lower `d_learning_rate` or `learning_rate`, "
                "or `real_label=0.9`; the samples are in "
                f"{self.samples_dir}."
            )

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        frames = sorted(self.samples_dir.glob("epoch-*.png"))
        if frames:
            save_animation(frames, self.samples_dir / "epochs.gif")
