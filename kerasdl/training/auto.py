"""`--model auto`: a short list of candidate recipes, the winner chosen on validation.

Each app names its candidates (`App.auto_recipes`: label -> config overrides). Every
candidate is trained as a run of its own inside the auto run's `candidates/` folder,
in order, until the time budget is spent (the first always trains); each keeps its best
epoch by the app's monitor. The candidates' best models are then scored on the
validation split, example by example, with the app's headline metric, and the
one-standard-error rule chooses (`kerasdl.evaluation.selection`): the best mean, or the
smallest candidate (fewest parameters) whose gap to it is within one standard error, so
a validation difference that is noise does not buy a bigger model. The test split plays
no part. The winner's files become the auto run, so `config.toml` holds the winning
recipe, and `auto.json` lists every candidate's score, gap and standard error.

The default run (`kerasdl train APP`, no --model) uses the same machinery with another
rule (`NEVER_WORSE`): the default model trains as any run, then the app's classic
baseline models train beside it and one replaces it only when better on validation.
Every model here is trained by `kerasdl.training.trainer`, one run at a time;
`kerasdl.training.workflow.train_run` sends a run here or straight to the trainer.

Example:
>>> record = {"metric": "accuracy", "winner": "a", "best": "a", "candidates": [
...     {"label": "a", "validation": 0.9, "parameters": 10, "gap": 0.0, "standard_error": 0.0,
...      "within_noise": True}]}
>>> print(format_candidates(record, None))
--model auto: candidates by validation accuracy (the smallest within one standard error of the best is chosen)
  a  0.9000  10 parameters  <- chosen
"""

from __future__ import annotations

import dataclasses
import logging
import shutil
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from kerasdl import io as kio
from kerasdl.config import TrainConfig
from kerasdl.errors import ConfigError, KerasdlError, TrainingError
from kerasdl.runs import Run
from kerasdl.training.trainer import TrainSummary, evaluate_result, train_app, train_new_run

logger = logging.getLogger(__name__)

AUTO = "auto"
CANDIDATES = "candidates"
AUTO_FILE = "auto.json"
RULE = "one standard error"
# The default run's rule (`kerasdl train APP` with no --model): the app's default model
# and its classic baseline models are trained; the default is shipped unless a
# baseline model scores better on validation, so the default run is never worse on
# validation than the best of them.
NEVER_WORSE = "never worse than the baseline models"
# The status of a default run between its default model's last epoch and the choice
# among it and the baseline models (`--resume` fits the baseline models again).
BASELINE_MODELS_STATUS = "training baseline models"


def candidate_scores(app: Any, candidate: Run) -> tuple[np.ndarray, int]:
    """The per-example validation values (`App.per_example_metric`) of a candidate
    run's best model, and its parameter count."""
    from kerasdl.app import predict_dataset
    from kerasdl.data.pipeline import evaluation_pipeline
    from kerasdl.runs import run_config
    from kerasdl.training.evaluation import EVAL_BATCH_SIZE
    from kerasdl.training.saving import load_app_model

    info = candidate.meta["data"]
    data = app.load_datasets(run_config(candidate), fitted=info)
    if data.validation is None:
        raise TrainingError("--model auto needs a validation split to choose on.")
    model = load_app_model(app, candidate.model_path())
    targets, outputs = predict_dataset(model, evaluation_pipeline(data.validation, EVAL_BATCH_SIZE, cache=False))
    return app.per_example_metric(targets, outputs, info), int(model.count_params())


