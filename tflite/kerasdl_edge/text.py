"""Text to token ids without TensorFlow, the twin of Keras' TextVectorization.

kerasdl's text models take token ids, because TFLite's builtin ops cannot tokenize.
This tokenizer reads the vocabulary and settings stored in the .tflite file and
reproduces the ids of the TextVectorization layer used in training, step by step:

1. normalize: `ascii` changes nothing here; `unicode` folds full-width forms to ASCII
   and Unicode spaces to " " (the width part of NFKC: "ＡＢＣ，１２３" -> "ABC,123").
2. standardize: lower-casing (ASCII letters only under `ascii`, as `tf.strings.lower`;
   every cased letter under `unicode`, as `tf.strings.lower(encoding="utf-8")`), then
   punctuation removed or made a word boundary (ASCII punctuation, Keras' default
   pattern; under `unicode` also the Unicode punctuation of `UNICODE_PUNCTUATION`).
3. split: on ASCII whitespace (`whitespace`, as `tf.strings.split`); into characters
   (`characters`, whitespace dropped); or words for scripts written with spaces and
   single characters for scripts written without them (`script`: Chinese, Japanese,
   Thai, Lao, Khmer, Myanmar, see `UNSPACED_SCRIPTS`).
4. n-grams joined by a space (as `tf.strings.ngrams`): each token followed by the
   n-grams that start at it (`ngram_order="position"`), or, for files written before
   that order existed, all tokens and then all n-grams (`"length"`); lookup, (for
   binary tokenizers) each distinct id once in order of first appearance, cut and pad.

Example:
>>> from kerasdl_edge.text import Tokenizer
>>> tok = Tokenizer(["", "[UNK]", "good", "movie"], sequence_length=4)
>>> tok(["A GOOD movie!"]).tolist()
[[1, 2, 3, 0]]
>>> zh = Tokenizer(["", "[UNK]", "好", "看", "好 看"], split="script", normalize="unicode",
...                ngrams=2, sequence_length=6)
>>> [token.decode() for token in zh.tokens("好看！")]
['好', '好 看', '看']
>>> zh(["好看！"]).tolist()
[[2, 4, 3, 0, 0, 0]]
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from kerasdl_edge.errors import EdgeError

STANDARDIZE = ("lower_and_strip_punctuation", "lower", "strip_punctuation", "split_punctuation", "none")
SPLIT = ("whitespace", "characters", "script")
NORMALIZE = ("ascii", "unicode")
NGRAM_ORDER = ("position", "length")
# Keras' DEFAULT_STRIP_REGEX: it holds ASCII characters only.
PUNCTUATION_CLASS = r"""!"#$%&()\*\+,-\./:;<=>?@\[\\\]^_`{|}~\'"""
# What `bytes.split()` and `tf.strings.split` split on, as an RE2 / Python class.
WHITESPACE_CLASS = r"\t\n\x0b\x0c\r "

# Code point ranges, written once here and rendered both as Python and as RE2 classes,
# so that TensorFlow and this twin agree character for character (explicit ranges,
# not \p{...} classes whose contents follow each library's Unicode version).
CodePointRanges = tuple[tuple[int, int], ...]
# Scripts written without spaces between words: under split="script" each of their
# characters is a token.
UNSPACED_SCRIPTS: CodePointRanges = (
    (0x0E00, 0x0EFF),  # Thai, Lao
    (0x1000, 0x109F),  # Myanmar
    (0x1780, 0x17FF),  # Khmer
    (0x2E80, 0x2FDF),  # CJK and Kangxi radicals
    (0x3001, 0x303F),  # CJK symbols and punctuation (U+3000 is a space)
    (0x3040, 0x30FF),  # Hiragana, Katakana
    (0x31F0, 0x31FF),  # Katakana phonetic extensions
    (0x3400, 0x4DBF),  # CJK Unified Ideographs Extension A
    (0x4E00, 0x9FFF),  # CJK Unified Ideographs
    (0xF900, 0xFAFF),  # CJK Compatibility Ideographs
    (0xFF01, 0xFF9F),  # full-width forms, half-width katakana
    (0x20000, 0x3134F),  # CJK Extensions B to G, compatibility supplement
)
# Punctuation beyond ASCII removed (or split at) under normalize="unicode": Latin-1
# marks, general punctuation, CJK and full-width punctuation. Symbols, emoji and
# letters stay.
UNICODE_PUNCTUATION: CodePointRanges = (
    (0x00A1, 0x00A1), (0x00A7, 0x00A7), (0x00AB, 0x00AB), (0x00B6, 0x00B7), (0x00BB, 0x00BB),
    (0x00BF, 0x00BF), (0x2010, 0x2027), (0x2030, 0x205E), (0x3001, 0x3003), (0x3008, 0x3011),
    (0x3014, 0x301F), (0x30FB, 0x30FB), (0xFE10, 0xFE19), (0xFE30, 0xFE4F), (0xFE50, 0xFE6B),
    (0xFF5F, 0xFF65),
)
# Folded to " " under normalize="unicode" (NFKC maps them to a space).
UNICODE_SPACES: CodePointRanges = ((0x00A0, 0x00A0), (0x2000, 0x200A), (0x2028, 0x2029),
                                   (0x202F, 0x202F), (0x205F, 0x205F), (0x3000, 0x3000))
