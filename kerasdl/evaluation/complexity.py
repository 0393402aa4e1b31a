"""Multiply-accumulate operations (MACs) per inference, counted from layer shapes.

A MAC is one `a * b + c`: the unit that microcontroller and phone budgets are given in
(the "Hello Edge" keyword-spotting paper compares models by it). Counted for the layers
that hold weights and do the work: dense, convolutions (standard, depthwise, separable),
and recurrent cells; element-wise layers (activations, normalization,
pooling) are left out, as is usual.
"""

from __future__ import annotations

import math
from typing import Any


def _size(shape: Any) -> int:
    return int(math.prod(int(d) for d in shape if d is not None))


def _layers(model: Any) -> list[Any]:
    found = []
    for layer in model.layers:
        if hasattr(layer, "layers") and layer.layers and not hasattr(layer, "cell"):
            found += _layers(layer)  # a nested model or a Sequential block
        else:
            found.append(layer)
    return found


def _recurrent_macs(kind: str, units: int, in_shape: Any) -> int:
    gates = {"GRU": 3, "LSTM": 4, "SimpleRNN": 1}[kind]
    return int(in_shape[0] or 1) * gates * units * (int(in_shape[-1]) + units)


def layer_macs(layer: Any) -> int:
    """MACs of one call of `layer` on one example (0 for layers not counted)."""
    kind = type(layer).__name__
    try:
        out_shape = layer.output.shape[1:]
        in_shape = layer.input.shape[1:]
    except (AttributeError, ValueError):
        return 0
    if kind == "Bidirectional":
        return sum(_recurrent_macs(type(rnn).__name__, int(rnn.units), in_shape)
                   for rnn in (layer.forward_layer, layer.backward_layer))
    if kind == "TimeDistributed":
        inner = count_macs(layer.layer) if hasattr(layer.layer, "layers") else 0
        return int(in_shape[0] or 1) * inner
    weights = {w.name.split("/")[-1].split(":")[0]: tuple(w.shape) for w in layer.weights}
    if kind == "Dense":
        return _size(out_shape[:-1]) * _size(weights["kernel"])
    if kind in ("Conv1D", "Conv2D", "Conv3D"):
        # Each output value takes kernel-size x input-channels MACs.
        return _size(out_shape) * _size(weights["kernel"][:-1])
    if kind in ("DepthwiseConv1D", "DepthwiseConv2D"):
        kernel = weights.get("depthwise_kernel") or weights["kernel"]
        return _size(out_shape) * _size(kernel[:-2])
    if kind in ("SeparableConv1D", "SeparableConv2D"):
        spatial = _size(out_shape[:-1])
        return (spatial * int(in_shape[-1]) * _size(weights["depthwise_kernel"][:-2])
                + spatial * _size(weights["pointwise_kernel"]))
    if kind in ("GRU", "LSTM", "SimpleRNN"):
        return _recurrent_macs(kind, int(layer.units), in_shape)
    return 0


def count_macs(model: Any) -> int:
    """MACs for one example through `model` (a built Keras model, Keras 3 or tf_keras).

    Example:
    >>> import keras
    >>> from kerasdl.evaluation.complexity import count_macs
    >>> model = keras.Sequential([keras.Input((10,)), keras.layers.Dense(4)])
    >>> count_macs(model)
    40
    """
    return sum(layer_macs(layer) for layer in _layers(model))
