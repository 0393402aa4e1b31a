"""The config fields of an app whose model can start from a pretrained backbone.

Fine-tuning as practitioners do it (Keras' transfer-learning guide, MediaPipe Model
Maker): the new head first learns on the frozen backbone for `head_epochs` (a random head
would send large, random gradients into the pretrained layers and wreck them), then the
backbone's top `fine_tune_layers` layers learn too, at `fine_tune_rate` times the learning
rate, while batch normalization stays frozen and in inference mode (its statistics come
from millions of images; a few small batches of the user's would replace them with noise).

Example:
>>> from kerasdl.backbones.config import BackboneConfig
>>> BackboneConfig(head_epochs=None).head_epochs_of(10)
5
>>> BackboneConfig(fine_tune_layers=0).head_epochs_of(10)
10
>>> BackboneConfig(weights="none").head_epochs_of(10)  # from scratch: no head-only phase
0
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

from kerasdl.errors import ConfigError


@dataclass
class BackboneConfig:
    """Pretrained backbone fields (a mixin of an app's config).

    Attributes:
        backbone: a pretrained backbone (`kerasdl backbones` lists them); empty: the
            app's own models, from random weights.
        weights: where the backbone's weights come from: imagenet (the published
            weights: the Keras cache, else a checked download), none (random) or a
            weights file's path.
        backbone_size: the backbone's input resolution; images are resized to it inside
            the model. None: the backbone's own (224). Smaller is faster and, for
            small images, often as accurate.
        head_epochs: epochs that train the head alone on the frozen backbone before
            fine-tuning starts; None: half the epochs.
        fine_tune_layers: how many of the backbone's top layers train after
            `head_epochs` (batch normalization stays frozen, in inference mode); 0: none
            (the backbone is a fixed feature extractor); -1: all.
        fine_tune_rate: the fine-tuning learning rate, as a fraction of `learning_rate`.
    """

    backbone: str = ""
    weights: str = "imagenet"
    backbone_size: int | None = None
    head_epochs: int | None = None
    fine_tune_layers: int = 40
    fine_tune_rate: float = 0.1

    def check_backbone(self) -> None:
        from kerasdl.backbones.image import MIN_INPUT_SIZE

        if self.backbone_size is not None and (
                isinstance(self.backbone_size, bool) or not isinstance(self.backbone_size, int)
                or self.backbone_size < MIN_INPUT_SIZE):
            raise ConfigError(f"`backbone_size` must be an integer of at least {MIN_INPUT_SIZE}. "
                              f"Received: backbone_size={self.backbone_size!r}")
        if self.head_epochs is not None and (not isinstance(self.head_epochs, int) or self.head_epochs < 0):
            raise ConfigError(f"`head_epochs` must be a non-negative integer. Received: head_epochs={self.head_epochs!r}")
        if not isinstance(self.fine_tune_layers, int) or self.fine_tune_layers < -1:
            raise ConfigError("`fine_tune_layers` must be -1 (all), 0 (none) or a positive integer. "
                              f"Received: fine_tune_layers={self.fine_tune_layers!r}")
        if not 0.0 < self.fine_tune_rate <= 1.0:
            raise ConfigError(f"`fine_tune_rate` must be in (0, 1]. Received: fine_tune_rate={self.fine_tune_rate!r}")
        if getattr(self, "freeze", "") == "backbone" and self.backbone:
            self.fine_tune_layers = 0  # --freeze backbone: the backbone never trains
        elif getattr(self, "freeze", "") and not getattr(self, "init_from", None):
            raise ConfigError("`freeze` takes 'backbone' with a pretrained backbone (or use fine_tune_layers).")

    def choose_pretrained_model(self, *, default_model: str, default_backbone: str, known: Callable[[str], Any],
                                pretrained: str = "pretrained") -> None:
        """A backbone given alone means the pretrained model (in place of the app's
        default model); the pretrained model named alone means the app's default backbone.

        Args:
            default_model: the app's default model (what `model` is when not given).
            default_backbone: the backbone the pretrained model uses when none is named.
            known: raises `ConfigError` for a backbone the app cannot use.

        Raises:
            ConfigError: for a backbone with a model that has none, or one `known` refuses.
        """
        model = getattr(self, "model")
        if self.backbone:
            known(self.backbone)
            if model == default_model:
                setattr(self, "model", pretrained)
            elif model not in (pretrained, "auto"):
                raise ConfigError(f"`backbone` makes the {pretrained} model; model={model!r} has no backbone: "
                                  "give one of them.")
        elif model == pretrained:
            self.backbone = default_backbone

    def new_model_weights(self, spec_of: Callable[[str], Any], *, pretrained: str = "pretrained") -> Any:
        """The weights a new pretrained model's backbone starts from (`starting_weights`:
        resolved and logged; offline, this fails in seconds, before any data is read), or
        None for other models and for a run started from another run's weights
        (`init_from`).

        Args:
            spec_of: the app's backbone registry lookup (name -> spec with `resolve`).
        """
        if getattr(self, "model") != pretrained or getattr(self, "init_from", None):
            return None
        from kerasdl.backbones import starting_weights

        return starting_weights(spec_of(self.backbone), self.weights)

    @property
    def from_scratch(self) -> bool:
        """`weights` none: the backbone is an ordinary network that learns from random
        weights, every layer from the first epoch, batch normalization included."""
        return self.weights.strip().lower() == "none"

    def head_epochs_of(self, epochs: int) -> int:
        """The epochs before fine-tuning starts (all of them when nothing is fine-tuned,
        none from scratch)."""
        if self.from_scratch:
            return 0
        if self.fine_tune_layers == 0:
            return epochs
        if self.head_epochs is None:
            return math.ceil(epochs / 2)
        return min(self.head_epochs, epochs)
