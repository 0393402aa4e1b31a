"""DCGAN benchmark on Fashion-MNIST (IDX files in ../shared/data/fashion_mnist).

Trains the `fashion-mnist` preset on the 54,000 training images (6,000 held out), and
reports:
- FID and the Inception Score analogue per epoch (5,000 generated images against 5,000
  held-out real ones), to show FID falling;
- the final FID on the 10,000 test images beside the floor two halves of them set;
- which classes the scoring classifier sees in 5,000 generated images, and how sure it is;
- FID and size of the exported generator per TFLite precision.

The scoring classifier is the vision app's Fashion-MNIST run that bench/vision.py keeps
(bench/runs/vision/fashion-mnist), or, without it, one the dcgan app trains and caches.
The final sample grid and a latent walk are copied into apps/dcgan/ for its README.

    python bench/dcgan.py [--epochs N] [--set KEY=VALUE ...]
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from common import REPO, SHARED_DATA, VISION_RUN, fresh_folder, markdown_table, require, write_result  # noqa: E402

CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
           "Sneaker", "Bag", "Ankle boot"]


def per_epoch_table(run) -> str:
    with (run.path / "history.csv").open() as f:
        history = list(csv.DictReader(f))
    rows = [[int(h["epoch"]), f"{float(h['fid']):.1f}", f"{float(h['inception_score']):.2f}",
             f"{float(h['diversity_ratio']):.2f}", f"{float(h['d_loss']):.3f}",
             f"{float(h['g_loss']):.3f}", f"{float(h['d_real_accuracy']):.2f}",
             f"{float(h['d_fake_accuracy']):.2f}"] for h in history]
    return markdown_table(["epoch", "FID (5,000 vs validation)", "IS analogue", "diversity ratio",
                           "D loss", "G loss", "D accuracy real", "D accuracy fake"], rows)


def class_table(app, info, model, count: int = 5000) -> str:
    """How the classifier labels generated images: each class's share and confidence."""
    from kerasdl.apps.dcgan.noise import fixed_noise

    noise = fixed_noise(count, info["latent_dim"], seed=7)
    images = np.concatenate([np.asarray(model(noise[i:i + 500], training=False))
                             for i in range(0, count, 500)])
    _, probabilities = app.scorer(info)(images)
    predicted, confidence = probabilities.argmax(axis=1), probabilities.max(axis=1)
    rows = [[name, f"{np.mean(predicted == k):.1%}",
             f"{np.mean(confidence[predicted == k]):.2f}" if np.any(predicted == k) else "-"]
            for k, name in enumerate(CLASSES)]
    return markdown_table(["class", "share of generated images (10 % each in the data)",
                           "mean classifier confidence"], rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args()
    data_dir = require(SHARED_DATA / "fashion_mnist")
    os.environ.setdefault("KERASDL_CACHE", str(REPO / "bench" / "runs" / "cache"))

    from kerasdl import api
    from kerasdl.config import resolve_config
    from kerasdl.export.exporter import export_run
    from kerasdl.registry import get_app
    from kerasdl.training.saving import load_model

    app = get_app("dcgan")
    overrides: dict[str, object] = {"dataset": str(data_dir)}
    if (VISION_RUN / "metrics.json").is_file():
        overrides["classifier"] = str(VISION_RUN)
    if args.epochs:
        overrides["epochs"] = args.epochs
    overrides.update(dict(s.split("=", 1) for s in args.set))
    config = resolve_config(app.config_class, preset="fashion-mnist", overrides=overrides)

    runs = fresh_folder("dcgan")
    summary = api.train("dcgan", config, runs_dir=runs, name="fashion-mnist", verbose=2)
    run, metrics = summary.run, summary.metrics
    info = run.meta["data"]
    model = load_model(run.model_path(), custom_objects=app.custom_objects())

    export = export_run(run.path, formats=("saved_model", "tflite"),
                        quantizations=("float32", "dynamic", "float16", "int8"), out_dir=runs / "exports",
                        name="dcgan")
    export_rows = [[r["variant"], f"{r['bytes'] / 1024:.0f} KB" if r["bytes"] else "-",
                    f"{r['metric']:.2f}", f"{r['max_abs_diff']:.1f}"] for r in export.rows]

    final = markdown_table(
        ["images", "FID (test, best epoch)", "FID floor (test halves)", "IS analogue",
         "IS of real images", "classes generated", "scoring classifier accuracy", "training"],
        [[metrics["images"], f"{metrics['fid']:.1f}", f"{metrics['fid_real_floor']:.1f}",
          f"{metrics['inception_score']:.2f}", f"{metrics['real_inception_score']:.2f}",
          f"{metrics['classes_generated']} / 10",
          f"{metrics.get('classifier_accuracy', float('nan')):.2%}",
          f"{summary.seconds / 60:.1f} min ({summary.epochs_completed} ep.)"]])
    exports = markdown_table(["export", "size", "FID (test)", "largest pixel difference from Keras (0-255)"],
                             export_rows)
    table = "\n\n".join([final, per_epoch_table(run), class_table(app, info, model), exports])

    # The README's pictures: the best epoch's grid and a walk between two seeds.
    shutil.copyfile(run.plots / "samples.png", REPO / "apps" / "dcgan" / "samples-fashion-mnist.png")
    api.generate(run.path, REPO / "apps" / "dcgan" / "walk-fashion-mnist.png", count=10, seed=1,
                 interpolate_to=2, scale=2)

    command = "python bench/dcgan.py " + " ".join(sys.argv[1:])
    write_result(
        "dcgan", "DCGAN: Fashion-MNIST (54,000 training images; FID on the 10,000 test images)",
        table, command.strip(),
        notes=f"Preset `fashion-mnist`: {config.epochs} epochs, batch {config.batch_size}, width "
              f"{config.width}, latent {config.latent_dim}, Adam {config.learning_rate:g} (beta_1 "
              f"{config.beta_1}), real label {config.real_label}. FID and IS use the features and "
              f"probabilities of the vision classifier {Path(info['classifier']).name} (not "
              "Inception v3: its weights cannot be downloaded here), so the numbers compare "
              "kerasdl runs with each other, not with published FIDs.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
