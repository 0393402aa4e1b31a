"""The `kerasdl` command line: a thin layer over `kerasdl.api`.

TensorFlow is imported only inside the commands that need it, so `kerasdl --help`
and `kerasdl apps` answer at once.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import sys
from typing import Any, Callable

import click

from kerasdl import __version__
from kerasdl.config import OPTIMIZERS, SCHEDULES, STRATEGIES
from kerasdl.errors import KerasdlError
from kerasdl.registry import APPS, app_names

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


def _quiet_tensorflow() -> None:
    # TensorFlow's C++ start-up chatter (CUDA probing, oneDNN notes) is noise here.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _user_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turns kerasdl's errors (and TensorFlow data errors) into one line and exit 1."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except KerasdlError as e:
            raise click.ClickException(str(e)) from None
        except Exception as e:
            op_error = _tensorflow_op_error(e)
            if op_error is None:
                raise
            raise click.ClickException(op_error) from None

    return wrapper


def _tensorflow_op_error(e: Exception) -> str | None:
    tf = sys.modules.get("tensorflow")
    if tf is None or not isinstance(e, tf.errors.OpError):
        return None
    first = (e.message or str(e)).strip().splitlines()[0]
    return f"TensorFlow could not process the data: {first}"


class AppType(click.ParamType):
    """An app name, checked against the static registry (no imports)."""

    name = "APP"

    def convert(self, value: Any, param: Any, ctx: Any) -> str:
        if value not in APPS:
            self.fail(f"Unknown app '{value}'. Available apps: {', '.join(app_names())}.", param, ctx)
        return value


def _setup_logging(verbose: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    root = logging.getLogger("kerasdl")
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    root.propagate = False


@click.group(context_settings=CONTEXT)
@click.version_option(__version__, prog_name="kerasdl")
def cli() -> None:
    """kerasdl: from data to a deployed Keras model.

    \b
    Examples:
      kerasdl apps
      kerasdl train vision                      # the bundled Fashion-MNIST sample
      kerasdl train vision --dataset photos/ --set image_size=96 --model mobilenet
      kerasdl evaluate runs/vision/<name>
      kerasdl predict runs/vision/<name> apps/vision/sample/examples/*.png
    """


@cli.command(context_settings=CONTEXT)
def apps() -> None:
    """List the apps and their models."""
    from kerasdl.registry import get_app

    for name in app_names():
        click.echo(f"{name:<10} {APPS[name].description}")
        for model, text in get_app(name).models.items():
            click.echo(f"  --model {model:<10} {text}")


def _overrides(**options: Any) -> dict[str, Any]:
    return {k: v for k, v in options.items() if v is not None}


@cli.command(context_settings=CONTEXT)
@click.argument("app", type=AppType())
@click.option("--dataset", help="A tfds name, a folder or a file (see the app's README). Default: the app's bundled sample.")
@click.option("--model", help="Model family (see `kerasdl apps`).")
@click.option("--epochs", type=int, help="Passes over the training data.")
@click.option("--batch-size", type=int, help="Examples per step.")
@click.option("--optimizer", type=click.Choice(OPTIMIZERS), help="Optimizer.")
@click.option("--lr", "learning_rate", type=float, help="Peak learning rate.")
@click.option("--schedule", type=click.Choice(SCHEDULES), help="Learning-rate schedule.")
@click.option("--weight-decay", type=float, help="Decoupled weight decay (0 = off).")
@click.option("--dropout", type=float, help="Dropout rate before the head.")
@click.option("--label-smoothing", type=float, help="Label smoothing (classification apps).")
@click.option("--early-stopping", type=int, metavar="PATIENCE", help="Stop after PATIENCE epochs without improvement.")
@click.option("--augment/--no-augment", default=None, help="Data augmentation on the training split.")
@click.option("--seed", type=int, help="Random seed (weights, shuffling, splits).")
@click.option("--strategy", type=click.Choice(STRATEGIES), help="tf.distribute strategy; multiworker reads TF_CONFIG.")
@click.option("--mixed-precision/--no-mixed-precision", default=None, help="float16 compute (GPU/TPU).")
@click.option("--preset", help="A named set of values, e.g. tiny or fashion-mnist (vision).")
@click.option("--config", "config_file", type=click.Path(dir_okay=False), help="TOML file of config values.")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", help="Any config field, e.g. --set image_size=64.")
@click.option("--runs-dir", default="runs", show_default=True, type=click.Path(file_okay=False), help="Where runs are written.")
@click.option("--name", help="Run folder name (default: a timestamp).")
@click.option("--resume", is_flag=True, help="Continue an interrupted run (--name, or the newest unfinished one).")
@_user_errors
def train(app: str, preset: str | None, config_file: str | None, sets: tuple[str, ...],
          runs_dir: str, name: str | None, resume: bool, **options: Any) -> None:
    """Train an app's model and evaluate it.

    Values are taken from the app's defaults, then --preset, then --config, then
    --set and the other options.

    \b
    Examples:
      kerasdl train vision
      kerasdl train vision --model resnet --optimizer nesterov --lr 0.05 --schedule one-cycle
      kerasdl train vision --dataset fashion_mnist --preset fashion-mnist
      kerasdl train vision --name try1 --resume
      kerasdl train sentiment --model transformer --epochs 3
      kerasdl train forecast --dataset ETTh1.csv --preset etth1
    """
    _quiet_tensorflow()
    _setup_logging(False)
    from kerasdl import api
    from kerasdl.config import resolve_config
    from kerasdl.registry import get_app

    overrides = _overrides(**options)
    for item in sets:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise KerasdlError(f"--set takes KEY=VALUE. Received: {item!r}")
        overrides[key.strip().replace("-", "_")] = value.strip()
    if resume:
        if overrides or preset or config_file:
            raise KerasdlError("--resume continues with the run's saved config: give no other options.")
        config = None
    else:
        config = resolve_config(get_app(app).config_class, preset=preset,
                                toml_path=config_file, overrides=overrides)
    verbose = 1 if sys.stdout.isatty() else 2
    try:
        summary = api.train(app, config, runs_dir=runs_dir, name=name, resume=resume, verbose=verbose)
    except KeyboardInterrupt:
        click.echo("\nInterrupted. Continue later with: kerasdl train "
                   f"{app} --runs-dir {runs_dir}{' --name ' + name if name else ''} --resume", err=True)
        sys.exit(130)
    if not summary.metrics:
        return
    click.echo(summary.report)
    click.echo(f"Trained {summary.epochs_completed} epochs in {summary.seconds:.1f} s "
               f"({summary.examples_per_second:.0f} examples/s).")
    click.echo(f"Run saved to {summary.run.path}")


@cli.command(context_settings=CONTEXT)
@click.argument("run", type=click.Path())
@click.option("--split", type=click.Choice(["test", "validation", "train"]), default="test", show_default=True)
@click.option("--dataset", help="Evaluate on another data set of the same kind (same classes or columns).")
@click.option("--json", "as_json", is_flag=True, help="Print the metrics as JSON.")
@_user_errors
def evaluate(run: str, split: str, dataset: str | None, as_json: bool) -> None:
    """Evaluate a run's best model (writes metrics.json for its test split).

    \b
    Example:
      kerasdl evaluate runs/vision/20261122-101500
    """
    _quiet_tensorflow()
    _setup_logging(False)
    from kerasdl import api

    metrics, report = api.evaluate(run, split=split, dataset=dataset)
    click.echo(json.dumps(metrics, indent=2) if as_json else report)


@cli.command(context_settings=CONTEXT)
@click.argument("run", type=click.Path())
@click.option("--format", "formats", type=click.Choice(["saved_model", "tflite", "all"]), default="all", show_default=True)
@click.option("--quantize", type=click.Choice(["float32", "dynamic", "float16", "int8", "all"]), default="all", show_default=True, help="TFLite variants.")
@click.option("--name", help="Served model name (default: the app's name).")
@click.option("--out", "out_dir", default="saved_models", show_default=True, type=click.Path(file_okay=False), help="Export root.")
@click.option("--check/--no-check", default=True, show_default=True, help="Evaluate every variant against Keras on the test split.")
@_user_errors
def export(run: str, formats: str, quantize: str, name: str | None, out_dir: str, check: bool) -> None:
    """Export a run as a SavedModel (TF Serving) and TFLite files.

    The SavedModel lands in OUT/NAME/VERSION with a `serving_default` signature that
    takes what a client has (encoded image bytes for vision); TFLite files land in
    OUT/tflite/NAME-VERSION-QUANTIZATION.tflite with labels and preprocessing inside.

    \b
    Examples:
      kerasdl export runs/vision/20261122-101500
      kerasdl export runs/vision/20261122-101500 --format tflite --quantize int8
    """
    _quiet_tensorflow()
    _setup_logging(False)
    from kerasdl.export.exporter import FORMATS, export_run
    from kerasdl.export.tflite import QUANTIZATIONS

    report = export_run(
        run,
        formats=FORMATS if formats == "all" else (formats,),
        quantizations=QUANTIZATIONS if quantize == "all" else (quantize,),
        out_dir=out_dir, name=name, check=check,
    )
    if report.saved_model:
        click.echo(f"SavedModel: {report.saved_model}")
    for q, path in report.tflite.items():
        click.echo(f"TFLite {q}: {path}")
    if report.rows:
        click.echo(report.table())
    if report.failed:
        # What could be made is kept; the exit status still says that not all of it was.
        raise click.ClickException("Not exported: " + "; ".join(
            f"TFLite {q}: {why}" for q, why in report.failed.items()))


@cli.command(context_settings=CONTEXT)
@click.argument("run", type=click.Path())
@click.option("--prune", type=float, metavar="SPARSITY", help="Prune kernels to this sparsity, e.g. 0.8.")
@click.option("--schedule", "prune_schedule", type=click.Choice(["polynomial", "constant"]), default="polynomial", show_default=True, help="Pruning schedule.")
@click.option("--cluster", type=int, metavar="N", help="Cluster each kernel's weights into N values.")
@click.option("--qat", is_flag=True, help="Quantization-aware training (after --prune/--cluster, preserving them).")
@click.option("--epochs", type=int, default=2, show_default=True, help="Fine-tuning epochs per stage.")
@click.option("--lr", "learning_rate", type=float, help="Fine-tuning learning rate (default: the run's / 10).")
@click.option("--runs-dir", type=click.Path(file_okay=False), help="Where the new run goes (default: beside RUN).")
@click.option("--name", help="New run name (default: RUN's name plus the techniques).")
@_user_errors
def optimize(run: str, runs_dir: str | None, name: str | None, **options: Any) -> None:
    """Prune, cluster and/or quantization-aware train a run into a new run.

    The new run is an ordinary run: evaluate, predict and export it. With --qat its
    int8 TFLite export uses the quantization-aware model.

    \b
    Examples:
      kerasdl optimize runs/vision/NAME --prune 0.8 --epochs 3
      kerasdl optimize runs/vision/NAME --prune 0.5 --qat
      kerasdl optimize runs/vision/NAME --cluster 16 --qat
    """
    _quiet_tensorflow()
    _setup_logging(False)
    from kerasdl.optimization.optimize import OptimizeConfig, optimize_run

    report = optimize_run(run, OptimizeConfig(**options), runs_dir=runs_dir, name=name,
                          verbose=1 if sys.stdout.isatty() else 2)
    click.echo(report.text())


@cli.command(context_settings=CONTEXT)
@click.argument("models", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--threads", default="1,2", show_default=True, help="TFLite thread counts, comma-separated.")
@click.option("--runs", type=click.IntRange(min=10), default=200, show_default=True, help="Timed calls per model.")
@_user_errors
def benchmark(models: tuple[str, ...], threads: str, runs: int) -> None:
    """Latency (p50, p90) and throughput of models, one example per call.

    MODELS are .tflite files, SavedModel version folders or run directories (their
    Keras model), timed side by side on this machine.

    \b
    Example:
      kerasdl benchmark runs/vision/NAME saved_models/tflite/vision-1-*.tflite
    """
    _quiet_tensorflow()
    _setup_logging(False)
    from kerasdl.export.benchmark import benchmark_models

    try:
        thread_counts = [int(t) for t in threads.split(",") if t.strip()]
    except ValueError:
        raise KerasdlError(f"--threads takes integers like 1,2. Received: {threads!r}") from None
    if not thread_counts or min(thread_counts) < 1:
        raise KerasdlError(f"--threads takes positive integers like 1,2. Received: {threads!r}")
    rows = benchmark_models(list(models), thread_counts, runs=runs)
    width = max(len(r["model"]) for r in rows)
    click.echo(f"{'model':<{width}}  {'format':<11} {'threads':>7}  {'p50 ms':>8}  {'p90 ms':>8}  {'per s':>8}")
    for r in rows:
        click.echo(f"{r['model']:<{width}}  {r['format']:<11} {r['threads']:>7}  "
                   f"{r['p50_ms']:>8.3f}  {r['p90_ms']:>8.3f}  {r['per_second']:>8.0f}")
    best = min(rows, key=lambda r: r["p50_ms"])
    click.echo(f"Fastest here: {best['model']} ({best['format']}, {best['threads']} threads), "
               f"p50 {best['p50_ms']:.3f} ms")


@cli.command(context_settings=CONTEXT)
@click.argument("run", type=click.Path())
@click.argument("inputs", nargs=-1)
@click.option("--top-k", type=click.IntRange(min=1), default=3, show_default=True, help="Classes shown per input.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines.")
@click.option("--stream", is_flag=True,
              help="Slide the model's window over each long recording and print the commands "
                   "heard, with times (speech).")
@click.option("--hop", type=click.FloatRange(min=0.01), default=0.1, show_default=True,
              help="With --stream: seconds the window moves per step.")
@click.option("--smoothing", type=click.IntRange(min=1), default=3, show_default=True,
              help="With --stream: windows whose probabilities are averaged.")
@click.option("--threshold", type=click.FloatRange(0.0, 1.0), default=0.7, show_default=True,
              help="With --stream: smoothed probability a detection needs.")
@_user_errors
def predict(run: str, inputs: tuple[str, ...], top_k: int, as_json: bool, stream: bool,
            hop: float, smoothing: int, threshold: float) -> None:
    """Run a model on inputs: image files (vision), texts or text files (sentiment), WAV
    files (speech), a CSV whose last rows are the window to forecast from (forecast).

    RUN is a run directory (its best model), a kerasdl .tflite file or a SavedModel
    version folder. With no INPUTS, or `-`, inputs are read from stdin, one per line.
    With --stream (speech), each input is a long recording and every command heard in
    it is printed with its time.

    \b
    Examples:
      kerasdl predict runs/vision/20261122-101500 apps/vision/sample/examples/*.png
      kerasdl predict saved_models/tflite/vision-1-int8.tflite photo.jpg
      kerasdl predict runs/sentiment/20261122-120000 "A moving, beautifully acted film."
      cat reviews.txt | kerasdl predict saved_models/tflite/sentiment-1-int8.tflite
      kerasdl predict runs/speech/20261122-180000 apps/speech/sample/examples/seven.wav
      kerasdl predict runs/speech/20261122-180000 --stream apps/speech/sample/examples/stream-three-one-four.wav
    """
    _quiet_tensorflow()
    _setup_logging(False)
    from kerasdl import api

    if not inputs or inputs == ("-",):
        if sys.stdin.isatty():
            raise click.UsageError("Give INPUTS, or pipe them in on stdin (one per line).")
        inputs = tuple(line.rstrip("\r\n") for line in sys.stdin if line.strip())
        if not inputs:
            raise KerasdlError("Nothing to predict: stdin held no non-empty lines.")
    if stream:
        app, rows = api.stream_with_app(run, list(inputs), hop_seconds=hop, smoothing=smoothing,
                                        threshold=threshold)
        if not rows and not as_json:
            click.echo(f"No command heard above --threshold {threshold}.")
    else:
        app, rows = api.predict_with_app(run, list(inputs), top_k=top_k)
    for row in rows:
        click.echo(json.dumps(row) if as_json else app.format_prediction(row))


def main() -> None:
    cli(prog_name="kerasdl")


if __name__ == "__main__":
    main()
