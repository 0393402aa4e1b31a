"""vision: image files or uint8 frames in, class probabilities out."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from kerasdl_edge.codecs.base import ClassifierCodec, file_instances
from kerasdl_edge.images import conform_image, read_image


class VisionCodec(ClassifierCodec):
    """Reads image files (Pillow) or uint8 [height, width, channels] arrays such as
    camera frames, converted to the model's channels and resized as training did (a
    task-ready export of a grey model takes RGB: info `input_channels: 3`)."""

    app = "vision"

    def read(self, inputs: Sequence[Any]) -> np.ndarray:
        height, width, channels = self.info["image_shape"]
        channels = self.info.get("input_channels", channels)
        return np.stack([conform_image(i if isinstance(i, np.ndarray) else read_image(i),
                                       (height, width), channels) for i in inputs])

    def serving_instances(self, inputs: Sequence[str]) -> list[Any]:
        """Image files' bytes, for `serving_default`'s `image_bytes`."""
        return file_instances(inputs)
