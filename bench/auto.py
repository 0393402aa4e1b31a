"""Never worse than the classic baseline? The default and `--model auto` on every data set.

For each data set, in the same run and on the same splits: the app's classic baselines
(fitted by `kerasdl train` beside the model; the best by validation is shown), the
default run (`kerasdl train APP --dataset D`, the recipe a new user gets: the app's
default model and its classic baseline models, the better on validation shipped) and
`--model auto` (the app's candidates, the best on validation kept). Validation and test
metric for each, and the time.

Held out from tuning, picked before any tuning (issue 21): the exchange-rate series,
the Speech Commands sample and CIFAR-10. The auto candidates were chosen looking at the
others only (IMDB, the Chinese reviews, ETTh1, FSDD, Fashion-MNIST).

    python bench/auto.py [--datasets imdb,zh_reviews,etth1,etth1_ot,exchange_rate,fsdd,speech_commands,fashion_mnist,cifar10]
    python bench/auto.py --datasets etth1_ot --reuse bench/runs/auto-etth1-etth1_ot-exchange_rate
    python bench/auto.py --datasets cifar10 --no-auto   # the default run only
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tarfile
from pathlib import Path
from typing import Any, Callable

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from common import REPO, SHARED_DATA, fresh_folder, markdown_table, require, write_result  # noqa: E402
from common import write_text_table, zh_review_splits  # noqa: E402

DATA = REPO / "bench" / "runs" / "data"
HELD_OUT = ("exchange_rate", "speech_commands", "cifar10", "imdb_sentences")


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


def imdb_sentences() -> tuple[str, dict[str, Any]]:
    """10,000 short texts: the last sentence (5 to 40 words) of 5,000 positive and 5,000
    negative IMDB training reviews, drawn with a fixed seed, split 80/10/10. A stand-in
    for issue 21's ~10k movie-review sentences (not in ../shared): short, one opinion
    each, and never tuned on (the recipes were tuned on whole reviews)."""
    import re

    import numpy as np

    root = Path(imdb()[0])
    rng = np.random.default_rng(0)
    rows: list[tuple[str, str]] = []
    for label in ("pos", "neg"):
        files = sorted((root / "train" / label).glob("*.txt"))
        kept = 0
        for i in rng.permutation(len(files)):
            text = files[i].read_text(encoding="utf-8").replace("<br />", " ")
            sentences = [t.strip() for t in re.split(r"(?<=[.!?])\s+", text) if t.strip()]
            last = next((t for t in reversed(sentences) if 5 <= len(t.split()) <= 40), None)
            if last is None:
                continue
            rows.append((last, label))
            kept += 1
            if kept == 5000:
                break
    rows = [rows[i] for i in rng.permutation(len(rows))]
    folder = DATA / "imdb_sentences"
    n_train, n_validation = int(0.8 * len(rows)), int(0.1 * len(rows))
    for split, part in (("train", rows[:n_train]), ("validation", rows[n_train:n_train + n_validation]),
                        ("test", rows[n_train + n_validation:])):
        write_text_table(folder / f"{split}.csv", part)
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
    "imdb_sentences": ("sentiment", imdb_sentences),
    "etth1": ("forecast", etth1),
    "etth1_ot": ("forecast", etth1_ot),
    "exchange_rate": ("forecast", exchange_rate),
    "fsdd": ("speech", fsdd),
    "speech_commands": ("speech", speech_commands),
    "fashion_mnist": ("vision", fashion_mnist),
    "cifar10": ("vision", cifar10),
}


def train(name: str, runs: Path, auto: bool = True) -> None:
    """The default and the auto run of data set `name` under runs/NAME/APP/{default,auto}."""
    from kerasdl import api
    from kerasdl.config import resolve_config
    from kerasdl.registry import get_app

    app_name, prepare = DATASETS[name]
    app = get_app(app_name)
    dataset, settings = prepare()
    for kind, model in (("default", ""), ("auto", "auto"))[:2 if auto else 1]:
        config = resolve_config(app.config_class, overrides={"dataset": dataset, "model": model, **settings})
        # As `kerasdl train` without --model: the default and the baseline models.
        api.train(app_name, config, runs_dir=runs / name, name=kind, verbose=2, baselines=kind == "default",
                  baseline_models=kind == "default")


def summarize(name: str, runs: Path) -> list[object]:
    """A table row from the runs `train` wrote. The auto run's candidates are chosen
    again with the library's rule (`choose_candidate`): the same choice as the run's own,
    or, for runs trained before the rule changed, what the rule chooses now."""
    from kerasdl import io as kio
    from kerasdl.evaluation.baselines import best_baseline
    from kerasdl.registry import get_app
    from kerasdl.training.auto import AUTO_FILE, choose_candidate

    app_name, _ = DATASETS[name]
    app = get_app(app_name)
    metric, mode = app.headline_metric, app.headline_mode
    default_run, auto_run = (runs / name / app_name / kind for kind in ("default", "auto"))
    default = kio.read_json(default_run / "metrics.json")
    baseline = best_baseline(default["baselines"], metric, mode) or {}

    def cell(validation: Any, test: Any) -> str:
        return f"{validation:.4f} / {test:.4f}"

    def at_least(value: float, reference: float) -> str:
        if math.isclose(value, reference, rel_tol=1e-5):  # float32 vs float64 of one model
            return "yes (equal)"
        return "yes" if (value > reference if mode == "max" else value < reference) else "**no**"

    shipped = default.get("auto", {})
    shipped_label = shipped.get("winner", app.default_model)
    # Wall time of all the candidates, data loading and closed fits included.
    shipped_seconds = shipped.get("seconds") or default["training"]["seconds"]
    base_cell, verdict = "-", "-"
    if baseline:
        base_cell = f"{cell(baseline['validation'][metric], baseline['test'][metric])} ({baseline['name']})"
        verdict = at_least(default["validation"][metric], baseline["validation"][metric])
    auto_cell, auto_minutes = "not run (see the earlier table)", "-"
    if (auto_run / AUTO_FILE).is_file():
        auto_record = kio.read_json(auto_run / AUTO_FILE)
        candidates = auto_record["candidates"]
        choice = choose_candidate(app, auto_run, candidates)
        winner = next(c for c in candidates if c["label"] == choice["winner"])
        chosen = winner["label"] if choice["best"] == choice["winner"] else \
            f"{winner['label']}; best on validation {choice['best']}, within one SE"
        auto_cell = f"{cell(winner['validation'], winner['test'])} ({chosen})"
        auto_minutes = f"{auto_record['seconds'] / 60:.1f}"
    first = (shipped.get("candidates") or [{}])[0]
    alone = cell(first["validation"], first["test"]) if isinstance(first.get("validation"), float) else "-"
    return [name + (" (held out)" if name in HELD_OUT else ""), metric, base_cell,
            f"{alone} ({first.get('label', app.default_model)})",
            f"{cell(default['validation'][metric], default[metric])} ({shipped_label})", verdict, auto_cell,
            f"{shipped_seconds / 60:.1f} / {auto_minutes} min"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--no-auto", action="store_true", help="train the default run only (CIFAR-10's auto "
                        "run takes most of an hour on 2 cores)")
    parser.add_argument("--reuse", type=Path, metavar="RUNS",
                        help="summarize the runs an earlier invocation trained (bench/runs/auto-...) "
                             "instead of training: the auto choice is made again with today's rule")
    args = parser.parse_args()
    names = [n for n in args.datasets.split(",") if n]
    unknown = [n for n in names if n not in DATASETS]
    if unknown:
        print(f"unknown data sets: {', '.join(unknown)}; choose from {', '.join(DATASETS)}", file=sys.stderr)
        return 2
    if args.reuse is not None:
        runs = args.reuse
        missing = [n for n in names if not (runs / n / DATASETS[n][0] / "default" / "metrics.json").is_file()]
        if missing:
            print(f"{runs} holds no finished runs for: {', '.join(missing)}", file=sys.stderr)
            return 2
    else:
        runs = fresh_folder("auto-" + "-".join(names))  # a folder per invocation: two can run at once
        for name in names:
            train(name, runs, auto=not args.no_auto)
    rows = [summarize(name, runs) for name in names]
    table = markdown_table(["data set", "metric", "best classic baseline (validation / test)",
                            "default model alone (validation / test)", "default run (validation / test, shipped)", "default >= baseline on validation",
                            "--model auto (validation / test, chosen)",
                            "wall time default run / auto (2 cores)"], rows)
    full = args.datasets == parser.get_default("datasets")
    command = ("python bench/auto.py " + " ".join(sys.argv[1:])).strip()
    write_result("auto" if full else "auto-" + "-".join(names),
                 "Classic baselines, the default model and --model auto on every data set", table, command,
                 notes="The baseline is the best by validation of the app's classic baselines, fitted in the "
                       "default run on its training split. Default run: the app's default model and its "
                       "baseline models (the printed baselines as models), the default shipped unless a "
                       "baseline model is better on validation. Auto: each candidate's best epoch, then the "
                       "one-standard-error rule on validation (the smallest candidate within one standard "
                       "error of the best). Accuracy: higher is better; MSE (z-scores): lower. Held out: "
                       "chosen before tuning and never tuned on."
                       + (f" Summarized from the runs in {args.reuse} (trained earlier, chosen again now)."
                          if args.reuse is not None else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
