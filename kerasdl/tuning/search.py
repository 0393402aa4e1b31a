"""Hyperparameter search over an app's search space with Keras Tuner.

A search lives in `tune_dir/<app>/<name>/`: Keras Tuner's oracle and trials, the base
config (`base.toml`), the trials sorted by the objective (`trials.csv`) and the best
trial's config (`best.toml`, which `kerasdl train APP --config` accepts). The best
config is then trained again as an ordinary run that `export` and `optimize` accept.

Distributed search uses Keras Tuner's own protocol: every process runs the same
command; `KERASTUNER_TUNER_ID=chief` serves the oracle on `KERASTUNER_ORACLE_IP` /
`KERASTUNER_ORACLE_PORT` and the others (any other `KERASTUNER_TUNER_ID`) ask it for
trials and run them.
"""

from __future__ import annotations

import csv
import json
import logging
import math
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from kerasdl.config import TrainConfig, config_from_dict, read_toml, to_toml
from kerasdl.errors import ConfigError, KerasdlError
from kerasdl.io import atomic_path
from kerasdl.registry import get_app
from kerasdl.runs import folder_to_resume, new_folder

if TYPE_CHECKING:
    from kerasdl.training.trainer import TrainSummary
    from kerasdl.app import App

logger = logging.getLogger(__name__)

TUNERS = ("random", "bayesian", "hyperband")
MAXIMIZED_WORDS = ("accuracy", "auc", "precision", "recall", "inception_score", "f1")


@dataclass
class TuneResult:
    """What a search leaves: its folder, the trials best first, the best config."""

    directory: Path
    objective: str
    direction: str
    trials: list[dict[str, Any]]
    best_config: TrainConfig | None
    best_run: "TrainSummary | None" = None
    role: str = "single"  # "chief" or "worker" in a distributed search

    @property
    def trials_csv(self) -> Path:
        return self.directory / "trials.csv"

    @property
    def best_config_path(self) -> Path:
        return self.directory / "best.toml"

    def table(self) -> str:
        """The trials as aligned text columns, best first: the objective's column is
        named after it, floats have 4 significant digits, a value a trial lacks is "-";
        each failed trial's error follows the table on a line of its own.

        Example:
        >>> from pathlib import Path
        >>> rows = [{"trial": "1", "status": "completed", "score": 0.91234, "lr": 0.001},
        ...         {"trial": "0", "status": "failed", "score": None, "lr": 10.0, "error": "NaN loss"}]
        >>> print(TuneResult(Path("s"), "val_accuracy", "max", rows, None).table())
        trial  status     val_accuracy  lr
        1      completed  0.9123        0.001
        0      failed     -             10
        trial 0 failed: NaN loss
        """
        columns: list[str] = []
        for row in self.trials:
            columns += [k for k in row if k not in columns and k != "error"]
        columns = [self.objective if c == "score" else c for c in columns]

        def cell(row: dict[str, Any], column: str) -> str:
            value = row.get("score" if column == self.objective else column)
            if value is None:
                return "-"
            if isinstance(value, float):
                return f"{value:.4g}"
            return str(value)

        table = [columns] + [[cell(r, c) for c in columns] for r in self.trials]
        widths = [max(len(line[i]) for line in table) for i in range(len(columns))]
        lines = ["  ".join(v.ljust(w) for v, w in zip(line, widths)).rstrip() for line in table]
        failed = [f"trial {r['trial']} {r['status']}: {r['error']}" for r in self.trials if r.get("error")]
        return "\n".join(lines + failed)


def parse_objective(objective: str | None, monitor: tuple[str, str]) -> tuple[str, str]:
    """(metric, "min" or "max") from "NAME" or "NAME:min|max"; None is the app's monitor.

    Example:
    >>> from kerasdl.tuning.search import parse_objective
    >>> parse_objective("val_accuracy", ("val_loss", "min"))
    ('val_accuracy', 'max')
    """
    if not objective:
        return monitor
    name, _, direction = objective.partition(":")
    name = name.strip()
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise ConfigError(f"`objective` must be a metric name such as val_accuracy, optionally "
                          f"with :min or :max. Received: {objective!r}")
    if direction:
        if direction not in ("min", "max"):
            raise ConfigError(f"`objective`'s direction must be min or max. Received: {direction!r}")
        return name, direction
    if name == monitor[0]:
        return monitor
    return name, "max" if any(word in name for word in MAXIMIZED_WORDS) else "min"


