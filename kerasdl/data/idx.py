"""Readers for IDX files, the MNIST family's own format (optionally gzip-compressed).

Format: two zero bytes, a type byte, a dimension-count byte, one big-endian uint32 per
dimension, then the values in big-endian C order.
"""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import numpy as np

from kerasdl.errors import DataError

_DTYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

# train-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte, train-images.idx3-ubyte ...
IDX_NAME = re.compile(
    r"^(?P<split>train|t10k|test)-(?P<kind>images|labels)[.-]idx(?P<ndim>\d)-ubyte(\.gz)?$"
)


def read_idx(path: str | Path) -> np.ndarray:
    """Reads one IDX file into a numpy array of its own shape and type.

    Raises:
        DataError: if the file is unreadable, truncated or not IDX.

    Example:
    >>> import numpy as np, tempfile, os
    >>> from kerasdl.data.idx import read_idx, write_idx
    >>> path = os.path.join(tempfile.mkdtemp(), "x-idx2-ubyte")
    >>> write_idx(path, np.arange(6, dtype=np.uint8).reshape(2, 3))
    >>> read_idx(path).shape
    (2, 3)
    """
    path = Path(path)
    try:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError) as e:
        raise DataError(f"Cannot read IDX file {path}: {e}") from None
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _DTYPES:
        raise DataError(f"{path} is not an IDX file (bad magic number).")
    dtype = _DTYPES[data[2]]
    ndim = data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataError(f"IDX file {path} is truncated (incomplete header).")
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    count = int(np.prod(shape)) if shape else 1
    expected = header + count * dtype.itemsize
    if len(data) != expected:
        raise DataError(
            f"IDX file {path} holds {len(data)} bytes but its header {shape} needs {expected}."
        )
    array = np.frombuffer(data, dtype=dtype, count=count, offset=header).reshape(shape)
    return array.astype(dtype.newbyteorder("="), copy=False)


def write_idx(path: str | Path, array: np.ndarray) -> None:
    """Writes `array` as an IDX file (gzip-compressed if `path` ends in .gz)."""
    codes = {v.newbyteorder(">") if v.itemsize > 1 else v: k for k, v in _DTYPES.items()}
    big = array.astype(array.dtype.newbyteorder(">")) if array.dtype.itemsize > 1 else array
    code = codes.get(big.dtype)
    if code is None:
        raise ValueError(f"IDX cannot store dtype {array.dtype}")
    header = bytes([0, 0, code, array.ndim]) + b"".join(
        int(d).to_bytes(4, "big") for d in array.shape
    )
    payload = header + np.ascontiguousarray(big).tobytes()
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wb") as f:
        f.write(payload)


def find_idx_files(folder: str | Path) -> dict[tuple[str, str], Path]:
    """Maps (split, kind) to IDX files in `folder`; split is train or test."""
    found: dict[tuple[str, str], Path] = {}
    for p in sorted(Path(folder).iterdir()):
        m = IDX_NAME.match(p.name)
        if m:
            split = "train" if m.group("split") == "train" else "test"
            found[(split, m.group("kind"))] = p
    return found
