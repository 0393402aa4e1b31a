"""Text to token ids without TensorFlow, the twin of Keras' TextVectorization.

kerasdl's text models take token ids, because TFLite's builtin ops cannot tokenize.
This tokenizer reads the vocabulary and settings stored in the .tflite file and
reproduces the ids of the TextVectorization layer used in training: ASCII-only
lower-casing (as `tf.strings.lower`), removal of ASCII punctuation (Keras' default
pattern), splitting on ASCII whitespace (as `tf.strings.split`), n-grams joined by a
space after the words (as `tf.strings.ngrams`), then lookup, (for binary tokenizers)
each distinct id once in order of first appearance, cut and pad.

Example:
>>> from kerasdl_edge.text import Tokenizer
>>> tok = Tokenizer(["", "[UNK]", "good", "movie"], sequence_length=4)
>>> tok(["A GOOD movie!"]).tolist()
[[1, 2, 3, 0]]
"""

from __future__ import annotations

import re
from typing import Any, Iterable

import numpy as np

STANDARDIZE = ("lower_and_strip_punctuation", "lower", "strip_punctuation", "none")
# Keras' DEFAULT_STRIP_REGEX, on UTF-8 bytes: it holds ASCII characters only.
_PUNCTUATION = re.compile(rb'[!"#$%&()\*\+,-\./:;<=>?@\[\\\]^_`{|}~\']')
PAD_ID, OOV_ID = 0, 1


class Tokenizer:
    """Text to a fixed-length int32 row of ids.

    Args:
        vocabulary: tokens by id; id 0 is padding, id 1 the out-of-vocabulary token.
        standardize: lower_and_strip_punctuation, lower, strip_punctuation or none.
        ngrams: 1 for words; N appends every 2..N-gram after the words.
        sequence_length: ids per text (cut at the end, padded with 0).
        binary: keep each distinct id once, where it first appears, before the cut.
    """

    def __init__(
        self, vocabulary: list[str], *, standardize: str = "lower_and_strip_punctuation",
        ngrams: int = 1, sequence_length: int = 256, binary: bool = False,
    ) -> None:
        if standardize not in STANDARDIZE:
            raise ValueError(f"standardize must be one of {', '.join(STANDARDIZE)}, not {standardize!r}")
        self.vocabulary = list(vocabulary)
        self.standardize = standardize
        self.ngrams = int(ngrams)
        self.sequence_length = int(sequence_length)
        self.binary = bool(binary)
        self._ids = {token.encode("utf-8"): i for i, token in enumerate(self.vocabulary) if i > OOV_ID}

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> "Tokenizer":
        """From the `tokenizer` entry of a kerasdl export's metadata."""
        return cls(spec["vocabulary"], standardize=spec["standardize"], ngrams=spec["ngrams"],
                   sequence_length=spec["sequence_length"], binary=spec.get("binary", False))

    def tokens(self, text: str) -> list[bytes]:
        """The standardized words and n-grams of `text`, before lookup."""
        data = text.encode("utf-8")
        if self.standardize in ("lower", "lower_and_strip_punctuation"):
            data = data.lower()  # bytes.lower() changes ASCII letters only, like TF
        if self.standardize in ("strip_punctuation", "lower_and_strip_punctuation"):
            data = _PUNCTUATION.sub(b"", data)
        words = data.split()  # bytes.split() splits on ASCII whitespace, like TF
        grams = list(words)
        for n in range(2, self.ngrams + 1):
            grams.extend(b" ".join(words[i:i + n]) for i in range(len(words) - n + 1))
        return grams

    def encode(self, text: str) -> np.ndarray:
        if self.binary:
            ids = list(dict.fromkeys(self._ids.get(t, OOV_ID) for t in self.tokens(text)))
            ids = ids[: self.sequence_length]
        else:
            ids = [self._ids.get(t, OOV_ID) for t in self.tokens(text)[: self.sequence_length]]
        row = np.zeros(self.sequence_length, np.int32)
        row[: len(ids)] = ids
        return row

    def __call__(self, texts: Iterable[str]) -> np.ndarray:
        rows = [self.encode(t) for t in texts]
        return np.stack(rows) if rows else np.zeros((0, self.sequence_length), np.int32)
