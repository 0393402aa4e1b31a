"""Pretrained weight files: found in the cache, brought by the user or downloaded, and
checked against their published hash. One resolver for every app's backbones.

`weights` (the `--weights` option) is one of:

- `imagenet` (a backbone's published weights): the file is looked up in the Keras cache,
  `$KERAS_HOME/models` (`~/.keras/models` by default), where Keras Applications keep
  theirs, so a file Keras downloaded once serves kerasdl too; if it is not there it is
  downloaded into the cache, and its hash is checked either way. A wrong hash is an
  error, never a silent re-download.
- a path: a weights file the user brought (what `kerasdl fetch-weights` or
  `model.save_weights` wrote). Its sha256 is recorded with the run.
- `none`: random weights (training from scratch).

With no network and no cached file the resolver fails at once with one line that names
the file, its URL and the command that fetches it on a connected machine. A download that
stalls gives up after `DOWNLOAD_TIMEOUT` seconds without data; nothing is retried.

`KERASDL_WEIGHTS_MIRROR` (a base URL) replaces the folder of every published URL: a
mirror inside a company network, or a loopback server in the tests.

Example:
>>> from kerasdl.backbones.weights import WeightsFile
>>> spec = WeightsFile("demo", "demo.h5", "https://example.org/weights/demo.h5", "0" * 64)
>>> spec.hash_algorithm
'sha256'
>>> resolve_weights(spec, "none").source
'none'
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kerasdl.errors import ConfigError, KerasdlError

logger = logging.getLogger(__name__)

# Seconds a download may wait for the server's next bytes before it gives up.
DOWNLOAD_TIMEOUT = 15.0
MIRROR_VARIABLE = "KERASDL_WEIGHTS_MIRROR"
PUBLISHED = "imagenet"
NO_WEIGHTS = "none"
CHUNK = 1 << 20


class WeightsError(KerasdlError):
    """A weights file is missing, unreachable or not the published one."""


@dataclass(frozen=True)
class WeightsFile:
    """A published weights file.

    Attributes:
        name: the backbone's name in kerasdl (what `kerasdl fetch-weights` takes).
        file_name: the file's name in the cache (Keras Applications' own name).
        url: where it is published.
        file_hash: its published hash, hex: sha256 (64 digits) or md5 (32 digits: Keras
            Applications publish md5 for their files), checked after every download
            and before a cached file is used.
    """

    name: str
    file_name: str
    url: str
    file_hash: str

    @property
    def hash_algorithm(self) -> str:
        return "sha256" if len(self.file_hash) == 64 else "md5"

    def download_url(self) -> str:
        """`url`, or the same file under `$KERASDL_WEIGHTS_MIRROR`."""
        mirror = os.environ.get(MIRROR_VARIABLE, "").strip()
        return f"{mirror.rstrip('/')}/{self.file_name}" if mirror else self.url


@dataclass(frozen=True)
class ResolvedWeights:
    """Where a model's starting weights come from.

    Attributes:
        source: "cache", "download", "file" or "none".
        path: the file to load (None for "none").
        sha256: the file's sha256, recorded with the run.
    """

    source: str
    path: Path | None = None
    sha256: str | None = None

    def describe(self) -> dict[str, Any]:
        """The JSON-able record kept in run.json and the model card."""
        record: dict[str, Any] = {"source": self.source}
        if self.path is not None:
            record["file"] = self.path.name
            record["sha256"] = self.sha256
        return record


def cache_dir() -> Path:
    """The folder Keras caches downloaded weights in: `$KERAS_HOME/models`, else
    `~/.keras/models`."""
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return Path(home) / "models"


def file_digest(path: Path, algorithm: str = "sha256") -> str:
    """The hex digest of a file, read in chunks."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def cached_file(spec: WeightsFile) -> Path | None:
    """The cached copy of `spec`'s file, if there is one (unchecked)."""
    path = cache_dir() / spec.file_name
    return path if path.is_file() else None


def check_file(spec: WeightsFile, path: Path) -> None:
    """Raises WeightsError unless `path` has `spec`'s published hash."""
    found = file_digest(path, spec.hash_algorithm)
    if found != spec.file_hash.lower():
        raise WeightsError(
            f"{path} is not the published {spec.file_name} ({spec.hash_algorithm} {found}, expected "
            f"{spec.file_hash}): delete it and run `kerasdl fetch-weights {spec.name}` again.")


