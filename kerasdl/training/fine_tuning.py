"""Fine-tuning a pretrained backbone in two phases, for any app whose config is a
`kerasdl.backbones.config.BackboneConfig` and whose model nests its backbone as the layer
named `backbone`.

1. The head learns alone: the backbone is frozen (`start_frozen`, when the model is built).
2. From epoch `head_epochs`, the backbone's top `fine_tune_layers` layers learn too, at
   `fine_tune_rate` times the learning rate, with a fresh optimizer and schedule for the
   epochs left (`FineTuning`, a callback). Batch normalization layers stay frozen and the
   backbone is called in inference mode, so their pretrained statistics are kept.

A run's checkpoints keep each layer's `trainable` flag and the optimizer of the phase they
were saved in, so `--resume` continues in the right phase.

Example:
>>> from kerasdl.training.fine_tuning import top_layers
>>> top_layers(["a", "b", "c", "d"], 2), top_layers(["a", "b"], -1), top_layers(["a"], 0)
(['c', 'd'], ['a', 'b'], [])
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any, Callable, Sequence, TypeVar

logger = logging.getLogger(__name__)

BACKBONE_LAYER = "backbone"
T = TypeVar("T")


def top_layers(layers: Sequence[T], count: int) -> list[T]:
    """The last `count` of `layers` (all for -1, none for 0)."""
    if count < 0:
        return list(layers)
    return list(layers[len(layers) - count:]) if count else []


def backbone_of(model: Any) -> Any | None:
    """The nested pretrained backbone of `model`, or None."""
    for layer in getattr(model, "layers", []):
        if layer.name == BACKBONE_LAYER:
            return layer
    return None


def fine_tunes(config: Any) -> bool:
    """Whether `config` asks for a pretrained backbone (a `BackboneConfig` with one)."""
    from kerasdl.backbones.config import BackboneConfig

    return isinstance(config, BackboneConfig) and bool(config.backbone)


def leaf_layers(model: Any) -> list[Any]:
    """The layers of `model` in order, a nested model (a keras-hub network inside the
    backbone) replaced by its own layers."""
    leaves = []
    for layer in model.layers:
        leaves += leaf_layers(layer) if hasattr(layer, "layers") and layer.layers else [layer]
    return leaves


def unfreeze_top(backbone: Any, count: int) -> int:
    """Makes the top `count` layers of `backbone` (nested models counted by their own
    layers) trainable, batch normalization excepted, and the others not; returns how
    many of them have weights."""
    import keras

    backbone.trainable = True  # every nested model too: a leaf's own flag then decides
    leaves = leaf_layers(backbone)
    chosen = {id(layer) for layer in top_layers(leaves, count)}
    trainable = 0
    for layer in leaves:
        layer.trainable = id(layer) in chosen and not isinstance(layer, keras.layers.BatchNormalization)
        trainable += int(layer.trainable and bool(layer.weights))
    return trainable


def start_frozen(model: Any, config: Any) -> None:
    """A new model's backbone as the first epoch trains it: frozen while the head
    learns alone, or already partly unfrozen with no head-only epochs."""
    backbone = backbone_of(model)
    if backbone is None or not fine_tunes(config) or config.from_scratch:
        return  # from scratch, every layer learns from the first epoch
    if config.head_epochs_of(config.epochs) > 0:
        backbone.trainable = False
        logger.info("Epochs 1-%d train the new head on the frozen %s backbone%s.",
                    config.head_epochs_of(config.epochs), config.backbone,
                    "" if config.fine_tune_layers else " (it stays frozen: fine_tune_layers=0)")
    else:
        unfreeze_top(backbone, config.fine_tune_layers)


def second_phase_config(config: Any) -> Any:
    """The config of the second phase: the learning rate times `fine_tune_rate`, the
    schedule over the epochs left, no warm-up."""
    start = config.head_epochs_of(config.epochs)
    return dataclasses.replace(config, learning_rate=config.learning_rate * config.fine_tune_rate,
                               epochs=max(1, config.epochs - start), warmup_epochs=0.0)


def fine_tuning_callback(config: Any, recompile: Callable[[Any, Any], None]) -> Any:
    """A Keras callback that starts the second phase at epoch `head_epochs`:
    `recompile(model, second_phase_config(config))` compiles the model again (a fresh
    optimizer for the weights that now learn)."""
    import keras

    start = config.head_epochs_of(config.epochs)

    class FineTuning(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            backbone = backbone_of(self.model)
            if epoch != start or backbone is None or not 0 < start < config.epochs:
                return
            count = unfreeze_top(backbone, config.fine_tune_layers)
            tuned = second_phase_config(config)
            recompile(self.model, tuned)
            # fit() calls the model's train function anew each step: rebuilt, it sees
            # the weights that became trainable.
            self.model.make_train_function(force=True)
            logger.info("Epoch %d: fine-tuning the top %s layers of the backbone (%d with weights; batch "
                        "normalization stays frozen) at learning rate %g.", epoch + 1,
                        "all" if config.fine_tune_layers < 0 else config.fine_tune_layers, count,
                        tuned.learning_rate)

    return FineTuning()
