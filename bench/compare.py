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
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Study:
    """One `compare` call: the app, its data, a preset with overrides, the fields varied,
    what the study shows, and how many seeds each variant trains with."""

    app: str
    data: Callable[[], str]
    preset: str
    overrides: dict[str, Any]
    varied: list[tuple[str, list[str]]]
    description: str
    seeds: int = 1
    int8: bool = True
    prepare: Callable[[], dict[str, Any]] | None = None  # more overrides, made when the study runs


def fashion_mnist_10k() -> str:
    """The first 10,000 Fashion-MNIST training images (9,000 train / 1,000 validation) and
    the full 10,000-image test split, as IDX files under bench/runs/data: small enough for
    three seeds of every variant on 2 cores."""
    from kerasdl.data.idx import find_idx_files, read_idx, write_idx

    target = REPO / "bench" / "runs" / "data" / "fashion_mnist_10k"
    if not (target / "train-labels-idx1-ubyte").is_file():
        target.mkdir(parents=True, exist_ok=True)
        files = find_idx_files(fashion_mnist())
        for (split, kind), path in files.items():
            array = read_idx(path)
            name = f"{split}-{kind}-idx{array.ndim}-ubyte"
            write_idx(target / name, array[:10_000] if split == "train" else array)
    return str(target)


def fashion_mnist_1k() -> str:
    """1,000 other Fashion-MNIST training images (50,000-50,999: none of the 10k subset's)
    and the full test split: a small data set for the transfer-learning studies."""
    from kerasdl.data.idx import find_idx_files, read_idx, write_idx

    target = REPO / "bench" / "runs" / "data" / "fashion_mnist_1k"
    if not (target / "train-labels-idx1-ubyte").is_file():
        target.mkdir(parents=True, exist_ok=True)
        for (split, kind), path in find_idx_files(fashion_mnist()).items():
            array = read_idx(path)
            write_idx(target / f"{split}-{kind}-idx{array.ndim}-ubyte",
                      array[50_000:51_000] if split == "train" else array)
    return str(target)


def zh_reviews() -> str:
    """The Chinese reviews' seeded 80/10/10 split as train/validation/test CSVs under bench/runs/data."""
    from common import write_text_table, zh_review_splits

    folder = REPO / "bench" / "runs" / "data" / "zh_reviews"
    for split, rows in zh_review_splits().items():
        write_text_table(folder / f"{split}.csv", rows)
    return str(folder)


TEACHER_RUN = RUNS / "teachers" / "vision" / "cnn-10k"


def train_teacher() -> dict[str, Any]:
    """The source run trained if missing; no override (the study varies `init_from`)."""
    vision_teacher()
    return {}


def vision_teacher() -> dict[str, Any]:
    """A CNN trained on the 10k subset (one seed, the base recipe): the teacher of the
    distillation study, kept under bench/runs/compare/teachers."""
    from kerasdl.config import resolve_config
    from kerasdl.training.workflow import train_run
    from kerasdl.apps.vision.config import VisionConfig

    run = TEACHER_RUN
    if not (run / "metrics.json").is_file():
        shutil.rmtree(run, ignore_errors=True)
        config = resolve_config(VisionConfig, preset="fashion-mnist",
                                overrides={"dataset": fashion_mnist_10k(), **SMALL_VISION})
        train_run("vision", config, runs_dir=RUNS / "teachers", name="cnn-10k", verbose=2, baselines=False)
    return {"teacher": str(run)}


# The base of the 3-seed vision studies: the `fashion-mnist` preset (cnn, AdamW 3e-3
# one-cycle, dropout 0.25, label smoothing 0.1, augmentation, weight decay 5e-4) cut to
# 4 epochs at width 16 on 9,000 training images.
SMALL_VISION = {"epochs": 4, "width": 16}
VISION_10K = ("Fashion-MNIST, first 10,000 training images (9,000 train / 1,000 validation), "
              "full 10,000-image test split; the `fashion-mnist` preset cut to 4 epochs at width 16")


def vision_study(varied: list[tuple[str, list[str]]], shows: str, **overrides: Any) -> Study:
    return Study("vision", fashion_mnist_10k, "fashion-mnist", {**SMALL_VISION, **overrides}, varied,
                 f"{VISION_10K}{shows}", seeds=3, int8=False)


