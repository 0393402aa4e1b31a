"""Choosing a tf.distribute strategy by name."""

from __future__ import annotations

import json
import logging
import os
from typing import Any

from kerasdl.errors import ConfigError, TrainingError

logger = logging.getLogger(__name__)


def resolve_strategy(name: str) -> Any:
    """Returns the strategy for `name`.

    - auto: MirroredStrategy over all GPUs when there are several, else the default
      (one device) strategy.
    - mirrored: MirroredStrategy over the local devices.
    - multiworker: MultiWorkerMirroredStrategy over the cluster in TF_CONFIG.
    - tpu: TPUStrategy on the TPU found by TPUClusterResolver.

    Raises:
        ConfigError: multiworker without a usable TF_CONFIG.
        TrainingError: tpu with no TPU reachable.
    """
    import tensorflow as tf

    if name == "auto":
        gpus = tf.config.list_logical_devices("GPU")
        if len(gpus) > 1:
            return tf.distribute.MirroredStrategy()
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multiworker":
        cluster = cluster_spec()
        if not cluster.get("cluster", {}).get("worker") and not cluster.get("cluster", {}).get("chief"):
            raise ConfigError(
                "`strategy=multiworker` needs TF_CONFIG describing the cluster, e.g. "
                '{"cluster": {"worker": ["host1:12345", "host2:12345"]}, '
                '"task": {"type": "worker", "index": 0}}.'
            )
        return tf.distribute.MultiWorkerMirroredStrategy()
    if name == "tpu":
        try:
            resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
            tf.config.experimental_connect_to_cluster(resolver)
            tf.tpu.experimental.initialize_tpu_system(resolver)
        except (ValueError, tf.errors.NotFoundError, tf.errors.UnavailableError) as e:
            raise TrainingError(
                f"`strategy=tpu` found no TPU ({str(e).splitlines()[0]}). Run on a TPU VM "
                "or set TPU_NAME."
            ) from None
        return tf.distribute.TPUStrategy(resolver)
    raise ConfigError(f"Unknown strategy {name!r}")


def cluster_spec() -> dict[str, Any]:
    raw = os.environ.get("TF_CONFIG", "")
    if not raw:
        return {}
    try:
        return json.loads(raw)
    except json.JSONDecodeError as e:
        raise ConfigError(f"TF_CONFIG is not valid JSON: {e}") from None


def is_chief() -> bool:
    """Whether this process writes the run: the chief, or worker 0 if there is none."""
    spec = cluster_spec()
    task = spec.get("task", {})
    if not task:
        return True
    has_chief = bool(spec.get("cluster", {}).get("chief"))
    if task.get("type") == "chief":
        return True
    return not has_chief and task.get("type") == "worker" and int(task.get("index", 0)) == 0


def uses_custom_loop(strategy: Any) -> bool:
    """Keras 3 `fit` fails under MultiWorkerMirroredStrategy (keras-team/keras#20585)."""
    import tensorflow as tf

    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
