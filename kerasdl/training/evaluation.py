"""Evaluating a run's best model on a split of its data (or of other data of its kind)."""

from __future__ import annotations

import json
import logging
from typing import Any, Sequence

from kerasdl.config import TrainConfig
from kerasdl.errors import DataError, KerasdlError
from kerasdl.runs import Run

logger = logging.getLogger(__name__)

EVAL_BATCH_SIZE = 256


def evaluate_run(
    run: Run, *, app: Any, config: TrainConfig, data: Any = None, split: str = "test",
    write_plots: bool = True, epsilon: float | None = None, attack_steps: int = 10,
) -> dict[str, Any]:
    """The app's metrics of the run's best model on `split` of `data` (loaded with the
    run's fitted preprocessing when None), with plots written into the run; with
    `epsilon`, also its accuracy under FGSM and PGD attacks (`attack_steps` steps) of
    that budget (`robustness`; models on image pixels).

    Raises:
        DataError: when the data's classes, columns or shape differ from the run's.
        ConfigError: for `epsilon` on a model that is not on image pixels.
    """
    from kerasdl.data.pipeline import evaluation_pipeline
    from kerasdl.training.saving import load_app_model

    if split not in ("test", "validation", "train"):
        raise KerasdlError(f"`split` must be test, validation or train. Received: {split!r}")
    info = run.meta["data"]
    data = data if data is not None else app.load_datasets(config, fitted=info)
    _check_compatible(info, data.info, app.provenance_keys)
    ds = getattr(data, split)
    used = split
    if ds is None and split == "test":
        logger.warning("The data has no test split: evaluating on the validation split.")
        ds, used = data.validation, "validation"
    model = load_app_model(app, run.model_path())
    if epsilon is not None:
        from kerasdl.training.adversarial import pixel_view

        pixel_view(model)  # a model an attack can take, checked before the evaluation
    metrics = app.evaluate(
        model, evaluation_pipeline(ds, EVAL_BATCH_SIZE, cache=False), info,
        plots_dir=run.plots if write_plots else None,
    )
    if epsilon is not None:
        from kerasdl.training.adversarial import robust_accuracy

        metrics["robustness"] = robust_accuracy(model, evaluation_pipeline(ds, EVAL_BATCH_SIZE, cache=False),
                                                epsilon=epsilon, steps=attack_steps)
    return {"split": used, "model": run.model_path().name, **metrics}


def _check_compatible(trained: dict[str, Any], now: dict[str, Any], provenance: Sequence[str]) -> None:
    for key in trained:
        if key in provenance or key not in now:
            continue
        if json.loads(json.dumps(trained[key])) != json.loads(json.dumps(now[key])):
            raise DataError(
                f"The data's {key.replace('_', ' ')} {now[key]} differ from the ones the "
                f"model was trained on {trained[key]}."
            )


def compare_with_baselines(run: Run, *, app: Any, config: TrainConfig, data: Any,
                           advice: str | None = None) -> dict[str, Any]:
    """Fits the app's classic baselines on the run's training split and scores them,
    and the run's best model, on the validation and test splits.

    Returns:
        metrics.json entries: `validation` (the model's headline metric there),
        `baselines` (each baseline's name, chosen setting, seconds and metrics per
        split) and `baseline_warning` (the line said when the model is worse than the
        best baseline on validation, else None). Empty for an app without baselines.
        `advice` replaces the app's `baseline_advice_for(info)` in that line.
    """
    from kerasdl.evaluation.baselines import best_baseline, score_baselines, split_arrays, worse_than_baseline

    baselines = app.fit_baselines(config, data)
    if not baselines:
        return {}
    info, metric, mode = run.meta["data"], app.headline_for(run.meta["data"]), app.headline_mode
    targets = {}
    for split in ("validation", "test"):
        arrays = split_arrays(getattr(data, split))
        if arrays is not None:
            targets[split] = arrays[1]
    scores = score_baselines(baselines, targets, lambda y, out: app.score(y, out, info))
    entries = [_scalars_only(s.to_dict()) for s in scores]
    validation = validation_metrics(run, app=app, data=data)
    best = best_baseline(entries, metric, mode)
    warning = None
    if best is not None and isinstance(validation.get(metric), (int, float)):
        warning = worse_than_baseline(float(validation[metric]), best, metric, mode,
                                      advice if advice is not None else app.baseline_advice_for(info))
    return {"validation": {metric: validation.get(metric)}, "baselines": entries, "baseline_warning": warning}


def validation_metrics(run: Run, *, app: Any, data: Any) -> dict[str, Any]:
    """The app's metrics of the run's best model on the validation split (no plots)."""
    from kerasdl.data.pipeline import evaluation_pipeline
    from kerasdl.training.saving import load_app_model

    model = load_app_model(app, run.model_path())
    return app.evaluate(model, evaluation_pipeline(data.validation, EVAL_BATCH_SIZE, cache=False),
                        run.meta["data"])


def _scalars_only(entry: dict[str, Any]) -> dict[str, Any]:
    """A baseline's JSON with, per split, the app's scalar metrics (no confusion
    matrices or per-class tables)."""
    for split in ("validation", "test"):
        if split in entry:
            entry[split] = {k: v for k, v in entry[split].items() if isinstance(v, (int, float)) and
                            not isinstance(v, bool)}
    return entry
