"""The sentiment app's classic linear models, as models a run ships.

Two recipes a practitioner fits first, on the app's own token ids (binary: each
distinct word or n-gram of a text once), so that the very same numbers are the
baseline a run prints and a model it can export:

- `tfidf-lr`: TF-IDF + logistic regression. A text's features are the idf weights of
  the n-grams it holds, divided by their Euclidean norm (scikit-learn's
  `TfidfVectorizer(binary=True)`: idf = ln((1 + n) / (1 + df)) + 1).
- `nb-lr`: NB-weighted binary n-grams + logistic regression (Wang & Manning 2012): each
  present n-gram's feature is its naive-Bayes log-count ratio
  r = log((p / |p|) / (q / |q|)), p and q its smoothed document counts in the
  positive class and in the other; two classes only.

Logistic regression's C is chosen on the validation split (`logistic_regression_fit`).
As a Keras model, the per-n-gram weights and the feature scale multiply into one
lookup table, so a text's class scores are a sum over its ids:

    logits = sum_j scale_j * W_j / norm + b,  norm = sqrt(sum_j idf_j^2) (tfidf-lr) or 1

which TFLite runs with builtin ops (a gather, a sum, a square root, a division).

Example:
>>> import numpy as np
>>> from kerasdl.apps.sentiment.linear import fit_linear
>>> ids = {"train": np.array([[2, 0], [3, 0], [2, 4], [3, 4]]),
...        "validation": np.array([[2, 0], [3, 0]])}
>>> labels = {"train": np.array([1, 0, 1, 0]), "validation": np.array([1, 0])}
>>> fit = fit_linear("nb-lr", ids, labels, vocabulary_size=5, num_classes=2)
>>> fit.outputs["validation"].argmax(axis=1).tolist()
[1, 0]
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np

from kerasdl.errors import ConfigError
from kerasdl.layers.token_scores import token_scores_class

TFIDF, NB = "tfidf-lr", "nb-lr"
LINEAR_MODELS = (TFIDF, NB)
NAMES = {TFIDF: "TF-IDF {unit} 1-{n} grams + logistic regression",
         NB: "NB-weighted binary {unit} 1-{n} grams + logistic regression"}
# The naive-Bayes ratios' additive smoothing (Laplace), as Wang & Manning.
NB_ALPHA = 1.0
# The logit of a class the training split lacks: its probability is about 1e-13.
ABSENT_CLASS_LOGIT = -30.0
FIRST_TOKEN = 2  # ids 0 (padding) and 1 (out of vocabulary) are no feature


@dataclass
class LinearFit:
    """A fitted linear model on token ids.

    Attributes:
        table: [vocabulary, classes] class scores per id (feature scale times weight).
        bias: [classes].
        squared_scale: [vocabulary] the squared feature scale per id (tfidf-lr's norm),
            or None when the features are not normalized.
        outputs: split -> class probabilities, as the Keras model computes them.
        setting: the C chosen on validation.
    """

    table: np.ndarray
    bias: np.ndarray
    squared_scale: np.ndarray | None
    outputs: dict[str, np.ndarray]
    setting: str


def presence(ids: np.ndarray, vocabulary_size: int, binary: bool = True) -> Any:
    """Rows of token ids to a sparse matrix [texts, vocabulary] of 0/1 (`binary`) or
    of counts; padding and out-of-vocabulary columns are empty."""
    from scipy.sparse import csr_matrix

    ids = np.asarray(ids)
    rows = np.repeat(np.arange(len(ids)), ids.shape[1] if ids.ndim == 2 else 0)
    flat = ids.reshape(-1)
    keep = flat >= FIRST_TOKEN
    matrix = csr_matrix((np.ones(int(keep.sum()), np.float64), (rows[keep], flat[keep])),
                        shape=(len(ids), vocabulary_size))
    matrix.sum_duplicates()
    if binary:
        matrix.data[:] = 1.0  # presence, even if an id repeats
    return matrix


def feature_scale(kind: str, train: Any, labels: np.ndarray, num_classes: int) -> np.ndarray:
    """Per id, the factor of its presence feature: the idf (tfidf-lr) or the NB ratio
    (nb-lr), learned from the training split's presence matrix `train`."""
    documents = np.asarray(train.sum(axis=0)).ravel()
    if kind == TFIDF:
        scale = np.log((1.0 + train.shape[0]) / (1.0 + documents)) + 1.0
    elif kind == NB:
        if num_classes != 2:
            raise ConfigError(f"nb-lr needs two classes; this data has {num_classes}: use --model tfidf-lr.")
        positive = labels == 1
        p = NB_ALPHA + np.asarray(train[positive].sum(axis=0)).ravel()
        q = NB_ALPHA + np.asarray(train[~positive].sum(axis=0)).ravel()
        scale = np.log((p / p.sum()) / (q / q.sum()))
    else:
        raise ConfigError(f"Unknown linear model {kind!r}; one of {', '.join(LINEAR_MODELS)}.")
    scale[:FIRST_TOKEN] = 0.0
    return scale


def fit_linear(kind: str, ids: dict[str, np.ndarray], labels: dict[str, np.ndarray], *,
               vocabulary_size: int, num_classes: int, binary: bool = True) -> LinearFit:
    """Fits `kind` on `ids["train"]`, C chosen on `ids["validation"]`; the outputs are
    for every split in `ids`.

    With `binary=False` (ids that repeat, as a tokenizer MediaPipe's TextClassifier
    reproduces gives), nb-lr's features are counts times the ratios: a sum over the
    text's ids still. tfidf-lr's norm needs each id once, so it needs `binary`.
    """
    from scipy.sparse import diags

    from kerasdl.evaluation.baselines import logistic_regression_fit

    if kind == TFIDF and not binary:
        raise ConfigError("tfidf-lr reads each n-gram of a text once: keep binary=true (or use nb-lr).")
    matrices = {s: presence(x, vocabulary_size, binary) for s, x in ids.items()}
    # The ratios count documents (presence) whatever the features are.
    documents = matrices["train"] if binary else presence(ids["train"], vocabulary_size)
    scale = feature_scale(kind, documents, labels["train"], num_classes)
    squared = scale ** 2 if kind == TFIDF else None

    def features(matrix: Any) -> Any:
        x = matrix @ diags(scale)
        if squared is not None:
            norm = np.sqrt(np.asarray(matrix @ squared).ravel())
            x = diags(1.0 / np.maximum(norm, 1e-12)) @ x
        return x.tocsr()

    x = {s: features(m) for s, m in matrices.items()}
    model, setting = logistic_regression_fit(x, labels)
    coef, intercept = np.asarray(model.coef_), np.asarray(model.intercept_)
    weights = np.zeros((vocabulary_size, num_classes))
    bias = np.full(num_classes, ABSENT_CLASS_LOGIT)
    classes = np.asarray(model.classes_)
    if len(classes) == 2:  # scikit-learn's binary form: one logit, softmax([0, z]) = sigmoid
        weights[:, classes[1]], bias[classes[1]] = coef[0], intercept[0]
        bias[classes[0]] = 0.0
    else:
        weights[:, classes] = coef.T
        bias[classes] = intercept
    table = (scale[:, None] * weights).astype(np.float32)
    outputs = {s: _softmax(x[s] @ weights + bias) for s in x}
    return LinearFit(table, bias.astype(np.float32),
                     None if squared is None else squared.astype(np.float32), outputs, setting)


def _softmax(logits: np.ndarray) -> np.ndarray:
    z = np.asarray(logits, np.float64)
    z = np.exp(z - z.max(axis=1, keepdims=True))
    return (z / z.sum(axis=1, keepdims=True)).astype(np.float32)


def linear_name(kind: str, ngrams: int, split: str) -> str:
    """The recipe for a reader, e.g. "NB-weighted binary word 1-3 grams + logistic regression"."""
    return NAMES[kind].format(unit="word" if split == "whitespace" else "character", n=ngrams)


def build_linear(kind: str, length: int, vocab: int, classes: int, k: ModuleType,
                 statistics: Any = None, batch_size: int | None = None) -> Any:
    """The Keras model of a `LinearFit` (`statistics["linear"]`), on int32 ids
    [batch, length]. Nothing in it trains: its weights are the closed fit's."""
    from kerasdl.apps.sentiment.preprocessing import token_input

    ids = token_input(length, k, batch_size)
    scores = k.layers.Embedding(vocab, classes, trainable=False, name="linear_scores")(ids)
    inputs = [scores]
    if kind == TFIDF:
        inputs.append(k.layers.Embedding(vocab, 1, trainable=False, name="squared_idf")(ids))
    logits = token_scores_class(k)(classes, name="linear_logits")(inputs)
    outputs = k.layers.Activation("softmax", dtype="float32", name="probabilities")(logits)
    model = k.Model(ids, outputs, name=kind.replace("-", "_"))
    fit = (statistics or {}).get("linear")
    if fit is not None:
        model.get_layer("linear_scores").set_weights([np.asarray(fit["table"], np.float32)])
        if kind == TFIDF:
            model.get_layer("squared_idf").set_weights([np.asarray(fit["squared_scale"], np.float32)[:, None]])
        model.get_layer("linear_logits").set_weights([np.asarray(fit["bias"], np.float32)])
    return model
