"""Word and n-gram tokenizing with Keras' TextVectorization, learned from training text.

A `TokenizerSpec` is plain JSON (the vocabulary and the settings), stored in a run's data
info and in every export. From it, `text_vectorizer` rebuilds the TensorFlow tokenizer
(tf.data pipelines, the SavedModel's string signature) and `kerasdl_edge.text.Tokenizer`
the TensorFlow-free one (TFLite clients); tests hold the two to the same ids.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from kerasdl.errors import ConfigError, DataError

if TYPE_CHECKING:
    import keras
    import tensorflow as tf

STANDARDIZE = ("lower_and_strip_punctuation", "lower", "strip_punctuation", "split_punctuation", "none")
PAD_ID, OOV_ID = 0, 1


@dataclass
class TokenizerSpec:
    """How text becomes a fixed-length row of token ids.

    Attributes:
        standardize: lower_and_strip_punctuation, lower, strip_punctuation,
            split_punctuation (each punctuation mark becomes a space, case is kept:
            what MediaPipe's regex tokenizer reproduces) or none. Lower-casing is
            ASCII-only and punctuation is ASCII punctuation, as in `tf.strings.lower`
            and Keras' default strip pattern.
        ngrams: 1 for words; N adds every 2..N-gram after the words.
        sequence_length: ids per text: longer token lists are cut at the end, shorter
            ones padded with 0.
        vocabulary: index 0 is padding (""), 1 the out-of-vocabulary token.
        binary: keep each distinct id once, where it first appears, before the cut
            to `sequence_length`: which tokens a text holds, not how often.
    """

    standardize: str = "lower_and_strip_punctuation"
    ngrams: int = 1
    sequence_length: int = 256
    vocabulary: list[str] = field(default_factory=list)
    binary: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "split": "whitespace", "pad_id": PAD_ID, "oov_id": OOV_ID}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TokenizerSpec":
        return cls(standardize=data["standardize"], ngrams=int(data["ngrams"]),
                   sequence_length=int(data["sequence_length"]),
                   vocabulary=list(data["vocabulary"]), binary=bool(data.get("binary", False)))


def fit_tokenizer(
    texts: "tf.data.Dataset", *, max_tokens: int, ngrams: int, sequence_length: int,
    standardize: str = "lower_and_strip_punctuation", binary: bool = False,
) -> TokenizerSpec:
    """Learns the `max_tokens` most frequent tokens (padding and OOV included) of
    `texts`, a dataset of scalar strings: the training split only, so validation and
    test words stay unseen, as they would be in use.

    Raises:
        DataError: if the texts hold no tokens at all.
    """
    import keras

    if standardize not in STANDARDIZE:
        raise ConfigError(
            f"`standardize` must be one of {', '.join(STANDARDIZE)}. Received: {standardize!r}"
        )
    layer = keras.layers.TextVectorization(
        max_tokens=max_tokens, standardize=_keras_standardize(standardize),
        ngrams=ngrams if ngrams > 1 else None, output_mode="int",
    )
    layer.adapt(texts.batch(1024))
    vocabulary = [str(token) for token in layer.get_vocabulary()]
    if len(vocabulary) <= 2:
        raise DataError("The training texts hold no words: the vocabulary is empty.")
    return TokenizerSpec(standardize=standardize, ngrams=ngrams,
                         sequence_length=sequence_length, vocabulary=vocabulary, binary=binary)


def text_vectorizer(spec: TokenizerSpec) -> "keras.layers.TextVectorization":
    """The TensorFlow lookup of `spec`: strings in, int64 ids out, [batch, length]
    (binary specs: [batch, longest text], see `tokenizer_function`)."""
    import keras

    return keras.layers.TextVectorization(
        vocabulary=spec.vocabulary, standardize=_keras_standardize(spec.standardize),
        ngrams=spec.ngrams if spec.ngrams > 1 else None, output_mode="int",
        output_sequence_length=None if spec.binary else spec.sequence_length, name="tokenizer",
    )


def tokenizer_function(spec: TokenizerSpec) -> tuple[Callable[["tf.Tensor"], "tf.Tensor"], Any]:
    """The TensorFlow tokenizer of `spec`: a function from a batch of strings to int32
    ids [batch, sequence_length], and the layer that holds its vocabulary (for a
    SavedModel to track)."""
    import tensorflow as tf

    vectorizer = text_vectorizer(spec)
    length = spec.sequence_length

    def first_occurrences(row: tf.Tensor) -> tf.Tensor:
        distinct = tf.unique(tf.boolean_mask(row, row != PAD_ID)).y[:length]
        return tf.pad(distinct, [[0, length - tf.shape(distinct)[0]]])

    def tokenize(texts: tf.Tensor) -> tf.Tensor:
        ids = tf.cast(vectorizer(texts), tf.int32)
        if spec.binary:
            ids = tf.map_fn(first_occurrences, ids,
                            fn_output_signature=tf.TensorSpec([length], tf.int32))
        return ids

    return tokenize, vectorizer


def document_counts(
    batches: "tf.data.Dataset", vocabulary_size: int, num_classes: int
) -> tuple[np.ndarray, np.ndarray]:
    """How many documents of each class hold each id, and how many documents each
    class has.

    Args:
        batches: batches of `(token id rows, int labels)` (the training split).

    Returns:
        (counts [vocabulary_size, num_classes], documents [num_classes]).
    """
    counts = np.zeros((vocabulary_size, num_classes), np.int64)
    documents = np.zeros(num_classes, np.int64)
    for ids, labels in batches.as_numpy_iterator():
        ids, labels = np.asarray(ids), np.asarray(labels)
        documents += np.bincount(labels, minlength=num_classes)
        rows = np.repeat(np.arange(len(ids)), ids.shape[1])
        present = np.unique(rows * vocabulary_size + ids.reshape(-1))
        token, row = present % vocabulary_size, present // vocabulary_size
        np.add.at(counts, (token, labels[row]), 1)
    return counts, documents


def inverse_document_frequency(counts: np.ndarray, documents: np.ndarray) -> np.ndarray:
    """`log(1 + documents / (1 + documents holding the token))` per id, as Keras'
    tf_idf mode computes it; 0 for the padding id so that padding weighs nothing."""
    idf = np.log1p(documents.sum() / (1.0 + counts.sum(axis=1)))
    idf[PAD_ID] = 0.0
    return idf.astype(np.float32)


def naive_bayes_ratios(counts: np.ndarray, alpha: float = 1.0) -> np.ndarray:
    """Per id and class, the log-count ratio of naive Bayes one-vs-rest (Wang & Manning
    2012): `log((p / |p|) / (q / |q|))` with p the (smoothed) document counts in the class
    and q in the others; 0 for padding."""
    p = counts + alpha
    q = counts.sum(axis=1, keepdims=True) - counts + alpha
    ratios = np.log(p / p.sum(axis=0)) - np.log(q / q.sum(axis=0))
    ratios[PAD_ID] = 0.0
    return ratios.astype(np.float32)


def _keras_standardize(standardize: str) -> Any:
    if standardize == "split_punctuation":
        return _split_punctuation
    return None if standardize == "none" else standardize


def _split_punctuation(texts: "tf.Tensor") -> "tf.Tensor":
    import tensorflow as tf

    from kerasdl_edge.text import PUNCTUATION_CLASS  # the edge twin's, so both agree

    return tf.strings.regex_replace(texts, "[" + PUNCTUATION_CLASS + "]", " ")