def parse_duration(text: str) -> float:
    """Seconds from "90", "90s", "30m", "2h" or "1h30m".

    Example:
    >>> from kerasdl.tuning.search import parse_duration
    >>> parse_duration("1h30m")
    5400.0
    """
    text = text.strip().lower()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        seconds = float(text)
    else:
        parts = re.findall(r"(\d+(?:\.\d+)?)([hms])", text)
        if not parts or "".join(n + u for n, u in parts) != text:
            raise ConfigError(f"`time_budget` takes a duration such as 90s, 30m, 2h or 1h30m. "
                              f"Received: {text!r}")
        seconds = sum(float(n) * {"h": 3600, "m": 60, "s": 1}[u] for n, u in parts)
    if seconds <= 0:
        raise ConfigError(f"`time_budget` must be positive. Received: {text!r}")
    return seconds


def _role() -> str:
    if not os.environ.get("KERASTUNER_ORACLE_IP"):
        return "single"
    return "chief" if "chief" in os.environ.get("KERASTUNER_TUNER_ID", "") else "worker"


def _stop_after(oracle: Any, seconds: float) -> None:
    """Makes the oracle hand out no new trial once `seconds` have passed (a trial
    already running finishes)."""
    deadline = time.monotonic() + seconds
    populate = oracle.populate_space

    def populate_space(trial_id: str) -> dict[str, Any]:
        if time.monotonic() >= deadline:
            logger.info("Time budget spent: no new trials.")
            return {"status": "STOPPED", "values": None}
        return populate(trial_id)

    oracle.populate_space = populate_space


def _start_from_base_config(oracle: Any) -> None:
    """Makes a new search's first trial the base config itself, so the best config
    found has been compared with the one the user started from."""
    populate = oracle.populate_space

    def populate_space(trial_id: str) -> dict[str, Any]:
        if oracle.trials:
            return populate(trial_id)
        return {"status": "RUNNING", "values": oracle.hyperparameters.copy().values}

    oracle.populate_space = populate_space


def _tuner_class(kind: str) -> type:
    import keras_tuner

    base = {"random": keras_tuner.RandomSearch, "bayesian": keras_tuner.BayesianOptimization,
            "hyperband": keras_tuner.Hyperband}[kind]

    class KerasdlTuner(base):  # type: ignore[misc, valid-type]
        """Tells the HyperModel where the trial writes, times it and logs it."""

        def run_trial(self, trial: Any, *args: Any, **kwargs: Any) -> Any:
            directory = Path(self.get_trial_dir(trial.trial_id))
            directory.mkdir(parents=True, exist_ok=True)
            self.hypermodel.output_dir = directory
            started = time.perf_counter()
            values = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                               for k, v in trial.hyperparameters.values.items()
                               if not k.startswith("tuner/"))
            logger.info("Trial %s: %s", trial.trial_id, values)
            try:
                return super().run_trial(trial, *args, **kwargs)
            finally:
                seconds = time.perf_counter() - started
                (directory / "kerasdl.json").write_text(json.dumps({"seconds": round(seconds, 2)}))

        def on_trial_end(self, trial: Any) -> None:
            super().on_trial_end(trial)
            ended = self.oracle.get_trial(trial.trial_id)
            if ended.status == "COMPLETED":
                logger.info("Trial %s: %s %.4g", trial.trial_id, self.oracle.objective.name, ended.score)
            else:
                logger.info("Trial %s %s: %s", trial.trial_id, ended.status.lower(),
                            _last_line(ended.message))

    KerasdlTuner.__name__ = f"Kerasdl{base.__name__}"
    return KerasdlTuner


def _last_line(message: str | None) -> str:
    lines = [line for line in (message or "").strip().splitlines() if line.strip()]
    # kerasdl's own errors read as sentences; others keep their class name.
    return re.sub(r"^kerasdl\.errors\.\w+: ", "", lines[-1].strip()) if lines else ""


