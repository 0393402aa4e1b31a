"""The apps' comparison tables (the learning guides' numbers), measured with
`kerasdl compare` on the shared data sets.

Each study is one `kerasdl.comparison.compare` call: a base config (an app's benchmark
preset with fewer epochs, so that a study fits in minutes on 2 cores) and the fields
varied. Tables go to bench/results/compare-STUDY.md, the curves next to the app's
README (apps/APP/compare-STUDY.png), the runs to bench/runs/compare/.

    python bench/compare.py                    # every study
    python bench/compare.py vision-models speech-features --resume
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tarfile
from pathlib import Path
from typing import Any, Callable

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from common import REPO, SHARED_DATA, VISION_RUN, require, write_result  # noqa: E402

RUNS = REPO / "bench" / "runs" / "compare"


def fashion_mnist() -> str:
    return str(require(SHARED_DATA / "fashion_mnist"))


def imdb() -> str:
    """The IMDB reviews' folders, extracted once under bench/runs/data."""
    archive = require(SHARED_DATA / "imdb" / "aclImdb_labeled.tar.gz")
    target = REPO / "bench" / "runs" / "data" / "imdb"
    if not (target / "aclImdb" / "test").is_dir():
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        with tarfile.open(archive) as tar:
            tar.extractall(target, filter="data")
    return str(target / "aclImdb")


def fsdd() -> str:
    from speech import extract

    return str(extract(require(SHARED_DATA / "fsdd" / "fsdd.tar.gz")))


def etth1() -> str:
    return str(require(SHARED_DATA / "ett" / "ETTh1.csv"))


def gan_classifier() -> dict[str, Any]:
    # The FID features come from bench/vision.py's classifier when it is there.
    return {"classifier": str(VISION_RUN)} if (VISION_RUN / "metrics.json").is_file() else {}


# name: (app, data, preset, base overrides, varied fields, what the study shows)
STUDIES: dict[str, tuple[str, Callable[[], str], str, dict[str, Any], list[tuple[str, list[str]]], str]] = {
    "vision-models": (
        "vision", fashion_mnist, "fashion-mnist", {"epochs": 3},
        [("model", ["mlp", "lenet", "cnn", "mobilenet"])],
        "Fashion-MNIST (54,000 training / 6,000 validation / 10,000 test images), the "
        "`fashion-mnist` preset at 3 epochs.",
    ),
    "vision-optimizers": (
        "vision", fashion_mnist, "fashion-mnist", {"epochs": 3, "model": "lenet", "weight_decay": 0.0,
                                                   "learning_rate": 3e-3},
        [("optimizer", ["sgd", "momentum", "rmsprop", "adam"])],
        "Fashion-MNIST, LeNet-5, the `fashion-mnist` preset at 3 epochs with one peak "
        "learning rate (3e-3, one-cycle) for every optimizer.",
    ),
    "sentiment-models": (
        "sentiment", imdb, "imdb",
        {"epochs": 2, "max_tokens": 20_000, "ngrams": "none", "sequence_length": "none", "binary": "none",
         "optimizer": "adamw", "weight_decay": 1e-4, "embedding_dim": 64, "units": 64,
         "learning_rate": 1e-3, "dropout": 0.3},
        [("model", ["bag", "cnn", "lstm", "transformer"])],
        "IMDB (22,500 training / 2,500 validation / 25,000 test reviews), 20,000-token "
        "vocabulary, 2 epochs, AdamW 1e-3; each model reads as it does by default: the "
        "bag model words and bigrams of the first 800, the CNN the first 400 words, the "
        "LSTM and the Transformer the first 256.",
    ),
    "speech-features": (
        "speech", fsdd, "fsdd", {"epochs": 20, "width": 32},
        [("model", ["cnn", "ds-cnn"]), ("features", ["log-mel", "mfcc"])],
        "Free Spoken Digit Dataset, documented split (2,700 training / 300 test clips), the "
        "`fsdd` preset at 20 epochs and width 32.",
    ),
    "forecast-models": (
        "forecast", etth1, "etth1", {},
        [("model", ["repeat-last", "seasonal", "linear", "dlinear", "mlp"])],
        "ETTh1, the standard 12/4/4-month split, 336 hours in, 96 out, all 7 columns, the "
        "`etth1` preset (MAE loss, 10 epochs).",
    ),
    "forecast-horizon": (
        "forecast", etth1, "etth1", {},
        [("horizon", ["24", "96", "336"])],
        "ETTh1, DLinear, 336 hours in, the `etth1` preset; only the horizon changes.",
    ),
    "dcgan-balance": (
        "dcgan", fashion_mnist, "fashion-mnist", {"epochs": 3, "fid_samples": 2000, **gan_classifier()},
        [("d_learning_rate", ["5e-5", "2e-4", "1e-3"])],
        "Fashion-MNIST, the `fashion-mnist` preset (generator Adam 2e-4) at 3 epochs; "
        "FID on 2,000 images with the features of bench/vision.py's classifier.",
    ),
}


def run_study(name: str, resume: bool) -> Path:
    from kerasdl.comparison import compare
    from kerasdl.config import resolve_config
    from kerasdl.registry import get_app

    app_name, data, preset, overrides, varied, description = STUDIES[name]
    app = get_app(app_name)
    config = resolve_config(app.config_class, preset=preset, overrides={"dataset": data(), **overrides})
    folder = RUNS / "comparisons" / app_name / name
    if folder.exists() and not resume:
        shutil.rmtree(folder)
        for run in (RUNS / app_name).glob(f"{name}--*"):
            shutil.rmtree(run)
    result = compare(app_name, config, varied, compare_dir=RUNS / "comparisons", runs_dir=RUNS,
                     name=name, resume=folder.exists(), verbose=2)
    picture = REPO / "apps" / app_name / f"compare-{name}.png"
    shutil.copyfile(result.curves_path, picture)
    flags = " ".join(f"--vary {f}={','.join(v)}" for f, v in varied)
    sets = " ".join(f"--set {k}={v}" for k, v in overrides.items() if k != "classifier")
    command = f"kerasdl compare {app_name} --dataset DATA --preset {preset} {sets} {flags}".replace("  ", " ")
    notes = (f"{description}\n\nThe same with the CLI: `{command}`. Same data, seed and epochs "
             f"for every variant; training time on 2 CPU cores. Curves: apps/{app_name}/{picture.name}.")
    return write_result(f"compare-{name}", f"{app_name}: {name}", result.table(),
                        f"python bench/compare.py {name}", notes)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("studies", nargs="*", help=f"default: all of {', '.join(STUDIES)}")
    parser.add_argument("--resume", action="store_true", help="keep finished variants of earlier runs")
    args = parser.parse_args()
    unknown = [s for s in args.studies if s not in STUDIES]
    if unknown:
        print(f"unknown studies: {', '.join(unknown)}; choose from {', '.join(STUDIES)}", file=sys.stderr)
        return 2
    os.environ.setdefault("KERASDL_CACHE", str(REPO / "bench" / "runs" / "cache"))
    import logging

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for name in args.studies or list(STUDIES):
        run_study(name, args.resume)
    return 0


if __name__ == "__main__":
    sys.exit(main())