def choose_candidate(app: Any, run_path: str | Path, candidates: Sequence[dict[str, Any]],
                     rule: str = RULE, paths: dict[str, Path] | None = None) -> dict[str, Any]:
    """Scores the trained `candidates` (auto.json records: label, status) of the auto
    run at `run_path` on validation and applies `rule`: the one-standard-error rule,
    or `NEVER_WORSE` (the first candidate, the default model, unless another has a
    better validation mean; then the best). Adds `validation`, `parameters`, `gap`,
    `standard_error` and `within_noise` to each trained record. A candidate lives in
    `run_path/candidates/APP/LABEL` unless `paths` names its folder.

    Returns:
        {"metric", "mode", "best", "winner", "rule"}.

    A candidate that cannot be scored (its model does not load, its validation scores
    are empty or not finite) is marked failed and left out. Scoring reloads each
    candidate's data and model; it runs after the time budget's check.

    Raises:
        TrainingError: when no candidate trained and could be scored, or their
            validation splits cannot be paired.
    """
    from kerasdl.evaluation.selection import choose_within_noise

    scores, sizes = {}, {}
    info: dict[str, Any] = {}
    for record in [c for c in candidates if c.get("status") == "trained"]:
        candidate = Run((paths or {}).get(record["label"]) or Path(run_path) / CANDIDATES / app.name / record["label"])
        try:
            values, parameters = candidate_scores(app, candidate)
            if not len(values) or not np.all(np.isfinite(values)):
                raise TrainingError("its validation scores are empty or not finite")
        except (KerasdlError, ValueError, OSError) as e:  # one unscorable candidate loses, the rest stay
            record["status"] = f"failed: could not be scored on validation: {e}"
            logger.warning("Candidate %s %s", record["label"], record["status"])
            continue
        info = candidate.meta["data"]
        scores[record["label"]], sizes[record["label"]] = values, parameters
    trained = [c for c in candidates if c.get("status") == "trained"]
    if not trained:
        raise TrainingError("No --model auto candidate finished training and could be scored: " +
                            "; ".join(f"{c['label']}: {c.get('status')}" for c in candidates))
    mode = app.headline_mode
    try:
        choice = choose_within_noise(scores, sizes, mode, correlation_length=app.correlation_length(info))
    except ValueError as e:
        raise TrainingError(f"--model auto cannot compare its candidates: {e}") from e
    for record in trained:
        row = choice["candidates"][record["label"]]
        record.update(validation=row["mean"], parameters=sizes[record["label"]], gap=row["gap"],
                      standard_error=row["standard_error"], within_noise=row["within_noise"])
    winner = choice["chosen"]
    if rule == NEVER_WORSE:
        first = candidates[0]["label"]
        winner = first if first in scores and choice["candidates"][first]["gap"] <= 0.0 else choice["best"]
    return {"metric": app.headline_for(info), "mode": mode, "best": choice["best"],
            "winner": winner, "rule": rule}


def train_candidates(app: Any, config: Any, run: Run, *, verbose: Any = "auto",
                     time_budget: float | None = None) -> tuple[dict[str, Any], Any]:
    """Trains `app.auto_candidates(config)` (its `auto_recipes` that suit the data) on
    top of `config` inside `run`, then makes the winner the run's files.

    A candidate after the first that does not apply to the data (a `ConfigError`:
    naive Bayes on three classes) is skipped, saying why.

    Returns:
        (the auto record written to auto.json, the winner's config).

    Raises:
        ConfigError: for an app without candidates.
        TrainingError: when no candidate trained.
    """
    from kerasdl.app import AutoSelectable

    if not app.auto_recipes:
        raise ConfigError(f"The {app.name} app has no --model auto candidates; choose one of "
                          f"{', '.join(app.models)}.")
    if not isinstance(app, AutoSelectable):
        raise ConfigError(f"The {app.name} app cannot score single examples (`per_example_metric`), "
                          "which --model auto compares candidates with; choose a model.")
    recipes = app.auto_candidates(config)
    started = time.perf_counter()
    records: list[dict[str, Any]] = []
    configs: dict[str, Any] = {}
    for i, (label, overrides) in enumerate(recipes.items()):
        record: dict[str, Any] = {"label": label, "overrides": overrides}
        records.append(record)
        if i and time_budget is not None and time.perf_counter() - started > time_budget:
            record["status"] = "skipped: time budget spent"
            continue
        candidate_config = dataclasses.replace(config, **overrides)
        configs[label] = candidate_config
        logger.info("Candidate %d/%d: %s", i + 1, len(recipes), label)
        _train_candidate(app, candidate_config, run, record, verbose, first=not i)
    choice = choose_candidate(app, run.path, records)
    _copy_winner(app, run, choice["winner"])
    record = {**choice, "candidates": records, "seconds": round(time.perf_counter() - started, 1)}
    kio.write_json(run.path / AUTO_FILE, record)
    Run(run.path).write_meta(name=run.name, auto=record)
    return record, configs[choice["winner"]]