def resolve_weights(spec: WeightsFile | None, weights: str, *, download: bool = True,
                    what: str = "the backbone") -> ResolvedWeights:
    """The file a backbone's weights load from.

    Args:
        spec: the backbone's published file (None where none is published).
        weights: "imagenet", "none" or a file's path.
        download: fetch a published file missing from the cache.
        what: the backbone, as error messages name it.

    Raises:
        ConfigError: for a path that is no HDF5 file, or "imagenet" where nothing is
            published.
        WeightsError: for a cached or downloaded file with the wrong hash, or one that
            cannot be downloaded (offline): the message says how to get it.
    """
    choice = (weights or NO_WEIGHTS).strip()
    if choice.lower() == NO_WEIGHTS:
        return ResolvedWeights(NO_WEIGHTS)
    if choice.lower() == PUBLISHED:
        if spec is None:
            raise ConfigError(f"`weights`: {what} has no published weights: give a weights file's path or none.")
        cached = cached_file(spec)
        if cached is not None:
            check_file(spec, cached)
            return ResolvedWeights("cache", cached, file_digest(cached))
        if not download:
            raise WeightsError(unavailable_message(spec, "not cached"))
        path = download_weights(spec, cache_dir())
        return ResolvedWeights("download", path, file_digest(path))
    path = Path(choice).expanduser()
    if not path.is_file():
        raise ConfigError(f"`weights`: {path} is not a file. Give imagenet (the published weights), none "
                          "(random) or a weights file's path.")
    import h5py

    if not h5py.is_hdf5(path):  # checked before any data is read, not when the model is built
        raise ConfigError(f"`weights`: {path} is not a Keras weights file (HDF5: what `save_weights` or "
                          "`kerasdl fetch-weights` writes).")
    return ResolvedWeights("file", path.resolve(), file_digest(path))


def unavailable_message(spec: WeightsFile, reason: str) -> str:
    """The one line said when a published file cannot be had here."""
    return (f"Weights {spec.file_name} for {spec.name} are not in {cache_dir()} and could not be downloaded "
            f"from {spec.download_url()} ({reason}). On a connected machine run `kerasdl fetch-weights "
            f"{spec.name} --out DIR`, copy the file into {cache_dir()} here, or pass --weights PATH; "
            "--weights none trains from random weights.")


def download_weights(spec: WeightsFile, folder: Path, *, timeout: float = DOWNLOAD_TIMEOUT) -> Path:
    """Downloads `spec`'s file into `folder`, checks its hash, and returns its path. The
    file appears whole or not at all (written beside, then renamed).

    Raises:
        WeightsError: when the server cannot be reached or answers an error (one line,
            at once: no retries), the download stalls for `timeout` seconds, or the
            file's hash is wrong.
    """
    url = spec.download_url()
    folder.mkdir(parents=True, exist_ok=True)
    digest = hashlib.new(spec.hash_algorithm)
    handle, partial_name = tempfile.mkstemp(prefix=f".{spec.file_name}.", suffix=".part", dir=folder)
    partial = Path(partial_name)
    try:
        with os.fdopen(handle, "wb") as out:
            logger.info("Downloading %s from %s", spec.file_name, url)
            with urllib.request.urlopen(url, timeout=timeout) as response:
                for chunk in iter(lambda: response.read(CHUNK), b""):
                    digest.update(chunk)
                    out.write(chunk)
    except urllib.error.HTTPError as e:
        partial.unlink(missing_ok=True)
        raise WeightsError(unavailable_message(spec, f"HTTP {e.code}")) from None
    except (urllib.error.URLError, socket.timeout, TimeoutError, ConnectionError) as e:
        partial.unlink(missing_ok=True)
        reason = getattr(e, "reason", e)
        raise WeightsError(unavailable_message(spec, f"offline? {reason}")) from None
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    if digest.hexdigest() != spec.file_hash.lower():
        partial.unlink(missing_ok=True)
        raise WeightsError(f"The download of {spec.file_name} from {url} has {spec.hash_algorithm} "
                           f"{digest.hexdigest()}, not the published {spec.file_hash}: nothing was kept.")
    target = folder / spec.file_name
    partial.replace(target)
    return target


def fetch_weights(specs: list[WeightsFile], out_dir: Path | None = None) -> list[Path]:
    """Each published file into `out_dir` (the Keras cache by default), checked; files
    already there with the right hash are kept, not fetched again. For a connected
    machine, to copy the files to one that is not.

    Raises:
        WeightsError: as `download_weights`.
    """
    folder = Path(out_dir).expanduser() if out_dir is not None else cache_dir()
    paths = []
    for spec in specs:
        existing = folder / spec.file_name
        if existing.is_file() and file_digest(existing, spec.hash_algorithm) == spec.file_hash.lower():
            logger.info("%s is already in %s", spec.file_name, folder)
            paths.append(existing)
            continue
        paths.append(download_weights(spec, folder))
    return paths
