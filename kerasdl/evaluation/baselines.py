"""Classic baselines fitted beside every model, on the same splits.

A deep model that loses to logistic regression on the user's data should say so. Each
app names its classic baselines (`App.fit_baselines`); this module holds what they
share: fitting on the training split only, choosing the one regularization strength by
the validation split only, scoring with the app's own metrics, and the line a run
prints when the model is worse.

Example:
>>> import numpy as np
>>> from kerasdl.evaluation.baselines import logistic_regression
>>> x = {"train": np.eye(4)[[0, 1, 0, 1]], "validation": np.eye(4)[[0, 1]]}
>>> y = {"train": np.array([0, 1, 0, 1]), "validation": np.array([0, 1])}
>>> outputs, strength = logistic_regression(x, y, num_classes=2)
>>> outputs["validation"].argmax(axis=1).tolist()
[0, 1]
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np

if TYPE_CHECKING:
    import tensorflow as tf

logger = logging.getLogger(__name__)

SPLITS = ("train", "validation", "test")
# The inverse regularization strengths logistic regression chooses from, and the ridge
# strengths (multiples of the mean diagonal of the Gram matrix, so scale-free; the
# smallest is near plain least squares yet keeps the system solvable).
LOGISTIC_C = (0.01, 0.1, 1.0, 10.0, 100.0)
RIDGE_STRENGTHS = (1e-6, 1e-4, 1e-3, 1e-2, 1e-1, 1.0)


@dataclass
class Baseline:
    """A classic model's outputs on each split, shaped as the app's model outputs.

    Attributes:
        name: what it is, for a reader ("TF-IDF word 1-2 grams + logistic regression").
        outputs: split -> outputs (class probabilities, forecasts) for the splits the
            data has.
        seconds: time to fit and predict.
        setting: the value picked on the validation split (e.g. "C=10").
    """

    name: str
    outputs: dict[str, np.ndarray]
    seconds: float = 0.0
    setting: str = ""


@dataclass
class BaselineScore:
    """A baseline's metrics per split, as the app scores its own model."""

    name: str
    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)
    seconds: float = 0.0
    setting: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "setting": self.setting, "seconds": round(self.seconds, 2), **self.metrics}


def split_arrays(dataset: "tf.data.Dataset | None", *, limit: int | None = None,
                 batch_size: int = 512) -> tuple[Any, np.ndarray] | None:
    """An unbatched `(input, target)` split as two numpy arrays (the first `limit`
    examples when given; inputs by name, {name: array}, for a model of named inputs);
    None for a missing split."""
    if dataset is None:
        return None
    if limit is not None:
        dataset = dataset.take(limit)
    inputs, targets = [], []
    for x, y in dataset.batch(batch_size).as_numpy_iterator():
        inputs.append(x if isinstance(x, dict) else np.asarray(x))
        targets.append(np.asarray(y))
    if not inputs:
        return None
    if isinstance(inputs[0], dict):
        return {name: np.concatenate([x[name] for x in inputs]) for name in inputs[0]}, np.concatenate(targets)
    return np.concatenate(inputs), np.concatenate(targets)


def timed(name: str, fit: Callable[[], tuple[dict[str, np.ndarray], str]]) -> Baseline:
    """Runs `fit` (returning outputs per split and the chosen setting) and times it."""
    started = time.perf_counter()
    outputs, setting = fit()
    return Baseline(name, outputs, time.perf_counter() - started, setting)


def logistic_regression_fit(features: dict[str, Any], labels: dict[str, np.ndarray],
                            *, grid: Sequence[float] = LOGISTIC_C) -> tuple[Any, str]:
    """Multinomial logistic regression fitted on `features["train"]`, its inverse
    regularization C chosen by accuracy on `features["validation"]` (the first of
    equals: the strongest regularization).

    Returns:
        (the fitted scikit-learn model, "C=<chosen>").
    """
    from sklearn.linear_model import LogisticRegression

    best: tuple[float, float, Any] | None = None
    for c in grid:
        model = LogisticRegression(C=c, max_iter=1000).fit(features["train"], labels["train"])
        accuracy = float(np.mean(model.predict(features["validation"]) == labels["validation"]))
        if best is None or accuracy > best[0]:
            best = (accuracy, c, model)
    assert best is not None
    _, c, model = best
    return model, f"C={c:g}"


def logistic_regression(features: dict[str, Any], labels: dict[str, np.ndarray], num_classes: int,
                        *, grid: Sequence[float] = LOGISTIC_C) -> tuple[dict[str, np.ndarray], str]:
    """`logistic_regression_fit`'s class probabilities.

    Args:
        features: split -> [examples, features] (dense or scipy sparse).
        labels: split -> int labels; "train" and "validation" are required.
        num_classes: width of the returned probabilities (classes the training split
            lacks get probability 0).

    Returns:
        (split -> probabilities [examples, num_classes] for every split in
        `features`, "C=<chosen>").
    """
    model, setting = logistic_regression_fit(features, labels, grid=grid)
    outputs = {}
    for split, x in features.items():
        probabilities = np.zeros((x.shape[0], num_classes), np.float32)
        probabilities[:, model.classes_] = model.predict_proba(x)
        outputs[split] = probabilities
    return outputs, setting


