"""The sentiment app's one preprocessing definition: text to token ids.

The tokenizer is learned from the training split (`fit`) and stored in the run's data
info as a `TokenizerSpec`. From that one spec come the tf.data pipelines (`vectorize`),
the SavedModel's string signature (`tokenizer_function`) and, for TFLite clients, the
TensorFlow-free `kerasdl_edge.text.Tokenizer` (the sentiment codec's), which a test
holds to the same ids. Models take the ids, never strings: TFLite's builtins cannot tokenize.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from kerasdl.data.tokenizer import TokenizerSpec, fit_tokenizer, tokenizer_function

if TYPE_CHECKING:
    import tensorflow as tf

logger = logging.getLogger(__name__)

INPUT_NAME = "token_ids"
TOKENIZER_KEY = "tokenizer"
TOKENIZATION_KEY = "tokenization"
IDF_KEY = "idf"
NB_KEY = "nb_ratios"
CUT_KEY = "cut_texts"
VECTORIZE_BATCH = 256


def fit(data: "tf.data.Dataset", num_classes: int, *, max_tokens: int, ngrams: int,
        sequence_length: int, standardize: str, binary: bool = False, split: str = "auto",
        normalize: str = "auto",
        statistics: Sequence[str] = ()) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Learns the tokenizer from the training split's `(text, label)` pairs.

    Args:
        split, normalize: as in `TokenizerSpec`; "auto" chooses from the script of the
            training texts (`choose_tokenization`), and the info's `tokenization`
            says what was chosen and why.
        statistics: also "idf" (inverse document frequencies) and/or "nb_ratios"
            (naive-Bayes log-count ratios per class), for a new model's first weights.

    Returns:
        (data info entries: the tokenizer; {statistic: array}).
    """
    from kerasdl.data.tokenizer import (CHOICE_SAMPLE_TEXTS, choose_tokenization, document_counts,
                                        inverse_document_frequency, naive_bayes_ratios)

    texts = data.map(lambda text, label: text)
    sample = [t.decode("utf-8", "replace") for t in texts.take(CHOICE_SAMPLE_TEXTS).as_numpy_iterator()]
    choice = choose_tokenization(sample, split=split, normalize=normalize)
    # Said when it departs from plain words, where a user may wonder; always in the info.
    log = logger.info if (choice.split, choice.normalize) != ("whitespace", "ascii") else logger.debug
    log("Tokenization: %s", choice.reason)
    spec = fit_tokenizer(texts, max_tokens=max_tokens, ngrams=ngrams, sequence_length=sequence_length,
                         standardize=standardize, binary=binary, split=choice.split,
                         normalize=choice.normalize)
    learned: dict[str, Any] = {TOKENIZER_KEY: spec.to_dict(), TOKENIZATION_KEY: choice.reason}
    cut, total = count_cut_texts(texts, spec)
    learned[CUT_KEY] = {"texts": cut, "of": total}
    # Said whenever the cut shortens a text: the end of a long review is silently unread.
    (logger.info if cut else logger.debug)(
        "Sequence length %d: %s of %s training texts (%.1f %%) hold more tokens and are cut at "
        "the end (--set sequence_length=N to change).", spec.sequence_length, f"{cut:,}", f"{total:,}",
        100.0 * cut / max(1, total))
    arrays: dict[str, np.ndarray] = {}
    if statistics:
        counts, documents = document_counts(
            vectorize(data, learned).batch(VECTORIZE_BATCH), len(spec.vocabulary), num_classes)
        if IDF_KEY in statistics:
            arrays[IDF_KEY] = inverse_document_frequency(counts, documents)
        if NB_KEY in statistics:
            arrays[NB_KEY] = naive_bayes_ratios(counts)
    return learned, arrays


def count_cut_texts(texts: "tf.data.Dataset", spec: TokenizerSpec) -> tuple[int, int]:
    """(texts whose token ids outnumber `spec.sequence_length`, texts) of a dataset of strings."""
    tokenize, _ = tokenizer_function(spec, cut=False)
    cut = total = 0
    for lengths in texts.batch(VECTORIZE_BATCH).map(lambda t: tokenize(t).row_lengths()).as_numpy_iterator():
        cut += int((lengths > spec.sequence_length).sum())
        total += len(lengths)
    return cut, total


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
