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
from typing import Any, Callable

from kerasdl import __version__
from kerasdl import io as kio
from kerasdl.errors import KerasdlError

_EPOCH_FILE = re.compile(r"^epoch-(\d{4,})\.keras$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def new_folder(root: str | Path, name: str | None, *, what: str) -> Path:
    """`root/name` (a timestamp when `name` is None), for a new run, search or
    comparison: `what` names it in the error.

    Raises:
        KerasdlError: for a name that is not a plain folder name, or one already taken.
    """
    folder = Path(root) / check_run_name(name or dt.datetime.now().strftime("%Y%m%d-%H%M%S"))
    if folder.exists():
        raise KerasdlError(f"{folder} already exists: choose another name, or resume that {what}.")
    return folder


def folder_to_resume(root: str | Path, name: str | None, *, marker: str, what: str,
                     finished: Callable[[Path], bool] | None = None) -> Path:
    """The folder of a run, search or comparison to continue: `root/name`, or the newest
    folder under `root` holding the `marker` file that is not `finished`.

    Raises:
        KerasdlError: when there is none, or `root/name` is not one.
    """
    root = Path(root)
    if name:
        folder = root / check_run_name(name)
    else:
        candidates = [p.parent for p in root.glob(f"*/{marker}")
                      if p.is_file() and not (finished and finished(p.parent))] if root.is_dir() else []
        if not candidates:
            raise KerasdlError(f"No {what} to resume in {root}.")
        folder = max(candidates, key=lambda p: (p / marker).stat().st_mtime)
    if not (folder / marker).is_file():
        raise KerasdlError(f"{folder} is not a kerasdl {what} (no {marker}): nothing to resume.")
    if finished and finished(folder):
        raise KerasdlError(f"{folder} already completed; nothing to resume.")
    return folder


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
        path = new_folder(Path(runs_dir) / app, name, what="run")
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
    def to_resume(cls, runs_dir: str | Path, app: str, name: str | None = None) -> "Run":
        """The unfinished run `runs_dir/app/name`, or the newest unfinished one of `app`.

        Raises:
            KerasdlError: when there is none, or the named one is not a run or is done.
        """
        def completed(folder: Path) -> bool:
            try:
                return cls(folder).meta.get("status") == "completed"
            except (OSError, ValueError):
                return True  # an unreadable run.json cannot be resumed

        return cls(folder_to_resume(Path(runs_dir) / app, name, marker="run.json",
                                    what=f"unfinished {app} run", finished=completed))

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


def run_config(run: Run) -> Any:
    """The resolved config saved in a run directory, as its app's config class."""
    from kerasdl.config import config_from_dict, read_toml
    from kerasdl.registry import get_app

    app = get_app(run.meta.get("app", ""))
    return config_from_dict(app.config_class, read_toml(run.config_path))
