"""Time series from CSV files: reading, checking, splitting in time, scaling, windows.

A series is a table with a time column and numeric columns. It is split in time
(train, then validation, then test: never shuffled across the borders), z-scored with
the training rows' statistics only, and cut into windows of `input_length` rows
followed by `horizon` rows to forecast. Validation and test windows may look back
into the previous split for their inputs, as the standard benchmark protocol does,
but their targets always lie inside their own split.

Missing values: an empty cell, `NaN` or `NA` takes the last value seen in its column
(forward fill); a gap at the very start takes the first value seen. A column with no
value at all, or a cell that is not a number, is an error naming the row.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from kerasdl.data.files import read_text_file
from kerasdl.errors import DataError

if TYPE_CHECKING:
    import tensorflow as tf

logger = logging.getLogger(__name__)

MISSING = {"", "nan", "na", "n/a", "null", "none", "?"}
TIME_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d", "%Y/%m/%d %H:%M:%S",
                "%Y/%m/%d %H:%M", "%Y/%m/%d", "%d/%m/%Y %H:%M", "%d/%m/%Y", "%m/%d/%Y")


@dataclass
class Series:
    """A table of numeric columns over time."""

    times: list[str]
    values: np.ndarray  # [rows, columns] float32
    columns: list[str]
    time_column: str | None
    filled: int = 0  # missing cells filled in


def read_series_csv(path: str | Path, *, time_column: str | None = None) -> Series:
    """Reads a CSV (optionally gzipped) with a header row.

    Args:
        path: the file.
        time_column: the time column's name; None takes a first column named like
            date/time/timestamp, or none (rows are then in file order).

    Raises:
        DataError: unreadable file, non-numeric cells, unsorted or repeated times.
    """
    path = Path(path)
    text = read_text_file(path)
    delimiter = "\t" if ".tsv" in path.name.lower() else ","
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    rows = [r for r in rows if r]
    if not rows:
        raise DataError(f"{path} is empty; expected a header row and one row per time step.")
    header = [h.strip() for h in rows[0]]
    body = rows[1:]
    if not body:
        raise DataError(f"{path} has a header but no rows.")
    lowered = [h.lower() for h in header]
    if time_column is not None:
        if time_column.lower() not in lowered:
            raise DataError(f"{path} has no column '{time_column}'. Its columns: {', '.join(header)}.")
        time_index: int | None = lowered.index(time_column.lower())
    else:
        time_index = next((i for i, h in enumerate(lowered)
                           if h in ("date", "time", "timestamp", "datetime", "ds")), None)
    value_indices = [i for i in range(len(header)) if i != time_index]
    if not value_indices:
        raise DataError(f"{path} has no value columns besides the time column.")
    values = np.full((len(body), len(value_indices)), np.nan, np.float64)
    for line, row in enumerate(body, start=2):
        if len(row) != len(header):
            raise DataError(f"{path}, line {line}: {len(row)} fields but the header has {len(header)}.")
        for j, i in enumerate(value_indices):
            cell = row[i].strip()
            if cell.lower() in MISSING:
                continue
            try:
                values[line - 2, j] = float(cell)
            except ValueError:
                raise DataError(
                    f"{path}, line {line}: column '{header[i]}' holds {cell[:30]!r}, not a "
                    "number. Drop the column or name another time column with --set time_column=NAME."
                ) from None
    times = [row[time_index].strip() for row in body] if time_index is not None else [str(i) for i in range(len(body))]
    if time_index is not None:
        _check_sorted(path, times, header[time_index])
    filled = int(np.isnan(values).sum())
    values = _fill_missing(path, values, [header[i] for i in value_indices])
    if filled:
        logger.info("%s: filled %d missing cells from the previous row", path, filled)
    return Series(times=times, values=values.astype(np.float32),
                  columns=[header[i] for i in value_indices],
                  time_column=header[time_index] if time_index is not None else None, filled=filled)


def _parse_time(text: str) -> dt.datetime | float | None:
    try:
        return float(text)
    except ValueError:
        pass
    try:
        return dt.datetime.fromisoformat(text)
    except ValueError:
        pass
    for fmt in TIME_FORMATS:
        try:
            return dt.datetime.strptime(text, fmt)
        except ValueError:
            continue
    return None


def _check_sorted(path: Path, times: list[str], name: str) -> None:
    parsed = [_parse_time(t) for t in times]
    bad = next((i for i, p in enumerate(parsed) if p is None), None)
    if bad is not None:
        raise DataError(
            f"{path}, line {bad + 2}: the time column '{name}' holds {times[bad][:30]!r}, "
            "which is neither a number nor a date (e.g. 2016-07-01 00:00:00)."
        )
    kinds = {type(p) for p in parsed}
    if len(kinds) > 1:
        raise DataError(f"{path}: the time column '{name}' mixes numbers and dates.")
    for i in range(1, len(parsed)):
        if parsed[i] <= parsed[i - 1]:  # type: ignore[operator]
            word = "repeats" if parsed[i] == parsed[i - 1] else "goes back in time"
            raise DataError(
                f"{path}, line {i + 2}: the time column '{name}' {word} ({times[i - 1]} then "
                f"{times[i]}); sort the rows by time and drop duplicates."
            )


def _fill_missing(path: Path, values: np.ndarray, columns: list[str]) -> np.ndarray:
    for j, name in enumerate(columns):
        column = values[:, j]
        valid = ~np.isnan(column)
        if not valid.any():
            raise DataError(f"{path}: column '{name}' holds no numbers at all.")
        # Forward fill: each missing cell takes the last valid index before it.
        last = np.where(valid, np.arange(len(column)), 0)
        np.maximum.accumulate(last, out=last)
        first = int(np.argmax(valid))
        last[:first] = first
        values[:, j] = column[last]
    return values


# ---- splitting, scaling, windows --------------------------------------------------------------


def split_borders(rows: int, split: str) -> tuple[int, int, int]:
    """The first validation row, the first test row and the row after the test split.

    Args:
        split: "train,validation,test" as fractions ("0.7,0.1,0.2"; the test split
            takes the rows left) or row counts ("8640,2880,2880"; rows after them are
            unused, as in the ETT protocol).

    Raises:
        DataError: for a malformed split or one the data is too short for.
    """
    try:
        parts = [float(p) for p in split.split(",")]
    except ValueError:
        parts = []
    if len(parts) != 3 or any(p <= 0 for p in parts):
        raise DataError(
            f"`split` must be three positive numbers, fractions or row counts, e.g. "
            f"0.7,0.1,0.2 or 8640,2880,2880. Received: split={split!r}"
        )
    if all(p < 1 for p in parts):
        if sum(parts) > 1 + 1e-9:
            raise DataError(f"The split fractions add up to more than 1. Received: split={split!r}")
        counts = [int(math.floor(rows * p)) for p in parts[:2]]
        return counts[0], counts[0] + counts[1], rows
    counts = [int(p) for p in parts]
    if sum(counts) > rows:
        raise DataError(f"The split needs {sum(counts)} rows but the data has {rows}.")
    return counts[0], counts[0] + counts[1], sum(counts)


@dataclass
class Scaler:
    """Per-column z-scoring with training statistics."""

    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, values: np.ndarray) -> "Scaler":
        std = values.std(axis=0)
        return cls(values.mean(axis=0), np.where(std > 0, std, 1.0))

    def transform(self, values: np.ndarray) -> np.ndarray:
        return ((values - self.mean) / self.std).astype(np.float32)

    def inverse(self, values: np.ndarray, columns: Sequence[int] | None = None) -> np.ndarray:
        index = slice(None) if columns is None else list(columns)
        return values * self.std[index] + self.mean[index]

    def to_dict(self) -> dict[str, Any]:
        return {"mean": [float(v) for v in self.mean], "std": [float(v) for v in self.std]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Scaler":
        return cls(np.asarray(data["mean"], np.float64), np.asarray(data["std"], np.float64))


def window_starts(begin: int, end: int, input_length: int, horizon: int, stride: int) -> np.ndarray:
    """Start rows of the windows whose targets lie in rows [begin, end): inputs may
    reach back `input_length` rows before `begin`."""
    first = max(begin - input_length, 0)
    last = end - input_length - horizon  # inclusive
    if last < first:
        return np.zeros(0, np.int64)
    return np.arange(first, last + 1, stride)


def windows_dataset(
    values: np.ndarray, starts: np.ndarray, input_length: int, horizon: int, targets: Sequence[int],
) -> "tf.data.Dataset":
    """`(inputs [input_length, columns], targets [horizon, len(targets)])` pairs, cut
    from `values` by tf.data at each start row."""
    import tensorflow as tf

    series = tf.constant(values, tf.float32)
    target_index = tf.constant(list(targets), tf.int32)

    def cut(start: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        x = series[start:start + input_length]
        y = tf.gather(series[start + input_length:start + input_length + horizon], target_index, axis=1)
        return tf.ensure_shape(x, [input_length, values.shape[1]]), tf.ensure_shape(y, [horizon, len(targets)])

    return tf.data.Dataset.from_tensor_slices(starts.astype(np.int32)).map(
        cut, num_parallel_calls=tf.data.AUTOTUNE)