# Full-width ASCII (U+FF01..U+FF5E) is ASCII + 0xFEE0.
FULL_WIDTH_FIRST, FULL_WIDTH_LAST, FULL_WIDTH_OFFSET = 0xFF01, 0xFF5E, 0xFEE0
# Letters Python lower-cases but TensorFlow 2.21 (ICU, Unicode 13) does not: cased
# letters added in Unicode 14. Left as they are, as TensorFlow does.
_UNCASED_IN_TENSORFLOW: CodePointRanges = ((0x2C2F, 0x2C2F), (0xA7C0, 0xA7C0), (0xA7D0, 0xA7D0),
                                           (0xA7D6, 0xA7D6), (0xA7D8, 0xA7D8), (0x10570, 0x10595))


def python_class(ranges: CodePointRanges) -> str:
    """`ranges` as the inside of a Python `re` character class."""
    return "".join(f"\\U{lo:08x}" + (f"-\\U{hi:08x}" if hi > lo else "") for lo, hi in ranges)


def re2_class(ranges: CodePointRanges) -> str:
    """`ranges` as the inside of an RE2 character class (`tf.strings.regex_replace`)."""
    return "".join(f"\\x{{{lo:X}}}" + (f"-\\x{{{hi:X}}}" if hi > lo else "") for lo, hi in ranges)


_PUNCTUATION = re.compile("[" + PUNCTUATION_CLASS + "]")
_UNICODE_PUNCTUATION = re.compile("[" + PUNCTUATION_CLASS + python_class(UNICODE_PUNCTUATION) + "]")
_UNSPACED = re.compile("[" + python_class(UNSPACED_SCRIPTS) + "]")
_UNCASED = re.compile("([" + python_class(_UNCASED_IN_TENSORFLOW) + "]+)")
_ASCII_WHITESPACE = frozenset("\t\n\x0b\x0c\r ")
_ASCII_LOWER = {c: c + 32 for c in range(ord("A"), ord("Z") + 1)}
_FOLD_WIDTH = {c: c - FULL_WIDTH_OFFSET for c in range(FULL_WIDTH_FIRST, FULL_WIDTH_LAST + 1)}
_FOLD_WIDTH.update({c: 0x20 for lo, hi in UNICODE_SPACES for c in range(lo, hi + 1)})
PAD_ID, OOV_ID = 0, 1
MAX_TEXT_FILE_BYTES = 10_000_000


