"""Pruning, clustering and quantization-aware training applied to tf_keras twins.

Each function wraps exactly the layers tfmot supports and returns the names of the
layers it wrapped and of the weighted layers it had to leave alone, so the user is told.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kerasdl.errors import KerasdlError


@dataclass
class Wrapped:
    """A tfmot-wrapped model and what was (not) wrapped."""

    model: Any
    wrapped: list[str] = field(default_factory=list)
    left: list[str] = field(default_factory=list)


def _weight_names(registry_map: dict, layer: Any) -> list[str]:
    for cls in type(layer).__mro__:
        if cls in registry_map:
            return list(registry_map[cls])
    return []


def _has_weights(layer: Any) -> bool:
    return bool(layer.trainable_weights)


def _clone(model: Any, wrap: Any, should_wrap: Any) -> Wrapped:
    import tf_keras

    result = Wrapped(model=None)

    def clone_function(layer: Any) -> Any:
        if should_wrap(layer):
            result.wrapped.append(layer.name)
            return wrap(layer)
        if _has_weights(layer) and not isinstance(layer, tf_keras.layers.BatchNormalization):
            result.left.append(f"{layer.name} ({type(layer).__name__})")
        return layer

    result.model = tf_keras.models.clone_model(model, clone_function=clone_function)
    return result


# Kernels smaller than this stay dense: a first convolution of 32 3x3 filters has 288
# weights; pruning it to 80 % leaves two taps per filter and costs accuracy while
# saving almost nothing.
MIN_PRUNED_WEIGHTS = 1024


def prune(model: Any, sparsity: float, schedule: str, total_steps: int) -> Wrapped:
    """Magnitude pruning (Zhu & Gupta 2017) of every prunable kernel to `sparsity`
    (kernels of fewer than MIN_PRUNED_WEIGHTS weights stay dense).

    polynomial ramps sparsity from 0 to the target over the first half of the steps,
    leaving the second half to recover at full sparsity; constant prunes to the target
    at once and keeps it.
    """
    import tensorflow_model_optimization as tfmot
    from tensorflow_model_optimization.python.core.sparsity.keras.prune_registry import (
        PruneRegistry,
    )

    frequency = max(1, total_steps // 20)
    if schedule == "polynomial":
        plan = tfmot.sparsity.keras.PolynomialDecay(
            initial_sparsity=0.0, final_sparsity=sparsity, begin_step=0,
            end_step=max(1, int(total_steps * 0.5)), frequency=frequency)
    else:
        plan = tfmot.sparsity.keras.ConstantSparsity(sparsity, begin_step=0, frequency=frequency)

    def should_wrap(layer: Any) -> bool:
        names = _weight_names(PruneRegistry._LAYERS_WEIGHTS_MAP, layer)
        sizes = [int(w.shape.num_elements()) for w in layer.weights
                 if w.name.split("/")[-1].split(":")[0] in names]
        return (PruneRegistry.supports(layer) and _has_weights(layer) and bool(names)
                and sum(sizes) >= MIN_PRUNED_WEIGHTS)

    return _clone(
        model, lambda layer: tfmot.sparsity.keras.prune_low_magnitude(layer, pruning_schedule=plan),
        should_wrap)


def cluster(model: Any, clusters: int) -> Wrapped:
    """Weight clustering: each kernel's values are shared among `clusters` centroids
    (k-means++ initialised), so the file compresses well and int8 loses less."""
    import tensorflow_model_optimization as tfmot
    from tensorflow_model_optimization.python.core.clustering.keras.clustering_registry import (
        ClusteringRegistry,
    )

    def should_wrap(layer: Any) -> bool:
        return (ClusteringRegistry.supports(layer) and _has_weights(layer)
                and bool(_weight_names(ClusteringRegistry._LAYERS_WEIGHTS_MAP, layer)))

    init = tfmot.clustering.keras.CentroidInitialization.KMEANS_PLUS_PLUS
    return _clone(
        model,
        lambda layer: tfmot.clustering.keras.cluster_weights(
            layer, number_of_clusters=clusters, cluster_centroids_init=init),
        should_wrap)


def quantize_aware(model: Any, preserve: str | None = None) -> Wrapped:
    """Quantization-aware training (Jacob et al. 2018): fake int8 quantization in the
    forward pass so the weights learn to tolerate it.

    Args:
        preserve: None, "sparsity" (after pruning) or "clusters" (after clustering):
            the scheme then keeps zeros or shared values through QAT.
    """
    import tensorflow_model_optimization as tfmot
    from tensorflow_model_optimization.python.core.quantization.keras.default_8bit.default_8bit_quantize_registry import (  # noqa: E501
        Default8BitQuantizeRegistry,
    )

    registry = Default8BitQuantizeRegistry()
    # tfmot's wrapper hands a padding mask on to the layer it wraps, which most layers
    # (Dense, Add ...) do not accept: in masked (text) models those stay float.
    masked = {layer.name for layer in model.layers if _receives_mask(layer)}
    annotated = _clone(
        model, tfmot.quantization.keras.quantize_annotate_layer,
        lambda layer: (registry.supports(layer) and type(layer).__name__ != "InputLayer"
                       and layer.name not in masked))
    annotated.left += [
        f"{layer.name} ({type(layer).__name__}, stays float)" for layer in model.layers
        if not registry.supports(layer) and not layer.trainable_weights
        and type(layer).__name__ != "InputLayer"
    ]
    annotated.left = [
        entry.replace(")", ", receives a padding mask)", 1) if entry.split(" (")[0] in masked else entry
        for entry in annotated.left
    ]
    if preserve == "sparsity":
        scheme = tfmot.experimental.combine.Default8BitPrunePreserveQuantizeScheme()
    elif preserve == "clusters":
        scheme = tfmot.experimental.combine.Default8BitClusterPreserveQuantizeScheme()
    else:
        scheme = tfmot.quantization.keras.default_8bit.Default8BitQuantizeScheme()
    _restrict_to_default_registry(scheme, registry)
    with quantize_scope():
        try:
            annotated.model = tfmot.quantization.keras.quantize_apply(annotated.model, scheme)
        except (TypeError, ValueError, RuntimeError) as e:
            raise KerasdlError(
                f"tfmot cannot make {model.name} quantization-aware: "
                f"{str(e).strip().splitlines()[0][:200]}"
            ) from None
    return annotated


def _receives_mask(layer: Any) -> bool:
    """Whether a layer of a functional tf_keras model gets a padding mask that its
    `call` does not take."""
    import inspect

    try:
        inputs = layer.input if isinstance(layer.input, list) else [layer.input]
    except AttributeError:  # a layer used more than once
        return False
    if not any(getattr(t, "_keras_mask", None) is not None for t in inputs):
        return False
    return "mask" not in inspect.signature(layer.call).parameters


def _restrict_to_default_registry(scheme: Any, default: Any) -> None:
    # The prune- and cluster-preserving registries call every weightless layer
    # "supported", then fail on the ones the default registry lacks (Rescaling):
    # ask both.
    registry = scheme.get_quantize_registry()
    own_supports = registry.supports
    registry.supports = lambda layer: default.supports(layer) and own_supports(layer)
    scheme.get_quantize_registry = lambda: registry


def strip(model: Any, technique: str) -> Any:
    import tensorflow_model_optimization as tfmot

    if technique == "prune":
        return tfmot.sparsity.keras.strip_pruning(model)
    if technique == "cluster":
        return tfmot.clustering.keras.strip_clustering(model)
    raise ValueError(technique)


def training_callbacks(technique: str) -> list[Any]:
    import tensorflow_model_optimization as tfmot

    return [tfmot.sparsity.keras.UpdatePruningStep()] if technique == "prune" else []


def quantize_scope() -> Any:
    """The scope in which QAT models are built, saved and loaded."""
    import tensorflow_model_optimization as tfmot

    return tfmot.quantization.keras.quantize_scope()

