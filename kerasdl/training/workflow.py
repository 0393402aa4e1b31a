"""`kerasdl train`'s workflow: which kind of run a request makes, and making it.

Three kinds: `--model auto` (candidates compared on validation, `training.auto`), the
default run (the default model, then the app's classic baseline models beside it, the
better on validation shipped: `training.auto.NEVER_WORSE`), and a plain run of one
model (`training.trainer`). This module sits above both: the trainer trains one run and
knows nothing of the choices; auto calls the trainer for each model it compares.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kerasdl.config import TrainConfig
from kerasdl.errors import KerasdlError
from kerasdl.runs import Run
from kerasdl.training.auto import AUTO, train_auto, train_never_worse
from kerasdl.training.trainer import TrainSummary, create_run, train_new_run, train_one

__all__ = ["TrainSummary", "train_run"]


def train_run(
    app_name: str,
    config: TrainConfig | None = None,
    *,
    runs_dir: str | Path = "runs",
    name: str | None = None,
    resume: bool = False,
    verbose: Any = "auto",
    baselines: bool = True,
    time_budget: float | None = None,
    baseline_models: bool = False,
) -> TrainSummary:
    """Trains an app into `runs_dir/<app>/<name>`, then evaluates it on the test split
    beside the app's classic baselines.

    Args:
        app_name: a registered app, e.g. "vision".
        config: the app's config; its defaults when None. Ignored with `resume`,
            which continues with the config saved in the run.
        runs_dir: the folder that holds runs.
        name: the run's folder name (a timestamp when None); with `resume` and no
            name, the newest unfinished run of the app.
        resume: continue an interrupted run from its last finished epoch.
        verbose: Keras' progress display.
        baselines: also fit the app's classic baselines on the same training split
            and score them beside the model (`metrics["baselines"]`); a model worse
            than the best of them on validation is reported (`baseline_warning`).
        time_budget: with `config.model == "auto"`, seconds after which no new
            candidate starts (`kerasdl.training.auto`).
        baseline_models: also train the app's classic baseline models
            (`App.baseline_models`) beside `config`'s model and ship the better on
            validation (`kerasdl.training.auto.NEVER_WORSE`): what `kerasdl train`
            does when no --model is given. Needs `baselines`.

    Raises:
        KerasdlError: for bad input; the message says what to fix.
    """
    from kerasdl.registry import get_app
    from kerasdl.runs import run_config

    app = get_app(app_name)
    if resume:
        run = Run.to_resume(runs_dir, app.name, name)
        if run.meta.get("app") != app.name:
            raise KerasdlError(f"{run.path} is a {run.meta.get('app')} run, not {app.name}.")
        config = run_config(run)
        # A default run goes on to its baseline models after the default model's epochs.
        left = {label: app.baseline_models[label] for label in run.meta.get("baseline_models", [])
                if label in app.baseline_models}
        if left:
            return train_never_worse(app, config, run, left, resume=True, verbose=verbose)
        return train_one(app, config, run, resume=True, verbose=verbose, baselines=baselines)

    config = config if config is not None else app.config_class()
    if not isinstance(config, app.config_class):
        raise KerasdlError(
            f"The {app.name} app needs a {app.config_class.__name__}, "
            f"not {type(config).__name__}."
        )
    if config.model == AUTO:
        return train_auto(app, config, runs_dir, name, verbose=verbose, baselines=baselines,
                          time_budget=time_budget)
    model = app.model_name(config)  # fail on a bad model name before creating anything
    extra: dict[str, dict[str, Any]] = {}
    # Not for a cluster (the baseline models would train on the chief alone) nor a
    # model started from another run's weights or teacher (the user chose it).
    if baseline_models and baselines and config.strategy != "multiworker" and not (
            config.init_from or getattr(config, "teacher", None)):
        extra = {label: overrides for label, overrides in app.baseline_models.items() if label != model}
    if not extra:
        return train_new_run(app, config, runs_dir=runs_dir, name=name, verbose=verbose, baselines=baselines)
    run, _ = create_run(app, runs_dir, name)
    run.write_meta(baseline_models=list(extra))  # kept in run.json so that --resume goes on to them
    return train_never_worse(app, config, run, extra, verbose=verbose)
