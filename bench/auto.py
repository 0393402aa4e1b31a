"""Never worse than the classic baseline? The default and `--model auto` on every data set.

For each data set, in the same run and on the same splits: the app's classic baselines
(fitted by `kerasdl train` beside the model; the best by validation is shown), the
app's default model (`kerasdl train APP --dataset D`, the recipe a new user gets) and
`--model auto` (the app's candidates, the best on validation kept). Validation and test
metric for each, and the time.

Held out from tuning, picked before any tuning (issue 21): the exchange-rate series,
the Speech Commands sample and CIFAR-10. The auto candidates were chosen looking at the
others only (IMDB, the Chinese reviews, ETTh1, FSDD, Fashion-MNIST).

    python bench/auto.py [--datasets imdb,zh_reviews,etth1,etth1_ot,exchange_rate,fsdd,speech_commands,fashion_mnist,cifar10]
"""

from __future__ import annotations

import argparse
import os
import sys
import tarfile
import time
from pathlib import Path
from typing import Any, Callable

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from common import REPO, SHARED_DATA, fresh_folder, markdown_table, require, write_result  # noqa: E402
from common import write_text_table, zh_review_splits  # noqa: E402

DATA = REPO / "bench" / "runs" / "data"
HELD_OUT = ("exchange_rate", "speech_commands", "cifar10")


def _extract(archive: Path, name: str, marker: str) -> Path:
    """`archive` extracted once under bench/runs/data/NAME; the folder holding `marker`."""
    target = DATA / name
    found = next(target.rglob(marker), None) if target.exists() else None
    if found is None:
        target.mkdir(parents=True, exist_ok=True)
        with tarfile.open(require(archive)) as tar:
            tar.extractall(target, filter="data")
        found = next(target.rglob(marker))
    return found.parent


def imdb() -> tuple[str, dict[str, Any]]:
    return str(_extract(SHARED_DATA / "imdb" / "aclImdb_labeled.tar.gz", "imdb", "imdb.vocab")), {}


def zh_reviews() -> tuple[str, dict[str, Any]]:
    folder = DATA / "zh_reviews"
    for split, rows in zh_review_splits().items():
        write_text_table(folder / f"{split}.csv", rows)
    return str(folder), {}


def etth1() -> tuple[str, dict[str, Any]]:
    return str(require(SHARED_DATA / "ett" / "ETTh1.csv")), {"season": 24}


def etth1_ot() -> tuple[str, dict[str, Any]]:
    """ETTh1's oil temperature forecast from all seven columns: the covariate case."""
    return str(require(SHARED_DATA / "ett" / "ETTh1.csv")), {"season": 24, "target": "OT"}


def exchange_rate() -> tuple[str, dict[str, Any]]:
    return str(require(SHARED_DATA / "exchange_rate" / "exchange_rate.csv")), {}


def fsdd() -> tuple[str, dict[str, Any]]:
    recordings = _extract(SHARED_DATA / "fsdd" / "fsdd.tar.gz", "fsdd", "0_george_0.wav")
    return str(recordings), {"sample_rate": 8000}


def speech_commands() -> tuple[str, dict[str, Any]]:
    root = _extract(SHARED_DATA / "speech_commands" / "speech_commands_v0.01_sample300.tar.gz",
                    "speech_commands", "testing_list.txt")
    return str(root), {}


def fashion_mnist() -> tuple[str, dict[str, Any]]:
    return str(require(SHARED_DATA / "fashion_mnist")), {}


def cifar10() -> tuple[str, dict[str, Any]]:
    return str(_extract(SHARED_DATA / "cifar10" / "cifar10_jpg.tar.gz", "cifar10", "train")), {}


DATASETS: dict[str, tuple[str, Callable[[], tuple[str, dict[str, Any]]]]] = {
    "imdb": ("sentiment", imdb),
    "zh_reviews": ("sentiment", zh_reviews),
    "etth1": ("forecast", etth1),
    "etth1_ot": ("forecast", etth1_ot),
    "exchange_rate": ("forecast", exchange_rate),
    "fsdd": ("speech", fsdd),
    "speech_commands": ("speech", speech_commands),
    "fashion_mnist": ("vision", fashion_mnist),
    "cifar10": ("vision", cifar10),
}


def measure(name: str, runs: Path) -> list[object]:
    from kerasdl import api
    from kerasdl.config import resolve_config
    from kerasdl.evaluation.baselines import best_baseline
    from kerasdl.registry import get_app

    app_name, prepare = DATASETS[name]
    app = get_app(app_name)
    dataset, settings = prepare()
    metric, mode = app.headline_metric, app.headline_mode
    scores: dict[str, dict[str, Any]] = {}
    for kind, model in (("default", ""), ("auto", "auto")):
        config = resolve_config(app.config_class, overrides={"dataset": dataset, "model": model, **settings})
        started = time.perf_counter()
        summary = api.train(app_name, config, runs_dir=runs / name, name=kind, verbose=2,
                            baselines=kind == "default")
        seconds = time.perf_counter() - started
        metrics = summary.metrics
        validation = metrics.get("validation", {}).get(metric)
        if kind == "auto":
            scores["auto_choice"] = metrics["auto"]["winner"]
        scores[kind] = {"validation": validation, "test": metrics[metric], "seconds": seconds}
        if kind == "default":
            scores["baseline"] = best_baseline(metrics["baselines"], metric, mode) or {}

    def cell(values: dict[str, Any] | None) -> str:
        if not values:
            return "-"
        val, test = values.get("validation"), values.get("test")
        return f"{val:.4f} / {test:.4f}" if isinstance(val, (int, float)) else f"- / {test:.4f}"

    baseline = scores["baseline"]
    base_cell = "-"
    if baseline:
        base_cell = f"{cell({'validation': baseline['validation'][metric], 'test': baseline['test'][metric]})} " \
                    f"({baseline['name']})"
    auto_test, base_test = scores["auto"]["test"], baseline.get("test", {}).get(metric)
    if base_test is None:
        verdict = "-"
    else:
        verdict = "yes" if (auto_test >= base_test if mode == "max" else auto_test <= base_test) else "**no**"
    return [name + (" (held out)" if name in HELD_OUT else ""), metric, base_cell, cell(scores["default"]),
            f"{cell(scores['auto'])} ({scores['auto_choice']})", verdict,
            f"{scores['default']['seconds'] / 60:.1f} / {scores['auto']['seconds'] / 60:.1f} min"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default=",".join(DATASETS))
    args = parser.parse_args()
    names = [n for n in args.datasets.split(",") if n]
    unknown = [n for n in names if n not in DATASETS]
    if unknown:
        print(f"unknown data sets: {', '.join(unknown)}; choose from {', '.join(DATASETS)}", file=sys.stderr)
        return 2
    runs = fresh_folder("auto-" + "-".join(names))  # a folder per invocation: two can run at once
    rows = [measure(name, runs) for name in names]
    table = markdown_table(["data set", "metric", "best classic baseline (validation / test)",
                            "default (validation / test)", "--model auto (validation / test, chosen)",
                            "auto >= baseline on test", "time default / auto (2 cores)"], rows)
    full = args.datasets == parser.get_default("datasets")
    write_result("auto" if full else "auto-" + "-".join(names),
                 "Classic baselines, the default model and --model auto on every data set", table,
                 ("python bench/auto.py " + " ".join(sys.argv[1:])).strip(),
                 notes="The baseline is the best by validation of the app's classic baselines, fitted in the "
                       "default run on its training split. Accuracy: higher is better; MSE (z-scores): lower. "
                       "Held out: chosen before tuning and never tuned on.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
