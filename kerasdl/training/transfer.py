"""Transfer learning between runs: a new model starts from another run's weights.

`init_from` names a finished run of the same app. Every layer of the new model whose
name and weight shapes match a layer of that run's best model takes its weights; the
output layer (`head_logits`) is left new, since the classes may differ, while a hidden
layer of the head (`head_hidden`) is copied like the rest: in the vision CNN it holds
most of what was learned. `freeze`
then keeps layers fixed while the rest trains: "backbone" (every copied layer), or
comma-separated layer-name prefixes ("block1,block2").

Example:
>>> from kerasdl.training.transfer import frozen_layers
>>> frozen_layers(["stem_conv", "block1_conv", "head_logits"], ["stem_conv", "block1_conv"], "backbone")
['stem_conv', 'block1_conv']
>>> frozen_layers(["stem_conv", "block1_conv", "head_logits"], ["stem_conv"], "block")
['block1_conv']
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from kerasdl.errors import ConfigError
from kerasdl.runs import Run

logger = logging.getLogger(__name__)

# The layers that map to the classes: always new.
HEAD_PREFIXES = ("head_logits", "probabilities")
BACKBONE = "backbone"


@dataclass
class Transfer:
    """What `transfer_weights` did: layers that took the source's weights, and
    layers frozen."""

    source: str
    copied: list[str]
    frozen: list[str]


def source_run(app: Any, path: str, what: str = "init_from") -> Run:
    """The run `path` (the value of the config field `what`), checked to be a finished
    run of `app`.

    Raises:
        ConfigError: for a missing folder, another app's run or one without a model.
    """
    folder = Path(path).expanduser()
    if not (folder / "run.json").is_file():
        raise ConfigError(f"`{what}`: {folder} is not a kerasdl run (no run.json).")
    run = Run.open(folder)
    if run.meta.get("app") != app.name:
        raise ConfigError(f"`{what}`: {folder} is a {run.meta.get('app')} run; a {app.name} model can "
                          f"start only from a {app.name} run.")
    if not run.model_path().is_file():
        raise ConfigError(f"`{what}`: {folder} has no trained model yet.")
    return run


def frozen_layers(names: Sequence[str], copied: Sequence[str], freeze: str) -> list[str]:
    """The layers `freeze` names, of `names` (in order)."""
    if not freeze:
        return []
    if freeze == BACKBONE:
        return [n for n in names if n in set(copied)]
    prefixes = [p.strip() for p in freeze.split(",") if p.strip()]
    return [n for n in names if any(n.startswith(p) for p in prefixes)]


def transfer_weights(model: Any, app: Any, init_from: str, freeze: str) -> Transfer:
    """Copies the matching layers' weights of run `init_from` into `model` and
    freezes the layers `freeze` names (before compiling: Keras reads `trainable` then).

    Raises:
        ConfigError: when no layer matches (the runs' inputs or widths differ), or
            `freeze` names no layer.
    """
    from kerasdl.training.saving import load_app_model

    run = source_run(app, init_from)
    source = {layer.name: layer for layer in load_app_model(app, run.model_path()).layers}
    copied = []
    for layer in model.layers:
        donor = source.get(layer.name)
        if donor is None or layer.name.startswith(HEAD_PREFIXES) or not layer.weights:
            continue
        theirs = donor.get_weights()
        if [w.shape for w in theirs] != [tuple(w.shape) for w in layer.weights]:
            continue
        layer.set_weights(theirs)
        copied.append(layer.name)
    if not copied:
        raise ConfigError(f"`init_from`: no layer of {run.path} fits this model (different model, width or "
                          "input shape): start from a run of the same model and input size.")
    names = [layer.name for layer in model.layers]
    frozen = frozen_layers(names, copied, freeze)
    if freeze and not frozen:
        raise ConfigError(f"`freeze`: {freeze!r} names no layer of the model. Use 'backbone' or layer-name "
                          f"prefixes such as {', '.join(names[1:4])}.")
    for layer in model.layers:
        if layer.name in frozen:
            layer.trainable = False
    logger.info("Started from %s: %d layers copied, %d frozen.", run.path, len(copied), len(frozen))
    return Transfer(str(run.path), copied, frozen)
