"""A table of series as numbers, with numpy only.

One definition for training (`kerasdl.data.timeseries` reads the whole file with it) and
for forecasting from a CSV (`kerasdl predict` and `kerasdl-edge` cut the window with
`read_window`):

- a cell that is empty, `NaN`, `NA` ... is missing: it takes the last value seen in its
  column (forward fill), or the first one for a gap at the start;
- a categorical column becomes one 0/1 column per category, named `COLUMN=CATEGORY`
  (one-hot encoding); a category the model never saw sets none of them;
- the time may be one column (a date) or be split over `year`, `month`, `day` (and
  `hour`, `minute`, `second`) columns, as many public air-quality and weather files do;
  its spacing (`infer_time_step`) labels a forecast's rows with the timestamps that
  follow the window (`future_times`).

Example:
>>> from kerasdl_edge.series import encode_table
>>> encode_table(["wind", "temp"], [["NW", "3.5"], ["SE", ""]], ["temp", "wind=NW", "wind=SE"],
...              {"wind": ["NW", "SE"]}).tolist()
[[3.5, 1.0, 0.0], [nan, 0.0, 1.0]]
"""

from __future__ import annotations

import calendar
import csv
import datetime as dt
import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

MISSING = {"", "nan", "na", "n/a", "null", "none", "?"}
TIME_PARTS = ("year", "month", "day", "hour", "minute", "second")
ONE_HOT = "="
# Dates that are not ISO 8601, tried in this order (so 01/02/2024 is the 1st of February).
TIME_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d", "%Y/%m/%d %H:%M:%S",
                "%Y/%m/%d %H:%M", "%Y/%m/%d", "%d/%m/%Y %H:%M", "%d/%m/%Y", "%m/%d/%Y")
ISO = "iso"
DAY = 86_400.0
# A median spacing of this many days is that many calendar months: month lengths vary,
# so monthly, quarterly, half-yearly and yearly rows step by months, not seconds.
MONTH_SPANS = ((1, 28, 31), (3, 89, 92), (6, 181, 184), (12, 365, 366))


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


# ---- the time column: parsing, spacing, the timestamps after a window ----------------------


def parse_time(text: str) -> dt.datetime | float | None:
    """A time cell as a number, or as a date (ISO 8601 or one of `TIME_FORMATS`); None
    when it is neither."""
    return _parse_time_and_format(text)[0]


def _parse_time_and_format(text: str) -> tuple[dt.datetime | float | None, str | None]:
    text = text.strip()
    try:
        return float(text), None
    except ValueError:
        pass
    try:
        return dt.datetime.fromisoformat(text), ISO
    except ValueError:
        pass
    for fmt in TIME_FORMATS:
        try:
            return dt.datetime.strptime(text, fmt), fmt
        except ValueError:
            continue
    return None, None


@dataclass(frozen=True)
class TimeStep:
    """The spacing of a series' rows.

    Attributes:
        amount: the step, in `unit`s.
        unit: "second" (a fixed clock step), "month" (calendar months: monthly,
            quarterly, yearly rows) or "number" (a time column that counts, not a clock).
    """

    amount: float
    unit: str

    UNITS = ("second", "month", "number")

    def to_dict(self) -> dict[str, Any]:
        return {"amount": self.amount, "unit": self.unit}

    @classmethod
    def from_dict(cls, data: Any) -> "TimeStep | None":
        """The step a data info holds (`to_dict`); None for none or an unknown one."""
        if not isinstance(data, dict) or data.get("unit") not in cls.UNITS:
            return None
        try:
            return cls(float(data["amount"]), str(data["unit"]))
        except (KeyError, TypeError, ValueError):
            return None

    def describe(self) -> str:
        """The step as a word for a reader: hourly, daily, weekly, monthly, 15-minute ..."""
        if self.unit == "month":
            return {1: "monthly", 3: "quarterly", 6: "half-yearly", 12: "yearly"}.get(
                int(self.amount), f"{self.amount:g}-month")
        if self.unit == "number":
            return f"numeric (every {self.amount:g})"
        for seconds, word in ((3600.0, "hourly"), (DAY, "daily"), (7 * DAY, "weekly")):
            if close(self.amount, seconds):
                return word
        for seconds, word in ((DAY, "day"), (3600.0, "hour"), (60.0, "minute")):
            count = self.amount / seconds
            if count >= 1 and close(count, round(count)):
                return f"{round(count)}-{word}" if round(count) > 1 else word
        return f"{self.amount:g}-second"


def close(value: float, target: float, tolerance: float = 0.01) -> bool:
    """Whether `value` is within `tolerance` (relative) of `target`: timestamps rounded
    to the second still name their step."""
    return abs(value - target) <= tolerance * abs(target)


def infer_time_step(times: Sequence[str]) -> TimeStep | None:
    """The median spacing of `times` (robust to a gap or a clock change); None for
    fewer than two times, times that do not parse, or no forward step."""
    parsed = [parse_time(t) for t in times]
    if len(parsed) < 2 or any(p is None for p in parsed):
        return None
    if all(isinstance(p, float) for p in parsed):
        amount = float(np.median(np.diff(np.asarray(parsed, np.float64))))
        return TimeStep(amount, "number") if amount > 0 else None
    if not all(isinstance(p, dt.datetime) for p in parsed):
        return None
    try:
        seconds = [(b - a).total_seconds() for a, b in zip(parsed, parsed[1:])]  # type: ignore[operator]
    except TypeError:  # dates with and without a time zone
        return None
    amount = float(np.median(seconds))
    if not amount > 0:
        return None
    for months, low, high in MONTH_SPANS:
        if low * DAY <= amount <= high * DAY:
            return TimeStep(float(months), "month")
    return TimeStep(amount, "second")


