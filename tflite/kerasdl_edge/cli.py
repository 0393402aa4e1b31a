"""`kerasdl-edge`: run kerasdl's TFLite exports on a device, without TensorFlow.

    kerasdl-edge info MODEL.tflite
    kerasdl-edge predict MODEL.tflite INPUT... [--top-k 3] [--json] [--threads N]
    kerasdl-edge stream MODEL.tflite RECORDING.wav... [--hop 0.1] [--smoothing 3] [--threshold 0.7]
    kerasdl-edge generate MODEL.tflite [--n 16] [--seed 0] --out grid.png

Inputs are what the export's task reads: image files (image classifiers), texts or text
files (text classifiers), WAV files (audio classifiers), CSV files whose last rows are the
window (forecasters).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from typing import Any, Sequence

from kerasdl_edge.errors import EdgeError
from kerasdl_edge.images import write_png
from kerasdl_edge.predictor import Predictor


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kerasdl-edge", description="Run kerasdl's TFLite exports on a device, without TensorFlow.")
    commands = parser.add_subparsers(dest="command", required=True)
    info = commands.add_parser("info", help="what an export is: app, task, classes, input, preprocessing")
    info.add_argument("model")
    predict = commands.add_parser("predict", help="run the model on inputs")
    predict.add_argument("model")
    predict.add_argument("inputs", nargs="+")
    predict.add_argument("--top-k", type=int, default=3)
    predict.add_argument("--json", action="store_true", help="print JSON lines")
    stream = commands.add_parser("stream", help="commands heard along long recordings (speech)")
    stream.add_argument("model")
    stream.add_argument("inputs", nargs="+")
    stream.add_argument("--hop", type=float, default=0.1, help="seconds the window moves")
    stream.add_argument("--smoothing", type=int, default=3, help="windows averaged")
    stream.add_argument("--threshold", type=float, default=0.7, help="smoothed probability needed")
    stream.add_argument("--json", action="store_true")
    generate = commands.add_parser("generate", help="images from a dcgan generator")
    generate.add_argument("model")
    generate.add_argument("--n", type=int, default=16)
    generate.add_argument("--seed", type=int, default=0)
    generate.add_argument("--out", default="generated.png")
    for command in (info, predict, stream, generate):
        command.add_argument("--threads", type=int, default=None, help="interpreter threads")
    return parser


def _standard_summary(standard: Any) -> dict[str, Any] | None:
    """What MediaPipe Tasks and Android Studio read from the file."""
    if standard is None:
        return None
    tensors = {}
    for kind, infos in (("inputs", standard.inputs), ("outputs", standard.outputs)):
        tensors[kind] = [{"name": t.name, "image": asdict(t.image) if t.image else None,
                          "audio": asdict(t.audio) if t.audio else None,
                          "regex_tokenizer": t.tokenizer.delimiter if t.tokenizer else None,
                          "labels": len(t.labels) if t.labels else None} for t in infos]
    bert = standard.input_tokenizer
    return {"name": standard.name, "version": standard.version, "author": standard.author,
            "license": standard.license, **tensors,
            "bert_tokenizer": {"vocabulary": len(bert.vocabulary)} if bert is not None else None}


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        predictor = Predictor(args.model, num_threads=args.threads)
        if args.command == "info":
            meta = predictor.model.metadata
            print(json.dumps({"app": meta.get("app"), "task": predictor.task, "name": meta.get("name"), "version": meta.get("version"),
                              "quantization": meta.get("quantization"), "bytes": predictor.model.size_bytes,
                              # The file's own input tensor: the export's preprocessing text
                              # names the model's input, not a task-ready variant's.
                              "input": predictor.model.describe_input(),
                              "class_names": predictor.info.get("class_names"),
                              "mediapipe_task": meta.get("mediapipe_task"),
                              "standard_metadata": _standard_summary(predictor.model.standard_metadata)},
                             indent=2))
        elif args.command == "predict":
            for row in predictor.predict(args.inputs, top_k=args.top_k):
                print(json.dumps(row) if args.json else predictor.codec.format(row))
        elif args.command == "stream":
            for path in args.inputs:
                for row in predictor.stream(path, hop_seconds=args.hop, smoothing=args.smoothing,
                                            threshold=args.threshold):
                    print(json.dumps(row) if args.json else predictor.codec.format(row))
        else:
            if args.n < 1:
                raise EdgeError(f"--n must be at least 1. Received: {args.n}")
            print(f"Wrote {write_png(args.out, predictor.generate(args.n, args.seed))}")
    except (EdgeError, ValueError) as e:
        print(f"Error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
