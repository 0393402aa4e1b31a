"""The sentiment app's one preprocessing definition: text to token ids.

The tokenizer is learned from the training split (`fit`) and stored in the run's data
info as a `TokenizerSpec`. From that one spec come the tf.data pipelines (`vectorize`),
the SavedModel's string signature (`tokenizer_function`) and, for TFLite clients, the
TensorFlow-free `kerasdl_edge.text.Tokenizer` (the sentiment codec's), which a test
holds to the same ids. Models take the ids, never strings: TFLite's builtins cannot tokenize.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from kerasdl.data.tokenizer import TokenizerSpec, fit_tokenizer, tokenizer_function

if TYPE_CHECKING:
    import tensorflow as tf


INPUT_NAME = "token_ids"
TOKENIZER_KEY = "tokenizer"
IDF_KEY = "idf"
NB_KEY = "nb_ratios"
VECTORIZE_BATCH = 256


def fit(data: "tf.data.Dataset", num_classes: int, *, max_tokens: int, ngrams: int,
        sequence_length: int, standardize: str, binary: bool = False,
        statistics: Sequence[str] = ()) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Learns the tokenizer from the training split's `(text, label)` pairs.

    Args:
        statistics: also "idf" (inverse document frequencies) and/or "nb_ratios"
            (naive-Bayes log-count ratios per class), for a new model's first weights.

    Returns:
        (data info entries: the tokenizer; {statistic: array}).
    """
    from kerasdl.data.tokenizer import document_counts, inverse_document_frequency, naive_bayes_ratios

    spec = fit_tokenizer(data.map(lambda text, label: text), max_tokens=max_tokens, ngrams=ngrams,
                         sequence_length=sequence_length, standardize=standardize, binary=binary)
    learned: dict[str, Any] = {TOKENIZER_KEY: spec.to_dict()}
    arrays: dict[str, np.ndarray] = {}
    if statistics:
        counts, documents = document_counts(
            vectorize(data, learned).batch(VECTORIZE_BATCH), len(spec.vocabulary), num_classes)
        if IDF_KEY in statistics:
            arrays[IDF_KEY] = inverse_document_frequency(counts, documents)
        if NB_KEY in statistics:
            arrays[NB_KEY] = naive_bayes_ratios(counts)
    return learned, arrays


def tokenizer_spec(info: dict[str, Any]) -> TokenizerSpec:
    return TokenizerSpec.from_dict(info[TOKENIZER_KEY])


def vectorize(ds: "tf.data.Dataset", info: dict[str, Any]) -> "tf.data.Dataset":
    """Maps `(text, label)` pairs to `(int32 ids, label)` pairs."""
    import tensorflow as tf

    tokenize, _ = tokenizer_function(tokenizer_spec(info))

    def to_ids(text: "tf.Tensor", label: "tf.Tensor") -> tuple["tf.Tensor", "tf.Tensor"]:
        return tokenize(text), label

    # Tokenizing a batch at a time is several times faster than one text at a time.
    ids = ds.batch(VECTORIZE_BATCH).map(to_ids, num_parallel_calls=tf.data.AUTOTUNE).unbatch()
    known = int(ds.cardinality())
    return ids.apply(tf.data.experimental.assert_cardinality(known)) if known >= 0 else ids
