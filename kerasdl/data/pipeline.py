"""Batching pipelines: cache, shuffle, batch, augment, prefetch."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    import tensorflow as tf

Augment = Callable[["tf.Tensor", "tf.Tensor"], tuple["tf.Tensor", "tf.Tensor"]]

SHUFFLE_BUFFER = 20_000


def training_pipeline(
    ds: "tf.data.Dataset",
    batch_size: int,
    *,
    seed: int,
    augment: Augment | None = None,
    drop_remainder: bool = False,
    cache: bool = True,
) -> "tf.data.Dataset":
    """Decoded examples are cached once; shuffling and augmentation run every epoch
    on the cached copy, batched, so the random layers work on whole batches.
    """
    import tensorflow as tf

    if cache:
        ds = ds.cache()
    ds = ds.shuffle(SHUFFLE_BUFFER, seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size, drop_remainder=drop_remainder)
    if augment is not None:
        ds = ds.map(augment, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)


def evaluation_pipeline(
    ds: "tf.data.Dataset", batch_size: int, *, cache: bool = True, drop_remainder: bool = False
) -> "tf.data.Dataset":
    import tensorflow as tf

    if cache:
        ds = ds.cache()
    return ds.batch(batch_size, drop_remainder=drop_remainder).prefetch(tf.data.AUTOTUNE)


def count_examples(ds: "tf.data.Dataset") -> int:
    """The number of elements, counted by iterating when tf.data does not know it."""
    import tensorflow as tf

    n = int(ds.cardinality())
    if n >= 0:
        return n
    return int(ds.reduce(tf.constant(0, tf.int64), lambda count, _: count + 1))


def as_arrays(x: Any) -> Any:
    """A model input as numpy: an array, or {name: array} for a model of named inputs
    (a pretrained text encoder's ids, mask and segment ids)."""
    import numpy as np

    if isinstance(x, dict):
        return {key: np.asarray(value) for key, value in x.items()}
    return np.asarray(x)