def trial_rows(oracle: Any, directory: Path, direction: str) -> list[dict[str, Any]]:
    """One row per trial: id, status, objective, seconds, hyperparameters, error;
    completed trials first, best first."""
    rows = []
    for trial in oracle.trials.values():
        timing = directory / f"trial_{trial.trial_id}" / "kerasdl.json"
        seconds = json.loads(timing.read_text())["seconds"] if timing.is_file() else None
        row: dict[str, Any] = {"trial": trial.trial_id, "status": trial.status.lower(),
                               "score": trial.score, "seconds": seconds}
        row.update({k: v for k, v in trial.hyperparameters.values.items() if not k.startswith("tuner/")})
        if "tuner/epochs" in trial.hyperparameters.values:
            row["epochs_trained"] = trial.hyperparameters.values["tuner/epochs"]
        if trial.status != "COMPLETED":
            row["error"] = _last_line(trial.message)
        rows.append(row)
    sign = -1.0 if direction == "max" else 1.0
    completed = sorted((r for r in rows if r["score"] is not None and not math.isnan(r["score"])),
                       key=lambda r: sign * r["score"])
    return completed + [r for r in rows if r not in completed]


def write_trials_csv(rows: list[dict[str, Any]], path: Path) -> Path:
    columns: list[str] = []
    for row in rows:
        columns += [k for k in row if k not in columns]
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    return path


def fixed_hyperparameters(app: "App", config: TrainConfig, names: Sequence[str]) -> Any:
    """A Keras Tuner space in which each of `names` is fixed at the config's value.

    Raises:
        ConfigError: for a name that is not in the app's search space.
    """
    import keras_tuner

    defaults = app.search_space(keras_tuner.HyperParameters(), config)
    unknown = [n for n in names if n not in defaults]
    if unknown:
        raise ConfigError(f"`fix` takes names from the {app.name} app's search space "
                          f"({', '.join(sorted(defaults))}). Received: {', '.join(unknown)}")
    space = keras_tuner.HyperParameters()
    for name in names:
        value = getattr(config, name, None)
        space.Fixed(name, value if value is not None else defaults[name])
    return space


def _search_folder(tune_dir: Path, app_name: str, name: str | None, resume: bool) -> Path:
    root = tune_dir / app_name
    if resume:
        return folder_to_resume(root, name, marker="base.toml", what=f"search of the {app_name} app")
    if _role() != "single":  # the chief and its workers share the folder
        return root / (name or time.strftime("%Y%m%d-%H%M%S"))
    return new_folder(root, name, what="search")


