"""Sentiment benchmark on IMDB (../shared/data/imdb/aclImdb_labeled.tar.gz).

Extracts the archive to a temporary folder, then measures, in the same run:
- what a practitioner tries first, with scikit-learn (a bench-only dependency): TF-IDF
  word 1-2 grams + logistic regression, and an NBSVM-style variant (Wang & Manning
  2012: binary n-gram features scaled by naive-Bayes log-count ratios) — both fitted
  on all 25,000 training reviews;
- each kerasdl model trained from scratch through `kerasdl.api.train` (22,500 train /
  2,500 validation reviews; the best validation epoch is kept), then exported to int8
  TFLite and evaluated again with ai-edge-litert.
Every score is on the 25,000 test reviews as given.

    python bench/sentiment.py [--models nbsvm,bag,cnn,gru,transformer] [--epochs N] [--skip-baselines]
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import sys
import tarfile
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from common import SHARED_DATA, fresh_folder, markdown_table, require, write_result  # noqa: E402

# Per-model recipes on top of the `imdb` preset (the nbsvm recipe); the sequence
# models read words, the bag models n-grams.
SEQUENCE = {"max_tokens": 20_000, "ngrams": 1, "sequence_length": 256, "binary": False,
            "optimizer": "adamw", "weight_decay": 1e-4, "embedding_dim": 64}
RECIPES: dict[str, dict[str, object]] = {
    "nbsvm": {},
    "bag": {"model": "bag", "max_tokens": 200_000, "ngrams": 2, "sequence_length": 1000, "binary": False,
            "embedding_dim": 32, "units": 64, "optimizer": "adamw", "weight_decay": 1e-4,
            "learning_rate": 2e-3, "dropout": 0.5, "token_dropout": 0.5},
    "cnn": {**SEQUENCE, "model": "cnn", "max_tokens": 30_000, "sequence_length": 400,
            "units": 64, "learning_rate": 2e-3, "dropout": 0.5},
    "gru": {**SEQUENCE, "model": "gru", "units": 32, "learning_rate": 2e-3, "dropout": 0.3},
    "lstm": {**SEQUENCE, "model": "lstm", "units": 32, "learning_rate": 2e-3, "dropout": 0.3},
    "transformer": {**SEQUENCE, "model": "transformer", "units": 128, "heads": 4,
                    "learning_rate": 5e-4, "dropout": 0.2},
}


def read_split(root: Path, split: str) -> tuple[list[str], list[int]]:
    texts, labels = [], []
    for label, name in enumerate(("neg", "pos")):
        for file in sorted((root / split / name).glob("*.txt")):
            texts.append(file.read_text(encoding="utf-8"))
            labels.append(label)
    return texts, labels


def baselines(root: Path) -> list[list[object]]:
    import numpy as np
    from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    train_x, train_y = read_split(root, "train")
    test_x, test_y = read_split(root, "test")
    train_y, test_y = np.asarray(train_y), np.asarray(test_y)
    rows = []

    started = time.perf_counter()
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)
    features = vectorizer.fit_transform(train_x)
    model = LogisticRegression(C=10, max_iter=2000).fit(features, train_y)
    accuracy = float((model.predict(vectorizer.transform(test_x)) == test_y).mean())
    rows.append(["TF-IDF 1-2 grams + logistic regression (scikit-learn)",
                 f"{accuracy * 100:.2f} %", features.shape[1] + 1,
                 f"{time.perf_counter() - started:.0f} s", "-", "-"])

    started = time.perf_counter()
    counts = CountVectorizer(ngram_range=(1, 2), binary=True, min_df=2)
    binary = counts.fit_transform(train_x)
    p = 1 + binary[train_y == 1].sum(axis=0)
    q = 1 + binary[train_y == 0].sum(axis=0)
    ratio = np.asarray(np.log((p / p.sum()) / (q / q.sum()))).ravel()
    scaled = binary.multiply(ratio).tocsr()
    model = LogisticRegression(C=0.1, max_iter=2000).fit(scaled, train_y)
    test_scaled = counts.transform(test_x).multiply(ratio).tocsr()
    accuracy = float((model.predict(test_scaled) == test_y).mean())
    rows.append(["NBSVM-style: NB-scaled binary 1-2 grams + logistic regression",
                 f"{accuracy * 100:.2f} %", binary.shape[1] + 1,
                 f"{time.perf_counter() - started:.0f} s", "-", "-"])
    return rows


def kerasdl_model(name: str, root: Path, runs: Path, exports: Path, epochs: int | None) -> list[object]:
    from kerasdl import api
    from kerasdl.config import resolve_config
    from kerasdl.export.exporter import export_run
    from kerasdl.export.tflite import ExportError
    from kerasdl.registry import get_app

    app = get_app("sentiment")
    overrides = {"dataset": str(root), **RECIPES[name]}
    if epochs:
        overrides["epochs"] = epochs
    config = resolve_config(app.config_class, preset="imdb", overrides=overrides)
    summary = api.train("sentiment", config, runs_dir=runs, name=name, verbose=2)
    params = sum(math.prod(w.shape) for w in summary.model.trainable_weights)
    int8_size, int8_accuracy = "-", "converter crashes (known: int8 recurrent layers)"
    try:
        report = export_run(summary.run.path, formats=("tflite",), quantizations=("int8",),
                            out_dir=exports, name=name)
        (row,) = report.rows
        int8_size = f"{row['bytes'] / 1e6:.2f} MB"
        int8_accuracy = f"{row['metric'] * 100:.2f} %"
    except ExportError as e:
        print(f"{name}: int8 export failed: {e}", file=sys.stderr)
    return [f"kerasdl {name}: {app.models[name].split(':')[0]}",
            f"{summary.metrics['accuracy'] * 100:.2f} %", params,
            f"{summary.seconds / 60:.1f} min ({summary.epochs_completed} epochs)",
            int8_size, int8_accuracy]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="nbsvm,bag,cnn,gru,transformer")
    parser.add_argument("--epochs", type=int, help="override every model's epochs")
    parser.add_argument("--skip-baselines", action="store_true")
    args = parser.parse_args()
    archive = require(SHARED_DATA / "imdb" / "aclImdb_labeled.tar.gz")
    models = [m for m in args.models.split(",") if m]
    unknown = [m for m in models if m not in RECIPES]
    if unknown:
        print(f"unknown models: {', '.join(unknown)}; choose from {', '.join(RECIPES)}", file=sys.stderr)
        return 2

    work = Path(tempfile.mkdtemp(prefix="kerasdl-imdb-"))
    try:
        with tarfile.open(archive) as tar:
            tar.extractall(work, filter="data")
        root = work / "aclImdb"
        rows = [] if args.skip_baselines else baselines(root)
        runs = fresh_folder("sentiment")
        for name in models:
            rows.append(kerasdl_model(name, root, runs, runs / "exports", args.epochs))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    table = markdown_table(
        ["model", "test accuracy", "parameters", "training time (2 cores)", "int8 TFLite size",
         "int8 TFLite accuracy"], rows)
    command = "python bench/sentiment.py " + " ".join(sys.argv[1:])
    full = args.models == parser.get_default("models") and not args.skip_baselines
    write_result("sentiment" if full else "sentiment-" + "-".join(models), "Sentiment: IMDB, 25,000 test reviews", table, command.strip(),
                 notes="Baselines fit on all 25,000 training reviews; kerasdl models on 22,500 "
                       "(2,500 held out to pick the best epoch). No pretrained weights anywhere.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