def ridge_regression(features: dict[str, np.ndarray], targets: dict[str, np.ndarray],
                     *, strengths: Sequence[float] = RIDGE_STRENGTHS) -> tuple[dict[str, np.ndarray], str]:
    """Linear least squares with an L2 penalty, in closed form: fitted on
    `features["train"]` ([examples, features] -> [examples, outputs]), the strength
    chosen by mean squared error on `features["validation"]`. The bias is not
    penalized.

    Returns:
        (split -> predictions for every split in `features`, "strength=<chosen>").
    """
    weights, setting = ridge_fit(features, targets, strengths=strengths)
    return ({split: (_design(x) @ weights).astype(np.float32) for split, x in features.items()}, setting)


def _design(x: np.ndarray) -> np.ndarray:
    return np.hstack([x.astype(np.float64), np.ones((len(x), 1))])


def ridge_fit(features: dict[str, np.ndarray], targets: dict[str, np.ndarray],
              *, strengths: Sequence[float] = RIDGE_STRENGTHS) -> tuple[np.ndarray, str]:
    """`ridge_regression`'s solution: weights [features + 1, outputs] (the bias last)
    and "strength=<chosen>"."""
    design = _design
    train = design(features["train"])
    gram, moment = train.T @ train, train.T @ targets["train"].astype(np.float64)
    scale = float(np.mean(np.diag(gram))) or 1.0
    best: tuple[float, float, np.ndarray] | None = None
    validation = design(features["validation"])
    for strength in strengths:
        penalty = strength * scale * np.eye(len(gram))
        penalty[-1, -1] = 0.0
        weights = np.linalg.solve(gram + penalty, moment)
        error = float(np.mean((validation @ weights - targets["validation"]) ** 2))
        if best is None or error < best[0]:
            best = (error, strength, weights)
    assert best is not None
    _, strength, weights = best
    return weights, f"strength={strength:g}"


def score_baselines(baselines: Sequence[Baseline], targets: dict[str, np.ndarray],
                    score: Callable[[np.ndarray, np.ndarray], dict[str, Any]]) -> list[BaselineScore]:
    """Each baseline's metrics on the validation and test splits, by `score`
    (the app's `score` with the data info bound)."""
    scored = []
    for baseline in baselines:
        metrics = {split: score(targets[split], baseline.outputs[split])
                   for split in ("validation", "test") if split in baseline.outputs and split in targets}
        scored.append(BaselineScore(baseline.name, metrics, baseline.seconds, baseline.setting))
    return scored


def best_baseline(entries: Sequence[dict[str, Any]], metric: str, mode: str) -> dict[str, Any] | None:
    """Of baselines in their JSON form (`BaselineScore.to_dict`, metrics.json), the
    one with the best validation `metric` (mode "max" or "min")."""
    valid = [e for e in entries if isinstance(e.get("validation", {}).get(metric), (int, float))]
    if not valid:
        return None
    pick = max if mode == "max" else min
    return pick(valid, key=lambda e: float(e["validation"][metric]))


def worse_than_baseline(model_value: float, baseline: dict[str, Any], metric: str, mode: str,
                        advice: str) -> str | None:
    """The one plain line a run prints when its model's validation `metric` is worse
    than `baseline`'s (a JSON entry); None when it is not."""
    value = float(baseline["validation"][metric])
    worse = model_value < value if mode == "max" else model_value > value
    if not worse:
        return None
    return (f"The model is worse than a classic baseline on the validation split: {metric} "
            f"{model_value:.4g} against {value:.4g} for {baseline['name']}. {advice}")


def format_baseline_metrics(metrics: dict[str, Any], metric: str) -> str:
    """The model and each classic baseline, validation and test `metric`, as a small
    table, from a run's metrics.json entries (`validation`, `baselines`, the test
    metrics at the top level), and the warning line when there is one."""
    def cell(values: dict[str, Any] | None) -> str:
        value = (values or {}).get(metric)
        return f"{float(value):.4f}" if isinstance(value, (int, float)) else "-"

    rows = [("this model", cell(metrics.get("validation")), cell(metrics), "")]
    rows += [(b["name"], cell(b.get("validation")), cell(b.get("test")), b.get("setting", ""))
             for b in metrics.get("baselines", [])]
    width = max(len(r[0]) for r in rows)
    head_val, head_test = f"validation {metric}", f"test {metric}"
    lines = [f"{'':{width}}  {head_val}  {head_test}"]
    lines += [f"{name:{width}}  {val:>{len(head_val)}}  {test:>{len(head_test)}}  {setting}".rstrip()
              for name, val, test, setting in rows]
    if metrics.get("baseline_warning"):
        lines.append(metrics["baseline_warning"])
    return "\n".join(lines)
