"""Tuning benchmark on Fashion-MNIST (IDX files in ../shared/data/fashion_mnist).

Searches the vision app's space (model, width, optimizer, schedule, rate, dropout,
batch size, label smoothing) with `kerasdl.tuning.tune` on the 54,000 training images
(objective: accuracy on the 6,000 held out), every trial trained for the same number
of epochs, then trains the best config again. Beside it, at the same epochs and on the
same 10,000 test images: the app's default recipe (`kerasdl train vision`'s defaults).
The model family is held at the default's (cnn) unless `--fix ""`: on two CPU cores a
ResNet epoch takes nine times a CNN's.

    python bench/tune.py [--epochs 3] [--trials 8] [--tuner random] [--time-budget 25m] [--fix model]
"""

from __future__ import annotations

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from common import SHARED_DATA, fresh_folder, markdown_table, require, write_result  # noqa: E402

SHOWN = ("model", "width", "optimizer", "learning_rate", "schedule", "dropout", "batch_size",
         "label_smoothing")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--tuner", default="random")
    parser.add_argument("--time-budget", default="25m")
    parser.add_argument("--fix", default="model", help="comma-separated names held at the default")
    args = parser.parse_args()
    data_dir = require(SHARED_DATA / "fashion_mnist")

    import logging

    from kerasdl import api
    from kerasdl.apps.vision.config import VisionConfig
    from kerasdl.tuning.search import parse_duration, tune

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    runs = fresh_folder("tune")
    base = VisionConfig(dataset=str(data_dir), epochs=args.epochs)
    fixed = tuple(name for name in args.fix.split(",") if name)
    result = tune("vision", base, tuner=args.tuner, max_trials=args.trials,
                  time_budget=parse_duration(args.time_budget), tune_dir=runs / "search",
                  name="fashion-mnist", runs_dir=runs, fixed=fixed, verbose=2)
    default = api.train("vision", base, runs_dir=runs, name="default", verbose=2)

    trial_rows = [[r["trial"], r["status"], f"{r['score']:.4f}" if r["score"] is not None else "-",
                   f"{r['seconds'] / 60:.1f} min" if r["seconds"] else "-",
                   *(f"{r[k]:.3g}" if isinstance(r.get(k), float) else r.get(k, "-") for k in SHOWN)]
                  for r in result.trials]
    trials = markdown_table(["trial", "status", "validation accuracy", "time", *SHOWN], trial_rows)
    best = result.best_run
    assert best is not None and result.best_config is not None
    compare = markdown_table(
        ["config", "epochs", "test accuracy", "training time"],
        [["default recipe (`kerasdl train vision --epochs %d`)" % args.epochs, args.epochs,
          f"{default.metrics['accuracy']:.2%}", f"{default.seconds / 60:.1f} min"],
         [f"tuned ({len(result.trials)} {args.tuner} trials, best config retrained)", args.epochs,
          f"{best.metrics['accuracy']:.2%}", f"{best.seconds / 60:.1f} min"]])
    command = "python bench/tune.py " + " ".join(sys.argv[1:])
    write_result("tune", "Tuning: vision on Fashion-MNIST, tuned against the default recipe",
                 compare + "\n\n" + trials, command.strip(),
                 notes="Every trial and both final runs train for the same epochs on the same "
                       "54,000 images; trials are ranked by accuracy on the 6,000 held out, the "
                       "final runs measured on the 10,000 test images. The search stops starting "
                       f"trials after {args.time_budget}; trial 0 is the default recipe itself. "
                       f"Held at the default: {', '.join(fixed) or 'nothing'}. Best config: "
                       f"{', '.join(f'{k}={getattr(result.best_config, k)}' for k in SHOWN)}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
