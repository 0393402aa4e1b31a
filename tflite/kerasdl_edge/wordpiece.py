"""BERT's WordPiece tokenizer without TensorFlow, the twin of keras-hub's.

A pretrained text encoder (`kerasdl train sentiment --backbone PRESET`) reads the ids of
its preset's WordPiece tokenizer; its TFLite file takes those ids, so a client must
produce them exactly. This module reproduces keras-hub's `WordPieceTokenizer` (the path
TensorFlow runs: tensorflow-text's regex split, case folding and FastWordpiece), then
packs the pieces as kerasdl's `apps/sentiment/preprocessing.py` does for training:

0. the text ends at its first NUL character (TensorFlow's ops read C strings: measured);
1. strip accents (if the preset does): NFD, then every non-spacing mark (Mn) dropped;
2. split: ASCII whitespace (RE2's `\\s`), control (Cc) and format (Cf) characters end a
   word and are dropped; punctuation (ASCII non-alphanumerics and Unicode P*) and CJK
   ideographs are words of their own;
3. lower-case (if the preset does) each word by NFKC_Casefold (`tf_text.case_fold_utf8`:
   full-width forms become ASCII, "ß" becomes "ss", default-ignorable characters go);
4. WordPiece: the longest vocabulary entry from the word's start, then the longest
   "##"-prefixed one from where it ended, and so on; a word that cannot be covered, or of
   over 100 UTF-8 bytes, is one unknown token;
5. pack: `[CLS]`, the first `sequence_length - 2` pieces, `[SEP]`, padding; the mask is 1
   where a token is, the segment ids 0.

MediaPipe's TextClassifier runs the same file with its own BERT tokenizer, which lowers
ASCII letters only and neither strips accents nor drops control characters: on text with
other cased letters, accents, full-width forms or control characters its ids can differ
(`WordPiece.mediapipe_agrees` says when they surely agree).

Example:
>>> from kerasdl_edge.wordpiece import WordPiece
>>> wp = WordPiece(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "good", "film", "##s", "!", "好"],
...                lowercase=True, sequence_length=8)
>>> wp.pieces("Good FILMS! 好")
['good', 'film', '##s', '!', '好']
>>> wp(["Good FILMS! 好"])["ids"].tolist()
[[2, 4, 5, 6, 7, 8, 3, 0]]
"""

from __future__ import annotations

import unicodedata
from typing import Any, Iterable, Mapping

import numpy as np

from kerasdl_edge.errors import EdgeError

# The model's three inputs, as MediaPipe's BERT preprocessor finds them by name.
IDS, MASK, SEGMENT_IDS = "ids", "mask", "segment_ids"
INPUT_NAMES = (IDS, MASK, SEGMENT_IDS)
MAX_BYTES_PER_WORD = 100
# RE2's \s (what tensorflow-text's regex split uses): ASCII only, without \v.
_RE2_WHITESPACE = frozenset("\t\n\x0c\r ")
# CJK ideographs: each is a word of its own (BERT's `_is_chinese_char` ranges).
CJK_RANGES = ((0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F),
              (0x2B740, 0x2B81F), (0x2B820, 0x2CEAF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F))
# Default-ignorable code points, which NFKC_Casefold removes (as keras-hub lists them).
_DEFAULT_IGNORABLE = ((0x00AD, 0x00AD), (0x034F, 0x034F), (0x061C, 0x061C), (0x115F, 0x1160),
                      (0x17B4, 0x17B5), (0x180B, 0x180F), (0x200B, 0x200F), (0x202A, 0x202E),
                      (0x2060, 0x206F), (0x3164, 0x3164), (0xFE00, 0xFE0F), (0xFEFF, 0xFEFF),
                      (0xFFA0, 0xFFA0), (0xFFF0, 0xFFF8), (0x1BCA0, 0x1BCA3), (0x1D173, 0x1D17A),
                      (0xE0000, 0xE0FFF))


def _in(ranges: tuple[tuple[int, int], ...], char: str) -> bool:
    code = ord(char)
    return any(lo <= code <= hi for lo, hi in ranges)


def is_cjk(char: str) -> bool:
    return _in(CJK_RANGES, char)


def is_punctuation(char: str) -> bool:
    """ASCII non-alphanumerics (BERT counts "^", "$" and "`" too) and Unicode P*."""
    code = ord(char)
    if 33 <= code <= 47 or 58 <= code <= 64 or 91 <= code <= 96 or 123 <= code <= 126:
        return True
    return unicodedata.category(char).startswith("P")


def case_fold(text: str) -> str:
    """NFKC_Casefold, as `tf_text.case_fold_utf8`."""
    text = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())
    return "".join(c for c in text if not _in(_DEFAULT_IGNORABLE, c))


