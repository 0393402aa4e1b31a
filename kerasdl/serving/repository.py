"""The SavedModels a server answers for: the newest version of each, reloaded when a
newer one appears (TF Serving's default `latest` version policy).

    saved_models/<name>/<version>/saved_model.pb
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kerasdl.errors import KerasdlError

logger = logging.getLogger(__name__)


class NotFound(KerasdlError):
    """No servable for a request (HTTP 404)."""


@dataclass
class Signature:
    """One callable signature of a loaded SavedModel, with its named inputs and outputs
    as {name: tf.TensorSpec}."""

    function: Any
    inputs: dict[str, Any]
    outputs: dict[str, Any]


@dataclass
class Servable:
    name: str
    version: int
    path: Path
    signatures: dict[str, Signature]


@dataclass
class _ModelState:
    servable: Servable | None = None
    # (version, mtime) -> error, so a broken version is not retried until it changes.
    failures: dict[tuple[int, float], str] = field(default_factory=dict)


def load_servable(name: str, version: int, path: Path) -> Servable:
    """Loads a SavedModel version and describes its signatures."""
    import tensorflow as tf

    from kerasdl.saved_model_format import load_saved_model

    loaded = load_saved_model(path)
    signatures = {}
    for signature_name, function in loaded.signatures.items():
        _, kwargs = function.structured_input_signature
        outputs = {k: tf.TensorSpec(v.shape, v.dtype, k) for k, v in function.structured_outputs.items()}
        signatures[signature_name] = Signature(function, dict(kwargs), outputs)
    # The loaded object owns the variables the signatures read: keep it alive.
    servable = Servable(name, version, path, signatures)
    servable._loaded = loaded  # type: ignore[attr-defined]
    return servable


def _versions(model_dir: Path) -> list[tuple[int, Path]]:
    found = []
    for child in model_dir.iterdir() if model_dir.is_dir() else ():
        if child.name.isdigit() and (child / "saved_model.pb").is_file():
            found.append((int(child.name), child))
    return sorted(found, reverse=True)


class ModelRepository:
    """The newest loadable version of every SavedModel under `root`.

    `refresh` (called by the server every few seconds) loads a newer version when one
    appears and swaps it in; requests in flight finish on the version they started with.
    A version that fails to load is logged and skipped; the previous one keeps serving.

    Example:
    >>> from kerasdl.serving.repository import ModelRepository
    >>> repository = ModelRepository("saved_models")  # doctest: +SKIP
    >>> repository.refresh()  # doctest: +SKIP
    >>> repository.get("vision").version  # doctest: +SKIP
    3
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise KerasdlError(f"{self.root} is not a folder of exported models.")
        self._models: dict[str, _ModelState] = {}
        self._lock = threading.Lock()

    def refresh(self) -> list[str]:
        """Loads whatever is new; returns what changed, as lines for a log."""
        changes = []
        names = sorted(p.name for p in self.root.iterdir() if p.is_dir() and _versions(p))
        for name in names:
            state = self._models.setdefault(name, _ModelState())
            for version, path in _versions(self.root / name):
                current = state.servable
                if current is not None and current.version == version and current.path == path:
                    break
                key = (version, path.stat().st_mtime)
                if key in state.failures:
                    continue
                try:
                    servable = load_servable(name, version, path)
                except Exception as e:  # noqa: BLE001 - any broken export must not stop the server
                    message = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
                    state.failures[key] = message
                    changes.append(f"{name} version {version} failed to load: {message}")
                    continue
                with self._lock:
                    state.servable = servable
                changes.append(f"{name} version {version} loaded from {path}")
                break
        for name in set(self._models) - set(names):
            with self._lock:
                del self._models[name]
            changes.append(f"{name} removed")
        return changes

    def names(self) -> list[str]:
        with self._lock:
            return sorted(n for n, s in self._models.items() if s.servable is not None)

    def get(self, name: str, version: int | None = None) -> Servable:
        """The servable for a request; `NotFound` in TF Serving's words otherwise."""
        with self._lock:
            state = self._models.get(name)
            servable = state.servable if state else None
        wanted = f"Latest({name})" if version is None else f"Specific({name}, {version})"
        if servable is None or (version is not None and servable.version != version):
            raise NotFound(f"Servable not found for request: {wanted}")
        return servable

    def status(self, name: str, version: int | None = None) -> list[dict[str, Any]]:
        """TF Serving's model_version_status list."""
        with self._lock:
            state = self._models.get(name)
        if state is None:
            raise NotFound(f"Could not find any versions of model {name}")
        rows = []
        if state.servable is not None:
            rows.append({"version": str(state.servable.version), "state": "AVAILABLE",
                         "status": {"error_code": "OK", "error_message": ""}})
        for (failed_version, _), message in sorted(state.failures.items(), reverse=True):
            if state.servable is None or failed_version > state.servable.version:
                rows.append({"version": str(failed_version), "state": "END",
                             "status": {"error_code": "UNKNOWN", "error_message": message}})
        if version is not None:
            rows = [r for r in rows if r["version"] == str(version)]
            if not rows:
                raise NotFound(f"Could not find version {version} of model {name}")
        return rows
