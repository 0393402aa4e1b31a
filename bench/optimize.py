"""Optimization benchmark on Fashion-MNIST: 80 % pruning and quantization-aware training
of the bench/vision.py model, against the dense model and post-training int8.

    python bench/optimize.py [--run DIR] [--epochs 3]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from common import VISION_RUN, fresh_folder, markdown_table, require_vision_run, write_result  # noqa: E402



def int8_accuracy(run: Path, out: Path) -> tuple[float, int]:
    from kerasdl.export.exporter import export_run

    report = export_run(run, formats=("tflite",), quantizations=("int8",), out_dir=out)
    return report.rows[0]["metric"], report.rows[0]["bytes"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, default=VISION_RUN)
    parser.add_argument("--epochs", type=int, default=5, help="fine-tuning epochs per stage")
    parser.add_argument("--sparsity", type=float, default=0.8)
    args = parser.parse_args()
    require_vision_run(args.run)

    from kerasdl.optimization.optimize import OptimizeConfig, optimize_run

    work = fresh_folder("optimize")
    ptq_accuracy, ptq_bytes = int8_accuracy(args.run, work / "export-base")

    pruned = optimize_run(args.run, OptimizeConfig(prune=args.sparsity, epochs=args.epochs),
                          runs_dir=work, name="pruned", verbose=2)
    qat = optimize_run(args.run, OptimizeConfig(qat=True, epochs=args.epochs),
                       runs_dir=work, name="qat", verbose=2)
    qat_accuracy, qat_bytes = int8_accuracy(qat.run.path, work / "export-qat")
    base = pruned.base_metric
    dense_gzip = pruned.gzip_bytes["base"]
    sparsity = sum(pruned.sparsity.values()) / len(pruned.sparsity)
    rows = [
        ["dense (bench/vision.py)", f"{base * 100:.2f} %", "-", f"{dense_gzip / 1024:.0f} KB (100 %)",
         f"{ptq_accuracy * 100:.2f} % (post-training)"],
        [f"pruned {args.sparsity:.0%} (mean kernel sparsity {sparsity:.1%})",
         f"{pruned.metric * 100:.2f} %", f"{(pruned.metric - base) * 100:+.2f}",
         f"{pruned.gzip_bytes['optimized'] / 1024:.0f} KB "
         f"({pruned.gzip_bytes['optimized'] / dense_gzip * 100:.0f} %)", "-"],
        ["QAT", f"{qat.metric * 100:.2f} %", f"{(qat.metric - base) * 100:+.2f}", "-",
         f"{qat_accuracy * 100:.2f} % (quantization-aware)"],
    ]
    table = markdown_table(["model", "test accuracy (float)", "points vs dense",
                            "gzip float32 TFLite", "int8 TFLite accuracy"], rows)
    notes = (f"Fine-tuning: {args.epochs} epochs per stage at a tenth of the run's learning rate "
             "(cosine-decayed to zero) on the same augmented training split. Pruning ramps "
             "to the target over the first half of the steps; kernels under 1,024 weights "
             f"stay dense ({', '.join(pruned.stages[0]['left']) or 'none'}). int8 files: "
             f"post-training {ptq_bytes / 1024:.0f} KB, QAT {qat_bytes / 1024:.0f} KB.")
    command = "python bench/optimize.py " + " ".join(sys.argv[1:])
    write_result("optimize", "Optimization: Fashion-MNIST CNN", table, command.strip(), notes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
