"""Choosing among models on a validation split without chasing its noise.

A validation split is a sample: two models 0.05 points apart on it may be in the other
order on the next sample. The *one-standard-error rule* (Breiman et al., 1984; Hastie,
Tibshirani and Friedman, *The Elements of Statistical Learning*, 7.10) takes the best
model by its mean score, then, among the models whose gap to it is within one standard
error of that gap, keeps the simplest (here: the fewest parameters).

The gap of model m to the best b is the mean of the paired per-example differences
d_i = worse_i - better_i on the same validation examples. For independent examples its
standard error is std(d, ddof=1) / sqrt(n). When neighbouring examples share data
(overlapping forecast windows: `correlation_length` consecutive examples), it comes from
*batch means*: the examples, in order, are cut into K contiguous blocks, each at least
`correlation_length` long (2 <= K <= 20), and

    SE = std(block means of d, ddof=1) / sqrt(K)

so that correlated neighbours do not make the gap look surer than it is.

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


def standard_error(differences: Sequence[float] | np.ndarray, correlation_length: int = 1) -> float:
    """The standard error of the mean of `differences`: the usual std / sqrt(n) for
    independent values (`correlation_length` 1), else batch means over blocks of at
    least `correlation_length` values (between 2 and 20 blocks)."""
    values = np.asarray(differences, np.float64).reshape(-1)
    if len(values) < 2:
        return 0.0
    if correlation_length <= 1:
        return float(values.std(ddof=1) / math.sqrt(len(values)))
    return block_standard_error(values, max(2, min(BLOCKS, len(values) // correlation_length)))


def choose_within_noise(scores: Mapping[str, np.ndarray], sizes: Mapping[str, int], mode: str,
                        *, correlation_length: int = 1, standard_errors: float = 1.0) -> dict[str, Any]:
    """The one-standard-error rule over per-example validation `scores`.

    Args:
        scores: label -> one value per validation example whose mean is the metric
            (1/0 for accuracy, squared error for MSE), the same examples in the same order
            for every label; labels in order of preference on a tie.
        sizes: label -> the model's size (its parameter count).
        mode: "max" when higher is better, "min" when lower is.
        correlation_length: how many consecutive examples may share data (1: independent).
        standard_errors: how many standard errors count as noise.

    Returns:
        `best` (the best mean), `chosen` (the best itself unless a strictly smaller model
        is within noise), and per label `mean`, `gap` (how much worse than the best,
        >= 0), `standard_error` of the gap and `within_noise`.

    Raises:
        ValueError: for no scores, an unknown mode, scores of different lengths (they
            must be paired), or a score that is not finite.
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
    broken = [label for label, values in arrays.items() if not len(values) or not np.all(np.isfinite(values))]
    if broken:
        raise ValueError(f"Scores that are empty or not finite: {', '.join(broken)}.")
    sign = 1.0 if mode == "max" else -1.0
    means = {label: float(values.mean()) for label, values in arrays.items()}
    labels = list(arrays)
    best = labels[0]
    for label in labels[1:]:
        if sign * means[label] > sign * means[best]:
            best = label
    table: dict[str, dict[str, Any]] = {}
    for label in labels:
        worse_by = sign * (arrays[best] - arrays[label])  # >= 0 on average: how much worse
        gap = float(worse_by.mean())
        error = standard_error(worse_by, correlation_length)
        table[label] = {"mean": means[label], "gap": gap, "standard_error": error,
                        "within_noise": label == best or gap <= standard_errors * error}
    within = [label for label in labels if table[label]["within_noise"]]
    # The fewest parameters; among equal sizes the best, then the earlier.
    chosen = min(within, key=lambda label: (sizes[label], label != best, labels.index(label)))
    return {"best": best, "chosen": chosen, "candidates": table}
