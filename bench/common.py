"""Helpers shared by the benchmark scripts."""

from __future__ import annotations

import datetime as dt
import os
import platform
import sys
from pathlib import Path
from typing import Any, Sequence

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("KERASDL_SHARED_DATA", REPO.parent / "shared" / "data"))
RESULTS = REPO / "bench" / "results"


def require(path: Path) -> Path:
    """Exits cleanly (status 0, a message) when the shared data is absent."""
    if not path.exists():
        print(f"skipped: {path} not found (benchmarks need ../shared/data)")
        sys.exit(0)
    return path


VISION_RUN = REPO / "bench" / "runs" / "vision" / "fashion-mnist"


def require_vision_run(run: Path) -> Path:
    """The Fashion-MNIST run bench/vision.py keeps; exits 1 with advice if missing."""
    require(SHARED_DATA / "fashion_mnist")
    if not (run / "run.json").is_file():
        print(f"no run at {run}: run `python bench/vision.py` first", file=sys.stderr)
        sys.exit(1)
    return run


def fresh_folder(name: str) -> Path:
    """bench/runs/NAME, emptied."""
    import shutil

    path = REPO / "bench" / "runs" / name
    shutil.rmtree(path, ignore_errors=True)
    return path


def markdown_table(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    def cell(v: Any) -> str:
        return f"{v:.4g}" if isinstance(v, float) else str(v)

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def write_result(name: str, title: str, table: str, command: str, notes: str = "") -> Path:
    """Prints the table and writes it, with how it was made, to bench/results/NAME.md."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    header = (
        f"# {title}\n\n"
        f"Measured {dt.date.today().isoformat()} on {platform.machine()} "
        f"({os.cpu_count()} cores), Python {platform.python_version()}.\n"
        f"Reproduce: `{command}`\n\n"
    )
    text = header + table + "\n" + (f"\n{notes}\n" if notes else "")
    path = RESULTS / f"{name}.md"
    path.write_text(text)
    print(text)
    return path
