"""Vision benchmark on Fashion-MNIST (IDX files in ../shared/data/fashion_mnist).

Trains the `fashion-mnist` preset on the full 60,000 training images (54,000 train /
6,000 validation) and reports test accuracy on the 10,000 test images, training and
input-pipeline throughput and wall time.

    python bench/vision.py [--epochs N] [--model cnn] [--preset fashion-mnist]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from common import REPO, SHARED_DATA, VISION_RUN, markdown_table, require, write_result  # noqa: E402


def pipeline_throughput(app, config) -> float:
    """Images/s of the training input pipeline alone (decode, cache, shuffle, batch,
    augment, prefetch), timed on a second pass once the cache is filled."""
    from kerasdl.data.pipeline import training_pipeline

    data = app.load_datasets(config)
    ds = training_pipeline(
        data.train, config.batch_size, seed=config.seed,
        augment=app.augmentation(config, data.info) if config.augment else None,
    )
    for _ in ds:  # fills the cache
        pass
    started, count = time.perf_counter(), 0
    for x, _ in ds:
        count += int(x.shape[0])
    return count / (time.perf_counter() - started)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="fashion-mnist")
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--model")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args()
    data_dir = require(SHARED_DATA / "fashion_mnist")

    from kerasdl import api
    from kerasdl.config import resolve_config
    from kerasdl.registry import get_app

    app = get_app("vision")
    overrides = {"dataset": str(data_dir)}
    if args.epochs:
        overrides["epochs"] = args.epochs
    if args.model:
        overrides["model"] = args.model
    overrides.update(dict(s.split("=", 1) for s in args.set))
    config = resolve_config(app.config_class, preset=args.preset, overrides=overrides)

    # The trained run is kept for bench/export.py and bench/optimize.py.
    shutil.rmtree(VISION_RUN, ignore_errors=True)
    wall = time.perf_counter()
    summary = api.train("vision", config, runs_dir=VISION_RUN.parent.parent, name=VISION_RUN.name,
                        verbose=2)
    wall = time.perf_counter() - wall
    params = _count_params(summary.run)
    pipeline = pipeline_throughput(app, config)
    train_rate = summary.examples_per_second
    rows = [[
        config.model, params, config.epochs, f"{summary.metrics['accuracy'] * 100:.2f} %",
        f"{train_rate:.0f}", f"{pipeline:.0f}", f"{pipeline / train_rate:.1f}x",
        f"{wall / 60:.1f} min",
    ]]
    table = markdown_table(
        ["model", "parameters", "epochs", "test accuracy", "training images/s",
         "input pipeline images/s", "pipeline / training", "wall time"], rows)
    command = "python bench/vision.py " + " ".join(sys.argv[1:])
    notes = (f"Config: preset `{args.preset}` with {overrides}. Training images/s counts "
             "whole epochs (training steps, validation and checkpointing); the input "
             "pipeline figure is a second pass over the cached, augmented training split. "
             f"The run is kept in {summary.run.path.relative_to(REPO)} for bench/export.py.")
    write_result("vision", "Vision: Fashion-MNIST", table, command.strip(), notes)
    return 0


def _count_params(run) -> int:
    from kerasdl.training.saving import load_model

    return int(load_model(run.model_path()).count_params())


if __name__ == "__main__":
    sys.exit(main())
