"""Image classification: image files or uint8 frames in, class probabilities out."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from kerasdl_edge.codecs.base import ClassifierCodec, file_instances
from kerasdl_edge.facts import ImageFacts
from kerasdl_edge.images import conform_image, read_image


class ImageClassifierCodec(ClassifierCodec):
    """Reads image files (Pillow) or uint8 [height, width, channels] arrays such as
    camera frames, converted to the model's channels and resized as training did (a
    task-ready export of a grey model takes RGB: info `input_channels: 3`)."""

    task = "image_classification"
    facts_class = ImageFacts

    def read(self, inputs: Sequence[Any]) -> np.ndarray:
        height, width, _ = self.facts.image_shape
        return np.stack([conform_image(i if isinstance(i, np.ndarray) else read_image(i),
                                       (height, width), self.facts.channels_in) for i in inputs])

    def serving_instances(self, inputs: Sequence[str]) -> list[Any]:
        """Image files' bytes, for `serving_default`'s `image_bytes`."""
        return file_instances(inputs)