class WordPiece:
    """Texts to a BERT model's three int32 inputs, as keras-hub and kerasdl's training did.

    Args:
        vocabulary: the preset's tokens by id (it holds `[CLS]`, `[SEP]`, `[PAD]` and the
            unknown token).
        lowercase, strip_accents, split, split_on_cjk, suffix_indicator, oov_token: the
            preset tokenizer's settings (keras-hub's names).
        sequence_length: ids per text, `[CLS]` and `[SEP]` included.
    """

    def __init__(self, vocabulary: Iterable[str], *, sequence_length: int, lowercase: bool = False,
                 strip_accents: bool = False, split: bool = True, split_on_cjk: bool = True,
                 suffix_indicator: str = "##", oov_token: str = "[UNK]", cls_token: str = "[CLS]",
                 sep_token: str = "[SEP]", pad_token: str = "[PAD]") -> None:
        self.vocabulary = list(vocabulary)
        self.ids = {token: i for i, token in enumerate(self.vocabulary)}
        missing = [t for t in (oov_token, cls_token, sep_token, pad_token) if t not in self.ids]
        if missing:
            raise EdgeError(f"The WordPiece vocabulary lacks {', '.join(missing)}.")
        if sequence_length < 2:
            raise EdgeError(f"sequence_length must be at least 2 ([CLS] and [SEP]); got {sequence_length}.")
        self.sequence_length = int(sequence_length)
        self.lowercase, self.strip_accents = lowercase, strip_accents
        self.split, self.split_on_cjk = split, split_on_cjk
        self.suffix_indicator, self.oov_token = suffix_indicator, oov_token
        self.cls_id, self.sep_id, self.pad_id = self.ids[cls_token], self.ids[sep_token], self.ids[pad_token]

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> "WordPiece":
        """From the tokenizer entry of a run's data info (`kind` "wordpiece")."""
        keys = ("lowercase", "strip_accents", "split", "split_on_cjk", "suffix_indicator", "oov_token",
                "cls_token", "sep_token", "pad_token")
        return cls(spec["vocabulary"], sequence_length=int(spec["sequence_length"]),
                   **{k: spec[k] for k in keys if k in spec})

    def words(self, text: str) -> list[str]:
        """Steps 0-3: the text's words."""
        text = text.split("\x00", 1)[0]
        if self.strip_accents:
            text = "".join(c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn")
        if not self.split:
            words = [text]
        else:
            words, current = [], []
            for char in text:
                if char in _RE2_WHITESPACE or unicodedata.category(char) in ("Cc", "Cf"):
                    words.append("".join(current))
                    current = []
                elif is_punctuation(char) or (self.split_on_cjk and is_cjk(char)):
                    words += ["".join(current), char]
                    current = []
                else:
                    current.append(char)
            words.append("".join(current))
        words = [w for w in words if w]
        return [case_fold(w) for w in words] if self.lowercase else words

    def word_pieces(self, word: str) -> list[str]:
        """Step 4 for one word."""
        if not word:
            return []
        if len(word.encode("utf-8")) > MAX_BYTES_PER_WORD:
            return [self.oov_token]
        pieces, start = [], 0
        while start < len(word):
            for end in range(len(word), start, -1):
                piece = word[start:end] if start == 0 else self.suffix_indicator + word[start:end]
                if piece in self.ids:
                    pieces.append(piece)
                    start = end
                    break
            else:
                return [self.oov_token]
        return pieces

    def pieces(self, text: str) -> list[str]:
        """Steps 1-4: the text's word pieces, uncut."""
        return [p for word in self.words(text) for p in self.word_pieces(word)]

    def encode(self, text: str) -> np.ndarray:
        """Step 5: one text's token ids [sequence_length]."""
        ids = [self.cls_id] + [self.ids[p] for p in self.pieces(text)][: self.sequence_length - 2] + [self.sep_id]
        row = np.full(self.sequence_length, self.pad_id, np.int32)
        row[: len(ids)] = ids
        return row

    def __call__(self, texts: Iterable[str]) -> dict[str, np.ndarray]:
        """The model's inputs for a batch of texts: {ids, mask, segment_ids}, int32
        [batch, sequence_length] each."""
        rows = [self.encode(t) for t in texts]
        ids = np.stack(rows) if rows else np.zeros((0, self.sequence_length), np.int32)
        return {IDS: ids, MASK: (ids != self.pad_id).astype(np.int32), SEGMENT_IDS: np.zeros_like(ids)}

    def mediapipe_agrees(self, text: str) -> bool:
        """Whether MediaPipe's BERT tokenizer (ASCII lower-casing always, nothing else)
        surely reads `text` as this one does: never for a cased preset's text with capital
        ASCII letters; otherwise none of: control or format characters, accents stripped
        here, characters that NFKC or case folding change beyond ASCII letters."""
        if not self.lowercase and any("A" <= c <= "Z" for c in text):
            return False
        for char in text:
            category = unicodedata.category(char)
            if category in ("Cc", "Cf") and char not in _RE2_WHITESPACE:
                return False
            if self.strip_accents and unicodedata.normalize("NFD", char) != char:
                return False
            if self.lowercase and ord(char) > 127 and case_fold(char) != char:
                return False
        return True