def _train_candidate(app: Any, config: Any, run: Run, record: dict[str, Any], verbose: Any, *,
                     first: bool) -> None:
    """Trains one candidate into `run`'s candidates folder and records how it went: a
    diverged one fails, one that does not apply to the data (a `ConfigError`: naive
    Bayes on three classes) is skipped, saying why, unless it is the first (then the
    error is the user's to fix)."""
    label = record["label"]
    try:
        summary = train_new_run(app, config, runs_dir=run.path / CANDIDATES, name=label,
                                verbose=verbose, baselines=False)
    except TrainingError as e:  # a diverged candidate loses; others may still win
        record["status"] = f"failed: {e}"
        return
    except ConfigError as e:
        if first:
            raise
        record["status"] = f"skipped: {e}"
        logger.info("Skipped %s: %s", label, e)
        return
    record.update(status="trained", seconds=round(summary.seconds, 1),
                  test=summary.metrics.get(app.headline_for(summary.run.meta["data"])))


def _copy_winner(app: Any, run: Run, label: str) -> None:
    for item in (run.path / CANDIDATES / app.name / label).iterdir():
        target = run.path / item.name
        (shutil.copytree if item.is_dir() else shutil.copy2)(item, target)


def ship_never_worse(app: Any, config: Any, run: Run, default: dict[str, Any],
                     baseline_models: dict[str, dict[str, Any]], *, verbose: Any = "auto") -> tuple[dict[str, Any], Any]:
    """The default run's choice (`NEVER_WORSE`): `run` holds the trained default model
    (`default`: its auto.json record); `baseline_models` (label -> config overrides)
    are trained under `candidates/` beside it. When one is better on validation, the
    default model's files move to `candidates/APP/LABEL` and the winner's become the
    run's.

    Returns:
        (the record written to auto.json, the winner's config).
    """
    started = time.perf_counter()
    records, configs = [default], {default["label"]: config}
    for i, (label, overrides) in enumerate(baseline_models.items(), 1):
        record: dict[str, Any] = {"label": label, "overrides": overrides}
        records.append(record)
        folder = run.path / CANDIDATES / app.name / label
        if folder.exists():  # a resumed run fits its baseline models again: seconds
            shutil.rmtree(folder)
        configs[label] = dataclasses.replace(config, **overrides)
        logger.info("Baseline model %d/%d: %s (shipped instead if better on validation)", i,
                    len(baseline_models), label)
        _train_candidate(app, configs[label], run, record, verbose, first=False)
    choice = choose_candidate(app, run.path, records, NEVER_WORSE, paths={default["label"]: run.path})
    if choice["winner"] != default["label"]:
        kept = run.path / CANDIDATES / app.name / default["label"]
        kept.mkdir(parents=True)
        for item in list(run.path.iterdir()):
            if item.name != CANDIDATES:
                shutil.move(str(item), str(kept / item.name))
        _copy_winner(app, run, choice["winner"])
    record = {**choice, "candidates": records,
              "seconds": round(default["seconds"] + time.perf_counter() - started, 1)}
    kio.write_json(run.path / AUTO_FILE, record)
    Run(run.path).write_meta(name=run.name, status="completed", auto=record, baseline_models=list(baseline_models))
    return record, configs[choice["winner"]]


