"""Time series from CSV files: reading, checking, splitting in time, scaling, windows.

A series is a table with a time column and numeric columns. It is split in time
(train, then validation, then test: never shuffled across the borders), z-scored with
the training rows' statistics only, and cut into windows of `input_length` rows
followed by `horizon` rows to forecast. Validation and test windows may look back
into the previous split for their inputs, as the standard benchmark protocol does,
but their targets always lie inside their own split.

Cells become numbers as `kerasdl_edge.series` defines it, the definition `kerasdl
predict` and the edge runtime read windows with: missing cells (empty, `NaN`, `NA`)
are filled forward; a categorical column named in `categorical` becomes one 0/1
column per category (`COLUMN=CATEGORY`); the time is one column (found by name, e.g.
`date`) or is composed from `year`, `month`, `day` [, `hour` ...] columns. A column
with no value at all, or a cell that is not a number, is an error naming the row.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from kerasdl.errors import DataError
# One definition of reading times, shared with the edge runtime.
from kerasdl_edge.series import DAY, TIME_FORMATS, TimeStep, close, infer_time_step, parse_time  # noqa: F401

if TYPE_CHECKING:
    import tensorflow as tf

logger = logging.getLogger(__name__)

TIME_NAMES = ("date", "time", "timestamp", "datetime", "ds")
# The season of a series without dates (no time column, or one that counts rows): what
# every series got before the season was read from the timestamps.
DEFAULT_SEASON = 7


@dataclass
class Series:
    """A table of numeric columns over time."""

    times: list[str]
    values: np.ndarray  # [rows, columns] float32
    columns: list[str]
    time_column: str | None  # a column's name, or the parts joined by commas ("year,month,day,hour")
    filled: int = 0  # missing cells filled in
    categories: dict[str, list[str]] = field(default_factory=dict)  # one-hot encoded columns


def read_series_csv(path: str | Path, *, time_column: str | None = None,
                    categorical: Sequence[str] = ()) -> Series:
    """Reads a CSV (optionally gzipped) with a header row.

    Args:
        path: the file.
        time_column: the time column's name, or its parts' names joined by commas
            ("year,month,day,hour"); None takes a column named like date/time/timestamp,
            else year/month/day[/hour/minute/second] columns, else none (rows are then
            in file order).
        categorical: columns to one-hot encode (one 0/1 column per category seen,
            `COLUMN=CATEGORY`) instead of reading as numbers.

    Raises:
        DataError: unreadable file, non-numeric cells, unsorted or repeated times.
    """
    from kerasdl_edge.series import TableError, encode_table, fill_missing, is_missing, one_hot_name, read_csv

    path = Path(path)
    try:
        header, body = read_csv(path)
    except TableError as e:
        raise DataError(str(e)) from None
    time_indices, time_name = _time_columns(path, header, time_column)
    value_indices = [i for i in range(len(header)) if i not in time_indices]
    if not value_indices:
        raise DataError(f"{path} has no value columns besides the time column.")
    lowered = [h.lower() for h in header]
    unknown = [c for c in categorical if c.lower() not in lowered]
    if unknown:
        raise DataError(f"{path} has no column '{unknown[0]}' to one-hot encode. Its columns: {', '.join(header)}.")
    categorical_names = {header[lowered.index(c.lower())] for c in categorical}
    categories: dict[str, list[str]] = {}
    columns: list[str] = []
    for i in value_indices:
        name = header[i]
        if name in categorical_names:
            seen = sorted({row[i].strip() for row in body if i < len(row) and not is_missing(row[i])})
            categories[name] = seen
            columns += [one_hot_name(name, c) for c in seen]
        else:
            columns.append(name)
    try:
        values = encode_table(header, body, columns, categories, where=str(path))
    except TableError as e:
        hint = (f" Leave it out with `features=-{e.column}`, one-hot encode it with "
                f"`categorical={e.column}`, or name the time column with `time_column=NAME`."
                if e.column else "")
        raise DataError(str(e) + hint) from None
    if time_indices:
        times = _times(path, header, body, time_indices, time_name)
        _check_sorted(path, times, time_name)
    else:
        times = [str(i) for i in range(len(body))]
    filled = int(np.isnan(values).sum())
    try:
        values = fill_missing(values, columns, where=str(path))
    except TableError as e:
        raise DataError(str(e)) from None
    if filled:
        logger.info("%s: filled %d missing cells from the previous row", path, filled)
    return Series(times=times, values=values.astype(np.float32), columns=columns,
                  time_column=time_name, filled=filled, categories=categories)


def _time_columns(path: Path, header: list[str], time_column: str | None) -> tuple[list[int], str | None]:
    """(indices of the time column or its parts, the name to store)."""
    from kerasdl_edge.series import TIME_PARTS, time_part_indices

    lowered = [h.lower() for h in header]
    if time_column is not None:
        names = [n.strip() for n in time_column.split(",") if n.strip()]
        missing = [n for n in names if n.lower() not in lowered]
        if missing or not names:
            raise DataError(f"{path} has no column '{missing[0] if missing else time_column}'. "
                            f"Its columns: {', '.join(header)}.")
        indices = [lowered.index(n.lower()) for n in names]
        if len(indices) > 1 and [lowered[i] for i in indices] != list(TIME_PARTS[:len(indices)]):
            raise DataError(f"A time made of several columns must name year,month,day[,hour,minute,second] "
                            f"in that order. Received: time_column={time_column!r}")
        return indices, ",".join(header[i] for i in indices)
    named = next((i for i, h in enumerate(lowered) if h in TIME_NAMES), None)
    if named is not None:
        return [named], header[named]
    parts = time_part_indices(header)
    if parts:
        logger.info("%s: the time is composed from the columns %s", path, ", ".join(header[i] for i in parts))
        return parts, ",".join(header[i] for i in parts)
    return [], None


def _times(path: Path, header: list[str], body: list[list[str]], indices: list[int], name: str | None) -> list[str]:
    from kerasdl_edge.series import compose_time

    if len(indices) == 1:
        return [row[indices[0]].strip() for row in body]
    times = []
    for line, row in enumerate(body, start=2):
        composed = compose_time(row, indices)
        if not composed:
            raise DataError(f"{path}, line {line}: the time columns {name} hold "
                            f"{[row[i] for i in indices if i < len(row)]}, not integers.")
        times.append(composed)
    return times


def _parse_time(text: str) -> dt.datetime | float | None:
    return parse_time(text)


def infer_season(times: Sequence[str] | None, input_length: int) -> tuple[int, str]:
    """The seasonal period, in rows, that the timestamps' median spacing implies, and
    why, for the line the CLI shows; 1 means none.

    The dominant cycle of sub-daily data is the day (24 hourly steps, 96 of 15
    minutes); when a day of steps does not fit in `input_length` (minute data), the
    hour (60 steps). Daily data repeats weekly (7; 5 for business days), weekly data
    yearly (52), monthly 12, quarterly 4; yearly data, or a spacing with no calendar
    cycle, has none. A series without dates keeps `DEFAULT_SEASON`. A cycle longer
    than `input_length` cannot be repeated from the window, so there is none then.

    Example:
    >>> infer_season(["2024-01-01", "2024-01-08", "2024-01-15"], 96)
    (52, 'weekly timestamps')
    """
    step = infer_time_step(times) if times else None
    if step is None or step.unit == "number":
        season, why = DEFAULT_SEASON, ("no time column" if not times else "the time column holds no dates")
    else:
        words = f"{step.describe()} timestamps"
        season, why = _calendar_season(step, times or [], input_length), words
    if season > input_length:
        return 1, f"{why}; the {season}-step cycle is longer than input_length {input_length}"
    return season, why


def _calendar_season(step: TimeStep, times: Sequence[str], input_length: int) -> int:
    if step.unit == "month":
        return {1: 12, 3: 4, 6: 2}.get(int(step.amount), 1)
    seconds = step.amount
    if seconds < DAY * 0.99:
        per_day, per_hour = DAY / seconds, 3600.0 / seconds
        if close(per_day, round(per_day)) and round(per_day) <= input_length:
            return round(per_day)
        if per_hour > 1 and close(per_hour, round(per_hour)):
            return round(per_hour)
        return round(per_day) if close(per_day, round(per_day)) else 1
    if close(seconds, DAY):
        parsed = [parse_time(t) for t in times]
        # Trading or working days: a week is five rows (a weekend would show in 10 rows).
        weekdays_only = len(parsed) >= 10 and all(isinstance(p, dt.datetime) and p.weekday() < 5 for p in parsed)
        return 5 if weekdays_only else 7
    if close(seconds, 7 * DAY):
        return 52
    return 1


def _check_sorted(path: Path, times: list[str], name: str | None) -> None:
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