class Tokenizer:
    """Text to a fixed-length int32 row of ids.

    Args:
        vocabulary: tokens by id; id 0 is padding, id 1 the out-of-vocabulary token.
        standardize: lower_and_strip_punctuation, lower, strip_punctuation,
            split_punctuation (punctuation becomes a space: words split there, case
            kept) or none.
        ngrams: 1 for single tokens; N adds every 2..N-gram.
        sequence_length: ids per text (cut at the end, padded with 0).
        ngram_order: position (each token, then the n-grams starting at it) or
            length (all tokens, then all bigrams, ...: exports written before).
        binary: keep each distinct id once, where it first appears, before the cut.
        split: whitespace (words), characters, or script (words, and single
            characters of scripts written without spaces).
        normalize: ascii (ASCII-only lower-casing and punctuation) or unicode
            (full-width forms folded, Unicode lower-casing and punctuation).
    """

    def __init__(
        self, vocabulary: list[str], *, standardize: str = "lower_and_strip_punctuation",
        ngrams: int = 1, sequence_length: int = 256, binary: bool = False,
        split: str = "whitespace", normalize: str = "ascii", ngram_order: str = "position",
    ) -> None:
        for name, value, choices in (("standardize", standardize, STANDARDIZE), ("split", split, SPLIT),
                                     ("normalize", normalize, NORMALIZE)):
            if value not in choices:
                raise ValueError(f"{name} must be one of {', '.join(choices)}, not {value!r}")
        self.vocabulary = list(vocabulary)
        self.standardize = standardize
        self.ngrams = int(ngrams)
        self.sequence_length = int(sequence_length)
        self.binary = bool(binary)
        self.split = split
        self.normalize = normalize
        if ngram_order not in NGRAM_ORDER:
            raise ValueError(f"ngram_order must be one of {', '.join(NGRAM_ORDER)}, not {ngram_order!r}")
        self.ngram_order = ngram_order
        self._ids = {token.encode("utf-8"): i for i, token in enumerate(self.vocabulary) if i > OOV_ID}

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> "Tokenizer":
        """From the `tokenizer` entry of a kerasdl export's metadata (files written
        before `split`, `normalize` and `ngram_order` existed split on whitespace,
        ASCII only, with the n-grams after the tokens)."""
        return cls(spec["vocabulary"], standardize=spec["standardize"], ngrams=spec["ngrams"],
                   sequence_length=spec["sequence_length"], binary=spec.get("binary", False),
                   split=spec.get("split", "whitespace"), normalize=spec.get("normalize", "ascii"),
                   ngram_order=spec.get("ngram_order", "length"))

    def standardized(self, text: str) -> str:
        """`text` after normalization, lower-casing and punctuation, before splitting."""
        unicode = self.normalize == "unicode"
        if unicode:
            text = text.translate(_FOLD_WIDTH)
        if self.standardize in ("lower", "lower_and_strip_punctuation"):
            text = _unicode_lower(text) if unicode else text.translate(_ASCII_LOWER)
        punctuation = _UNICODE_PUNCTUATION if unicode else _PUNCTUATION
        if self.standardize in ("strip_punctuation", "lower_and_strip_punctuation"):
            text = punctuation.sub("", text)
        elif self.standardize == "split_punctuation":
            text = punctuation.sub(" ", text)
        return text

    def tokens(self, text: str) -> list[bytes]:
        """The standardized tokens and n-grams of `text`, before lookup."""
        text = self.standardized(text)
        if self.split == "characters":
            words = [c.encode("utf-8") for c in text if c not in _ASCII_WHITESPACE]
        else:
            if self.split == "script":
                text = _UNSPACED.sub(r" \g<0> ", text)
            words = text.encode("utf-8").split()  # bytes.split(): ASCII whitespace, like TF
        if self.ngram_order == "position":
            return [b" ".join(words[i:i + n]) for i in range(len(words))
                    for n in range(1, self.ngrams + 1) if i + n <= len(words)]
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
        if self.split != "whitespace":
            kind = "characters" if self.split == "characters" else "words and single characters"
            raise ValueError(f"it splits text into {kind}, which a regex tokenizer cannot")
        if self.normalize != "ascii":
            raise ValueError("it folds full-width forms and Unicode punctuation, which a regex tokenizer cannot")
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


def _unicode_lower(text: str) -> str:
    """Unicode lower-casing as TensorFlow's (ICU, with the final sigma rule): Python's,
    except for the letters TensorFlow's Unicode version does not case."""
    parts = _UNCASED.split(text)  # odd parts are the uncased runs
    return "".join(part if i % 2 else part.lower() for i, part in enumerate(parts))


def names_text_file(value: str) -> bool:
    """Whether `read_text_argument` reads `value` as a file's path (an existing file)
    rather than as the text itself."""
    try:
        return len(value) < 4096 and "\n" not in value and Path(value).is_file()
    except (OSError, ValueError):  # a name too long for the OS, a NUL byte
        return False


def read_text_argument(value: str) -> str:
    """The contents of `value` if it names a text file (UTF-8, gzipped if .gz), else
    `value` itself.

    Raises:
        EdgeError: for a text file over `MAX_TEXT_FILE_BYTES`, unreadable or not UTF-8.
    """
    import gzip

    path = Path(value)
    if not names_text_file(value):
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