def train_auto(app: Any, config: TrainConfig, runs_dir: str | Path, name: str | None, *, verbose: Any = "auto",
               baselines: bool = True, time_budget: float | None = None) -> TrainSummary:
    """`--model auto`: the app's candidates trained inside one new run
    `runs_dir/<app>/<name>`, the winner (by validation) kept as the run, then evaluated
    beside the baselines (with `baselines`).

    Raises:
        ConfigError: for an app without candidates.
        TrainingError: when no candidate trained.
    """
    run = Run.create(runs_dir, app.name, name)
    try:
        record, winner_config = train_candidates(app, config, run, verbose=verbose, time_budget=time_budget)
    except BaseException:
        if not any(run.path.rglob("run.json")):
            shutil.rmtree(run.path, ignore_errors=True)  # nothing trained worth keeping
        raise
    return _candidates_summary(app, run, record, winner_config, baselines)


def train_never_worse(app: Any, config: TrainConfig, run: Run, baseline_models: dict[str, dict[str, Any]], *,
                      resume: bool = False, verbose: Any = "auto") -> TrainSummary:
    """The default run: `config`'s model trained into `run` as any run (resumable), then
    the app's `baseline_models` (label -> config overrides) under `candidates/`, the
    default shipped unless one of them is better on validation (`ship_never_worse`).

    Raises:
        KerasdlError: for bad input; the message says what to fix.
        KeyboardInterrupt: left to the caller; `resume` continues where it stopped.
    """
    if not (resume and run.meta.get("status") == BASELINE_MODELS_STATUS):
        try:
            result = train_app(app, config, run, resume=resume, verbose=verbose)
        except BaseException:
            if not resume and not run.config_path.exists():
                shutil.rmtree(run.path, ignore_errors=True)  # nothing worth keeping was written
            raise
        kio.write_json(run.metrics_path, evaluate_result(app, config, result))
        run.write_meta(status=BASELINE_MODELS_STATUS)
    metrics = kio.read_json(run.metrics_path)
    default = {"label": app.model_name(config), "overrides": {}, "status": "trained",
               "seconds": metrics["training"]["seconds"], "test": metrics.get(app.headline_for(run.meta["data"]))}
    record, winner_config = ship_never_worse(app, config, run, default, baseline_models, verbose=verbose)
    return _candidates_summary(app, run, record, winner_config, True)


def _candidates_summary(app: Any, run: Run, record: dict[str, Any], winner_config: TrainConfig,
                        baselines: bool) -> TrainSummary:
    """An auto or default run after its choice: the winner's metrics beside the
    baselines, the candidates' table and the line saying what was shipped."""
    from kerasdl.evaluation.baselines import best_baseline, format_baseline_metrics
    from kerasdl.training.evaluation import compare_with_baselines, validation_metrics
    from kerasdl.training.saving import load_app_model

    info = run.meta["data"]
    metric = app.headline_for(info)
    metrics = kio.read_json(run.metrics_path)
    metrics["auto"] = record
    report = app.format_metrics(metrics)
    data = app.load_datasets(winner_config, fitted=info)
    if not baselines:
        metrics["validation"] = {metric: validation_metrics(run, app=app, data=data).get(metric)}
    else:
        metrics.update(compare_with_baselines(
            run, app=app, config=winner_config, data=data,
            advice="No candidate beat it on this data: the baseline is the better model here, "
                   "or the data is too small for the deep ones."))
        if metrics.get("baselines"):
            report += "\n" + format_baseline_metrics(metrics, metric)
    kio.write_json(run.metrics_path, metrics)
    report = format_candidates(record, best_baseline(metrics.get("baselines", []), metric, app.headline_mode)) \
        + "\n" + report
    history = run.read_history()
    winner = next(c for c in record["candidates"] if c["label"] == record["winner"])
    trained = [c for c in record["candidates"] if c.get("seconds") is not None]
    all_seconds = sum(c["seconds"] for c in trained)
    chosen = chosen_line(record)
    if len(trained) > 1:
        chosen += f" {len(trained)} candidates trained in {all_seconds:.1f} s."
    # The summary's time and speed are the shipped model's own, as for any run.
    return TrainSummary(run=run, model=load_app_model(app, run.model_path()), metrics=metrics, history=history,
                        epochs_completed=len(history), seconds=float(winner.get("seconds") or 0.0),
                        examples_per_second=float(metrics.get("training", {}).get("examples_per_second", 0.0)),
                        report=report + "\n" + chosen)


