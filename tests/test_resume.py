"""A run killed (SIGKILL) or interrupted (Ctrl-C) resumes from its last finished epoch."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from conftest import write_idx_folder

EPOCHS = 4


def start(runs: Path, *extra: str, data: Path | None = None) -> subprocess.Popen:
    args = [sys.executable, "-m", "kerasdl.cli", "train", "vision", "--runs-dir", str(runs),
            "--name", "r"]
    if data is not None:
        args += ["--dataset", str(data), "--preset", "tiny", "--epochs", str(EPOCHS),
                 "--batch-size", "16"]
    # cwd: `-m` puts the working folder on sys.path; test the installed package.
    # preexec_fn: a shell that starts the suite in the background makes its children ignore
    # SIGINT, and Python keeps an inherited SIG_IGN; a user's terminal does not.
    return subprocess.Popen([*args, *extra], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
                            cwd=runs.parent,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def wait_for_epochs(run: Path, proc: subprocess.Popen, more_than: int, timeout: float = 120) -> int:
    """Waits until run.json records more than `more_than` finished epochs."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        assert proc.poll() is None, proc.stdout.read()
        try:
            done = json.loads((run / "run.json").read_text())["epochs_completed"]
        except (OSError, ValueError, KeyError):
            done = 0
        if done > more_than:
            return done
        time.sleep(0.05)
    raise AssertionError("training made no progress")


def test_kill_and_ctrl_c_then_resume(tmp_path: Path) -> None:
    data = write_idx_folder(tmp_path / "data", train=3000, test=100, size=28)
    runs = tmp_path / "runs"
    run = runs / "vision" / "r"

    proc = start(runs, data=data)
    wait_for_epochs(run, proc, 0)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    meta = json.loads((run / "run.json").read_text())
    assert meta["status"] == "running" and meta["epochs_completed"] < EPOCHS
    assert not (run / "metrics.json").exists()

    proc = start(runs, "--resume")
    done = wait_for_epochs(run, proc, meta["epochs_completed"])
    proc.send_signal(signal.SIGINT)
    output, _ = proc.communicate(timeout=120)
    if done < EPOCHS:  # the interrupt landed before training ended
        assert proc.returncode == 130, output
        assert "Interrupted. Continue later with: kerasdl train vision" in output
        assert "Traceback" not in output
        assert json.loads((run / "run.json").read_text())["status"] == "interrupted"
        proc = start(runs, "--resume")
        output, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0, output

    spent_before_kill = meta.get("training_seconds", 0.0)
    meta = json.loads((run / "run.json").read_text())
    assert meta["status"] == "completed" and meta["epochs_completed"] == EPOCHS
    # A run without --model goes on, once resumed, to its baseline models (issue 30).
    assert (run / "auto.json").is_file() and "Shipped " in output, output
    # The epochs' time adds up across the sessions.
    assert meta["training_seconds"] > spent_before_kill
    with (run / "history.csv").open() as f:
        epochs = [int(row["epoch"]) for row in csv.DictReader(f)]
    assert epochs == list(range(1, EPOCHS + 1))
    assert json.loads((run / "metrics.json").read_text())["accuracy"] > 0.5  # chance 0.25
