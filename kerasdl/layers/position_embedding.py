"""A learned position embedding, for Keras 3 and for tf_keras twins.

Self-attention is blind to order: it sees a set of token vectors. Adding a learned
vector per position (as BERT does) lets it tell "not good" from "good, not".

The class is written once and defined for each Keras on first use (Keras 3, and tf_keras
when a twin is built for tfmot), each registered under `kerasdl>PositionEmbedding` so saved
models reload.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from kerasdl.layers.twin_classes import define_once


def position_embedding_class(keras_module: ModuleType) -> type:
    """The `PositionEmbedding` layer class of `keras_module` (keras or tf_keras).

    Example:
    >>> import keras
    >>> from kerasdl.layers.position_embedding import position_embedding_class
    >>> PositionEmbedding = position_embedding_class(keras)
    >>> x = keras.Input((16, 8))
    >>> tuple(PositionEmbedding(16)(x).shape)
    (None, 16, 8)
    """
    return define_once(keras_module, "PositionEmbedding", _define)


def _define(k: ModuleType) -> type:
    class PositionEmbedding(k.layers.Layer):
        """Adds a learned vector per position to a [batch, length, dim] sequence; the
        padding mask passes through.

        Args:
            sequence_length: the (fixed) length of the sequences.
            stddev: standard deviation of the initial vectors.
        """

        def __init__(self, sequence_length: int, stddev: float = 0.02, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.sequence_length = int(sequence_length)
            self.stddev = float(stddev)
            self.supports_masking = True

        def build(self, input_shape: Any) -> None:
            self.embeddings = self.add_weight(
                name="embeddings", shape=(self.sequence_length, int(input_shape[-1])),
                initializer=k.initializers.RandomNormal(stddev=self.stddev), trainable=True,
            )
            super().build(input_shape)

        def call(self, inputs: Any) -> Any:
            import tensorflow as tf

            return inputs + tf.cast(self.embeddings, inputs.dtype)[None]

        def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
            return mask

        def compute_output_shape(self, input_shape: Any) -> Any:
            return input_shape

        def get_config(self) -> dict[str, Any]:
            return {**super().get_config(), "sequence_length": self.sequence_length,
                    "stddev": self.stddev}

    return PositionEmbedding

