"""Pretrained text encoders: keras-hub BERT-family presets as a text classifier's
backbone (`kerasdl train sentiment --backbone hub:NAME`, `--backbone hf://ORG/NAME` or
`--backbone DIR`).

A preset brings three things: the encoder's config, its weights and its WordPiece
tokenizer (vocabulary and rules: lower-casing, accents, CJK characters split one by one).
kerasdl reads the tokenizer's settings and vocabulary into the run's data info once
(`wordpiece_spec`); from there come the training pipeline, the SavedModel's tokenizer,
the TFLite metadata's BertTokenizer and the TensorFlow-free twin
(`kerasdl_edge.wordpiece.WordPiece`). The encoder takes three int32 inputs, as Model
Maker's BERT classifiers and MediaPipe's TextClassifier expect: `ids`, `mask` (1 where a
token is) and `segment_ids` (0: one text).

Example:
>>> from kerasdl.backbones.text import TEXT_PRESETS, text_backbone
>>> text_backbone("hub:bert_tiny_en_uncased").preset
'bert_tiny_en_uncased'
>>> "bert_base_zh" in TEXT_PRESETS
True
"""

from __future__ import annotations

import logging
from typing import Any

from kerasdl.backbones.hub import HUB_PREFIX, HubPreset, _keras_hub
from kerasdl.errors import ConfigError

logger = logging.getLogger(__name__)

# Published keras-hub presets that fit: BERT-family WordPiece encoders with segment ids.
# (parameters, what it reads) for `kerasdl backbones`; the first is the default, the
# smallest sensible one on a CPU.
TEXT_PRESETS: dict[str, str] = {
    "bert_tiny_en_uncased": "4.4M parameters, 2 layers of 128; English, uncased (the default)",
    "bert_small_en_uncased": "28.8M parameters, 4 layers of 512; English, uncased",
    "bert_base_en_uncased": "109M parameters, 12 layers of 768; English, uncased",
    "bert_base_zh": "102M parameters, 12 layers of 768; Chinese (one token per character)",
    "bert_base_multi": "177M parameters, 12 layers of 768; 104 languages, cased",
}
DEFAULT_TEXT_BACKBONE = HUB_PREFIX + next(iter(TEXT_PRESETS))
# keras-hub's encoder inputs, fed from kerasdl's (MediaPipe's) input names.
ENCODER_INPUTS = {"ids": "token_ids", "mask": "padding_mask", "segment_ids": "segment_ids"}


def text_backbone(name: str) -> "HubTextBackbone":
    """The text backbone `name` names: `hub:NAME` or a keras-hub preset folder.

    Raises:
        ConfigError: for anything else.
    """
    from kerasdl.backbones.hub import is_hub_backbone

    if not is_hub_backbone(name):
        raise ConfigError(f"`backbone` {name!r} is not a keras-hub text preset: give hub:NAME (for example "
                          f"{DEFAULT_TEXT_BACKBONE}; `kerasdl backbones` lists them), hf://ORG/NAME (the "
                          "Hugging Face Hub, e.g. hf://keras/bert_base_zh) or a preset folder (what `kerasdl "
                          "fetch-weights hub:NAME --out DIR` writes).")
    return HubTextBackbone(name)


class HubTextBackbone(HubPreset):
    """A keras-hub text encoder preset with a WordPiece tokenizer."""

    def tokenizer(self) -> Any:
        """The preset's tokenizer (keras-hub)."""
        hub = _keras_hub()
        tokenizer = self._from_preset("tokenizer", hub.tokenizers.Tokenizer.from_preset)
        if not isinstance(tokenizer, hub.tokenizers.WordPieceTokenizer):
            raise ConfigError(f"The keras-hub preset {self.preset} tokenizes with {type(tokenizer).__name__}; "
                              "kerasdl exports BERT-family presets (WordPiece tokenizers), whose tokenizer "
                              "MediaPipe and kerasdl-edge reproduce.")
        if getattr(tokenizer, "special_tokens_in_strings", False):
            raise ConfigError(f"The keras-hub preset {self.preset} reads special tokens inside texts; kerasdl's "
                              "exports and kerasdl-edge do not.")
        return tokenizer

    def wordpiece_spec(self, sequence_length: int) -> dict[str, Any]:
        """The tokenizer as the run's data info stores it: `kerasdl_edge.wordpiece.WordPiece`'s
        arguments, with `kind` "wordpiece"."""
        tokenizer = self.tokenizer()
        special = {"cls_token": "[CLS]", "sep_token": "[SEP]", "pad_token": "[PAD]"}
        for key in special:
            special[key] = getattr(tokenizer, key, None) or special[key]
        return {
            "kind": "wordpiece", "vocabulary": list(tokenizer.get_vocabulary()),
            "sequence_length": int(sequence_length), "lowercase": bool(tokenizer.lowercase),
            "strip_accents": bool(tokenizer.strip_accents), "split": bool(tokenizer.split),
            "split_on_cjk": bool(getattr(tokenizer, "split_on_cjk", True)),
            "suffix_indicator": tokenizer.suffix_indicator, "oov_token": tokenizer.oov_token, **special,
            # Named, not located: exports carry no path of the training machine.
            "preset": self.record_name,
        }

    def max_sequence_length(self) -> int | None:
        """The longest input the encoder's position table holds (its preset config's)."""
        from keras_hub.src.utils.preset_utils import load_json

        config = self._from_preset("config", load_json).get("config", {})
        value = config.get("max_sequence_length")
        return int(value) if value else None

    def build(self) -> Any:
        """The preset's encoder with random weights, named `backbone` (`load_into` gives
        it weights).

        Raises:
            ConfigError: for an encoder without token ids, padding mask and segment ids.
        """
        from kerasdl.training.fine_tuning import BACKBONE_LAYER

        network = self.network()
        names = set(getattr(network, "input", {}) or {})
        if not set(ENCODER_INPUTS.values()) <= names:
            raise ConfigError(f"The keras-hub preset {self.preset} takes {', '.join(sorted(names)) or 'other inputs'}; "
                              f"kerasdl's text encoders take {', '.join(ENCODER_INPUTS.values())} (BERT-family).")
        network.name = BACKBONE_LAYER
        return network