def table_times(header: Sequence[str], rows: Sequence[Sequence[str]], time_column: str | None) -> list[str] | None:
    """Each row's time from the column named `time_column`, or composed from the
    year,month,day[,hour...] columns it names; None when the header lacks them."""
    if not time_column:
        return None
    lowered = [h.strip().lower() for h in header]
    names = [n.strip().lower() for n in time_column.split(",") if n.strip()]
    if not names or any(n not in lowered for n in names):
        return None
    indices = [lowered.index(n) for n in names]
    if len(indices) == 1:
        return [row[indices[0]].strip() if indices[0] < len(row) else "" for row in rows]
    times = [compose_time(row, indices) for row in rows]
    return times if all(times) else None


def future_times(times: Sequence[str], count: int, fallback: TimeStep | None = None) -> list[str] | None:
    """The `count` timestamps after the last of `times`: the last plus k times their
    spacing (`fallback`, e.g. the training data's, when `times` cannot show one),
    written as `times` are (the same pattern and zero padding). None when the last
    time does not parse or there is no step.

    Example:
    >>> future_times(["2024-01-31", "2024-02-29", "2024-03-31"], 2)
    ['2024-04-30', '2024-05-31']
    """
    if not times:
        return None
    step = infer_time_step(times) or fallback
    last, fmt = _parse_time_and_format(times[-1])
    if step is None or last is None:
        return None
    try:
        if step.unit == "number":
            if not isinstance(last, float):
                return None
            decimals = max(len(t.strip().partition(".")[2]) if re.fullmatch(r"[+-]?\d+(\.\d*)?", t.strip())
                           else 6 for t in times)
            return [f"{last + k * step.amount:.{decimals}f}" for k in range(1, count + 1)]
        if not isinstance(last, dt.datetime):
            return None
        if step.unit == "month":
            parsed = [parse_time(t) for t in times]
            # A series of month ends (31 Jan, 29 Feb, 31 Mar) stays on month ends.
            month_end = all(isinstance(p, dt.datetime) and p.day == calendar.monthrange(p.year, p.month)[1]
                            for p in parsed)
            later = [_add_months(last, k * int(step.amount), month_end) for k in range(1, count + 1)]
        else:
            later = [last + dt.timedelta(seconds=k * step.amount) for k in range(1, count + 1)]
    except (OverflowError, ValueError):  # past year 9999
        return None
    return [_format_like(t, times[-1].strip(), fmt, times) for t in later]


def _add_months(value: dt.datetime, months: int, month_end: bool) -> dt.datetime:
    index = value.year * 12 + value.month - 1 + months
    year, month = index // 12, index % 12 + 1
    days = calendar.monthrange(year, month)[1]
    return value.replace(year=year, month=month, day=days if month_end else min(value.day, days))


def _format_like(value: dt.datetime, example: str, fmt: str | None, examples: Sequence[str]) -> str:
    """`value` written as `example` (parsed with `fmt`) is: ISO 8601 with its separator
    and precision, or the same strptime pattern with the zero padding `examples` use."""
    if fmt == ISO or fmt is None:
        if len(example) <= 10 and value.time() == dt.time(0):
            return value.date().isoformat()
        sep = "T" if example[10:11] == "T" else " "
        clock = re.split(r"[Z+-]", example[11:])[0]
        spec = ("hours" if ":" not in clock else "minutes" if clock.count(":") == 1
                else "microseconds" if "." in clock else "seconds")
        text = value.isoformat(sep=sep, timespec=spec)
        return text[:-6] + "Z" if example.endswith("Z") and text.endswith("+00:00") else text
    text = value.strftime(fmt)
    unpadded: set[int] = set()
    for other in examples:
        try:
            parsed = dt.datetime.strptime(other.strip(), fmt)
        except ValueError:
            continue
        given, padded = re.findall(r"\d+", other.strip()), re.findall(r"\d+", parsed.strftime(fmt))
        if len(given) == len(padded):
            unpadded |= {i for i, (a, b) in enumerate(zip(given, padded)) if len(a) < len(b)}
    directives = re.findall(r"%(\w)", fmt)
    if any(directives[i] in "mdH" for i in unpadded if i < len(directives)):
        # A file that writes 1/2/1990 0:00 writes 10/11/1990 10:00 too: one can only tell
        # from a short value, so one short month, day or hour unpads the three.
        unpadded |= {i for i, d in enumerate(directives) if d in "mdH"}
    if not unpadded:
        return text
    out, field = [], 0
    for token in re.findall(r"\d+|\D+", text):
        if token.isdigit():
            out.append((token.lstrip("0") or "0") if field in unpadded else token)
            field += 1
        else:
            out.append(token)
    return "".join(out)


def forecast_times(path: str | Path, info: dict[str, Any]) -> list[str] | None:
    """The timestamps of the `horizon` rows a forecast from the CSV at `path` stands
    for: after its last row, at the spacing of its window's own timestamps (the
    training data's spacing, `info["time_step"]`, when the window cannot show one).
    None when the model was trained without a time column or the file lacks it."""
    header, rows = read_csv(path)
    times = table_times(header, rows[-max(int(info["input_length"]), 1):], info.get("time_column"))
    if not times:
        return None
    return future_times(times, int(info["horizon"]), TimeStep.from_dict(info.get("time_step")))
