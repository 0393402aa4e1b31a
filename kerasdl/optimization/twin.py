"""tf_keras twins of Keras 3 models, built by the app's own builder."""

from __future__ import annotations

from typing import Any

import numpy as np

from kerasdl.errors import KerasdlError

TWIN_TOLERANCE = 1e-5


def build_twin(app: Any, config: Any, info: dict[str, Any], model: Any, sample: np.ndarray) -> Any:
    """The tf_keras twin of `model` with the same weights, checked on `sample`.

    Raises:
        KerasdlError: if the builder cannot build a tf_keras model, or the twin's
            weights or outputs differ.
    """
    import tf_keras

    try:
        twin = app.build_model(config, info, keras_module=tf_keras)
    except Exception as e:  # a layer with no tf_keras equivalent
        raise KerasdlError(
            f"The {app.name} model cannot be rebuilt with tf_keras for tfmot: {e}"
        ) from None
    copy_weights(model, twin)
    check_same_outputs(model, twin, sample)
    return twin


def copy_weights(source: Any, target: Any) -> None:
    weights = source.get_weights()
    shapes = [w.shape for w in target.get_weights()]
    if [w.shape for w in weights] != shapes:
        raise KerasdlError(
            f"Cannot copy weights from {source.name} to {target.name}: their layers differ."
        )
    target.set_weights(weights)


def check_same_outputs(a: Any, b: Any, sample: np.ndarray, tolerance: float = TWIN_TOLERANCE) -> float:
    out_a = np.asarray(a(sample, training=False))
    out_b = np.asarray(b(sample, training=False))
    diff = float(np.max(np.abs(out_a - out_b)))
    if diff > tolerance:
        raise KerasdlError(
            f"The tf_keras twin's outputs differ from the Keras 3 model's by {diff:.2e} "
            f"(tolerance {tolerance:g})."
        )
    return diff


def copy_from_quantized(qat_model: Any, target: Any) -> None:
    """Copies the float weights that quantization-aware training updated (inside tfmot's
    QuantizeWrappers, named `quant_<layer>`) back into the plain `target` model."""
    by_name = {layer.name: layer for layer in qat_model.layers}
    for layer in target.layers:
        if not layer.weights:
            continue
        wrapper = by_name.get(f"quant_{layer.name}")
        if wrapper is None:
            # Not quantized: the same layer in tf_keras, its weights in the same order.
            if layer.name not in by_name:
                raise KerasdlError(f"The QAT model has no layer for {layer.name}.")
            layer.set_weights(by_name[layer.name].get_weights())
            continue
        source = wrapper
        # A QuantizeWrapper owns its layer's variables beside the quantizers' ranges;
        # pick them by their short names (kernel, bias, gamma ...).
        variables = {v.name.split("/")[-1].split(":")[0]: v for v in source.weights}
        missing = [w.name for w in layer.weights if w.name not in variables]
        if missing:
            raise KerasdlError(f"The QAT model's {source.name} lacks {', '.join(missing)}.")
        layer.set_weights([variables[w.name].numpy() for w in layer.weights])
