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
    write_plots: bool = True,
) -> dict[str, Any]:
    """The app's metrics of the run's best model on `split` of `data` (loaded with the
    run's fitted preprocessing when None), with plots written into the run.

    Raises:
        DataError: when the data's classes, columns or shape differ from the run's.
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
    metrics = app.evaluate(
        model, evaluation_pipeline(ds, EVAL_BATCH_SIZE, cache=False), info,
        plots_dir=run.plots if write_plots else None,
    )
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
