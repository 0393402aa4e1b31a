"""Text classification sources: tfds names, class folders of .txt files, CSV/TSV tables.

Every source yields the same thing: unbatched `(tf.string text, int32 label)` pairs and
the class names. Tokenizing is not done here: an app learns its vocabulary from the
training split (`kerasdl.data.vocabulary`) and maps its tokenizer over all splits.
"""

from __future__ import annotations

import csv
import io
import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from kerasdl.data.files import read_text_file
from kerasdl.data.splits import LabelledSplits, encode_labels, hold_out, split_folders
from kerasdl.errors import DataError

if TYPE_CHECKING:
    import tensorflow as tf

logger = logging.getLogger(__name__)

TABLE_SUFFIXES = (".csv", ".tsv", ".csv.gz", ".tsv.gz")
TEXT_COLUMNS = ("text", "review", "sentence", "content", "document", "body")
LABEL_COLUMNS = ("label", "sentiment", "class", "category", "target", "labels")
# aclImdb's unlabelled reviews sit beside the class folders; they are not a class.
UNLABELLED_FOLDERS = ("unsup",)
SPLITS = ("train", "validation", "test")


class TextDatasets(LabelledSplits):
    """Splits of `(text, int32 label)` pairs."""


@dataclass
class _Split:
    texts: list[str]
    labels: list[str]


def load_text_datasets(
    dataset: str | None,
    *,
    sample_dir: str | Path,
    text_column: str | None = None,
    label_column: str | None = None,
    validation_split: float = 0.1,
    seed: int = 42,
    text_per_line: bool = False,
) -> TextDatasets:
    """Loads a text classification data set from any supported source.

    Args:
        dataset: None for the bundled sample in `sample_dir`; a CSV/TSV file (optionally
            gzipped) with a text and a label column; a folder holding train.csv (and
            optionally validation.csv, test.csv); a folder of class sub-folders of .txt
            files, optionally under train/, validation/ and test/ (the aclImdb layout);
            `tfds:NAME` or a bare tfds name such as "imdb_reviews".
        sample_dir: the app's bundled sample (a folder of CSV files).
        text_column, label_column: the table's columns (found by common names when None).
        validation_split: fraction of train held out when there is no validation split.
        seed: seed of the train / validation split.
        text_per_line: in class folders, each non-empty line of a .txt file is one
            example (the layout of several sentence-polarity data sets: one file per
            class); otherwise each file is one example.

    Raises:
        DataError: for a missing, empty or unreadable source.

    Example:
    >>> from kerasdl.data.text import load_text_datasets
    >>> data = load_text_datasets("reviews.csv", sample_dir=".")  # doctest: +SKIP
    >>> data.class_names  # doctest: +SKIP
    ['negative', 'positive']
    """
    if dataset is None:
        return _from_table_folder(Path(sample_dir), text_column, label_column, validation_split, seed)
    if dataset.startswith("tfds:"):
        return _from_tfds(dataset[5:], validation_split)
    path = Path(dataset).expanduser()
    if path.is_file():
        if not path.name.lower().endswith(TABLE_SUFFIXES):
            raise DataError(
                f"{path} is not a CSV or TSV file; expected a table with a text and a label "
                "column, or a folder of class sub-folders of .txt files."
            )
        splits = {"train": _read_table(path, text_column, label_column)}
        return _finish(splits, f"table:{path}", validation_split, seed)
    if path.is_dir():
        if _table_files(path):
            return _from_table_folder(path, text_column, label_column, validation_split, seed)
        return _from_class_folders(path, validation_split, seed, text_per_line)
    if "/" in dataset or dataset.startswith(".") or dataset.lower().endswith(TABLE_SUFFIXES):
        raise DataError(f"No such file or folder: {path}")
    return _from_tfds(dataset, validation_split)


# ---- tables ---------------------------------------------------------------------------------


