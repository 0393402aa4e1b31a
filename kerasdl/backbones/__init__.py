"""Pretrained backbones and their weights: the image backbones' registry
(`kerasdl.backbones.image`), keras-hub presets (`hub`, `text`), the audio backbones
(`audio`: YAMNet) and the one weights resolver every app uses
(`kerasdl.backbones.weights`: the Keras cache, a user's file, a checked download).

`published_weights` finds any backbone's published file by its name, for
`kerasdl fetch-weights`.
"""

from __future__ import annotations

import logging
from typing import Any

from kerasdl.backbones.weights import ResolvedWeights, WeightsFile
from kerasdl.errors import ConfigError

logger = logging.getLogger(__name__)

# The key of a new pretrained model's starting weights (`ResolvedWeights`) in an app's
# `Datasets.initial_weights`, which its model builder reads.
BACKBONE_WEIGHTS = "backbone_weights"


def starting_weights(spec: Any, weights: str) -> ResolvedWeights:
    """The weights a new model's backbone `spec` (image, text or audio) starts from,
    resolved (`spec.resolve`: cache, download, a file or none) and logged with their hash.

    Raises:
        WeightsError: when they cannot be had (offline and not cached, a wrong hash).
    """
    resolved = spec.resolve(weights)
    logger.info("Backbone %s, weights: %s%s.", spec.name, resolved.source,
                f" ({resolved.path}, sha256 {resolved.sha256[:12]}...)" if resolved.path and resolved.sha256 else "")
    return resolved


def published_weights(name: str) -> WeightsFile:
    """The published weights file of the backbone `name`, of any kind.

    Raises:
        ConfigError: for a name no registry knows, listing the known ones.
    """
    from kerasdl.backbones.audio import AUDIO_BACKBONES
    from kerasdl.backbones.image import IMAGE_BACKBONES

    files = {spec.name: spec.weights for spec in [*IMAGE_BACKBONES.values(), *AUDIO_BACKBONES.values()]}
    if name not in files:
        raise ConfigError(f"No backbone is called {name!r}. Known: {', '.join(sorted(files))}.")
    return files[name]
