"""Loading TensorFlow Datasets by name, failing fast when they cannot be downloaded.

With no network, `tfds.load` retries for minutes before it gives up, so a data set that
is not prepared locally is only downloaded after a quick check that its servers can be
reached.
"""

from __future__ import annotations

import logging
import socket
from typing import Any

from kerasdl.errors import DataError

logger = logging.getLogger(__name__)

TFDS_HOST = ("storage.googleapis.com", 443)


def internet_available(timeout: float = 3.0) -> bool:
    """Whether tfds' download host answers a TCP connection within `timeout` s."""
    try:
        with socket.create_connection(TFDS_HOST, timeout=timeout):
            return True
    except OSError:
        return False


def prepare_tfds(name: str, *, data_dir: str | None = None) -> Any:
    """Returns the tfds builder of `name`, prepared (downloaded if need be).

    Args:
        name: a tfds name such as "mnist" or "imdb_reviews".
        data_dir: where tfds keeps prepared data (its default when None).

    Returns:
        A `tfds.core.DatasetBuilder` whose `as_dataset` can be called.

    Raises:
        DataError: for an unknown name, or one that is not prepared and cannot be
            downloaded.
    """
    import tensorflow_datasets as tfds

    try:
        builder = tfds.builder(name, data_dir=data_dir)
    except Exception as e:  # tfds raises DatasetNotFoundError and friends
        raise DataError(
            f"Unknown data set '{name}': it is neither an existing path nor a "
            f"TensorFlow Datasets name ({type(e).__name__})."
        ) from None
    if not builder.is_prepared():
        if not internet_available():
            raise DataError(
                f"tfds data set '{name}' is not prepared under {builder.data_dir} and "
                "this machine cannot reach the internet to download it. Prepare it on a "
                "connected machine and copy the folder there, or train on local files "
                "with `dataset=PATH`."
            )
        logger.info("Downloading and preparing tfds data set %s", name)
        builder.download_and_prepare()
    return builder


def three_way_split(available: set[str], validation_split: float) -> dict[str, str | None]:
    """Chooses tfds split strings for train / validation / test.

    A data set's own validation and test splits are used when it has them; otherwise
    they are carved from the end of `train`.
    """
    pct = max(1, round(validation_split * 100))
    if not available:
        # The builder does not list its splits (no metadata yet): ask for the usual two;
        # `as_dataset` raises if one is missing.
        available = {"train", "test"}
    if "train" not in available:
        raise DataError(f"The data set has no 'train' split (it has {sorted(available)}).")
    test = "test" if "test" in available else None
    if "validation" in available:
        return {"train": "train", "validation": "validation", "test": test}
    if test is None:
        return {
            "train": f"train[:{100 - 2 * pct}%]",
            "validation": f"train[{100 - 2 * pct}%:{100 - pct}%]",
            "test": f"train[{100 - pct}%:]",
        }
    return {"train": f"train[:{100 - pct}%]", "validation": f"train[{100 - pct}%:]", "test": test}


def split_sizes(builder: Any, splits: dict[str, str | None]) -> dict[str, int]:
    """Examples in each of our splits ({ours: tfds split string}); 0 where tfds does
    not know the size before the data set is prepared."""
    sizes = {}
    for ours, theirs in splits.items():
        try:
            sizes[ours] = int(builder.info.splits[theirs].num_examples) if theirs else 0
        except KeyError:
            sizes[ours] = 0
    return sizes
