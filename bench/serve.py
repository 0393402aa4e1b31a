"""Load test of `kerasdl serve` on loopback with the Fashion-MNIST vision model.

Exports the run bench/vision.py keeps as a SavedModel, starts `kerasdl serve` in its own
process, and sends TF Serving REST requests (`{"instances": [{"b64": <PNG>}]}`, real
test images) from a few client threads, each on its own keep-alive connection, a
bounded number of requests per setting. Reports p50/p90/p99 latency, throughput, and
errors (any non-200 answer, or a wrong-shaped one); every answer's label is checked
against the image's true label for the accuracy column.

    python bench/serve.py [--requests 2000] [--clients 1,4] [--batch 1,8]
"""

from __future__ import annotations

import argparse
import base64
import http.client
import io
import json
import os
import socket
import subprocess
import sys
import threading
import time

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from common import SHARED_DATA, VISION_RUN, fresh_folder, markdown_table, require_vision_run, write_result  # noqa: E402


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _png_instances(count: int) -> tuple[list[dict[str, str]], np.ndarray]:
    from PIL import Image

    from kerasdl.data.idx import find_idx_files, read_idx

    files = find_idx_files(SHARED_DATA / "fashion_mnist")
    images = read_idx(files[("test", "images")])[:count]
    labels = read_idx(files[("test", "labels")])[:count]
    instances = []
    for image in images:
        buffer = io.BytesIO()
        Image.fromarray(image).save(buffer, format="PNG")
        instances.append({"b64": base64.b64encode(buffer.getvalue()).decode("ascii")})
    return instances, labels


def _wait_until_up(port: int, proc: subprocess.Popen, timeout: float = 180) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"kerasdl serve exited: {proc.stdout.read() if proc.stdout else ''}")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/v1/models/vision")
            if connection.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.3)
    raise SystemExit("kerasdl serve did not come up")


def _load(port: int, bodies: list[bytes], expected: list[list[str]], clients: int) -> dict[str, float]:
    """Sends every body once, `clients` threads at a time; latency of each request."""
    latencies: list[float] = []
    errors = 0
    correct = 0
    total = 0
    lock = threading.Lock()
    next_index = iter(range(len(bodies)))

    def client() -> None:
        nonlocal errors, correct, total
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while True:
            with lock:
                i = next(next_index, None)
            if i is None:
                break
            started = time.perf_counter()
            try:
                connection.request("POST", "/v1/models/vision:predict", body=bodies[i],
                                   headers={"Content-Type": "application/json"})
                response = connection.getresponse()
                answer = json.loads(response.read())
                ok = response.status == 200 and len(answer.get("predictions", [])) == len(expected[i])
            except (OSError, ValueError, http.client.HTTPException):
                ok, answer = False, {}
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            elapsed = time.perf_counter() - started
            with lock:
                latencies.append(elapsed)
                if not ok:
                    errors += 1
                    continue
                labels = [p["classes"] for p in answer["predictions"]]
                correct += sum(a == b for a, b in zip(labels, expected[i]))
                total += len(labels)
        connection.close()

    started = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    ms = np.array(latencies) * 1000
    return {"p50": float(np.percentile(ms, 50)), "p90": float(np.percentile(ms, 90)),
            "p99": float(np.percentile(ms, 99)), "requests_per_s": len(bodies) / wall,
            "images_per_s": total / wall if total else 0.0, "errors": errors,
            "accuracy": correct / total if total else 0.0, "wall": wall}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--clients", default="1,4")
    parser.add_argument("--batch", default="1,8", help="images per request")
    args = parser.parse_args()
    run = require_vision_run(VISION_RUN)

    from kerasdl.export.exporter import export_run

    folder = fresh_folder("serve")
    export_run(run, formats=("saved_model",), out_dir=folder / "saved_models", name="vision", check=False)
    batches = [int(b) for b in args.batch.split(",")]
    instances, labels = _png_instances(min(10_000, args.requests * max(batches)))
    class_names = (run / "labels.txt").read_text().splitlines()

    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "kerasdl.cli", "serve", str(folder / "saved_models"),
                             "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    rows = []
    try:
        _wait_until_up(port, proc)
        for batch in batches:
            bodies, expected = [], []
            for r in range(args.requests):
                chosen = [(r * batch + j) % len(instances) for j in range(batch)]
                bodies.append(json.dumps({"instances": [instances[k] for k in chosen]}).encode())
                expected.append([class_names[labels[k]] for k in chosen])
            _load(port, bodies[:50], expected[:50], 1)  # warm-up
            for clients in (int(c) for c in args.clients.split(",")):
                m = _load(port, bodies, expected, clients)
                rows.append([batch, clients, args.requests, f"{m['p50']:.1f}", f"{m['p90']:.1f}",
                             f"{m['p99']:.1f}", f"{m['requests_per_s']:.0f}", f"{m['images_per_s']:.0f}",
                             m["errors"], f"{m['accuracy']:.2%}"])
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    table = markdown_table(["images/request", "clients", "requests", "p50 ms", "p90 ms", "p99 ms",
                            "requests/s", "images/s", "errors", "accuracy"], rows)
    command = "python bench/serve.py " + " ".join(sys.argv[1:])
    write_result("serve", "Serving: kerasdl serve on loopback, Fashion-MNIST vision model",
                 table, command.strip(),
                 notes="TF Serving REST requests (`:predict`, row format, PNG bytes as b64) to "
                       "`kerasdl serve` in its own process; clients are threads in this process "
                       "on keep-alive connections, so both share the machine's cores. Latency is "
                       "per request, from send to parsed answer; accuracy compares each answer's "
                       "`classes` with the image's true label.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
