"""Export benchmark on Fashion-MNIST: every TFLite variant's size, test accuracy beside
the Keras model's, and latency at 1 and 2 threads beside Keras and the SavedModel.

Uses the run that bench/vision.py keeps (bench/runs/vision/fashion-mnist); run that
first, or pass --run DIR.

    python bench/export.py [--run DIR] [--runs 300]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from common import VISION_RUN, fresh_folder, markdown_table, require_vision_run, write_result  # noqa: E402



def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, default=VISION_RUN)
    parser.add_argument("--runs", type=int, default=300, help="timed calls per latency figure")
    args = parser.parse_args()
    require_vision_run(args.run)

    from kerasdl.export.benchmark import keras_latency, saved_model_latency, tflite_latency
    from kerasdl.export.exporter import export_run
    from kerasdl.runs import Run
    from kerasdl.training.saving import load_model

    out = fresh_folder("export")
    report = export_run(args.run, out_dir=out, name="fashion")
    keras_model = load_model(Run.open(args.run).model_path())
    keras = keras_latency(keras_model, runs=args.runs)
    saved = saved_model_latency(str(report.saved_model), runs=args.runs)
    rows = []
    float32_size = report.tflite["float32"].stat().st_size
    first = report.rows[0]
    rows.append(["Keras (.keras)", "-", f"{first['keras_metric'] * 100:.2f} %", "-",
                 f"{keras['p50_ms']:.3f} / {keras['p90_ms']:.3f}", "(TF threads)"])
    rows.append(["SavedModel", "-", f"{report.rows[0]['metric'] * 100:.2f} %",
                 f"{report.rows[0]['max_abs_diff']:.1e}",
                 f"{saved['p50_ms']:.3f} / {saved['p90_ms']:.3f}", "(TF threads)"])
    fastest = ("Keras", keras["p50_ms"])
    for row in report.rows[1:]:
        q = row["variant"].removeprefix("tflite-")
        path = str(report.tflite[q])
        one, two = tflite_latency(path, 1, runs=args.runs), tflite_latency(path, 2, runs=args.runs)
        for label, t in ((f"TFLite {q} (1 thread)", one), (f"TFLite {q} (2 threads)", two)):
            if t["p50_ms"] < fastest[1]:
                fastest = (label, t["p50_ms"])
        rows.append([
            f"TFLite {q}",
            f"{row['bytes'] / 1024:.1f} KB ({row['bytes'] / float32_size * 100:.0f} %)",
            f"{row['metric'] * 100:.2f} %",
            f"{row['max_abs_diff']:.1e}",
            f"{one['p50_ms']:.3f} / {one['p90_ms']:.3f}",
            f"{two['p50_ms']:.3f} / {two['p90_ms']:.3f}",
        ])
    table = markdown_table(
        ["model", "file size (of float32)", "test accuracy", "max \\|diff\\| vs Keras",
         "latency p50 / p90 ms, 1 thread", "2 threads"], rows)
    int8 = next(r for r in report.rows if r["variant"] == "tflite-int8")
    notes = (
        f"One image per call, {args.runs} timed calls after 20 warm-up calls. Keras and "
        "SavedModel rows use TensorFlow's own thread pool (both cores). "
        f"int8 accuracy {int8['metric'] * 100:.2f} % vs Keras {int8['keras_metric'] * 100:.2f} % "
        f"({(int8['metric'] - int8['keras_metric']) * 100:+.2f} points); int8 file "
        f"{int8['bytes'] / float32_size * 100:.0f} % of float32. Fastest here: {fastest[0]}."
    )
    write_result("export", "Export: Fashion-MNIST CNN, every variant", table,
                 "python bench/export.py", notes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
