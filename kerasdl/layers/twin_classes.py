"""Custom layers defined once for each Keras: Keras 3, and tf_keras for tfmot twins.

A layer class is a subclass of one Keras' `Layer`, so a layer that must exist in both
(to build a tf_keras twin of a Keras 3 model) is written as a function of the Keras
module. `define_once` calls it on first use and registers the class as
`kerasdl>NAME` with that Keras, so saved models reload.
"""

from __future__ import annotations

from types import ModuleType
from typing import Callable

_CLASSES: dict[tuple[str, str], type] = {}


def define_once(keras_module: ModuleType, name: str, define: Callable[[ModuleType], type]) -> type:
    """The class `define(keras_module)`, made and registered the first time only."""
    key = (keras_module.__name__, name)
    if key not in _CLASSES:
        saving = getattr(keras_module, "saving", None)
        register = getattr(saving, "register_keras_serializable", None) or \
            keras_module.utils.register_keras_serializable
        _CLASSES[key] = register(package="kerasdl", name=name)(define(keras_module))
    return _CLASSES[key]
