"""Choosing among models on a validation split without chasing its noise.

A validation split is a sample: two models 0.05 points apart on it may be in the other
order on the next sample. The *one-standard-error rule* (Breiman et al., 1984; Hastie,
Tibshirani and Friedman, *The Elements of Statistical Learning*, 7.10) takes the best
model by its mean score, then, among the models whose gap to it is within one standard
error of that gap, keeps the simplest (here: the fewest parameters).

The gap of model m to the best b is the mean of the paired per-example differences
d_i = worse_i - better_i on the same validation examples. Its standard error comes from
*batch means*: the examples, in order, are cut into K contiguous blocks and

    SE = std(block means of d, ddof=1) / sqrt(K)

which stays honest when neighbouring examples are correlated (overlapping forecast
windows) and equals the usual std(d) / sqrt(n) when they are not.

Example:
>>> import numpy as np
>>> small = np.array([1., 0., 1., 1.] * 50)        # 75.0 % right
>>> big = np.array([1., 1., 1., 0.] * 49 + [1.] * 4)  # 75.5 %: better, by one example in 200
>>> choice = choose_within_noise({"small": small, "big": big}, {"small": 10, "big": 1000}, "max")
>>> choice["best"], choice["chosen"]
('big', 'small')
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import numpy as np

BLOCKS = 20


def block_standard_error(differences: Sequence[float] | np.ndarray, blocks: int = BLOCKS) -> float:
    """The standard error of the mean of `differences` by batch means over `blocks`
    contiguous blocks (fewer when there are fewer values); 0.0 when fewer than two
    values leave nothing to estimate it from."""
    values = np.asarray(differences, np.float64).reshape(-1)
    count = min(blocks, len(values))
    if count < 2:
        return 0.0
    means = np.array([block.mean() for block in np.array_split(values, count)])
    return float(means.std(ddof=1) / math.sqrt(count))


def choose_within_noise(scores: Mapping[str, np.ndarray], sizes: Mapping[str, int], mode: str,
                        *, standard_errors: float = 1.0) -> dict[str, Any]:
    """The one-standard-error rule over per-example validation `scores`.

    Args:
        scores: label -> one value per validation example whose mean is the metric
            (1/0 for accuracy, squared error for MSE), the same examples in the same order
            for every label; labels in order of preference on a tie.
        sizes: label -> the model's size (its parameter count).
        mode: "max" when higher is better, "min" when lower is.
        standard_errors: how many standard errors count as noise.

    Returns:
        `best` (the best mean), `chosen`, and per label `mean`, `gap` (how much worse than
        the best, >= 0), `standard_error` of the gap and `within_noise`.

    Raises:
        ValueError: for no scores, an unknown mode, or scores of different lengths
            (they must be paired).
    """
    if mode not in ("max", "min"):
        raise ValueError(f"`mode` must be max or min. Received: {mode!r}")
    if not scores:
        raise ValueError("No scores to choose from.")
    arrays = {label: np.asarray(values, np.float64).reshape(-1) for label, values in scores.items()}
    lengths = {len(values) for values in arrays.values()}
    if len(lengths) > 1:
        raise ValueError("The candidates were scored on validation splits of different sizes "
                         f"({', '.join(f'{k}: {len(v)}' for k, v in arrays.items())}); their "
                         "scores cannot be paired.")
    sign = 1.0 if mode == "max" else -1.0
    means = {label: float(values.mean()) if len(values) else math.nan for label, values in arrays.items()}
    labels = list(arrays)
    best = labels[0]
    for label in labels[1:]:
        if sign * means[label] > sign * means[best]:
            best = label
    table: dict[str, dict[str, Any]] = {}
    for label in labels:
        worse_by = sign * (arrays[best] - arrays[label])  # >= 0 on average: how much worse
        gap = float(worse_by.mean()) if len(worse_by) else 0.0
        error = block_standard_error(worse_by)
        table[label] = {"mean": means[label], "gap": gap, "standard_error": error,
                        "within_noise": label == best or gap <= standard_errors * error}
    within = [label for label in labels if table[label]["within_noise"]]
    chosen = min(within, key=lambda label: (sizes[label], labels.index(label)))
    return {"best": best, "chosen": chosen, "candidates": table}
