"""forecast: a CSV whose last rows are the window in, the next rows in the data's units out."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from kerasdl_edge.codecs.base import Codec
from kerasdl_edge.errors import EdgeError
from kerasdl_edge.series import TableError, read_window


class ForecastCodec(Codec):
    """Each input is a CSV file with the training columns (`kerasdl_edge.series`);
    outputs are z-scores, described in the data's own units."""

    app = "forecast"

    def read(self, inputs: Sequence[Any]) -> np.ndarray:
        try:
            return np.stack([read_window(i, self.info) for i in inputs])
        except TableError as e:
            raise EdgeError(str(e)) from None

    def describe(self, outputs: np.ndarray, *, top_k: int = 3) -> list[dict[str, Any]]:
        targets = self.info["targets"]
        mean = np.asarray(self.info["scaler"]["mean"])[: len(targets)]
        std = np.asarray(self.info["scaler"]["std"])[: len(targets)]
        return [{"forecast": {name: [float(v) for v in (row * std + mean)[:, j]] for j, name in enumerate(targets)}}
                for row in np.asarray(outputs)]

    def format(self, row: dict[str, Any]) -> str:
        columns = list(row["forecast"])
        lines = [f"{row['input']}: the next {len(row['forecast'][columns[0]])} rows",
                 f"{'step':>5}  " + "  ".join(f"{c[:12]:>12}" for c in columns)]
        for step, values in enumerate(zip(*row["forecast"].values()), start=1):
            lines.append(f"{step:>5}  " + "  ".join(f"{v:>12.6g}" for v in values))
        return "\n".join(lines)
