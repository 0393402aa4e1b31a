"""Two MultiWorkerMirroredStrategy workers on 127.0.0.1 train one model together."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np

from conftest import write_idx_folder

WORKER = """
import sys
import numpy as np
from kerasdl import api
from kerasdl.apps.vision.config import VisionConfig
from kerasdl.config import resolve_config

data, runs, out = sys.argv[1:4]
config = resolve_config(VisionConfig, preset="tiny", overrides={
    "dataset": data, "strategy": "multiworker", "epochs": 2, "batch_size": 32,
    "model": "lenet", "learning_rate": 0.01})
summary = api.train("vision", config, runs_dir=runs, name="mw", verbose=0)
np.savez(out, *summary.model.get_weights())
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_workers_end_with_identical_weights(tmp_path: Path) -> None:
    data = write_idx_folder(tmp_path / "data", train=640, test=64, size=12)
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    cluster = {"worker": [f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"]}
    procs = []
    for index in range(2):
        env = {**os.environ, "TF_CONFIG": json.dumps(
            {"cluster": cluster, "task": {"type": "worker", "index": index}})}
        procs.append(subprocess.Popen(
            [sys.executable, str(script), str(data), str(tmp_path / "runs"),
             str(tmp_path / f"w{index}.npz")],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    for p in procs:
        output, _ = p.communicate(timeout=300)
        assert p.returncode == 0, output[-3000:]
    w0, w1 = np.load(tmp_path / "w0.npz"), np.load(tmp_path / "w1.npz")
    assert len(w0.files) > 0
    for key in w0.files:
        np.testing.assert_allclose(w0[key], w1[key], rtol=0, atol=1e-6)
    run = tmp_path / "runs" / "vision" / "mw"
    meta = json.loads((run / "run.json").read_text())
    assert meta["status"] == "completed" and meta["epochs_completed"] == 2
    assert json.loads((run / "metrics.json").read_text())["accuracy"] > 0.5  # chance 0.25
    assert sorted(p.name for p in (tmp_path / "runs" / "vision").iterdir()) == ["mw"]