def format_number(value: float) -> str:
    """A score, gap or standard error with enough digits to tell it from zero
    (0.0000 hid standard errors of 3e-05)."""
    value = float(value)
    return f"{value:.4f}" if value == 0 or abs(value) >= 1e-3 else f"{value:.2g}"


def format_candidates(record: dict[str, Any], baseline: dict[str, Any] | None) -> str:
    """The candidates' validation scores, size and gap to the best, the winner marked,
    beside the best classic baseline's validation score."""
    metric = record["metric"]
    if record.get("rule") == NEVER_WORSE:
        lines = [f"The default model and the classic baseline models by validation {metric} "
                 "(the default is shipped unless a baseline model is better)"]
    else:
        lines = [f"--model auto: candidates by validation {metric} "
                 "(the smallest within one standard error of the best is chosen)"]
    width = max(len(c["label"]) for c in record["candidates"])
    for c in record["candidates"]:
        if not isinstance(c.get("validation"), (int, float)):
            lines.append(f"  {c['label']:{width}}  {c.get('status', '-')}")
            continue
        notes = [f"{c['parameters']:,} parameters"]
        if c["label"] != record["best"]:
            notes.append(f"{format_number(c['gap'])} worse (SE {format_number(c['standard_error'])}"
                         f"{', within noise' if c['within_noise'] else ''})")
        elif record["best"] != record["winner"]:
            notes.append("best")
        if c.get("seconds") is not None:
            notes.append(f"{c['seconds']:.1f} s" if c["seconds"] < 10 else f"{c['seconds']:.0f} s")
        mark = "  <- chosen" if c["label"] == record["winner"] else ""
        lines.append(f"  {c['label']:{width}}  {c['validation']:.4f}  {', '.join(notes)}{mark}")
    if baseline is not None:
        lines.append(f"  classic baseline, validation {metric}: {baseline['validation'][metric]:.4f} "
                     f"({baseline['name']})")
    return "\n".join(lines)


def chosen_line(record: dict[str, Any]) -> str:
    """The one line saying which candidate the run ships, and why."""
    metric = record["metric"]
    by_label = {c["label"]: c for c in record["candidates"]}
    winner = by_label[record["winner"]]
    trained = [c for c in record["candidates"] if isinstance(c.get("validation"), (int, float))]
    if record.get("rule") == NEVER_WORSE:
        default = record["candidates"][0]
        others = [c for c in trained if c is not default]
        if winner is default:
            if not others:
                return f"Shipped {winner['label']}, the default model (no baseline model applies to this data)."
            rival = max(others, key=lambda c: c["validation"]) if record["mode"] == "max" \
                else min(others, key=lambda c: c["validation"])
            return (f"Shipped {winner['label']}, the default model: validation {metric} "
                    f"{winner['validation']:.4f}, not worse than {rival['validation']:.4f} for {rival['label']}, "
                    "the best baseline model.")
        if not isinstance(default.get("validation"), (int, float)):
            return (f"Shipped {winner['label']}, a classic baseline model: the default model "
                    f"{default['label']} {default.get('status', 'did not train')}.")
        return (f"Shipped {winner['label']}, a classic baseline model: validation {metric} "
                f"{winner['validation']:.4f} against {default['validation']:.4f} for {default['label']}, "
                f"the default model (--model {default['label']} ships that one anyway).")
    line = f"Chosen: {winner['label']} (validation {metric} {winner['validation']:.4f})"
    if record["best"] != record["winner"]:
        line += (f"; {record['best']} was better on validation by less than one standard error, "
                 "with more parameters")
    return line + "."
