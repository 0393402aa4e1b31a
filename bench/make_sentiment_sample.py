"""Rebuilds the sentiment app's bundled sample from ../shared/data/imdb.

The sample is a class-balanced subset of the IMDB Large Movie Review Dataset: reviews
drawn with a fixed seed from its train and test splits, as gzipped CSV files
(`text,label`) that `kerasdl train sentiment` reads when no --dataset is given, plus a
few unseen reviews in `examples/` for `kerasdl predict`.

    python bench/make_sentiment_sample.py
"""

from __future__ import annotations

import csv
import gzip
import io
import sys
import tarfile
from pathlib import Path

import numpy as np

from common import SHARED_DATA, require

TARGET = Path(__file__).resolve().parents[1] / "apps" / "sentiment" / "sample"
PER_CLASS = {"train": 1400, "test": 250}
EXAMPLES_PER_CLASS = 2


def read_split(archive: tarfile.TarFile, split: str) -> dict[str, list[tuple[str, str]]]:
    reviews: dict[str, list[tuple[str, str]]] = {"neg": [], "pos": []}
    for member in archive.getmembers():
        parts = member.name.split("/")
        if member.isfile() and len(parts) == 4 and parts[1] == split and parts[2] in reviews:
            text = archive.extractfile(member).read().decode("utf-8")
            reviews[parts[2]].append((parts[3], text))
    for label in reviews:
        reviews[label].sort()
    return reviews


def main() -> int:
    source = require(SHARED_DATA / "imdb" / "aclImdb_labeled.tar.gz")
    rng = np.random.default_rng(2011)
    TARGET.mkdir(parents=True, exist_ok=True)
    (TARGET / "examples").mkdir(exist_ok=True)
    with tarfile.open(source) as archive:
        for split, per_class in PER_CLASS.items():
            reviews = read_split(archive, split)
            rows = []
            for label, items in reviews.items():
                order = rng.permutation(len(items))
                rows += [(items[i][1], label) for i in order[:per_class]]
                if split == "test":
                    for n, i in enumerate(order[per_class:per_class + EXAMPLES_PER_CLASS]):
                        (TARGET / "examples" / f"{label}-{n + 1}.txt").write_text(items[i][1])
            rows = [rows[i] for i in rng.permutation(len(rows))]
            buffer = io.StringIO()
            writer = csv.writer(buffer)
            writer.writerow(["text", "label"])
            writer.writerows(rows)
            (TARGET / f"{split}.csv.gz").write_bytes(
                gzip.compress(buffer.getvalue().encode("utf-8"), mtime=0))
    return 0


if __name__ == "__main__":
    sys.exit(main())
