"""Image data sources: tfds names, class-folder trees, IDX files.

Every source yields the same thing: unbatched `(uint8 image [H, W, C], int32 label)`
pairs and the facts a model needs (class names, image shape). Images keep their own
size unless `image_size` is set; then every image is resized to it with
`conform_image`, the resize that training and the SavedModel use; prediction from
files and devices use its numpy twin (`kerasdl_edge.images.conform_image`, tested
within 1 level).
"""

from __future__ import annotations

import concurrent.futures
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from kerasdl.data import idx
from kerasdl.data.splits import LabelledSplits, hold_out, split_folders
from kerasdl.errors import DataError

if TYPE_CHECKING:
    import tensorflow as tf

logger = logging.getLogger(__name__)

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
RESIZE_METHOD = "bilinear"


@dataclass
class ImageDatasets(LabelledSplits):
    """Splits of `(uint8 image, int32 label)` pairs."""

    image_shape: tuple[int, int, int]

    def info(self) -> dict[str, Any]:
        return {**super().info(), "image_shape": list(self.image_shape)}


def load_image_datasets(
    dataset: str | None,
    *,
    sample_dir: str | Path,
    image_size: int | None = None,
    channels: int | None = None,
    validation_split: float = 0.1,
    seed: int = 42,
    mixed_size: int | None = None,
) -> ImageDatasets:
    """Loads an image classification data set from any supported source.

    Args:
        dataset: None for the bundled sample in `sample_dir`; an existing folder of
            IDX files or of class sub-folders (optionally under train/, validation/
            and test/); `tfds:NAME` or a bare tfds name such as "fashion_mnist".
        sample_dir: the app's bundled sample (a folder of IDX files).
        image_size: resize every image to image_size x image_size; None keeps the
            data's own size, which must then be the same for all images.
        channels: 1 (grey) or 3 (RGB); None keeps the data's own channel count.
        validation_split: fraction of train held out when there is no validation split.
        seed: seed of the train / validation split.
        mixed_size: with `image_size` None, the square size images of different sizes
            are resized to (a pretrained backbone's input size); None: images of
            different sizes are an error that suggests an `image_size`.

    Raises:
        DataError: for a missing, empty or unreadable source.

    Example:
    >>> from kerasdl.data.images import load_image_datasets
    >>> data = load_image_datasets("path/to/flowers", sample_dir=".", image_size=64)
    ... # doctest: +SKIP
    """
    if channels not in (None, 1, 3):
        raise DataError(f"`channels` must be 1 or 3. Received: channels={channels!r}")
    if dataset is None:
        return _from_idx_folder(Path(sample_dir), image_size, channels, validation_split, seed)
    if dataset.startswith("tfds:"):
        return _from_tfds(dataset[5:], image_size, channels, validation_split, mixed_size)
    path = Path(dataset).expanduser()
    if path.exists():
        if not path.is_dir():
            raise DataError(
                f"{path} is a file; expected a folder of class sub-folders of images or "
                "a folder of IDX files."
            )
        if idx.find_idx_files(path):
            return _from_idx_folder(path, image_size, channels, validation_split, seed)
        return _from_class_folders(path, image_size, channels, validation_split, seed, mixed_size)
    if "/" in dataset or dataset.startswith("."):
        raise DataError(f"No such folder: {path}")
    return _from_tfds(dataset, image_size, channels, validation_split, mixed_size)


# ---- one resize for everything ----------------------------------------------------------


def conform_image(
    image: "tf.Tensor", size: int | tuple[int, int] | None, channels: int
) -> "tf.Tensor":
    """Converts a uint8 [H, W, C] image to `channels` and (if set) `size`, an int for a
    square or (height, width).

    Used by the training pipeline, `predict` and the SavedModel signature alike.
    """
    import tensorflow as tf

    have = image.shape[-1]
    if have != channels:
        if have == 1 and channels == 3:
            image = tf.image.grayscale_to_rgb(image)
        elif have in (3, 4) and channels == 1:
            image = tf.image.rgb_to_grayscale(image[..., :3])
        elif have == 4 and channels == 3:
            image = image[..., :3]
        elif have is None:
            raise DataError("Cannot convert an image of unknown channel count.")
        else:
            raise DataError(f"Cannot convert a {have}-channel image to {channels} channels.")
    if size is not None:
        height, width = (size, size) if isinstance(size, int) else size
        target = tf.constant([height, width])

        def resize() -> "tf.Tensor":
            resized = tf.image.resize(image, target, method=RESIZE_METHOD, antialias=True)
            return tf.cast(tf.clip_by_value(tf.round(resized), 0, 255), tf.uint8)

        image = tf.cond(
            tf.reduce_all(tf.shape(image)[-3:-1] == target), lambda: image, resize
        )
        image = tf.ensure_shape(image, [height, width, channels])
    return image


