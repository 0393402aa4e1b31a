"""Word, character and n-gram tokenizing with Keras' TextVectorization, learned from
training text.

A `TokenizerSpec` is plain JSON (the vocabulary and the settings), stored in a run's data
info and in every export. From it, `text_vectorizer` rebuilds the TensorFlow tokenizer
(tf.data pipelines, the SavedModel's string signature) and `kerasdl_edge.text.Tokenizer`
the TensorFlow-free one (TFLite clients); tests hold the two to the same ids.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np

from kerasdl.errors import ConfigError, DataError

if TYPE_CHECKING:
    import keras
    import tensorflow as tf

STANDARDIZE = ("lower_and_strip_punctuation", "lower", "strip_punctuation", "split_punctuation", "none")
SPLIT = ("whitespace", "characters", "script")
NORMALIZE = ("ascii", "unicode")
PAD_ID, OOV_ID = 0, 1
# `choose_tokenization` reads this many training texts, and splits by script when this
# share of their characters belongs to scripts written without spaces.
CHOICE_SAMPLE_TEXTS = 5000
UNSPACED_SHARE_FOR_SCRIPT = 0.2
# ... and normalizes Unicode when this share of their letters is not ASCII.
NON_ASCII_SHARE_FOR_UNICODE = 0.05


@dataclass
class TokenizerSpec:
    """How text becomes a fixed-length row of token ids.

    Attributes:
        standardize: lower_and_strip_punctuation, lower, strip_punctuation,
            split_punctuation (each punctuation mark becomes a space, case is kept:
            what MediaPipe's regex tokenizer reproduces) or none.
        ngrams: 1 for single tokens; N adds every 2..N-gram.
        sequence_length: ids per text: longer token lists are cut at the end, shorter
            ones padded with 0.
        ngram_order: where the n-grams go. "position" (every spec fitted now): each
            word is followed by the n-grams that start at it, so a cut keeps the
            words and the n-grams of the same first part of the text, whatever its
            length. "length" (specs written before it existed, TextVectorization's
            own order): all words first, then all bigrams, ..., so on a long text the
            cut dropped every n-gram.
        vocabulary: index 0 is padding (""), 1 the out-of-vocabulary token.
        binary: keep each distinct id once, where it first appears, before the cut
            to `sequence_length`: which tokens a text holds, not how often.
        split: whitespace (words between ASCII whitespace), characters (each
            character a token, whitespace dropped) or script (words, and each
            character of the scripts written without spaces: Chinese, Japanese, Thai,
            Lao, Khmer, Myanmar; `kerasdl_edge.text.UNSPACED_SCRIPTS`).
        normalize: ascii (lower-casing of ASCII letters and ASCII punctuation, as
            `tf.strings.lower` and Keras' default strip pattern) or unicode (full-width
            forms folded to ASCII and Unicode spaces to " ", the width part of NFKC;
            Unicode lower-casing; Unicode punctuation too).
    """

    standardize: str = "lower_and_strip_punctuation"
    ngrams: int = 1
    sequence_length: int = 256
    vocabulary: list[str] = field(default_factory=list)
    binary: bool = False
    split: str = "whitespace"
    normalize: str = "ascii"
    ngram_order: str = "position"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "pad_id": PAD_ID, "oov_id": OOV_ID}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TokenizerSpec":
        """Also reads specs written before `split`, `normalize` and `ngram_order` were
        settable (they split on whitespace, ASCII only, n-grams after the words)."""
        return cls(standardize=data["standardize"], ngrams=int(data["ngrams"]),
                   sequence_length=int(data["sequence_length"]),
                   vocabulary=list(data["vocabulary"]), binary=bool(data.get("binary", False)),
                   split=data.get("split", "whitespace"), normalize=data.get("normalize", "ascii"),
                   ngram_order=data.get("ngram_order", "length"))


@dataclass(frozen=True)
class TokenizationChoice:
    """How `choose_tokenization` splits and normalizes a data set's text, and why."""

    split: str
    normalize: str
    reason: str


def choose_tokenization(texts: "Sequence[str]", *, split: str = "auto", normalize: str = "auto") -> TokenizationChoice:
    """Picks `split` and `normalize` where they are "auto", from the script of `texts`
    (a sample of the training texts): text mostly in scripts written without spaces
    (at least `UNSPACED_SHARE_FOR_SCRIPT` of its characters) is split by script,
    since its words are not separated; text whose letters are not mostly ASCII, or is
    split by script, is normalized as Unicode (full-width forms, lower-casing and
    punctuation beyond ASCII).

    Example:
    >>> from kerasdl.data.tokenizer import choose_tokenization
    >>> choose_tokenization(["这部电影很好看！", "剧情太拖沓了。"]).split
    'script'
    >>> choose_tokenization(["A fine film.", "Too long."]).normalize
    'ascii'
    """
    from kerasdl_edge.text import UNSPACED_SCRIPTS, python_class

    for name, value, choices in (("split", split, SPLIT), ("normalize", normalize, NORMALIZE)):
        if value != "auto" and value not in choices:
            raise ConfigError(f"`{name}` must be auto or one of {', '.join(choices)}. Received: {value!r}")
    characters = "".join(texts).replace(" ", "")
    unspaced = len(re.findall("[" + python_class(UNSPACED_SCRIPTS) + "]", characters))
    unspaced_share = unspaced / max(1, len(characters))
    letters = [c for c in characters if c.isalpha()]
    non_ascii_share = sum(not c.isascii() for c in letters) / max(1, len(letters))
    reasons = []
    if split == "auto":
        split = "script" if unspaced_share >= UNSPACED_SHARE_FOR_SCRIPT else "whitespace"
        reasons.append(f"{unspaced_share:.0%} of the characters are in scripts written without spaces")
    if normalize == "auto":
        normalize = "unicode" if split != "whitespace" or non_ascii_share >= NON_ASCII_SHARE_FOR_UNICODE else "ascii"
        reasons.append(f"{non_ascii_share:.0%} of the letters are not ASCII")
    reason = "; ".join(reasons) if reasons else "as configured"
    return TokenizationChoice(split, normalize, f"split={split}, normalize={normalize} ({reason})")


def fit_tokenizer(
    texts: "tf.data.Dataset", *, max_tokens: int, ngrams: int, sequence_length: int,
    standardize: str = "lower_and_strip_punctuation", binary: bool = False,
    split: str = "whitespace", normalize: str = "ascii",
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
    for name, value, choices in (("split", split, SPLIT), ("normalize", normalize, NORMALIZE)):
        if value not in choices:
            raise ConfigError(f"`{name}` must be one of {', '.join(choices)}. Received: {value!r}")
    layer = keras.layers.TextVectorization(
        max_tokens=max_tokens, standardize=_keras_standardize(standardize, normalize),
        split=_keras_split(split), ngrams=ngrams if ngrams > 1 else None, output_mode="int",
    )
    layer.adapt(texts.batch(1024))
    vocabulary = [str(token) for token in layer.get_vocabulary()]
    if len(vocabulary) <= 2:
        raise DataError("The training texts hold no words: the vocabulary is empty.")
    return TokenizerSpec(standardize=standardize, ngrams=ngrams, sequence_length=sequence_length,
                         vocabulary=vocabulary, binary=binary, split=split, normalize=normalize)


def _cuts_in_layer(spec: TokenizerSpec) -> bool:
    """Whether TextVectorization itself can cut and pad: only when ids keep its order."""
    return not spec.binary and (spec.ngrams == 1 or spec.ngram_order == "length")


def text_vectorizer(spec: TokenizerSpec, cut: bool = True) -> "keras.layers.TextVectorization":
    """The TensorFlow lookup of `spec`: strings in, int64 ids out, [batch, length]
    (binary or position-ordered specs, or `cut=False`: [batch, longest text], 0-padded;
    see `tokenizer_function`)."""
    import keras

    # An array, not the list: Keras tracks each element of a list attribute (seconds for
    # a vocabulary of 200,000 n-grams).
    return keras.layers.TextVectorization(
        vocabulary=np.asarray(spec.vocabulary, dtype=object), standardize=_keras_standardize(spec.standardize, spec.normalize),
        split=_keras_split(spec.split), ngrams=spec.ngrams if spec.ngrams > 1 else None, output_mode="int",
        output_sequence_length=spec.sequence_length if cut and _cuts_in_layer(spec) else None,
        name="tokenizer",
    )


def _by_position(ids: "tf.Tensor", ngrams: int) -> "tf.RaggedTensor":
    """TextVectorization's rows (all words, then all bigrams, ...; 0-padded) reordered
    so that each word is followed by the n-grams that start at it.

    A text of n words holds n - k (k+1)-grams, k = 0..ngrams-1, so its row of c ids
    has c = n + (n-1) + ... : n follows from c, and the k-th block starts at
    `sum_{j<k} max(0, n - j)`.
    """
    import tensorflow as tf

    count = tf.reduce_sum(tf.cast(ids != PAD_ID, tf.int32), axis=1)
    full = ngrams * (ngrams - 1) // 2  # ids of a text of exactly ngrams - 1 words
    c = tf.cast(count, tf.float64)
    short = tf.cast(tf.round((tf.sqrt(8.0 * c + 1.0) - 1.0) / 2.0), tf.int32)  # c = n (n + 1) / 2
    words = tf.where(count >= full, (count + full) // ngrams, short)
    starts = [tf.zeros_like(words)]
    for k in range(1, ngrams):
        starts.append(starts[-1] + tf.maximum(words - (k - 1), 0))
    starts = tf.stack(starts, axis=1)                                   # [batch, ngrams]
    positions = tf.range(tf.reduce_max(tf.concat([words, [0]], 0)))     # [longest]
    index = starts[:, None, :] + positions[None, :, None]               # [batch, longest, ngrams]
    valid = positions[None, :, None] + tf.range(ngrams)[None, None, :] < words[:, None, None]
    batch = tf.shape(ids)[0]
    index = tf.reshape(tf.where(valid, index, 0), [batch, -1])
    gathered = tf.gather(ids, tf.minimum(index, tf.maximum(tf.shape(ids)[1] - 1, 0)), batch_dims=1)
    return tf.ragged.boolean_mask(gathered, tf.reshape(valid, [batch, -1]))


def _first_occurrences(rows: "tf.RaggedTensor", vocabulary_size: int) -> "tf.RaggedTensor":
    """Each distinct id of each row once, where it first appears, for the whole batch
    at once (a per-row `tf.unique` in `tf.map_fn` was the slowest step of tokenizing):
    an id is kept where its position is the first of its (row, id) pair."""
    import tensorflow as tf

    flat = rows.flat_values
    row_ids = rows.value_rowids()
    keys = row_ids * vocabulary_size + tf.cast(flat, tf.int64)
    distinct, index = tf.unique(keys)
    positions = tf.range(tf.size(flat))
    first = tf.math.unsorted_segment_min(positions, index, tf.size(distinct))
    keep = tf.equal(tf.gather(first, index), positions)
    return tf.RaggedTensor.from_value_rowids(tf.boolean_mask(flat, keep), tf.boolean_mask(row_ids, keep),
                                             nrows=rows.nrows())


def tokenizer_function(spec: TokenizerSpec, cut: bool = True) -> tuple[Callable[["tf.Tensor"], "tf.Tensor"], Any]:
    """The TensorFlow tokenizer of `spec`: a function from a batch of strings to int32
    ids [batch, sequence_length], and the layer that holds its vocabulary (for a
    SavedModel to track).

    With `cut=False`, the ids before the cut to `sequence_length`, ragged [batch, None]
    (to count the texts that the cut shortens).
    """
    import tensorflow as tf

    vectorizer = text_vectorizer(spec, cut)
    length = spec.sequence_length

    def tokenize(texts: tf.Tensor) -> tf.Tensor:
        ids = tf.cast(vectorizer(texts), tf.int32)
        if cut and _cuts_in_layer(spec):
            return ids
        if spec.ngrams > 1 and spec.ngram_order == "position":
            rows = _by_position(ids, spec.ngrams)
        else:
            rows = tf.ragged.boolean_mask(ids, ids != PAD_ID)
        if spec.binary:
            rows = _first_occurrences(rows, len(spec.vocabulary))
        return rows.to_tensor(default_value=PAD_ID, shape=[None, length]) if cut else rows

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


def _keras_standardize(standardize: str, normalize: str = "ascii") -> Any:
    """TextVectorization's `standardize`: Keras' own names where they are exact (ASCII),
    else a function written to match `kerasdl_edge.text.Tokenizer.standardized`."""
    if normalize == "ascii" and standardize != "split_punctuation":
        return None if standardize == "none" else standardize

    def standardized(texts: "tf.Tensor") -> "tf.Tensor":
        import tensorflow as tf

        from kerasdl_edge.text import PUNCTUATION_CLASS, UNICODE_PUNCTUATION, re2_class

        punctuation = "[" + PUNCTUATION_CLASS + "]"
        if normalize == "unicode":
            texts = _fold_width(texts)
            punctuation = "[" + PUNCTUATION_CLASS + re2_class(UNICODE_PUNCTUATION) + "]"
        if standardize in ("lower", "lower_and_strip_punctuation"):
            texts = tf.strings.lower(texts, encoding="utf-8" if normalize == "unicode" else "")
        if standardize in ("strip_punctuation", "lower_and_strip_punctuation"):
            texts = tf.strings.regex_replace(texts, punctuation, "")
        elif standardize == "split_punctuation":
            texts = tf.strings.regex_replace(texts, punctuation, " ")
        return texts

    return standardized


def _fold_width(texts: "tf.Tensor") -> "tf.Tensor":
    """Full-width ASCII forms to ASCII and Unicode spaces to " ", code point by code
    point (TensorFlow has no NFKC; these are the parts of it that matter for tokens)."""
    import tensorflow as tf

    from kerasdl_edge.text import FULL_WIDTH_FIRST, FULL_WIDTH_LAST, FULL_WIDTH_OFFSET, UNICODE_SPACES

    def fold(points: tf.Tensor) -> tf.Tensor:
        full_width = (points >= FULL_WIDTH_FIRST) & (points <= FULL_WIDTH_LAST)
        points = tf.where(full_width, points - FULL_WIDTH_OFFSET, points)
        space = tf.zeros_like(points, tf.bool)
        for low, high in UNICODE_SPACES:
            space |= (points >= low) & (points <= high)
        return tf.where(space, tf.constant(0x20, points.dtype), points)

    points = tf.strings.unicode_decode(texts, "UTF-8")
    return tf.strings.unicode_encode(tf.ragged.map_flat_values(fold, points), "UTF-8")


def _keras_split(split: str) -> Any:
    """TextVectorization's `split`, matching `kerasdl_edge.text.Tokenizer.tokens`."""
    if split == "whitespace":
        return "whitespace"

    def split_text(texts: "tf.Tensor") -> "tf.RaggedTensor":
        import tensorflow as tf

        from kerasdl_edge.text import UNSPACED_SCRIPTS, WHITESPACE_CLASS, re2_class

        if split == "script":
            spaced = tf.strings.regex_replace(texts, "[" + re2_class(UNSPACED_SCRIPTS) + "]", " \\0 ")
            return tf.strings.split(spaced)
        characters = tf.strings.unicode_split(texts, "UTF-8")
        whitespace = tf.ragged.map_flat_values(tf.strings.regex_full_match, characters,
                                               "[" + WHITESPACE_CLASS + "]")
        return tf.ragged.boolean_mask(characters, tf.logical_not(whitespace))

    return split_text
