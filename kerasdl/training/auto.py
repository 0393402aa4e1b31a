"""`--model auto`: a short list of candidate recipes, the winner chosen on validation.

Each app names its candidates (`App.auto_recipes`: label -> config overrides). Every
candidate is trained as a run of its own inside the auto run's `candidates/` folder,
in order, until the time budget is spent (the first always trains). The winner is the
candidate with the best validation monitor (its best epoch, the checkpoint it keeps);
the test split plays no part. Its files become the auto run, so `config.toml`
holds the winning recipe, and `auto.json` lists every candidate's score.

Example:
>>> from kerasdl.training.auto import pick_winner
>>> pick_winner([{"label": "a", "validation": 0.8}, {"label": "b", "validation": 0.9}], "max")["label"]
'b'
"""

from __future__ import annotations

import dataclasses
import logging
import shutil
import time
from typing import Any, Sequence

from kerasdl import io as kio
from kerasdl.errors import ConfigError, TrainingError
from kerasdl.runs import Run

logger = logging.getLogger(__name__)

AUTO = "auto"
CANDIDATES = "candidates"
AUTO_FILE = "auto.json"


def pick_winner(candidates: Sequence[dict[str, Any]], mode: str) -> dict[str, Any]:
    """The trained candidate with the best `validation` value (mode "max" or
    "min"); the earlier one on a tie.

    Raises:
        TrainingError: when no candidate trained.
    """
    trained = [c for c in candidates if isinstance(c.get("validation"), (int, float))]
    if not trained:
        raise TrainingError("No --model auto candidate finished training: " +
                            "; ".join(f"{c['label']}: {c.get('status')}" for c in candidates))
    best = trained[0]
    for candidate in trained[1:]:
        better = candidate["validation"] > best["validation"] if mode == "max" else \
            candidate["validation"] < best["validation"]
        if better:
            best = candidate
    return best


def train_candidates(app: Any, config: Any, run: Run, *, verbose: Any = "auto",
                     time_budget: float | None = None) -> tuple[dict[str, Any], Any]:
    """Trains `app.auto_recipes` on top of `config` inside `run`, then makes the
    winner's files the run's.

    Returns:
        (the auto record written to auto.json, the winner's config).

    Raises:
        ConfigError: for an app without candidates.
        TrainingError: when no candidate trained.
    """
    from kerasdl.training.trainer import train_run

    if not app.auto_recipes:
        raise ConfigError(f"The {app.name} app has no --model auto candidates; choose one of "
                          f"{', '.join(app.models)}.")
    started = time.perf_counter()
    monitor, mode = app.monitor
    records: list[dict[str, Any]] = []
    configs: dict[str, Any] = {}
    for i, (label, overrides) in enumerate(app.auto_recipes.items()):
        record: dict[str, Any] = {"label": label, "overrides": overrides}
        records.append(record)
        if i and time_budget is not None and time.perf_counter() - started > time_budget:
            record["status"] = "skipped: time budget spent"
            continue
        candidate_config = dataclasses.replace(config, **overrides)
        configs[label] = candidate_config
        logger.info("Candidate %d/%d: %s", i + 1, len(app.auto_recipes), label)
        try:
            summary = train_run(app.name, candidate_config, runs_dir=run.path / CANDIDATES, name=label,
                                verbose=verbose, baselines=False)
        except TrainingError as e:  # a diverged candidate loses; others may still win
            record["status"] = f"failed: {e}"
            continue
        monitor, mode = app.monitor_for(summary.run.meta["data"])
        values = [row[monitor] for row in summary.history if isinstance(row.get(monitor), (int, float))]
        record.update(status="trained", seconds=round(summary.seconds, 1),
                      validation=(max if mode == "max" else min)(values) if values else None,
                      test=summary.metrics.get(app.headline_for(summary.run.meta["data"])))
    winner = pick_winner(records, mode)
    winner_run = run.path / CANDIDATES / app.name / winner["label"]
    for item in winner_run.iterdir():
        target = run.path / item.name
        (shutil.copytree if item.is_dir() else shutil.copy2)(item, target)
    record = {"monitor": monitor, "mode": mode, "winner": winner["label"], "candidates": records,
              "seconds": round(time.perf_counter() - started, 1)}
    kio.write_json(run.path / AUTO_FILE, record)
    Run(run.path).write_meta(name=run.name, auto=record)
    return record, configs[winner["label"]]


def format_candidates(record: dict[str, Any], baseline: dict[str, Any] | None, metric: str) -> str:
    """The candidates' validation scores, the winner marked, beside the best
    classic baseline's validation `metric`."""
    lines = [f"--model auto: candidates by best validation {record['monitor']}"]
    width = max(len(c["label"]) for c in record["candidates"])
    for c in record["candidates"]:
        value = f"{c['validation']:.4f}" if isinstance(c.get("validation"), (int, float)) else c.get("status", "-")
        mark = "  <- chosen" if c["label"] == record["winner"] else ""
        seconds = f"  ({c['seconds']:.0f} s)" if c.get("seconds") is not None else ""
        lines.append(f"  {c['label']:{width}}  {value}{seconds}{mark}")
    if baseline is not None:
        lines.append(f"  classic baseline, validation {metric}: {baseline['validation'][metric]:.4f} "
                     f"({baseline['name']})")
    return "\n".join(lines)

