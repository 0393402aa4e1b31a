"""A table of series as numbers, with numpy only.

One definition for training (`kerasdl.data.timeseries` reads the whole file with it) and
for forecasting from a CSV (`kerasdl predict` and `kerasdl-edge` cut the window with
`read_window`):

- a cell that is empty, `NaN`, `NA` ... is missing: it takes the last value seen in its
  column (forward fill), or the first one for a gap at the start;
- a categorical column becomes one 0/1 column per category, named `COLUMN=CATEGORY`
  (one-hot encoding); a category the model never saw sets none of them;
- the time may be one column (a date) or be split over `year`, `month`, `day` (and
  `hour`, `minute`, `second`) columns, as many public air-quality and weather files do.

Example:
>>> from kerasdl_edge.series import encode_table
>>> encode_table(["wind", "temp"], [["NW", "3.5"], ["SE", ""]], ["temp", "wind=NW", "wind=SE"],
...              {"wind": ["NW", "SE"]}).tolist()
[[3.5, 1.0, 0.0], [nan, 0.0, 1.0]]
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any, Sequence

import numpy as np

MISSING = {"", "nan", "na", "n/a", "null", "none", "?"}
TIME_PARTS = ("year", "month", "day", "hour", "minute", "second")
ONE_HOT = "="


class TableError(ValueError):
    """A table that cannot be read as the model's columns; the message says why.

    Attributes:
        column: the column holding a cell that is not a number, if that is the cause.
    """

    def __init__(self, message: str, *, column: str | None = None) -> None:
        super().__init__(message)
        self.column = column


def read_csv(path: str | Path) -> tuple[list[str], list[list[str]]]:
    """(header, rows) of a CSV file (gzipped too; tab-separated for .tsv); rows with no
    field are skipped."""
    import gzip

    from kerasdl_edge.files import read_bytes

    file = Path(path)
    data = read_bytes(file, "CSV", TableError)
    try:
        if data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
        text = data.decode("utf-8-sig")
    except (OSError, EOFError) as e:
        raise TableError(f"Cannot read {path}: {e}") from None
    except UnicodeDecodeError as e:
        raise TableError(f"{path} is not UTF-8 text (byte {e.start}).") from None
    delimiter = "\t" if ".tsv" in file.name.lower() else ","
    try:
        rows = [r for r in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter) if r]
    except csv.Error as e:
        raise TableError(f"Cannot parse {path}: {e}") from None
    if not rows:
        raise TableError(f"{path} is empty; expected a header row and rows of values.")
    if len(rows) < 2:
        raise TableError(f"{path} has a header but no rows.")
    return [h.strip() for h in rows[0]], rows[1:]


def is_missing(cell: str) -> bool:
    return cell.strip().lower() in MISSING


def one_hot_name(column: str, category: str) -> str:
    return f"{column}{ONE_HOT}{category}"


def time_part_indices(header: Sequence[str]) -> list[int]:
    """Indices of `year`, `month`, `day` and the `hour`, `minute`, `second` that follow
    them, when the header has at least the first three (names in any case); [] otherwise."""
    lowered = [h.strip().lower() for h in header]
    found = []
    for part in TIME_PARTS:
        if part not in lowered:
            break
        found.append(lowered.index(part))
    return found if len(found) >= 3 else []


def compose_time(row: Sequence[str], indices: Sequence[int]) -> str:
    """`YYYY-MM-DD[ HH:MM:SS]` from a row's year, month, day ... cells; '' if one is
    not an integer (the caller names the row)."""
    try:
        parts = [int(float(row[i])) for i in indices]
    except (ValueError, IndexError):
        return ""
    parts += [0] * (6 - len(parts))
    year, month, day, hour, minute, second = parts
    date = f"{year:04d}-{month:02d}-{day:02d}"
    return date if len(indices) == 3 else f"{date} {hour:02d}:{minute:02d}:{second:02d}"


def encode_table(header: Sequence[str], rows: Sequence[Sequence[str]], columns: Sequence[str],
                 categories: dict[str, list[str]] | None = None, *, where: str = "the table") -> np.ndarray:
    """float64 [rows, len(columns)]: each of `columns` is a header column read as
    numbers (missing cells NaN) or `COLUMN=CATEGORY`, 1 where a categorical column holds
    that category.

    Raises:
        TableError: for a column the header lacks, a row with too few fields, or a
            cell that is not a number, naming the row (counting the header as line 1).
    """
    categories = categories or {}
    index = {name: i for i, name in enumerate(header)}
    plan: list[tuple[int, str | None]] = []
    for name in columns:
        column, _, category = name.partition(ONE_HOT)
        if column in categories and category in categories[column]:
            plan.append((index[column], category) if column in index else (-1, None))
        else:
            plan.append((index.get(name, -1), None))
        if plan[-1][0] < 0:
            wanted = column if column in categories else name
            raise TableError(f"{where} lacks the column '{wanted}' the model was trained on.")
    values = np.full((len(rows), len(columns)), np.nan, np.float64)
    for r, row in enumerate(rows):
        if len(row) != len(header):
            raise TableError(f"{where}, line {r + 2}: {len(row)} fields but the header has {len(header)}.")
        for j, (i, one_hot) in enumerate(plan):
            cell = row[i].strip()
            if one_hot is not None:
                values[r, j] = float(cell == one_hot)
            elif cell.lower() not in MISSING:
                try:
                    values[r, j] = float(cell)
                except ValueError:
                    raise TableError(
                        f"{where}, line {r + 2}: column '{header[i]}' holds {cell[:30]!r}, not a number.",
                        column=header[i]) from None
    return values


def fill_missing(values: np.ndarray, columns: Sequence[str], *, where: str = "the table") -> np.ndarray:
    """Forward fill: each missing (NaN) cell takes the last value above it; a gap at
    the start takes the first value of its column.

    Raises:
        TableError: for a column with no value at all.
    """
    values = np.array(values, np.float64)
    for j, name in enumerate(columns):
        column = values[:, j]
        valid = ~np.isnan(column)
        if not valid.any():
            raise TableError(f"{where}: column '{name}' holds no numbers at all.")
        last = np.where(valid, np.arange(len(column)), 0)
        np.maximum.accumulate(last, out=last)
        first = int(np.argmax(valid))
        last[:first] = first
        values[:, j] = column[last]
    return values


def read_window(path: str | Path, info: dict[str, Any]) -> np.ndarray:
    """The model's input from a CSV whose last `input_length` rows are the window: the
    training columns (one-hot columns rebuilt from their categorical column), missing
    cells filled as in training, z-scored with the training scaler; float32
    [input_length, columns].

    Raises:
        TableError: a missing column, too few rows, a cell that is not a number.
    """
    header, rows = read_csv(path)
    columns, length = info["columns"], int(info["input_length"])
    if len(rows) < length:
        raise TableError(f"{path} has {len(rows)} rows; the model needs the last {length}.")
    # Missing cells are filled from the rows before the window, as in training.
    values = encode_table(header, rows, columns, info.get("categories"), where=str(path))
    values = fill_missing(values, columns, where=str(path))[-length:]
    mean, std = np.asarray(info["scaler"]["mean"]), np.asarray(info["scaler"]["std"])
    return ((values - mean) / std).astype(np.float32)