def decode_image(
    contents: "tf.Tensor", size: int | tuple[int, int] | None, channels: int
) -> "tf.Tensor":
    """Decodes PNG/JPEG/BMP/GIF bytes to a uint8 [H, W, channels] image."""
    import tensorflow as tf

    image = tf.io.decode_image(contents, channels=channels, expand_animations=False)
    image.set_shape([None, None, channels])
    return conform_image(image, size, channels)


def inspect_image(path: Path) -> tuple[int, int, int]:
    """Returns (height, width, channels) after fully decoding `path` with Pillow.

    Raises:
        DataError: if the file is missing, not an image, or truncated.
    """
    from PIL import Image

    try:
        with Image.open(path) as img:
            mode = img.mode
            width, height = img.size
            if img.format == "JPEG":
                img.draft("L" if mode == "L" else "RGB", (16, 16))  # fast, still checks data
            img.load()
    except FileNotFoundError:
        raise DataError(f"Image file not found: {path}") from None
    except Exception as e:  # Pillow raises several unrelated types for bad files
        raise DataError(f"Cannot read image {path}: {e}") from None
    if path.suffix.lower() not in IMAGE_EXTENSIONS:
        raise DataError(
            f"{path} is a {mode} image of an unsupported format; use PNG, JPEG, BMP or GIF."
        )
    return height, width, 1 if mode in ("1", "L", "LA", "I", "I;16", "F") else 3


# Each file's (height, width, channels) by (path, modification time, size): `--model
# auto` loads the data once per candidate, and a folder is checked once per process.
_INSPECTED: dict[tuple[str, int, int], tuple[int, int, int]] = {}


def inspect_images(paths: list[str], root: Path) -> list[tuple[int, int, int]]:
    """`inspect_image` of every file, in parallel; files checked before in this process
    (unchanged since) are not decoded again."""
    import os

    keys = []
    for path in paths:
        try:
            stat = os.stat(path)
        except FileNotFoundError:
            raise DataError(f"Image file not found: {path}") from None
        keys.append((path, stat.st_mtime_ns, stat.st_size))
    new = [key for key in keys if key not in _INSPECTED]
    if new:
        logger.info("Checking %d image file%s under %s", len(new), "" if len(new) == 1 else "s", root)
        with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
            for key, shape in zip(new, pool.map(lambda k: inspect_image(Path(k[0])), new)):
                _INSPECTED[key] = shape
    return [_INSPECTED[key] for key in keys]


