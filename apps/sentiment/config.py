"""The sentiment app's hyperparameters."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from kerasdl.backbones.config import BackboneConfig
from kerasdl.config import ClassifierConfig, _check_choice, _check_positive_int, _check_range
from kerasdl.data.tokenizer import NORMALIZE, SPLIT, STANDARDIZE
from kerasdl.errors import ConfigError

# What each model family reads best when `ngrams` / `sequence_length` / `binary` are
# left unset: a bag of n-grams ignores order, so it takes n-grams and a long window
# (naive Bayes works best on presence, not counts); the sequence models learn order
# from words alone.
MODEL_TOKENS: dict[str, tuple[int, int, bool]] = {
    "bag": (2, 800, False),
    "nbsvm": (3, 1500, True),
    "cnn": (1, 400, False),
    "lstm": (1, 256, False),
    "gru": (1, 256, False),
    "transformer": (1, 256, False),
    # The classic linear models read each distinct word, bigram and trigram once, from
    # a long window (`apps/sentiment/linear.py`).
    "tfidf-lr": (3, 2000, True),
    "nb-lr": (3, 2000, True),
    # A pretrained encoder reads its own word pieces: 128 of them (as Model Maker's BERT).
    "pretrained": (1, 128, False),
}
PRETRAINED = "pretrained"
# Fine-tuning a pretrained encoder as BERT's authors and Model Maker do: every layer
# from the first step at a small rate (3e-5, AdamW, weight decay 0.01) with a linear
# warm-up over the first tenth of training, for 3 epochs; no head-only phase (the
# pooled [CLS] output was pretrained for a classifier to read). Applied when a config
# names a backbone and does not set these fields itself (`recipe_defaults`).
PRETRAINED_RECIPE: dict[str, Any] = {
    "epochs": 3, "batch_size": 32, "optimizer": "adamw", "learning_rate": 3e-5, "weight_decay": 0.01,
    "schedule": "warmup-cosine", "warmup_epochs": 0.3, "dropout": 0.1, "head_epochs": 0, "fine_tune_layers": -1,
}
# The vocabulary when `max_tokens` is unset: a linear model's weight per n-gram is
# cheap, and rare n-grams are what it reads best.
DEFAULT_MAX_TOKENS = 20_000
MODEL_MAX_TOKENS: dict[str, int] = {"tfidf-lr": 200_000, "nb-lr": 200_000}


@dataclass
class SentimentConfig(ClassifierConfig, BackboneConfig):
    """Text classification.

    Attributes:
        model: bag (TF-IDF weighted bag of n-grams + MLP), nbsvm (naive-Bayes
            scaled linear model on n-grams), cnn (1-D convolutions),
            lstm, gru (recurrent; bidirectional by default), transformer (encoder), or
            a classic linear model fitted once before training: tfidf-lr, nb-lr.
        max_tokens: vocabulary size, padding and out-of-vocabulary ids included; None
            takes the model's default (200,000 for tfidf-lr and nb-lr, else 20,000).
        ngrams: 1 for words, N adds 2..N-grams; None takes the model's default.
        sequence_length: token ids per text (longer texts are cut); None takes the
            model's default.
        binary: each distinct token once per text (presence, not counts); None takes
            the model's default (True for nbsvm only).
        standardize: lower_and_strip_punctuation, lower, strip_punctuation,
            split_punctuation or none.
        split: auto, whitespace (words), characters, or script (words, and each
            character of scripts written without spaces: Chinese, Japanese, Thai...);
            auto picks script when a fifth of the training text's characters are in
            such scripts, whitespace otherwise.
        normalize: auto, ascii or unicode (full-width forms folded to ASCII, Unicode
            lower-casing and punctuation); auto picks unicode for text split by
            script or whose letters are not mostly ASCII.
        embedding_dim: width of the token embedding (for bag: of the hidden layer
            fed by the TF-IDF vector).
        units: width of the recurrent, convolution or feed-forward layers.
        depth: stacked recurrent, convolution or encoder blocks.
        heads: attention heads (transformer).
        token_dropout: fraction of a text's n-grams dropped at random while training
            (bag, nbsvm).
        bidirectional: read the text both ways (lstm, gru).
        text_column, label_column: for CSV/TSV data, the columns to read (common names
            such as text/review and label/sentiment are found by themselves).
        text_per_line: for class folders of .txt files, each non-empty line is one
            example (one file per class, as several sentence-polarity data sets ship);
            otherwise each file is one example.
        backbone, weights, head_epochs, fine_tune_layers, fine_tune_rate: a pretrained
            encoder (a keras-hub BERT-family preset: hub:NAME or a preset folder) and how
            it is fine-tuned (`kerasdl.backbones.config.BackboneConfig`; `weights`
            imagenet means the preset's own pretrained weights). A backbone given brings
            `PRETRAINED_RECIPE` for the fields not set.
    """

    model: str = "bag"
    epochs: int = 6
    batch_size: int = 64
    learning_rate: float = 2e-3
    schedule: str = "cosine"
    dropout: float = 0.3
    max_tokens: int | None = None
    ngrams: int | None = None
    sequence_length: int | None = None
    binary: bool | None = None
    standardize: str = "lower_and_strip_punctuation"
    split: str = "auto"
    normalize: str = "auto"
    embedding_dim: int = 64
    units: int = 64
    depth: int = 1
    heads: int = 2
    token_dropout: float = 0.0
    bidirectional: bool = True
    text_column: str | None = None
    label_column: str | None = None
    text_per_line: bool = False

    presets: ClassVar[dict[str, dict[str, Any]]] = {
        # Seconds on any machine: the tests and CI use it.
        "tiny": {"epochs": 2, "batch_size": 16, "max_tokens": 500, "sequence_length": 32,
                 "embedding_dim": 8, "units": 8, "dropout": 0.0},
        # The benchmark recipes for IMDB (bench/sentiment.py): see the README.
        "imdb": {"model": "nbsvm", "epochs": 2, "batch_size": 32, "max_tokens": 800_000,
                 "ngrams": 3, "sequence_length": 1500, "binary": True, "optimizer": "adam",
                 "learning_rate": 2e-2, "schedule": "cosine"},
    }

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("embedding_dim", "units", "depth", "heads"):
            _check_positive_int(self, name)
        if self.max_tokens is not None:
            _check_positive_int(self, "max_tokens")
        if self.max_tokens is not None and self.max_tokens < 3:
            raise ConfigError(
                f"`max_tokens` must be at least 3 (padding, unknown and one word). "
                f"Received: max_tokens={self.max_tokens}"
            )
        if self.ngrams is not None:
            _check_positive_int(self, "ngrams")
        if self.sequence_length is not None:
            _check_positive_int(self, "sequence_length")
        _check_choice(self, "standardize", STANDARDIZE)
        _check_choice(self, "split", ("auto", *SPLIT))
        _check_choice(self, "normalize", ("auto", *NORMALIZE))
        _check_range(self, "token_dropout", 0.0, 1.0, high_open=True)
        self.check_backbone()
        from kerasdl.backbones.text import DEFAULT_TEXT_BACKBONE, text_backbone

        self.choose_pretrained_model(default_model="bag", default_backbone=DEFAULT_TEXT_BACKBONE,
                                     known=text_backbone, pretrained=PRETRAINED)

    @classmethod
    def recipe_defaults(cls, values: dict[str, Any]) -> dict[str, Any]:
        """The pretrained recipe, under values that make the pretrained model (`--model auto`
        gives it to the pretrained candidate alone)."""
        model = values.get("model")
        pretrained = model == PRETRAINED or (values.get("backbone") and model in (None, "", "bag"))
        return dict(PRETRAINED_RECIPE) if pretrained else {}

    def vocabulary_size(self, model: str) -> int:
        """`max_tokens`, the model's default where unset."""
        return self.max_tokens or MODEL_MAX_TOKENS.get(model, DEFAULT_MAX_TOKENS)

    def tokens(self, model: str) -> tuple[int, int, bool]:
        """(ngrams, sequence_length, binary), the model's defaults where unset."""
        ngrams, length, binary = MODEL_TOKENS[model]
        return (self.ngrams or ngrams, self.sequence_length or length,
                binary if self.binary is None else self.binary)
