import itertools

import numpy as np

from kerasdl.evaluation.classification import classification_report, roc_auc


def brute_force_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    pos = scores[labels == 1]
    neg = scores[labels == 0]
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p, n in itertools.product(pos, neg))
    return wins / (len(pos) * len(neg))


def test_roc_auc_matches_pairwise_definition_with_ties() -> None:
    rng = np.random.default_rng(0)
    for _ in range(20):
        labels = rng.integers(0, 2, 40)
        scores = rng.integers(0, 6, 40) / 5.0  # many ties
        if 0 < labels.sum() < 40:
            assert abs(roc_auc(labels, scores) - brute_force_auc(labels, scores)) < 1e-12


def test_report_on_known_predictions() -> None:
    labels = np.array([0, 0, 1, 1, 2, 2])
    probs = np.eye(3)[[0, 1, 1, 1, 2, 0]] * 0.8 + 0.2 / 3
    report = classification_report(labels, probs, ["a", "b", "c"])
    assert report["accuracy"] == 4 / 6
    assert report["confusion_matrix"] == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]
    assert report["per_class"]["b"]["precision"] == 2 / 3
    assert report["per_class"]["b"]["recall"] == 1.0
    assert report["per_class"]["c"]["recall"] == 0.5
    assert abs(report["per_class"]["a"]["f1"] - 0.5) < 1e-12
    assert 0.5 < report["macro_roc_auc"] <= 1.0