def mixed_size_message(root: Path, paths: list[str], shapes: list[tuple[int, int, int]]) -> str:
    """The error for a folder of images of several sizes: the range, an example of each
    end, and a size to resize to (the median longer side, rounded to a multiple of 8:
    most images then shrink or grow little)."""
    sizes = [s[0] * s[1] for s in shapes]
    small, large = int(np.argmin(sizes)), int(np.argmax(sizes))
    sides = sorted(max(s[:2]) for s in shapes)
    suggested = max(8, int(round(sides[len(sides) // 2] / 8)) * 8)
    distinct = len({s[:2] for s in shapes})
    return (f"Images under {root} differ in size ({distinct} sizes, from {shapes[small][0]}x{shapes[small][1]} "
            f"({paths[small]}) to {shapes[large][0]}x{shapes[large][1]} ({paths[large]})). Resize them all "
            f"with --set image_size=N, e.g. image_size={suggested} (the median longer side).")


# ---- sources ------------------------------------------------------------------------------


def _from_idx_folder(
    folder: Path, image_size: int | None, channels: int | None, validation_split: float, seed: int
) -> ImageDatasets:
    import tensorflow as tf

    files = idx.find_idx_files(folder)
    for need in [("train", "images"), ("train", "labels")]:
        if need not in files:
            raise DataError(
                f"{folder} has no {need[0]}-{need[1]} IDX file. Expected "
                "train-images-idx3-ubyte[.gz] and train-labels-idx1-ubyte[.gz] "
                "(and optionally t10k-* for the test split)."
            )
    arrays = {}
    for split in ("train", "test"):
        if (split, "images") in files:
            images = _idx_images(files[(split, "images")])
            if (split, "labels") not in files:
                raise DataError(f"{folder} has {split} images but no {split} labels IDX file.")
            labels = idx.read_idx(files[(split, "labels")])
            if labels.ndim != 1 or len(labels) != len(images):
                raise DataError(
                    f"{files[(split, 'labels')]} holds {labels.shape} labels for "
                    f"{len(images)} images; expected one label per image."
                )
            arrays[split] = (images, labels.astype(np.int32))
    if "train" in arrays and arrays.get("test") is not None:
        if arrays["train"][0].shape[1:] != arrays["test"][0].shape[1:]:
            raise DataError(
                f"{folder}: train images are {arrays['train'][0].shape[1:]} but test images "
                f"are {arrays['test'][0].shape[1:]}."
            )
    train_images, train_labels = arrays["train"]
    if len(train_images) == 0:
        raise DataError(f"{folder}: the train IDX files hold no images.")
    num_classes = int(max(a[1].max() for a in arrays.values())) + 1
    class_names = _idx_class_names(folder, num_classes)
    train, validation = hold_out(train_images, train_labels, validation_split, seed)
    native = train_images.shape[1:]
    out_channels = channels or native[2]
    shape = (image_size or native[0], image_size or native[1], out_channels)

    def to_dataset(pair: tuple[np.ndarray, np.ndarray] | None) -> "tf.data.Dataset | None":
        if pair is None:
            return None
        ds = tf.data.Dataset.from_tensor_slices(pair)
        if shape != native:
            ds = ds.map(
                lambda x, y: (conform_image(x, image_size, out_channels), y),
                num_parallel_calls=tf.data.AUTOTUNE,
            )
        return ds

    test = arrays.get("test")
    return ImageDatasets(
        train=to_dataset(train),
        validation=to_dataset(validation),
        test=to_dataset(test),
        class_names=class_names,
        image_shape=shape,
        sizes={"train": len(train[0]), "validation": len(validation[0]),
               "test": len(test[0]) if test else 0},
        source=f"idx:{folder}",
    )


def _idx_images(path: Path) -> np.ndarray:
    images = idx.read_idx(path)
    if images.dtype != np.uint8:
        raise DataError(f"{path} holds {images.dtype} values; expected uint8 pixels.")
    if images.ndim == 3:
        images = images[..., None]
    if images.ndim != 4 or images.shape[-1] not in (1, 3):
        raise DataError(
            f"{path} holds an array of shape {images.shape}; expected images "
            "[N, H, W] or [N, H, W, 1 or 3]."
        )
    return images


def _idx_class_names(folder: Path, num_classes: int) -> list[str]:
    labels_file = folder / "labels.txt"
    if labels_file.exists():
        names = [line.strip() for line in labels_file.read_text().splitlines() if line.strip()]
        if len(names) < num_classes:
            raise DataError(
                f"{labels_file} names {len(names)} classes but the labels go up to "
                f"{num_classes - 1}."
            )
        return names
    return [str(i) for i in range(num_classes)]


def _list_class_folder(root: Path) -> tuple[list[str], list[int], list[str]]:
    classes = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        raise DataError(
            f"No class sub-folders under {root}. Expected one sub-folder per class, "
            f"e.g. {root}/cat/*.png and {root}/dog/*.png."
        )
    paths: list[str] = []
    labels: list[int] = []
    for label, name in enumerate(classes):
        files = sorted(
            p for p in (root / name).rglob("*")
            if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS
        )
        paths.extend(str(p) for p in files)
        labels.extend([label] * len(files))
    if not paths:
        raise DataError(
            f"No images found under {root}. Expected one sub-folder per class holding "
            f"PNG/JPEG/BMP/GIF files, e.g. {root}/{classes[0]}/0001.png."
        )
    counts = np.bincount(labels, minlength=len(classes))
    empty = [classes[i] for i, c in enumerate(counts) if c == 0]
    if empty:
        raise DataError(f"Class folder {root / empty[0]} holds no PNG/JPEG/BMP/GIF images.")
    return paths, labels, classes


def _from_class_folders(
    root: Path, image_size: int | None, channels: int | None, validation_split: float, seed: int,
    mixed_size: int | None = None,
) -> ImageDatasets:
    import tensorflow as tf

    split_dirs = split_folders(root)
    if "train" in split_dirs:
        lists = {"train": _list_class_folder(split_dirs["train"])}
        class_names = lists["train"][2]
        for ours, folder in (("validation", split_dirs.get("validation")), ("test", split_dirs.get("test"))):
            if folder is not None:
                lists[ours] = _list_class_folder(folder)
                if lists[ours][2] != class_names:
                    raise DataError(
                        f"{folder} has classes {lists[ours][2]} but {split_dirs['train']} has "
                        f"{class_names}; every split needs the same class folders."
                    )
    else:
        paths, labels, class_names = _list_class_folder(root)
        lists = {"train": (paths, labels, class_names)}

    all_paths = [p for v in lists.values() for p in v[0]]
    shapes = inspect_images(all_paths, root)
    heights_widths = {s[:2] for s in shapes}
    native_channels = {s[2] for s in shapes}
    if image_size is None and len(heights_widths) > 1:
        if mixed_size is None:
            raise DataError(mixed_size_message(root, all_paths, shapes))
        image_size = mixed_size
        logger.info("Images under %s differ in size: each is resized to %dx%d.", root, image_size, image_size)
    if channels is None and len(native_channels) > 1:
        odd = next(p for p, s in zip(all_paths, shapes) if s[2] != shapes[0][2])
        raise DataError(
            f"Images under {root} mix grey and colour ({odd} differs from {all_paths[0]}). "
            "Pass `channels=1` or `channels=3` to convert them all."
        )
    out_channels = channels or shapes[0][2]
    height, width = (image_size, image_size) if image_size else shapes[0][:2]

    def load(path: "tf.Tensor", label: "tf.Tensor") -> tuple["tf.Tensor", "tf.Tensor"]:
        image = decode_image(tf.io.read_file(path), image_size, out_channels)
        image = tf.ensure_shape(image, [height, width, out_channels])
        return image, label

    def to_dataset(paths: list[str], labels: list[int]) -> "tf.data.Dataset":
        ds = tf.data.Dataset.from_tensor_slices((paths, np.asarray(labels, np.int32)))
        return ds.map(load, num_parallel_calls=tf.data.AUTOTUNE)

    train_paths, train_labels = lists["train"][0], lists["train"][1]
    if "validation" in lists:
        val_paths, val_labels = lists["validation"][0], lists["validation"][1]
    else:
        (tp, tl), (vp, vl) = hold_out(
            np.asarray(train_paths), np.asarray(train_labels), validation_split, seed
        )
        train_paths, train_labels, val_paths, val_labels = list(tp), list(tl), list(vp), list(vl)
    test = lists.get("test")
    return ImageDatasets(
        train=to_dataset(train_paths, train_labels),
        validation=to_dataset(val_paths, val_labels),
        test=to_dataset(test[0], test[1]) if test else None,
        class_names=class_names,
        image_shape=(height, width, out_channels),
        sizes={"train": len(train_paths), "validation": len(val_paths),
               "test": len(test[0]) if test else 0},
        source=f"folder:{root}",
    )


def _from_tfds(
    name: str, image_size: int | None, channels: int | None, validation_split: float,
    mixed_size: int | None = None,
) -> ImageDatasets:
    import tensorflow as tf

    from kerasdl.data.tfds_source import prepare_tfds, split_sizes, three_way_split

    builder = prepare_tfds(name)
    features = builder.info.features
    if "image" not in features or "label" not in features:
        raise DataError(
            f"tfds data set '{name}' has no 'image' and 'label' features; it is not an "
            "image classification data set."
        )
    native = tuple(features["image"].shape)
    if image_size is None and (native[0] is None or native[1] is None) and mixed_size is not None:
        image_size = mixed_size
    if image_size is None and (native[0] is None or native[1] is None):
        raise DataError(
            f"tfds data set '{name}' has images of varying size: pass `image_size=N` "
            "(e.g. 96) to resize them."
        )
    out_channels = channels or native[2] or 3
    splits = three_way_split(set(builder.info.splits.keys()), validation_split)
    shape = (image_size or native[0], image_size or native[1], out_channels)

    def prepare(ds: "tf.data.Dataset") -> "tf.data.Dataset":
        return ds.map(
            lambda x, y: (conform_image(x, image_size, out_channels), tf.cast(y, tf.int32)),
            num_parallel_calls=tf.data.AUTOTUNE,
        )

    datasets = {
        ours: prepare(builder.as_dataset(split=theirs, as_supervised=True))
        for ours, theirs in splits.items()
        if theirs is not None
    }
    sizes = split_sizes(builder, splits)
    return ImageDatasets(
        train=datasets["train"],
        validation=datasets["validation"],
        test=datasets.get("test"),
        class_names=list(features["label"].names),
        image_shape=shape,
        sizes=sizes,
        source=f"tfds:{name}",
    )
