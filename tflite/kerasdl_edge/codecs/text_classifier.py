"""Text classification: texts (or text files) in, class probabilities out."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from kerasdl_edge.codecs.base import ClassifierCodec
from kerasdl_edge.facts import TextFacts
from kerasdl_edge.text import Tokenizer, names_text_file, read_text_argument


class TextClassifierCodec(ClassifierCodec):
    """Each input is a text file's path (read whole) or, failing that, the text itself;
    texts become token ids with the model's own vocabulary (`kerasdl_edge.text`, or
    `kerasdl_edge.wordpiece` for a pretrained encoder)."""

    task = "text_classification"
    facts_class = TextFacts

    def read(self, inputs: Sequence[Any]) -> np.ndarray | dict[str, np.ndarray]:
        """Token ids [batch, length]; for a pretrained encoder's WordPiece tokenizer its
        three inputs by name (`kerasdl_edge.wordpiece`)."""
        texts = [read_text_argument(i) for i in inputs]
        if self.facts.tokenizer.get("kind") == "wordpiece":
            from kerasdl_edge.wordpiece import WordPiece

            return WordPiece.from_spec(self.facts.tokenizer)(texts)
        return Tokenizer.from_spec(dict(self.facts.tokenizer))(texts)

    def input_is_path(self, name: str) -> bool:
        """The rule `read_text_argument` reads by: a text file's path, else a text."""
        return names_text_file(name)

    def serving_instances(self, inputs: Sequence[str]) -> list[Any]:
        """The texts, for `serving_default`'s `text` (the SavedModel tokenizes)."""
        return [read_text_argument(i) for i in inputs]