STUDIES: dict[str, Study] = {
    "vision-models": Study(
        "vision", fashion_mnist, "fashion-mnist", {"epochs": 3},
        [("model", ["mlp", "lenet", "cnn", "mobilenet"])],
        "Fashion-MNIST (54,000 training / 6,000 validation / 10,000 test images), the "
        "`fashion-mnist` preset at 3 epochs.",
    ),
    "vision-optimizers": Study(
        "vision", fashion_mnist, "fashion-mnist", {"epochs": 3, "model": "lenet", "weight_decay": 0.0,
                                                   "learning_rate": 3e-3},
        [("optimizer", ["sgd", "momentum", "rmsprop", "adam"])],
        "Fashion-MNIST, LeNet-5, the `fashion-mnist` preset at 3 epochs with one peak "
        "learning rate (3e-3, one-cycle) for every optimizer.",
    ),
    "sentiment-models": Study(
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
    "speech-features": Study(
        "speech", fsdd, "fsdd", {"epochs": 20, "width": 32},
        [("model", ["cnn", "ds-cnn"]), ("features", ["log-mel", "mfcc"])],
        "Free Spoken Digit Dataset, documented split (2,700 training / 300 test clips), the "
        "`fsdd` preset at 20 epochs and width 32.",
    ),
    "forecast-models": Study(
        "forecast", etth1, "etth1", {},
        [("model", ["repeat-last", "seasonal", "linear", "dlinear", "mlp"])],
        "ETTh1, the standard 12/4/4-month split, 336 hours in, 96 out, all 7 columns, the "
        "`etth1` preset (MAE loss, 10 epochs).",
    ),
    "forecast-horizon": Study(
        "forecast", etth1, "etth1", {},
        [("horizon", ["24", "96", "336"])],
        "ETTh1, DLinear, 336 hours in, the `etth1` preset; only the horizon changes.",
    ),
    "dcgan-balance": Study(
        "dcgan", fashion_mnist, "fashion-mnist", {"epochs": 3, "fid_samples": 2000},
        [("d_learning_rate", ["5e-5", "2e-4", "1e-3"])],
        "Fashion-MNIST, the `fashion-mnist` preset (generator Adam 2e-4) at 3 epochs; "
        "FID on 2,000 images with the features of bench/vision.py's classifier.",
        prepare=gan_classifier,
    ),
    # Issue 22's studies: three seeds each, mean and standard deviation.
    "vision-activation": vision_study([("activation", ["relu", "gelu", "tanh", "sigmoid"])], "."),
    "vision-norm": vision_study([("norm", ["batch", "layer", "none"])], "; batch norm on and off."),
    "vision-dropout": vision_study([("dropout", ["0", "0.25", "0.5"])], "."),
    "vision-label-smoothing": vision_study([("label_smoothing", ["0", "0.1", "0.3"])], "."),
    "vision-batch-size": vision_study([("batch_size", ["32", "128", "512"])],
                                      "; one peak learning rate for every batch size."),
    "vision-augment": vision_study([("augment", ["false", "true"])], "."),
    "vision-schedule": vision_study([("schedule", ["constant", "step", "cosine", "one-cycle"])], "."),
    "vision-l2-vs-weight-decay": vision_study(
        [("l2", ["0", "5e-4"]), ("weight_decay", ["0", "0.05"])],
        "; Adam (not AdamW), so L2 in the loss and decoupled weight decay can be set apart.",
        optimizer="adam"),
    "vision-l1": vision_study([("l1", ["0", "1e-5", "1e-4"])], "."),
    "vision-clip-norm": vision_study([("clip_norm", ["0", "1"])], "."),
    "vision-optimizers-seeds": vision_study([("optimizer", ["sgd", "momentum", "nesterov", "adagrad", "rmsprop",
                                                           "adam", "adamw", "lamb"])],
                                            "; one peak learning rate (3e-3, one-cycle) for every optimizer."),
    "vision-resnet": vision_study([("model", ["cnn", "resnet"])], "."),
    "vision-distillation": Study(
        "vision", fashion_mnist_10k, "fashion-mnist", {**SMALL_VISION, "model": "mlp"},
        [("distill_weight", ["0", "0.5", "0.9"])],
        f"{VISION_10K}; an MLP student, the teacher a CNN trained once on the same images "
        "(bench/runs/compare/teachers); distill_weight 0 is training on the labels alone.",
        seeds=3, int8=False, prepare=vision_teacher),
    "vision-regularization-long": vision_study(
        [("augment", ["false", "true"]), ("dropout", ["0", "0.25"])],
        ", but 16 epochs: long enough for the network to start memorising 9,000 images.",
        epochs=16),
    "vision-l2-vs-weight-decay-long": vision_study(
        [("l2", ["0", "5e-4"]), ("weight_decay", ["0", "0.05"])],
        ", but 16 epochs; Adam (not AdamW), so L2 in the loss and decoupled weight decay can be "
        "set apart.", optimizer="adam", epochs=16),
    "vision-warmup": vision_study([("schedule", ["cosine", "warmup-cosine"])],
                                  "; warm-up of one epoch (`warmup_epochs`=1) or none before the "
                                  "same cosine decay."),
    "vision-early-stopping": vision_study(
        [("early_stopping", ["0", "2"])],
        ", but 12 epochs and a constant learning rate, so that there is something to stop; "
        "the best epoch's weights are kept either way.", epochs=12, schedule="constant"),
    "vision-transfer": Study(
        "vision", fashion_mnist_1k, "fashion-mnist",
        {**SMALL_VISION, "epochs": 10, "batch_size": 64},
        [("init_from", ["none", str(TEACHER_RUN)])],
        "Fashion-MNIST, 1,000 training images (900 train / 100 validation) none of which the "
        "source run saw, full test split; the `fashion-mnist` preset at 10 epochs, width 16, "
        "batch 64. The source: the CNN trained on the 10k subset (the distillation study's "
        "teacher); `none` trains from scratch.",
        seeds=3, int8=False, prepare=train_teacher),
    "vision-freeze": Study(
        "vision", fashion_mnist_1k, "fashion-mnist",
        {**SMALL_VISION, "epochs": 10, "batch_size": 64},
        [("freeze", ["none", "backbone"])],
        "The transfer study's data and recipe, every variant started from the same source "
        "run: fine-tune everything (`none`) or train the new head only (`backbone` frozen).",
        seeds=3, int8=False, prepare=lambda: {"init_from": vision_teacher()["teacher"]}),
    "sentiment-recurrent": Study(
        "sentiment", zh_reviews, "", {"epochs": 3, "sequence_length": 128, "embedding_dim": 64, "units": 64},
        [("model", ["lstm", "gru"])],
        "Chinese reviews (the seeded 80/10/10 split of 17,363 distinct reviews: 13,890 train, "
        "1,736 validation, 1,737 test), characters as tokens, the first 128 of each review, "
        "3 epochs, 64 units; every other setting the sentiment app's default.",
        seeds=3, int8=False),
    "sentiment-attention": Study(
        "sentiment", zh_reviews, "", {"epochs": 3, "sequence_length": 128, "embedding_dim": 64, "units": 64},
        [("model", ["cnn", "transformer"])],
        "The recurrent study's data and settings (Chinese reviews, characters, the first 128, "
        "3 epochs); convolution against self-attention.",
        seeds=3, int8=False),
    "dcgan-balance-seeds": Study(
        "dcgan", fashion_mnist_10k, "fashion-mnist", {"epochs": 3, "fid_samples": 1000},
        [("d_learning_rate", ["5e-5", "2e-4", "1e-3"])],
        "Fashion-MNIST, first 10,000 training images, the `fashion-mnist` preset (generator "
        "Adam 2e-4) at 3 epochs; FID on 1,000 images with the features of bench/vision.py's "
        "classifier; 3 seeds.",
        seeds=3, int8=False, prepare=gan_classifier),
    "forecast-loss": Study(
        "forecast", etth1, "etth1", {}, [("loss", ["mse", "mae", "huber"])],
        "ETTh1, DLinear, 336 hours in, 96 out, the `etth1` preset (10 epochs); only the "
        "training loss changes, every variant scored by test MSE.", seeds=3, int8=False),
}


def run_study(name: str, resume: bool) -> Path:
    from kerasdl.comparison import compare
    from kerasdl.config import resolve_config
    from kerasdl.registry import get_app

    study = STUDIES[name]
    app = get_app(study.app)
    extra = study.prepare() if study.prepare is not None else {}
    config = resolve_config(app.config_class, preset=study.preset or None,
                            overrides={"dataset": study.data(), **study.overrides, **extra})
    folder = RUNS / "comparisons" / study.app / name
    if folder.exists() and not resume:
        shutil.rmtree(folder)
        for run in (RUNS / study.app).glob(f"{name}--*"):
            shutil.rmtree(run)
    result = compare(study.app, config, study.varied, compare_dir=RUNS / "comparisons", runs_dir=RUNS,
                     name=name, resume=folder.exists(), verbose=2, seeds=study.seeds, int8=study.int8)
    picture = REPO / "apps" / study.app / f"compare-{name}.png"
    shutil.copyfile(result.curves_path, picture)
    flags = " ".join(f"--vary {f}={','.join(v)}" for f, v in study.varied)
    sets = " ".join(f"--set {k}={v}" for k, v in {**study.overrides, **extra}.items() if k != "classifier")
    seeds = f" --seeds {study.seeds}" if study.seeds > 1 else ""
    preset = f" --preset {study.preset}" if study.preset else ""
    command = f"kerasdl compare {study.app} --dataset DATA{preset} {sets} {flags}{seeds}"
    notes = (f"{study.description}\n\nThe same with the CLI: `{command.replace('  ', ' ')}`. Same data and "
             f"epochs for every variant{'' if study.seeds > 1 else ' and seed'}; training time on 2 CPU "
             f"cores. Curves: apps/{study.app}/{picture.name}"
             f"{' (mean of the seeds, band: one standard deviation)' if study.seeds > 1 else ''}.")
    return write_result(f"compare-{name}", f"{study.app}: {name}", result.table(),
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
