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
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from kerasdl_edge.errors import EdgeError

STANDARDIZE = ("lower_and_strip_punctuation", "lower", "strip_punctuation", "split_punctuation", "none")
# Keras' DEFAULT_STRIP_REGEX, on UTF-8 bytes: it holds ASCII characters only.
PUNCTUATION_CLASS = r"""!"#$%&()\*\+,-\./:;<=>?@\[\\\]^_`{|}~\'"""
_PUNCTUATION = re.compile(("[" + PUNCTUATION_CLASS + "]").encode())
# What `bytes.split()` and `tf.strings.split` split on, as an RE2 / Python class.
WHITESPACE_CLASS = r"\t\n\x0b\x0c\r "
PAD_ID, OOV_ID = 0, 1
MAX_TEXT_FILE_BYTES = 10_000_000


class Tokenizer:
    """Text to a fixed-length int32 row of ids.

    Args:
        vocabulary: tokens by id; id 0 is padding, id 1 the out-of-vocabulary token.
        standardize: lower_and_strip_punctuation, lower, strip_punctuation,
            split_punctuation (punctuation becomes a space: words split there, case
            kept) or none.
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
        elif self.standardize == "split_punctuation":
            data = _PUNCTUATION.sub(b" ", data)
        words = data.split()  # bytes.split() splits on ASCII whitespace, like TF
        grams = list(words)
        for n in range(2, self.ngrams + 1):
            grams.extend(b" ".join(words[i:i + n]) for i in range(len(words) - n + 1))
        return grams

    def regex_delimiter(self) -> str:
        """The RE2 delimiter pattern with which a regex tokenizer (MediaPipe's
        TextClassifier) cuts text into this tokenizer's words.

        Raises:
            ValueError: saying why when no delimiter pattern can reproduce the ids:
                n-grams, binary ids, lower-casing or punctuation removed inside words.
        """
        if self.ngrams > 1:
            raise ValueError(f"its tokens include {self.ngrams}-grams, which a regex tokenizer cannot make")
        if self.binary:
            raise ValueError("it keeps each word once (binary), which a regex tokenizer does not")
        if self.standardize == "split_punctuation":
            return "[" + WHITESPACE_CLASS + PUNCTUATION_CLASS + "]+"
        if self.standardize == "none":
            return "[" + WHITESPACE_CLASS + "]+"
        raise ValueError(f"standardize={self.standardize} lower-cases or joins words, which a regex "
                         "tokenizer cannot")

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


def read_text_argument(value: str) -> str:
    """The contents of `value` if it names a text file (UTF-8, gzipped if .gz), else
    `value` itself.

    Raises:
        EdgeError: for a text file over `MAX_TEXT_FILE_BYTES`, unreadable or not UTF-8.
    """
    import gzip

    path = Path(value)
    try:
        is_file = len(value) < 4096 and "\n" not in value and path.is_file()
    except OSError:
        is_file = False
    if not is_file:
        return value
    if path.stat().st_size > MAX_TEXT_FILE_BYTES:
        raise EdgeError(f"{path} is over {MAX_TEXT_FILE_BYTES // 1_000_000} MB; expected one text.")
    try:
        raw = path.read_bytes()
        if path.name.lower().endswith(".gz"):
            raw = gzip.decompress(raw)
        return raw.decode("utf-8-sig")
    except (OSError, EOFError, gzip.BadGzipFile) as e:
        raise EdgeError(f"Cannot read {path}: {e}") from None
    except UnicodeDecodeError as e:
        raise EdgeError(f"{path} is not UTF-8 text (byte {e.start}).") from None
