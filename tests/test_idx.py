from pathlib import Path

import numpy as np
import pytest

from kerasdl.data.idx import find_idx_files, read_idx, write_idx
from kerasdl.errors import DataError


@pytest.mark.parametrize("dtype", [np.uint8, np.int32, np.float32])
@pytest.mark.parametrize("name", ["a-idx3-ubyte", "a-idx3-ubyte.gz"])
def test_round_trip(tmp_path: Path, dtype: type, name: str) -> None:
    array = (np.arange(2 * 3 * 4) * 3).reshape(2, 3, 4).astype(dtype)
    write_idx(tmp_path / name, array)
    back = read_idx(tmp_path / name)
    assert back.dtype == np.dtype(dtype) and np.array_equal(back, array)


def test_bad_files(tmp_path: Path) -> None:
    (tmp_path / "junk").write_bytes(b"hello world")
    with pytest.raises(DataError, match="is not an IDX file"):
        read_idx(tmp_path / "junk")
    write_idx(tmp_path / "t", np.zeros((4, 5), np.uint8))
    data = (tmp_path / "t").read_bytes()
    (tmp_path / "t").write_bytes(data[:-3])
    with pytest.raises(DataError, match="holds 29 bytes but its header \(4, 5\) needs 32"):
        read_idx(tmp_path / "t")
    with pytest.raises(DataError, match="Cannot read IDX file"):
        read_idx(tmp_path / "missing.gz")


def test_find_standard_names(tmp_path: Path) -> None:
    for name in ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                 "t10k-images-idx3-ubyte", "t10k-labels.idx1-ubyte", "README"]:
        (tmp_path / name).write_bytes(b"")
    found = find_idx_files(tmp_path)
    assert set(found) == {("train", "images"), ("train", "labels"), ("test", "images"), ("test", "labels")}