def tune(
    app_name: str,
    config: TrainConfig | None = None,
    *,
    tuner: str = "random",
    max_trials: int = 10,
    objective: str | None = None,
    time_budget: float | None = None,
    tune_dir: str | Path = "runs/tune",
    name: str | None = None,
    resume: bool = False,
    retrain: bool = True,
    runs_dir: str | Path = "runs",
    fixed: Sequence[str] = (),
    verbose: Any = 0,
) -> TuneResult:
    """Searches an app's hyperparameters, then trains the best config as a run.

    Args:
        app_name: a registered app.
        config: the values the search does not set (the app's defaults when None);
            with `resume`, the saved one is used.
        tuner: random, bayesian (Gaussian process) or hyperband (successive halving
            of epochs; the config's epochs are the most a trial gets). Random and
            bayesian searches try the base config first.
        max_trials: trials to run in all (a resumed search counts those done).
        objective: the metric to optimize, "NAME" or "NAME:min|max"; the app's
            checkpoint monitor (val_accuracy, val_loss, fid ...) when None.
        time_budget: seconds after which no new trial starts (the chief's counts).
        tune_dir: where searches are kept.
        name: the search's folder name (a timestamp when None).
        resume: continue the search `name` (or the newest) where it stopped.
        retrain: train the best config again as an ordinary run in `runs_dir`.
        fixed: names from the app's search space to hold at the config's value
            (to spend the trials on the rest).
        verbose: Keras' progress display for each trial.

    Raises:
        KerasdlError: for bad input, or when every trial fails (with the last error).
    """
    import keras_tuner

    from kerasdl.tuning.hypermodel import AppHyperModel

    if tuner not in TUNERS:
        raise ConfigError(f"`tuner` must be one of {', '.join(TUNERS)}. Received: {tuner!r}")
    if max_trials < 1:
        raise ConfigError(f"`max_trials` must be at least 1. Received: {max_trials}")
    app = get_app(app_name)
    role = _role()
    folder = _search_folder(Path(tune_dir), app.name, name, resume)
    if resume:
        config = config_from_dict(app.config_class, read_toml(folder / "base.toml"))
        settings = json.loads((folder / "search.json").read_text())
        tuner, objective = settings["tuner"], settings["objective"]
        fixed = settings.get("fixed", [])
    else:
        config = config if config is not None else app.config_class()
        if not isinstance(config, app.config_class):
            raise KerasdlError(f"The {app.name} app needs a {app.config_class.__name__}.")
    if config.strategy == "multiworker":
        raise ConfigError("Tuning distributes trials, not steps: leave `strategy` unset and "
                          "run workers with KERASTUNER_TUNER_ID / KERASTUNER_ORACLE_IP / "
                          "KERASTUNER_ORACLE_PORT (see `kerasdl tune -h`).")
    app.model_name(config)
    hypermodel = AppHyperModel(app, config, verbose=verbose)
    # The app's checkpoint metric for this data (the data is loaded once, then cached for
    # the trials): a GAN on one class of pictures is not scored by FID.
    default = app.monitor_for(hypermodel.datasets(config).info) if objective is None else app.monitor
    metric, direction = parse_objective(objective, default)
    hypermodel.objective = metric

    # Keras Tuner prints each failed trial's traceback unless told not to (its flag has
    # no public name); the trial table keeps each failure's last line, trial.json the rest.
    from keras_tuner.src import config as keras_tuner_config

    keras_tuner_config.DEBUG = False
    common = dict(
        hypermodel=hypermodel, objective=keras_tuner.Objective(metric, direction),
        directory=str(folder.parent), project_name=folder.name, overwrite=False,
        seed=config.seed, max_consecutive_failed_trials=3,
        hyperparameters=fixed_hyperparameters(app, config, fixed), tune_new_entries=True,
    )
    if tuner == "hyperband":
        search = _tuner_class(tuner)(max_epochs=config.epochs, factor=3, hyperband_iterations=1, **common)
        search.oracle.max_trials = max_trials
    else:
        search = _tuner_class(tuner)(max_trials=max_trials, **common)
    if role != "worker":
        folder.mkdir(parents=True, exist_ok=True)
        with atomic_path(folder / "base.toml") as tmp:
            tmp.write_text(to_toml(config))
        with atomic_path(folder / "search.json") as tmp:
            tmp.write_text(json.dumps({"app": app.name, "tuner": tuner, "objective": f"{metric}:{direction}",
                                   "fixed": list(fixed)}))
    if resume:
        search.oracle.max_trials = max_trials
    # The oracle lives in the chief: a worker's is a client of it.
    if role != "worker" and tuner != "hyperband":  # Hyperband draws a bracket's configs together.
        _start_from_base_config(search.oracle)
    if role != "worker" and time_budget is not None:
        _stop_after(search.oracle, time_budget)

    try:
        search.search(verbose=0)
    except RuntimeError as e:
        if "consecutive failures" not in str(e):
            raise
        raise KerasdlError(f"Three trials in a row failed; the last: {_last_line(str(e))}") from None

    if role == "worker":
        return TuneResult(folder, metric, direction, [], None, role=role)
    rows = trial_rows(search.oracle, folder, direction)
    write_trials_csv(rows, folder / "trials.csv")
    best = [t for t in search.oracle.get_best_trials(1) if t.score is not None]
    if not best:
        raise KerasdlError(f"No trial completed; see {folder / 'trials.csv'}.")
    best_config = hypermodel.trial_config(best[0].hyperparameters)
    with atomic_path(folder / "best.toml") as tmp:
        tmp.write_text(to_toml(best_config))
    result = TuneResult(folder, metric, direction, rows, best_config, role=role)
    if retrain:
        from kerasdl.training.workflow import train_run

        logger.info("Training the best config (%s) as a run.", folder / "best.toml")
        result.best_run = train_run(app.name, best_config, runs_dir=runs_dir,
                                    name=f"tuned-{folder.name}", verbose=verbose)
    return result
