"""The run directory: one self-describing folder per training run.

    runs/<app>/<name>/
        run.json          app, status, epochs completed, data facts, versions
        config.toml       the resolved configuration
        labels.txt        class names, one a line (classification apps)
        history.csv       one row per finished epoch
        logs/             TensorBoard event files
        checkpoints/      best.keras, last.keras (epoch-NNNN.keras while training)
        metrics.json      the final evaluation
        plots/            history.png, confusion_matrix.png ...

`evaluate`, `predict` and `export` need nothing but this folder's path.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kerasdl import __version__
from kerasdl import io as kio
from kerasdl.errors import KerasdlError

_EPOCH_FILE = re.compile(r"^epoch-(\d{4,})\.keras$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def check_run_name(name: str) -> str:
    """`name` if it can name a run folder.

    Raises:
        KerasdlError: if it is not a plain folder name.
    """
    if not _NAME.match(name):
        raise KerasdlError(
            f"Run name '{name}' must be letters, digits, '.', '_' or '-' "
            "(no slashes or spaces)."
        )
    return name


@dataclass
class Run:
    """A run directory on disk."""

    path: Path

    # ---- locations -----------------------------------------------------------------
    @property
    def meta_path(self) -> Path:
        return self.path / "run.json"

    @property
    def config_path(self) -> Path:
        return self.path / "config.toml"

    @property
    def history_path(self) -> Path:
        return self.path / "history.csv"

    @property
    def checkpoints(self) -> Path:
        return self.path / "checkpoints"

    @property
    def best_model_path(self) -> Path:
        return self.checkpoints / "best.keras"

    @property
    def last_model_path(self) -> Path:
        return self.checkpoints / "last.keras"

    @property
    def logs(self) -> Path:
        return self.path / "logs"

    @property
    def plots(self) -> Path:
        return self.path / "plots"

    @property
    def metrics_path(self) -> Path:
        return self.path / "metrics.json"

    @property
    def name(self) -> str:
        return self.path.name

    # ---- creation and opening -------------------------------------------------------
    @classmethod
    def create(cls, runs_dir: str | Path, app: str, name: str | None = None) -> "Run":
        """Makes a new, empty run directory `runs_dir/app/name`.

        Raises:
            KerasdlError: if the name is not a plain folder name or is already taken.
        """
        if name is None:
            name = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        path = Path(runs_dir) / app / check_run_name(name)
        if path.exists():
            raise KerasdlError(
                f"Run directory {path} already exists: choose another --name, or pass "
                "--resume to continue it."
            )
        path.mkdir(parents=True)
        return cls(path)

    @classmethod
    def open(cls, path: str | Path) -> "Run":
        """Opens an existing run directory.

        Raises:
            KerasdlError: if `path` is not a kerasdl run directory.
        """
        path = Path(path)
        if not (path / "run.json").is_file():
            raise KerasdlError(
                f"{path} is not a kerasdl run directory (no run.json). Expected a folder "
                "written by `kerasdl train`, e.g. runs/vision/<name>."
            )
        return cls(path)

    @classmethod
    def latest(cls, runs_dir: str | Path, app: str, *, unfinished: bool = False) -> "Run":
        """The most recently started run of `app` (optionally only unfinished ones)."""
        root = Path(runs_dir) / app
        candidates = []
        for meta in root.glob("*/run.json"):
            run = cls(meta.parent)
            try:
                info = run.meta
            except (OSError, ValueError):
                continue
            if unfinished and info.get("status") == "completed":
                continue
            candidates.append((info.get("created", ""), run))
        if not candidates:
            kind = "unfinished " if unfinished else ""
            raise KerasdlError(f"No {kind}{app} run found under {root}.")
        return max(candidates, key=lambda c: c[0])[1]

    # ---- metadata ----------------------------------------------------------------------
    @property
    def meta(self) -> dict[str, Any]:
        try:
            return kio.read_json(self.meta_path)
        except ValueError as e:
            raise KerasdlError(f"{self.meta_path} is not valid JSON: {e}") from None

    def write_meta(self, **updates: Any) -> dict[str, Any]:
        meta = self.meta if self.meta_path.exists() else {}
        meta.update(updates)
        kio.write_json(self.meta_path, meta)
        return meta

    def initialize(self, app: str, config_toml: str, data_info: dict[str, Any]) -> None:
        """Writes the files that describe a new run."""
        import keras
        import tensorflow as tf

        kio.write_text(self.config_path, config_toml)
        class_names = data_info.get("class_names")
        if class_names:
            kio.write_text(self.path / "labels.txt", "\n".join(class_names) + "\n")
        self.write_meta(
            app=app,
            name=self.name,
            status="running",
            created=dt.datetime.now().isoformat(timespec="seconds"),
            epochs_completed=0,
            data=data_info,
            versions={
                "kerasdl": __version__,
                "tensorflow": tf.__version__,
                "keras": keras.__version__,
            },
        )

    # ---- checkpoints and history ----------------------------------------------------
    def epoch_checkpoints(self) -> list[tuple[int, Path]]:
        """The rolling per-epoch checkpoints, oldest first."""
        found = []
        if self.checkpoints.is_dir():
            for p in self.checkpoints.iterdir():
                m = _EPOCH_FILE.match(p.name)
                if m:
                    found.append((int(m.group(1)), p))
        return sorted(found)

    def epoch_checkpoint_path(self, epochs_done: int) -> Path:
        return self.checkpoints / f"epoch-{epochs_done:04d}.keras"

    def read_history(self) -> list[dict[str, Any]]:
        if not self.history_path.exists():
            return []
        with self.history_path.open(newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        return [{k: _number(v) for k, v in row.items()} for row in rows]

    def write_history(self, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        columns: list[str] = []
        for row in rows:
            for key in row:
                if key not in columns:
                    columns.append(key)
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        kio.write_text(self.history_path, buffer.getvalue())

    def model_path(self) -> Path:
        """The model that evaluation, prediction and export use: the best checkpoint."""
        for candidate in (self.best_model_path, self.last_model_path):
            if candidate.exists():
                return candidate
        epochs = self.epoch_checkpoints()
        if epochs:
            return epochs[-1][1]
        raise KerasdlError(
            f"Run {self.path} has no saved model yet (no checkpoints/best.keras). "
            "Did its training finish an epoch?"
        )


def _number(text: str) -> Any:
    try:
        value = float(text)
    except (TypeError, ValueError):
        return text
    return int(value) if value.is_integer() and "." not in text and "e" not in text else value
