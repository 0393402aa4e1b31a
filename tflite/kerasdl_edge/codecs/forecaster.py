"""Forecasting: a CSV whose last rows are the window in, the next rows in the data's units out."""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from kerasdl_edge.codecs.base import Codec, Model
from kerasdl_edge.errors import EdgeError
from kerasdl_edge.facts import SeriesFacts
from kerasdl_edge.series import TableError, forecast_times, read_window


class ForecasterCodec(Codec):
    """Each input is a CSV file with the training columns (`kerasdl_edge.series`);
    outputs are z-scores, described in the data's own units, each row labelled with
    its timestamp when the file has the time column (`times`)."""

    task = "forecasting"
    facts_class = SeriesFacts

    def read(self, inputs: Sequence[Any]) -> np.ndarray:
        self.facts  # parsed first: a missing entry is named before any file is read
        try:
            return np.stack([read_window(i, self.info) for i in inputs])
        except TableError as e:
            raise EdgeError(str(e)) from None

    def describe(self, outputs: np.ndarray, *, top_k: int = 3) -> list[dict[str, Any]]:
        targets = self.facts.targets
        mean = np.asarray(self.facts.scaler["mean"])[: len(targets)]
        std = np.asarray(self.facts.scaler["std"])[: len(targets)]
        return [{"forecast": {name: [float(v) for v in (row * std + mean)[:, j]] for j, name in enumerate(targets)}}
                for row in np.asarray(outputs)]

    def predict(self, model: Model, inputs: Sequence[Any], *, top_k: int = 3) -> list[dict[str, Any]]:
        """`Codec.predict`, each row with `times`: the timestamps the forecast rows stand
        for, when the input file has the model's time column."""
        rows = super().predict(model, inputs, top_k=top_k)
        for row, source in zip(rows, inputs):
            if isinstance(source, np.ndarray):
                continue
            try:
                times = forecast_times(source, self.info)
            except TableError:  # read already succeeded; the labels are not worth failing for
                times = None
            if times:
                row["times"] = times
        return rows

    def format(self, row: dict[str, Any]) -> str:
        columns = list(row["forecast"])
        values = np.asarray([row["forecast"][c] for c in columns], np.float64).T  # [steps, columns]
        times = row.get("times")
        timed = bool(times) and len(times) == len(values)
        labels = list(times) if timed else [str(k) for k in range(1, len(values) + 1)]
        first = "time" if timed else "step"
        cells = [[f"{v:.{d}f}" for v in values[:, j]] for j, d in enumerate(decimals(values))]
        widths = [max([len(c[:12])] + [len(v) for v in cells[j]]) for j, c in enumerate(columns)]
        label_width = max([len(first)] + [len(label) for label in labels])
        lines = [f"{row['input']}: the next {len(values)} rows",
                 f"{first:<{label_width}}  " + "  ".join(f"{c[:12]:>{w}}" for c, w in zip(columns, widths))]
        for i, label in enumerate(labels):
            lines.append(f"{label:<{label_width}}  " + "  ".join(f"{cells[j][i]:>{w}}" for j, w in enumerate(widths)))
        return "\n".join(lines)


def decimals(values: np.ndarray, digits: int = 4) -> list[int]:
    """Decimals per column of [steps, columns]: `digits` significant digits of the
    column's largest magnitude (0.7232, 12.35, 1234), the same for all its rows so they
    line up and compare."""
    out = []
    for column in np.asarray(values, np.float64).T:
        finite = np.abs(column[np.isfinite(column)])
        largest = float(finite.max()) if finite.size else 0.0
        out.append(2 if largest == 0 else int(min(max(digits - 1 - math.floor(math.log10(largest)), 0), 8)))
    return out