def _table_files(folder: Path) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for split, names in (("train", ("train",)), ("validation", ("validation", "val")),
                         ("test", ("test",))):
        for name in names:
            for suffix in TABLE_SUFFIXES:
                candidate = folder / f"{name}{suffix}"
                if candidate.is_file() and split not in found:
                    found[split] = candidate
    return found


def _from_table_folder(
    folder: Path, text_column: str | None, label_column: str | None,
    validation_split: float, seed: int,
) -> TextDatasets:
    files = _table_files(folder)
    if "train" not in files:
        raise DataError(
            f"{folder} has no train.csv or train.tsv (optionally .gz); expected one, with "
            "optionally validation.csv and test.csv beside it."
        )
    splits = {split: _read_table(path, text_column, label_column) for split, path in files.items()}
    return _finish(splits, f"table:{folder}", validation_split, seed)


def _read_table(path: Path, text_column: str | None, label_column: str | None) -> _Split:
    delimiter = "\t" if ".tsv" in path.name.lower() else ","
    content = read_text_file(path)
    csv.field_size_limit(sys.maxsize)  # reviews and articles exceed csv's 128 KB default
    reader = csv.reader(io.StringIO(content, newline=""), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        raise DataError(f"{path} is empty; expected a header row and one row per example.") from None
    except csv.Error as e:
        raise DataError(f"Cannot parse {path}: {e}") from None
    columns = [h.strip() for h in header]
    text_index = _column(path, columns, text_column, TEXT_COLUMNS, "text")
    label_index = _column(path, columns, label_column, LABEL_COLUMNS, "label")
    texts, labels = [], []
    try:
        for line, row in enumerate(reader, start=2):
            if not row:
                continue
            if len(row) != len(columns):
                raise DataError(
                    f"{path}, line {line}: {len(row)} fields but the header has "
                    f"{len(columns)}; quote texts that hold '{delimiter}' or newlines."
                )
            label = row[label_index].strip()
            if not label:
                raise DataError(f"{path}, line {line}: the label column '{columns[label_index]}' is empty.")
            texts.append(row[text_index])
            labels.append(label)
    except csv.Error as e:
        raise DataError(f"Cannot parse {path}: {e}") from None
    if not texts:
        raise DataError(f"{path} has a header but no rows.")
    return _Split(texts, labels)


def _column(path: Path, columns: list[str], wanted: str | None, usual: tuple[str, ...], role: str) -> int:
    lowered = [c.lower() for c in columns]
    if wanted is not None:
        if wanted.lower() not in lowered:
            raise DataError(
                f"{path} has no column '{wanted}'. Its columns: {', '.join(columns)}."
            )
        return lowered.index(wanted.lower())
    for name in usual:
        if name in lowered:
            return lowered.index(name)
    raise DataError(
        f"{path}: no {role} column found among {', '.join(columns)}; name it with "
        f"`{role}_column=NAME`."
    )


# ---- class folders --------------------------------------------------------------------------


# A class folder of this few files, each of many lines, is one-example-per-line data.
FEW_FILES, MANY_LINES = 3, 20


def _read_class_folder(root: Path, text_per_line: bool = False) -> _Split:
    classes = sorted(
        p.name for p in root.iterdir()
        if p.is_dir() and not p.name.startswith(".") and p.name not in UNLABELLED_FOLDERS
    )
    if not classes:
        raise DataError(
            f"No class sub-folders under {root}. Expected one sub-folder per class of .txt "
            f"files, e.g. {root}/pos/0001.txt and {root}/neg/0002.txt."
        )
    texts: list[str] = []
    labels: list[str] = []
    undecodable = 0
    line_counts: list[int] = []
    for name in classes:
        files = sorted(p for p in (root / name).rglob("*.txt") if p.is_file())
        if not files:
            raise DataError(f"Class folder {root / name} holds no .txt files.")
        for file in files:
            try:
                raw = file.read_bytes()
            except OSError as e:
                raise DataError(f"Cannot read {file}: {e.strerror}") from None
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                undecodable += 1
                text = raw.decode("utf-8", errors="replace")
            lines = [line.strip() for line in text.splitlines() if line.strip()]
            line_counts.append(len(lines))
            examples = lines if text_per_line else [text]
            texts.extend(examples)
            labels.extend([name] * len(examples))
    if undecodable:
        logger.warning("%d files under %s are not valid UTF-8; their bad bytes became U+FFFD.",
                       undecodable, root)
    if not text_per_line and len(line_counts) <= FEW_FILES * len(classes) and min(line_counts) >= MANY_LINES:
        raise DataError(
            f"{root} holds {len(line_counts)} .txt files for {len(classes)} classes, each of "
            f"{min(line_counts)} lines or more: that is one example per line, but kerasdl reads one "
            "example per file. Add `text_per_line=true`, or write a CSV file with text and "
            "label columns.")
    if not texts:
        raise DataError(f"The .txt files under {root} hold no text.")
    return _Split(texts, labels)


def _from_class_folders(root: Path, validation_split: float, seed: int,
                        text_per_line: bool = False) -> TextDatasets:
    split_dirs = split_folders(root)
    if "train" in split_dirs:
        splits = {split: _read_class_folder(folder, text_per_line) for split, folder in split_dirs.items()}
    else:
        splits = {"train": _read_class_folder(root, text_per_line)}
    return _finish(splits, f"folder:{root}", validation_split, seed)


# ---- shared ending ---------------------------------------------------------------------------


def _finish(splits: dict[str, _Split], source: str, validation_split: float, seed: int) -> TextDatasets:
    import tensorflow as tf

    class_names, label_ids = encode_labels(
        {split: data.labels for split, data in splits.items()}, source.split(":", 1)[1])
    arrays: dict[str, tuple[np.ndarray, np.ndarray]] = {
        split: (np.asarray([t.encode("utf-8") for t in data.texts], dtype=object), label_ids[split])
        for split, data in splits.items()
    }
    if "validation" not in arrays:
        arrays["train"], arrays["validation"] = hold_out(*arrays["train"], validation_split, seed)

    def to_dataset(split: str) -> "tf.data.Dataset | None":
        if split not in arrays:
            return None
        texts, labels = arrays[split]
        # Bytes, not numpy unicode: tf.data turns both into tf.string, Keras' fit only the first.
        return tf.data.Dataset.from_tensor_slices((tf.constant(list(texts), tf.string), labels))

    return TextDatasets(
        train=to_dataset("train"),
        validation=to_dataset("validation"),
        test=to_dataset("test"),
        class_names=class_names,
        sizes={split: len(arrays[split][0]) if split in arrays else 0 for split in SPLITS},
        source=source,
    )


def _from_tfds(name: str, validation_split: float) -> TextDatasets:
    import tensorflow as tf

    from kerasdl.data.tfds_source import prepare_tfds, split_sizes, three_way_split

    builder = prepare_tfds(name)
    features = builder.info.features
    if "text" not in features or "label" not in features:
        raise DataError(
            f"tfds data set '{name}' has no 'text' and 'label' features; it is not a text "
            "classification data set."
        )
    splits = three_way_split(set(builder.info.splits.keys()), validation_split)

    def prepare(ds: "tf.data.Dataset") -> "tf.data.Dataset":
        return ds.map(lambda x, y: (x, tf.cast(y, tf.int32)), num_parallel_calls=tf.data.AUTOTUNE)

    datasets = {
        ours: prepare(builder.as_dataset(split=theirs, as_supervised=True))
        for ours, theirs in splits.items() if theirs is not None
    }
    sizes = split_sizes(builder, splits)
    return TextDatasets(
        train=datasets["train"], validation=datasets["validation"], test=datasets.get("test"),
        class_names=list(features["label"].names), sizes=sizes, source=f"tfds:{name}",
    )
