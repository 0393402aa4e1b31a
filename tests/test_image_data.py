"""Image sources: class folders, IDX, tfds (mocked), and their errors."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from conftest import write_colour_folder
from kerasdl.data import tfds_source
from kerasdl.data.images import load_image_datasets
from kerasdl.errors import DataError


def first(ds):
    return next(iter(ds))


def test_class_folder_split_and_shapes(colour_folder: Path) -> None:
    data = load_image_datasets(str(colour_folder), sample_dir=".", validation_split=0.25)
    assert data.class_names == ["blue", "green", "red"]
    assert data.image_shape == (16, 16, 3)
    assert data.sizes == {"train": 90, "validation": 30, "test": 0}
    image, label = first(data.train)
    assert image.dtype.name == "uint8" and tuple(image.shape) == (16, 16, 3)
    assert label.dtype.name == "int32"
    assert data.test is None


def test_resize_and_grey_conversion(colour_folder: Path) -> None:
    data = load_image_datasets(str(colour_folder), sample_dir=".", image_size=8, channels=1)
    image, _ = first(data.validation)
    assert tuple(image.shape) == (8, 8, 1)


def test_train_test_layout_and_jpeg(tmp_path: Path) -> None:
    write_colour_folder(tmp_path / "train", per_class=6, fmt="jpg")
    write_colour_folder(tmp_path / "test", per_class=3, fmt="jpg", seed=1)
    data = load_image_datasets(str(tmp_path), sample_dir=".", validation_split=0.2)
    assert data.sizes["test"] == 9
    assert sum(1 for _ in data.test) == 9


def test_idx_folder(idx_folder: Path) -> None:
    data = load_image_datasets(str(idx_folder), sample_dir=".", validation_split=0.1)
    assert data.image_shape == (12, 12, 1)
    assert data.class_names == ["0", "1", "2", "3"]
    assert data.sizes == {"train": 270, "validation": 30, "test": 60}
    rgb = load_image_datasets(str(idx_folder), sample_dir=".", image_size=16, channels=3)
    assert tuple(first(rgb.test)[0].shape) == (16, 16, 3)


def test_bundled_sample_is_default() -> None:
    from kerasdl.apps.vision.app import SAMPLE_DIR

    data = load_image_datasets(None, sample_dir=SAMPLE_DIR)
    assert data.image_shape == (28, 28, 1)
    assert len(data.class_names) == 10 and data.class_names[0] == "t-shirt"
    assert data.sizes["test"] == 600


@pytest.mark.parametrize(
    "setup, message",
    [
        ("missing", "No such folder"),
        ("empty", "No class sub-folders under"),
        ("no_images", "No images found under"),
        ("corrupt", "Cannot read image"),
        ("truncated", "Cannot read image"),
        ("mixed_size", "differ in size"),
        ("mixed_channels", "mix grey and colour"),
        ("file", "is a file; expected a folder"),
    ],
)
def test_bad_folders(tmp_path: Path, setup: str, message: str) -> None:
    from PIL import Image

    root = tmp_path / "data"
    if setup != "missing":
        root.mkdir()
    if setup == "no_images":
        (root / "cat").mkdir()
        (root / "cat" / "notes.txt").write_text("not an image")
    if setup in ("corrupt", "truncated", "mixed_size", "mixed_channels"):
        write_colour_folder(root, per_class=2)
    if setup == "corrupt":
        (root / "red" / "bad.png").write_bytes(b"\x89PNG not really")
    if setup == "truncated":
        good = (root / "red" / "000.png").read_bytes()
        (root / "red" / "cut.png").write_bytes(good[: len(good) // 2])
    if setup == "mixed_size":
        Image.new("RGB", (20, 16)).save(root / "red" / "wide.png")
    if setup == "mixed_channels":
        Image.new("L", (16, 16)).save(root / "red" / "grey.png")
    if setup == "file":
        root = tmp_path / "file.png"
        root.write_bytes(b"x")
    spec = str(root) if setup != "missing" else str(tmp_path / "nope" / "x")
    with pytest.raises(DataError, match=message):
        load_image_datasets(spec, sample_dir=".")


def test_mixed_sizes_are_fine_with_image_size(tmp_path: Path) -> None:
    from PIL import Image

    write_colour_folder(tmp_path, per_class=4)
    Image.new("RGB", (40, 30), (200, 0, 0)).save(tmp_path / "red" / "big.png")
    data = load_image_datasets(str(tmp_path), sample_dir=".", image_size=16)
    assert all(tuple(x.shape) == (16, 16, 3) for x, _ in data.train)


def test_vision_codec_reads_files_with_one_line_errors(tmp_path: Path, colour_folder: Path) -> None:
    from kerasdl_edge import EdgeError
    from kerasdl_edge.codecs import codec_for

    codec = codec_for("image_classification", {"image_shape": [8, 8, 1], "class_names": ["a", "b"]})
    batch = codec.read([colour_folder / "red" / "000.png"])
    assert batch.shape == (1, 8, 8, 1) and batch.dtype == np.uint8
    (tmp_path / "x.png").write_text("text")
    with pytest.raises(EdgeError, match="Cannot read image .*x.png"):
        codec.read([tmp_path / "x.png"])
    with pytest.raises(EdgeError, match="Image file not found"):
        codec.read([tmp_path / "y.png"])


def test_tfds_without_network_fails_fast(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(tfds_source, "internet_available", lambda timeout=3.0: False)
    started = time.perf_counter()
    with pytest.raises(DataError, match="not prepared .* cannot reach the internet"):
        load_image_datasets("mnist", sample_dir=".")
    assert time.perf_counter() - started < 30


def test_unknown_tfds_name() -> None:
    with pytest.raises(DataError, match="Unknown data set 'no_such_dataset_xyz'"):
        load_image_datasets("no_such_dataset_xyz", sample_dir=".")


def test_tfds_code_path_with_mock_data(monkeypatch: pytest.MonkeyPatch) -> None:
    import tensorflow_datasets as tfds

    monkeypatch.setattr(tfds_source, "internet_available", lambda timeout=3.0: True)
    with tfds.testing.mock_data(num_examples=20):
        data = load_image_datasets("tfds:mnist", sample_dir=".", validation_split=0.1)
        image, label = first(data.train)
    assert data.image_shape == (28, 28, 1)
    assert data.class_names == [str(i) for i in range(10)]
    assert image.dtype.name == "uint8" and tuple(image.shape) == (28, 28, 1)
    assert 0 <= int(label) < 10


def test_mixed_size_error_names_the_range_and_a_size(tmp_path: Path) -> None:
    """Issue 30: the error named one odd file; it names the smallest and largest and
    suggests an N."""
    from PIL import Image

    write_colour_folder(tmp_path, per_class=3)  # 16x16
    Image.new("RGB", (24, 24)).save(tmp_path / "red" / "small.png")
    Image.new("RGB", (64, 48)).save(tmp_path / "red" / "large.png")
    with pytest.raises(DataError) as error:
        load_image_datasets(str(tmp_path), sample_dir=".")
    message = str(error.value)
    assert "3 sizes, from 16x16" in message and "to 48x64" in message and "large.png" in message
    assert "image_size=16" in message  # the median longer side


def test_a_folder_is_checked_once_per_process(tmp_path: Path) -> None:
    """Issue 30: --model auto loaded the data once per candidate and decoded every image
    each time; an unchanged file is checked once, a changed one again."""
    import logging

    from PIL import Image

    write_colour_folder(tmp_path, per_class=3)
    class Collect(logging.Handler):  # on the logger itself: the CLI stops propagation at "kerasdl"
        def __init__(self) -> None:
            super().__init__(logging.INFO)
            self.messages: list[str] = []

        def emit(self, record: logging.LogRecord) -> None:
            self.messages.append(record.getMessage())

    logger, collect = logging.getLogger("kerasdl.data.images"), Collect()
    level = logger.level
    logger.addHandler(collect)
    logger.setLevel(logging.INFO)
    try:
        load_image_datasets(str(tmp_path), sample_dir=".")
        load_image_datasets(str(tmp_path), sample_dir=".")
        time.sleep(0.01)
        Image.new("RGB", (16, 16), (1, 2, 3)).save(tmp_path / "red" / "000.png")
        load_image_datasets(str(tmp_path), sample_dir=".")
    finally:
        logger.removeHandler(collect)
        logger.setLevel(level)
    checks = [m for m in collect.messages if m.startswith("Checking")]
    assert checks == ["Checking 9 image files under " + str(tmp_path), "Checking 1 image file under " + str(tmp_path)]
