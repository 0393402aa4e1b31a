"""Classification metrics computed with numpy: no TensorFlow, no scikit-learn."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np


def confusion_matrix(labels: np.ndarray, predicted: np.ndarray, num_classes: int) -> np.ndarray:
    """Rows are true classes, columns predicted ones."""
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (labels.astype(int), predicted.astype(int)), 1)
    return matrix


def roc_auc(is_positive: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve: the probability that a random positive scores above
    a random negative (ties count half), by the Mann-Whitney rank statistic.

    Example:
    >>> import numpy as np
    >>> from kerasdl.evaluation.classification import roc_auc
    >>> roc_auc(np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8]))
    0.75
    """
    is_positive = is_positive.astype(bool)
    n_pos = int(is_positive.sum())
    n_neg = len(is_positive) - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    order = np.argsort(scores, kind="mergesort")
    sorted_scores = scores[order]
    ranks = np.empty(len(scores), dtype=np.float64)
    # Average ranks over ties.
    _, first, counts = np.unique(sorted_scores, return_index=True, return_counts=True)
    for start, count in zip(first, counts):
        ranks[order[start:start + count]] = start + (count + 1) / 2.0
    rank_sum = ranks[is_positive].sum()
    return float((rank_sum - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def classification_report(
    labels: np.ndarray, probabilities: np.ndarray, class_names: Sequence[str]
) -> dict[str, Any]:
    """Accuracy, per-class precision / recall / F1, macro averages, macro one-vs-rest
    ROC AUC and the confusion matrix.

    Args:
        labels: integer true classes, shape [N].
        probabilities: model outputs, shape [N, num_classes].
        class_names: one name per class.

    Returns:
        A JSON-able dict.
    """
    labels = np.asarray(labels).astype(int).reshape(-1)
    probabilities = np.asarray(probabilities, dtype=np.float64)
    num_classes = len(class_names)
    predicted = probabilities.argmax(axis=1) if len(probabilities) else np.zeros(0, int)
    matrix = confusion_matrix(labels, predicted, num_classes)
    true_pos = np.diag(matrix).astype(np.float64)
    support = matrix.sum(axis=1).astype(np.float64)
    predicted_count = matrix.sum(axis=0).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(predicted_count > 0, true_pos / predicted_count, 0.0)
        recall = np.where(support > 0, true_pos / support, 0.0)
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    aucs = [roc_auc(labels == c, probabilities[:, c]) for c in range(num_classes)]
    valid = [a for a in aucs if not np.isnan(a)]
    present = support > 0
    return {
        "examples": int(len(labels)),
        "accuracy": float(true_pos.sum() / max(1, len(labels))),
        "macro_precision": float(precision[present].mean()) if present.any() else 0.0,
        "macro_recall": float(recall[present].mean()) if present.any() else 0.0,
        "macro_f1": float(f1[present].mean()) if present.any() else 0.0,
        "macro_roc_auc": float(np.mean(valid)) if valid else None,
        "per_class": {
            name: {
                "precision": float(precision[i]),
                "recall": float(recall[i]),
                "f1": float(f1[i]),
                "roc_auc": None if np.isnan(aucs[i]) else float(aucs[i]),
                "support": int(support[i]),
            }
            for i, name in enumerate(class_names)
        },
        "confusion_matrix": matrix.tolist(),
    }


def format_report(report: dict[str, Any]) -> str:
    """A plain-text table of a `classification_report`."""
    names = list(report["per_class"])
    width = max([len("class")] + [len(n) for n in names])
    lines = [f"{'class':<{width}}  precision  recall     f1  roc_auc  support"]
    for name, row in report["per_class"].items():
        auc = "    n/a" if row["roc_auc"] is None else f"{row['roc_auc']:7.3f}"
        lines.append(
            f"{name:<{width}}  {row['precision']:9.3f}  {row['recall']:6.3f}  "
            f"{row['f1']:5.3f}  {auc}  {row['support']:7d}"
        )
    auc = report["macro_roc_auc"]
    lines.append(
        f"{'macro':<{width}}  {report['macro_precision']:9.3f}  {report['macro_recall']:6.3f}  "
        f"{report['macro_f1']:5.3f}  {'    n/a' if auc is None else f'{auc:7.3f}'}  "
        f"{report['examples']:7d}"
    )
    lines.append(f"accuracy: {report['accuracy']:.4f} on {report['examples']} examples")
    return "\n".join(lines)
