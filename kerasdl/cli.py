"""The `kerasdl` command line: a thin layer over `kerasdl.api`.

Each command declares its options, makes one library call and prints what it
returns. The config comes from `kerasdl.settings`, TensorFlow is started by
`kerasdl.runtime`; library errors name settings (`learning_rate`), which
`flag_wording` writes as this command's options (--lr).

TensorFlow is imported only inside the commands that need it, so `kerasdl --help`
and `kerasdl apps` answer at once.
"""

from __future__ import annotations

import functools
import json
import logging
import re
import sys
from typing import Any, Callable

import click

from kerasdl import __version__, settings
from kerasdl.config import ADVERSARIAL_ATTACKS, OPTIMIZERS, SCHEDULES, STRATEGIES
from kerasdl.errors import KerasdlError
from kerasdl.registry import APPS, app_names
from kerasdl.runtime import start_tensorflow, tensorflow_op_error

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}

_verbose_native_log = False  # the group's -v, for the command that starts TensorFlow


def _start_tensorflow() -> None:
    start_tensorflow(verbose=_verbose_native_log)


def _user_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turns kerasdl's errors (and TensorFlow data errors) into one line and exit 1."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except KerasdlError as e:
            raise click.ClickException(flag_wording(str(e))) from None
        except Exception as e:
            from kerasdl_edge.errors import EdgeError

            # The edge runtime's errors (a damaged .tflite, an unreadable input) are one
            # line too, wherever they escape kerasdl's wrapping.
            if isinstance(e, EdgeError):
                raise click.ClickException(str(e)) from None
            op_error = tensorflow_op_error(e)
            if op_error is None:
                raise
            raise click.ClickException(op_error) from None

    return wrapper


# The library names settings as they are called in Python: `learning_rate`,
# `image_size=N`. On the command line they are options: --lr, --set image_size=N.
_SETTING = re.compile(r"`([a-z][a-z0-9_]*)(?:=([^`]*))?`")


def flag_wording(message: str) -> str:
    """`message` with each backticked setting written as the current command's option
    (`learning_rate=0.01` -> --lr 0.01, `objective` -> --objective) or, for a value of
    another config field of a command that takes --set, as --set NAME=VALUE."""
    ctx = click.get_current_context(silent=True)
    if ctx is None:
        return message
    options: dict[str, str] = {}
    for param in ctx.command.params:
        if isinstance(param, click.Option) and param.name:
            flag = max(param.opts, key=len)
            # By the Python name (`learning_rate`) and the flag's own (--vary: `vary`).
            options[param.name] = options[flag.lstrip("-").replace("-", "_")] = flag

    def option(match: re.Match[str]) -> str:
        name, value = match.group(1), match.group(2)
        if name in options and name != "sets":
            return options[name] if value is None else f"{options[name]} {value}"
        if "sets" in options and value is not None and name in settings.config_field_names():
            return f"--set {name}={value}"
        return match.group(0)

    return _SETTING.sub(option, message)


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
@click.option("-v", "--verbose", is_flag=True,
              help="Show TensorFlow's native start-up log (CUDA probing, CPU notes), hidden otherwise.")
def cli(verbose: bool) -> None:
    """kerasdl: from data to a deployed Keras model.

    \b
    Examples:
      kerasdl apps
      kerasdl train vision                      # the bundled Fashion-MNIST sample
      kerasdl train vision --dataset photos/ --set image_size=96 --model mobilenet
      kerasdl evaluate runs/vision/<name>
      kerasdl predict runs/vision/<name> apps/vision/sample/examples/*.png
    """
    global _verbose_native_log
    _verbose_native_log = verbose


@cli.command(context_settings=CONTEXT)
def apps() -> None:
    """List the apps and their models."""
    from kerasdl.registry import get_app

    listed = [(name, get_app(name)) for name in app_names()]
    # Columns as wide as the longest name (over all apps, so they line up) plus one
    # blank: a fixed width ran long model names into their descriptions.
    name_width = max(len(name) for name, _ in listed)
    model_width = max(len(model) for _, app in listed for model in [*app.models, "auto"])
    for name, app in listed:
        click.echo(f"{name:<{name_width}} {APPS[name].description}")
        for model, text in app.models.items():
            click.echo(f"  --model {model:<{model_width}} {text}")
        if app.auto_recipes:
            click.echo(f"  --model {'auto':<{model_width}} Trains {', '.join(app.auto_recipes)} in turn; keeps the "
                       "best on the validation split.")
        if app.baseline_models:
            click.echo(f"  {'(no --model)':<{model_width + 8}} Trains {app.default_model} (or a preset's model), then "
                       f"the baseline models {', '.join(app.baseline_models)}; ships it unless one is better on "
                       "validation.")


@cli.command(context_settings=CONTEXT)
def backbones() -> None:
    """List the pretrained backbones and whether their weights are cached here."""
    from kerasdl.backbones.image import IMAGE_BACKBONES
    from kerasdl.backbones.weights import cache_dir, cached_file

    width = max(len(name) for name in IMAGE_BACKBONES)
    click.echo(f"Image backbones (vision --backbone NAME); weights cache: {cache_dir()}")
    for name, spec in IMAGE_BACKBONES.items():
        cached = "cached" if cached_file(spec.weights) else "not cached"
        click.echo(f"  {name:<{width}} [{cached}] {spec.description}")
    click.echo("  hub:PRESET or a folder: a keras-hub image preset (kerasdl fetch-weights hub:PRESET --out DIR).")
    from kerasdl.backbones.text import TEXT_PRESETS

    width = max(len(name) for name in TEXT_PRESETS)
    click.echo("Text encoders (sentiment --backbone hub:PRESET, hf://keras/PRESET from the Hugging Face Hub or the "
               "mirror HF_ENDPOINT names, or a preset folder; kerasdl fetch-weights hub:PRESET --out DIR saves one "
               "for a machine offline):")
    for name, description in TEXT_PRESETS.items():
        click.echo(f"  hub:{name:<{width}} {description}")
    from kerasdl.backbones.audio import AUDIO_BACKBONES

    click.echo("Audio backbones (speech --backbone NAME):")
    for name, audio in AUDIO_BACKBONES.items():
        cached = "cached" if cached_file(audio.weights) else "not cached"
        click.echo(f"  {name} [{cached}] {audio.description}")


@cli.command("fetch-weights", context_settings=CONTEXT)
@click.argument("names", nargs=-1, required=True)
@click.option("--out", "out_dir", type=click.Path(file_okay=False),
              help="Where the files go (default: the Keras cache, where training looks for them).")
@_user_errors
def fetch_weights(names: tuple[str, ...], out_dir: str | None) -> None:
    """Download pretrained weights and check their hashes.

    On a machine with internet access, for one without: copy the files into the other
    machine's Keras cache ($KERAS_HOME/models, ~/.keras/models by default) or pass one
    with --weights PATH. A keras-hub preset (hub:NAME, or hf://ORG/NAME from the Hugging
    Face Hub or the mirror HF_ENDPOINT names) is saved as a folder under --out (default
    presets/), to train with --backbone FOLDER.

    \b
    Example:
      kerasdl fetch-weights mobilenet_v3_small efficientnet_b0 --out weights/
      kerasdl fetch-weights hub:resnet_18_imagenet --out presets/
      kerasdl fetch-weights hub:bert_tiny_en_uncased --out presets/
      kerasdl fetch-weights hf://keras/bert_base_zh --out presets/
      kerasdl fetch-weights yamnet
    """
    from pathlib import Path

    from kerasdl.backbones import published_weights
    from kerasdl.backbones.hub import fetch_hub_preset, is_named_preset
    from kerasdl.backbones.weights import fetch_weights as fetch

    presets = [name for name in names if is_named_preset(name)]
    specs = [published_weights(name) for name in names if not is_named_preset(name)]  # all checked first
    for spec, path in zip(specs, fetch(specs, Path(out_dir) if out_dir else None)):
        click.echo(f"{spec.name}: {path} ({spec.hash_algorithm} {spec.file_hash} checked)")
    for preset in presets:
        folder = fetch_hub_preset(preset, Path(out_dir or "presets"))
        click.echo(f"{preset}: {folder} (train with --backbone {folder})")


def _config_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """The options that make a config, shared by `train` and `tune`."""
    for option in reversed([
        click.option("--dataset", help="A tfds name, a folder or a file (see the app's README). Default: the app's bundled sample."),
        click.option("--model", help="Model family (see `kerasdl apps`), or auto: the app's candidate recipes trained in turn, the best on the validation split kept. Without it, the app's default model and its classic baseline models are trained and the default is shipped unless a baseline model is better on validation."),
        click.option("--epochs", type=int, help="Passes over the training data."),
        click.option("--batch-size", type=int, help="Examples per step."),
        click.option("--optimizer", type=click.Choice(OPTIMIZERS), help="Optimizer."),
        click.option("--lr", "learning_rate", type=float, help="Peak learning rate."),
        click.option("--schedule", type=click.Choice(SCHEDULES), help="Learning-rate schedule."),
        click.option("--weight-decay", type=float, help="Decoupled weight decay (0 = off)."),
        click.option("--clip-norm", type=float, help="Clip each step's gradients to this global norm (0 = off)."),
        click.option("--activation", help="Hidden layers' activation (vision, speech): relu, relu6, gelu, swish, tanh, sigmoid, leaky_relu, elu; auto = each model's own."),
        click.option("--norm", help="Normalization after each convolution or hidden layer (vision, speech): batch, layer, none; auto = each model's own."),
        click.option("--init-from", help="Start from this finished run's weights (same app; the matching layers, not the output layer) and preprocessing: transfer learning."),
        click.option("--freeze", help="With --init-from: 'backbone' (every copied layer: all but the output layer) or layer-name prefixes, comma-separated, kept fixed while the rest trains. With --backbone: 'backbone' keeps the pretrained backbone frozen (features only)."),
        click.option("--backbone", help="Start from a pretrained backbone (vision: mobilenet_v3_small, mobilenet_v3_large, efficientnet_b0, efficientnet_v2_b0, hub:PRESET or a keras-hub preset folder; sentiment: a keras-hub BERT-family preset, hub:bert_tiny_en_uncased, hub:bert_base_zh ... or a preset folder; speech: yamnet; `kerasdl backbones` lists them): a new head learns on it and it is fine-tuned (sentiment: every layer at 3e-5 with warm-up, 3 epochs)."),
        click.option("--weights", help="With --backbone: imagenet (the published weights: the Keras cache, else a checked download, or a keras-hub preset's own; the default), none (random) or a weights file's path."),
        click.option("--fine-tune-layers", type=int, help="With --backbone: the backbone's top layers trained after the head's epochs (--set head_epochs=N, default half); 0 = none, -1 = all; batch norm stays frozen."),
        click.option("--histograms", is_flag=True, default=None, help="Write weight and gradient histograms and gradient norms to TensorBoard each epoch (slower)."),
        click.option("--teacher", help="Classifiers: a finished run to distil from (knowledge distillation); see --set distill_temperature, distill_weight."),
        click.option("--adversarial", type=click.Choice(["none", *ADVERSARIAL_ATTACKS]), help="Image classifiers: adversarial training, on examples made at every step by FGSM (one step) or PGD (--set adversarial_steps=N); see --epsilon."),
        click.option("--epsilon", type=float, help="With --adversarial: how far each pixel (0-1) may move, e.g. 0.031 (8/255)."),
        click.option("--l1", type=float, help="L1 penalty on the weight matrices, added to the loss (0 = off)."),
        click.option("--l2", type=float, help="L2 penalty on the weight matrices, added to the loss (0 = off); unlike --weight-decay, Adam rescales it."),
        click.option("--dropout", type=float, help="Dropout rate before the head."),
        click.option("--label-smoothing", type=float, help="Label smoothing (classification apps)."),
        click.option("--early-stopping", type=int, metavar="PATIENCE", help="Stop after PATIENCE epochs without improvement."),
        click.option("--augment/--no-augment", default=None, help="Data augmentation on the training split."),
        click.option("--seed", type=int, help="Random seed (weights, shuffling, splits)."),
        click.option("--strategy", type=click.Choice(STRATEGIES), help="tf.distribute strategy; multiworker reads TF_CONFIG."),
        click.option("--mixed-precision/--no-mixed-precision", default=None, help="float16 compute (GPU/TPU)."),
        click.option("--preset", help="A named set of values, e.g. tiny or fashion-mnist (vision)."),
        click.option("--config", "config_file", type=click.Path(dir_okay=False), help="TOML file of config values."),
        click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", help="Any config field, e.g. --set image_size=64."),
    ]):
        func = option(func)
    return func


@cli.command(context_settings=CONTEXT)
@click.argument("app", type=AppType())
@_config_options
@click.option("--runs-dir", default="runs", show_default=True, type=click.Path(file_okay=False), help="Where runs are written.")
@click.option("--name", help="Run folder name (default: a timestamp).")
@click.option("--resume", is_flag=True, help="Continue an interrupted run (--name, or the newest unfinished one).")
@click.option("--time-budget", help="With --model auto: no new candidate starts after this long, e.g. 20m, 1h (the first always trains).")
@click.option("--baseline/--no-baseline", default=True, show_default=True, help="Also fit the app's classic baselines (logistic regression, ridge, repeat-last...) on the same training split and show them beside the model.")
@_user_errors
def train(app: str, preset: str | None, config_file: str | None, sets: tuple[str, ...],
          runs_dir: str, name: str | None, resume: bool, time_budget: str | None, baseline: bool,
          **options: Any) -> None:
    """Train an app's model and evaluate it.

    Values are taken from the app's defaults, then --preset, then --config, then
    --set and the other options.

    \b
    Examples:
      kerasdl train vision
      kerasdl train vision --model resnet --optimizer nesterov --lr 0.05 --schedule one-cycle
      kerasdl train vision --dataset fashion_mnist --preset fashion-mnist
      kerasdl train vision --dataset photos/ --backbone mobilenet_v3_small
      kerasdl train vision --name try1 --resume
      kerasdl train sentiment --model transformer --epochs 3
      kerasdl train sentiment --dataset reviews.csv --backbone hub:bert_tiny_en_uncased
      kerasdl train forecast --dataset ETTh1.csv --preset etth1
    """
    _start_tensorflow()
    _setup_logging(False)
    from kerasdl import api

    given = dict(preset=preset, config_file=config_file, sets=sets, overrides=options)
    if resume:
        settings.check_resume("the run's saved config", **given)
        config = None
    else:
        config = settings.resolve_app_config(app, **given)
    verbose = 1 if sys.stdout.isatty() else 2
    budget = None
    if time_budget:
        from kerasdl.tuning.search import parse_duration

        budget = parse_duration(time_budget)
    try:
        # No model named (by --model, --set or the config file): the default model or the
        # preset's, and the app's baseline models beside it, the better on validation shipped.
        default_run = not resume and settings.runs_default_model(app, config, options, sets=sets, preset=preset,
                                                                 config_file=config_file)
        summary = api.train(app, config, runs_dir=runs_dir, name=name, resume=resume, verbose=verbose,
                            baselines=baseline, time_budget=budget, baseline_models=default_run)
    except KeyboardInterrupt:
        click.echo("\nInterrupted. Continue later with: kerasdl train "
                   f"{app} --runs-dir {runs_dir}{' --name ' + name if name else ''} --resume", err=True)
        sys.exit(130)
    if not summary.metrics:
        return
    click.echo(summary.report)
    epochs = summary.epochs_completed
    click.echo(f"Trained {epochs} epoch{'' if epochs == 1 else 's'} in {summary.seconds:.1f} s "
               f"({summary.examples_per_second:.0f} examples/s).")
    click.echo(f"Run saved to {summary.run.path}")


@cli.command(context_settings=CONTEXT)
@click.argument("run", type=click.Path())
@click.argument("images", nargs=-1, required=True)
@click.option("--out", "out_dir", help="Where the PNG files go (default: RUN/explain).", type=click.Path(file_okay=False))
@_user_errors
def explain(run: str, images: tuple[str, ...], out_dir: str | None) -> None:
    """Show where an image classifier looks: a Grad-CAM heat map over each image, the
    first layer's activation maps for each image, and the filters of its first
    convolution.

    \b
    Example:
      kerasdl explain runs/vision/<name> apps/vision/sample/examples/*.png
    """
    _start_tensorflow()
    _setup_logging(False)
    from kerasdl import api

    written = api.explain(run, images, out_dir=out_dir or None)
    for path in written.grad_cam:
        click.echo(f"Grad-CAM: {path}")
    for path in written.activations:
        click.echo(f"First-layer activations: {path}")
    click.echo(f"First-layer filters: {written.filters}")


@cli.command("lr-find", context_settings=CONTEXT)
@click.argument("app", type=AppType())
@_config_options
@click.option("--start", type=float, default=1e-7, show_default=True, help="First learning rate.")
@click.option("--end", type=float, default=10.0, show_default=True, help="Last learning rate.")
@click.option("--steps", type=int, default=200, show_default=True, help="Training steps of the sweep.")
@click.option("--out", "out_dir", default="runs/lr_find", show_default=True, type=click.Path(file_okay=False),
              help="Where APP/lr_find.png (the plot) and APP/lr_find.json (the numbers) go.")
@_user_errors
def lr_find(app: str, preset: str | None, config_file: str | None, sets: tuple[str, ...], start: float,
            end: float, steps: int, out_dir: str, **options: Any) -> None:
    """Learning-rate range test: train briefly while the rate grows from --start to
    --end, plot the loss against it, and suggest a peak learning rate.

    \b
    Examples:
      kerasdl lr-find vision --optimizer adam
      kerasdl lr-find sentiment --model cnn --config my.toml --steps 300
    """
    _start_tensorflow()
    _setup_logging(False)
    from kerasdl import api

    config = settings.resolve_app_config(app, preset=preset, config_file=config_file, sets=sets,
                                         overrides=options)
    result = api.lr_find(app, config, start=start, end=end, steps=steps, out_dir=out_dir)
    click.echo(f"{len(result.rates)} steps from {result.rates[0]:.2g} to {result.rates[-1]:.2g}.")
    click.echo(f"Suggested peak learning rate: {result.suggestions['steepest']:.2g} (steepest descent of the "
               f"loss); {result.suggestions['lowest_loss']:.2g} (a tenth of the lowest loss's rate).")
    click.echo(f"Plot: {result.plot}")


@cli.command(context_settings=CONTEXT)
@click.argument("run", type=click.Path())
@click.option("--split", type=click.Choice(["test", "validation", "train"]), default="test", show_default=True)
@click.option("--dataset", help="Evaluate on another data set of the same kind (same classes or columns).")
@click.option("--json", "as_json", is_flag=True, help="Print the metrics as JSON.")
@click.option("--epsilon", type=click.FloatRange(0.0, 1.0, min_open=True), help="Image classifiers: also the accuracy under FGSM and PGD attacks that move each pixel (0-1) by at most this, e.g. 0.031 (8/255).")
@click.option("--attack-steps", type=click.IntRange(1), default=10, show_default=True, help="With --epsilon: PGD's steps.")
@_user_errors
def evaluate(run: str, split: str, dataset: str | None, as_json: bool, epsilon: float | None,
             attack_steps: int) -> None:
    """Evaluate a run's best model (writes metrics.json for its test split).

    \b
    Example:
      kerasdl evaluate runs/vision/20261122-101500
      kerasdl evaluate runs/vision/20261122-101500 --epsilon 0.031
    """
    _start_tensorflow()
    _setup_logging(False)
    from kerasdl import api

    metrics, report = api.evaluate(run, split=split, dataset=dataset, epsilon=epsilon, attack_steps=attack_steps)
    click.echo(json.dumps(metrics, indent=2) if as_json else report)


@cli.command(context_settings=CONTEXT)
@click.argument("run", type=click.Path())
@click.option("--format", "formats", type=click.Choice(["saved_model", "tflite", "all"]), default="all", show_default=True)
@click.option("--quantize", type=click.Choice(["float32", "dynamic", "float16", "int8", "all"]), default="all", show_default=True, help="TFLite variants.")
@click.option("--name", help="Served model name (default: the app's name). The next version of a name must keep its labels and serving inputs; a run trained on other data needs a new name.")
@click.option("--out", "out_dir", default="saved_models", show_default=True, type=click.Path(file_okay=False), help="Export root.")
@click.option("--check/--no-check", default=True, show_default=True, help="Evaluate every variant against Keras on the test split.")
@click.option("--litert", "litert_recipes", multiple=True, type=click.Choice(["static_wi8_ai8", "static_wi8_ai16", "weight_only_wi8_afp32", "weight_only_wi4_afp32", "dynamic_wi8_afp32", "all"]), help="Also quantize the float32 file with LiteRT Quantizer, the converter's maintained successor (repeatable; 'all': every recipe), as variants litert-RECIPE.")
@click.option("--native-input", is_flag=True, help="TFLite files take the model's own input (grey images, int16 PCM) instead of what MediaPipe Tasks hand it (RGB frames, float32 waveforms).")
@click.option("--author", default="", help="Author in the TFLite standard metadata (default: kerasdl).")
@click.option("--license", "license_", default="", help="The model's licence in the TFLite standard metadata, e.g. 'CC-BY-4.0' (default: a note that it follows the training data's).")
@_user_errors
def export(run: str, formats: str, quantize: str, name: str | None, out_dir: str, check: bool,
           litert_recipes: tuple[str, ...], native_input: bool, author: str, license_: str) -> None:
    """Export a run as a SavedModel (TF Serving) and TFLite files.

    The SavedModel lands in OUT/NAME/VERSION with a `serving_default` signature that
    takes what a client has (encoded image bytes for vision); TFLite files land in
    OUT/tflite/NAME-VERSION-QUANTIZATION.tflite with labels and preprocessing inside,
    in kerasdl's metadata and in the standard TFLite metadata that MediaPipe Tasks and
    Android Studio read. The table says which MediaPipe task runs each file, and marks
    with '!' a file that scores worse than Keras beyond its precision's tolerance.
    An export whose labels or serving inputs differ from the newest version of its
    name is refused: TF Serving would swap it in for that model's clients.

    \b
    Examples:
      kerasdl export runs/vision/20261122-101500
      kerasdl export runs/vision/20261122-101500 --format tflite --quantize int8
      kerasdl export runs/vision/20261122-101500 --format tflite --litert all
      kerasdl export runs/vision/20261204-090000 --name digits
    """
    _start_tensorflow()
    _setup_logging(False)
    from kerasdl.export.exporter import FORMATS, export_run
    from kerasdl.export.quantizer import QUANTIZER_RECIPES
    from kerasdl.export.tflite import QUANTIZATIONS

    report = export_run(
        run,
        formats=FORMATS if formats == "all" else (formats,),
        quantizations=QUANTIZATIONS if quantize == "all" else (quantize,),
        out_dir=out_dir, name=name, check=check, task_ready=not native_input,
        author=author, license=license_,
        litert_recipes=tuple(QUANTIZER_RECIPES) if "all" in litert_recipes else litert_recipes,
    )
    if report.saved_model:
        click.echo(f"SavedModel: {report.saved_model}")
    for q, path in report.tflite.items():
        click.echo(f"TFLite {q}: {path}")
    if report.rows:
        click.echo(report.table())
    for note in dict.fromkeys(report.task_notes.values()):
        click.echo(f"No MediaPipe task: {note}.")
    if report.model_card:
        click.echo(f"Model card: {report.model_card}")
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
    _start_tensorflow()
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
    _start_tensorflow()
    _setup_logging(False)
    from kerasdl.export.benchmark import benchmark_models, benchmark_table, parse_thread_counts

    click.echo(benchmark_table(benchmark_models(list(models), parse_thread_counts(threads), runs=runs)))


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
@click.option("--server", metavar="URL",
              help="Ask a TF Serving REST server (kerasdl serve or TF Serving) instead: RUN is "
                   "then the served model's name.")
@click.option("--app", "app_name", type=AppType(), help="With --server: the app that made the model "
              "(default: the model's name).")
@click.option("--version", "model_version", type=click.IntRange(min=1),
              help="With --server: a specific version (default: the newest served).")
@_user_errors
def predict(run: str, inputs: tuple[str, ...], top_k: int, as_json: bool, stream: bool,
            hop: float, smoothing: int, threshold: float, server: str | None, app_name: str | None,
            model_version: int | None) -> None:
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
      kerasdl predict --server http://localhost:8501 vision apps/vision/sample/examples/*.png
    """
    if not inputs or inputs == ("-",):
        if sys.stdin.isatty():
            raise click.UsageError("Give INPUTS, or pipe them in on stdin (one per line).")
        inputs = tuple(line.rstrip("\r\n") for line in sys.stdin if line.strip())
        if not inputs:
            raise KerasdlError("Nothing to predict: stdin held no non-empty lines.")
    if server is not None:
        if stream:
            raise click.UsageError("--stream runs on a local model, not with --server.")
        from kerasdl.serving.client import predict_remote

        codec, rows = predict_remote(server, run, list(inputs), app_name=app_name, version=model_version)
        for row in rows:
            click.echo(json.dumps(row) if as_json else codec.format(row))
        return
    if app_name or model_version:
        raise click.UsageError("--app and --version go with --server.")
    _start_tensorflow()
    _setup_logging(False)
    from kerasdl import api

    if stream:
        codec, rows = api.stream_with_codec(run, list(inputs), hop_seconds=hop, smoothing=smoothing,
                                            threshold=threshold)
        if not rows and not as_json:
            click.echo(f"No command heard above --threshold {threshold}.")
    else:
        codec, rows = api.predict_with_codec(run, list(inputs), top_k=top_k)
    for row in rows:
        click.echo(json.dumps(row) if as_json else codec.format(row))


@cli.command(context_settings=CONTEXT)
@click.argument("run", type=click.Path())
@click.option("--n", "count", type=click.IntRange(min=1), default=64, show_default=True,
              help="Images (with --interpolate: steps of the walk).")
@click.option("--seed", type=int, default=0, show_default=True, help="Noise seed: the same seed, the same images.")
@click.option("--interpolate", "interpolate_to", type=int, default=None,
              help="A second seed: walk the latent space from --seed's point to this one's.")
@click.option("--columns", type=click.IntRange(min=1), default=None, help="Images per row.")
@click.option("--scale", type=click.IntRange(1, 16), default=2, show_default=True,
              help="PNG pixels per image pixel.")
@click.option("--out", type=click.Path(dir_okay=False), default="generated.png", show_default=True,
              help="The PNG grid to write.")
@_user_errors
def generate(run: str, count: int, seed: int, interpolate_to: int | None, columns: int | None,
             scale: int, out: str) -> None:
    """Make images with a generator: a dcgan run, its SavedModel or a .tflite file.

    \b
    Examples:
      kerasdl generate runs/dcgan/20261122-190000 --n 64 --seed 7 --out grid.png
      kerasdl generate runs/dcgan/20261122-190000 --seed 1 --interpolate 2 --n 10 --out walk.png
      kerasdl generate saved_models/tflite/dcgan-1-int8.tflite --out int8.png
    """
    _start_tensorflow()
    _setup_logging(False)
    from kerasdl import api

    path = api.generate(run, out, count=count, seed=seed, interpolate_to=interpolate_to,
                        columns=columns, scale=scale)
    click.echo(f"Wrote {path}")


@cli.command(context_settings=CONTEXT)
@click.argument("app", type=AppType())
@click.option("--tuner", type=click.Choice(["random", "bayesian", "hyperband"]), default="random",
              show_default=True, help="Random search, Bayesian optimization (Gaussian process) or Hyperband.")
@click.option("--max-trials", type=click.IntRange(min=1), default=10, show_default=True,
              help="Trials in all (a resumed search counts those done).")
@click.option("--objective", help="Metric to optimize, NAME or NAME:min|max (default: the app's "
              "checkpoint metric, e.g. val_accuracy).")
@click.option("--time-budget", help="Start no trial after this long, e.g. 90s, 30m, 2h.")
@click.option("--fix", "fixed", multiple=True, metavar="NAME",
              help="Hold this hyperparameter at the config's value (repeatable), e.g. --fix model.")
@click.option("--retrain/--no-retrain", default=True, show_default=True,
              help="Train the best config again as an ordinary run.")
@_config_options
@click.option("--tune-dir", default="runs/tune", show_default=True, type=click.Path(file_okay=False),
              help="Where searches are kept.")
@click.option("--runs-dir", default="runs", show_default=True, type=click.Path(file_okay=False),
              help="Where the best config's run is written.")
@click.option("--name", help="Search folder name (default: a timestamp).")
@click.option("--resume", is_flag=True, help="Continue an interrupted search (--name, or the newest).")
@click.option("-v", "--verbose", is_flag=True, help="Show each trial's epochs.")
@_user_errors
def tune(app: str, tuner: str, max_trials: int, objective: str | None, time_budget: str | None,
         fixed: tuple[str, ...], retrain: bool, preset: str | None, config_file: str | None, sets: tuple[str, ...],
         tune_dir: str, runs_dir: str, name: str | None, resume: bool, verbose: bool,
         **options: Any) -> None:
    """Search an app's hyperparameters with Keras Tuner, then train the best.

    The app's search space (model family, width, dropout, learning rate, optimizer,
    schedule, batch size ...) is searched around the config the other options make;
    each trial trains for --epochs (Hyperband: at most --epochs). The trials, sorted
    by the objective, go to trials.csv; the best config to best.toml, which
    `kerasdl train APP --config` accepts.

    Distributed: run the same command on every machine with KERASTUNER_ORACLE_IP and
    KERASTUNER_ORACLE_PORT set to the chief's address, KERASTUNER_TUNER_ID=chief on the
    chief (it hands out trials) and tuner0, tuner1 ... on the workers (they run them).

    \b
    Examples:
      kerasdl tune vision --max-trials 20 --epochs 5
      kerasdl tune vision --tuner hyperband --epochs 9 --time-budget 1h
      kerasdl tune sentiment --tuner bayesian --objective val_loss --max-trials 15
      kerasdl tune vision --model cnn --fix model --fix width --max-trials 8
      kerasdl tune vision --name search1 --resume
    """
    _start_tensorflow()
    _setup_logging(False)
    from kerasdl.tuning.search import parse_duration, tune as run_search

    given = dict(preset=preset, config_file=config_file, sets=sets, overrides=options)
    if resume:
        settings.check_resume("the search's saved config and space", **given, also={"fix": fixed})
        config = None
    else:
        config = settings.resolve_app_config(app, **given)
    result = run_search(
        app, config, tuner=tuner, max_trials=max_trials, objective=objective,
        time_budget=parse_duration(time_budget) if time_budget else None, tune_dir=tune_dir,
        name=name, resume=resume, retrain=retrain, runs_dir=runs_dir, fixed=fixed,
        verbose=2 if verbose else 0,
    )
    if result.role == "worker":
        click.echo("This worker's trials are done; the chief writes the results.")
        return
    click.echo(result.table())
    click.echo(f"\nBest {result.objective} ({result.direction}): {result.trials[0]['score']:.4g}")
    click.echo(f"Trials: {result.trials_csv}")
    click.echo(f"Best config: {result.best_config_path} (kerasdl train {app} --config {result.best_config_path})")
    if result.best_run is not None:
        click.echo(result.best_run.report)
        click.echo(f"Best config trained again: {result.best_run.run.path}")


@cli.command(context_settings=CONTEXT)
@click.argument("app", type=AppType())
@click.option("--vary", "varied", multiple=True, metavar="FIELD=V1,V2",
              help="A config field and the values to compare (repeatable: every combination "
                   "runs). Separate values with ';' when they hold commas.")
@_config_options
@click.option("--int8/--no-int8", default=True, show_default=True,
              help="Export each variant to int8 TFLite and show its size.")
@click.option("--compare-dir", default="runs/compare", show_default=True,
              type=click.Path(file_okay=False), help="Where comparisons are kept.")
@click.option("--runs-dir", default="runs", show_default=True, type=click.Path(file_okay=False),
              help="Where the variants' runs are written.")
@click.option("--name", help="Comparison name (default: a timestamp); runs are NAME--FIELD-VALUE.")
@click.option("--resume", is_flag=True,
              help="Continue an interrupted comparison (--name, or the newest); finished runs are kept.")
@click.option("-v", "--verbose", is_flag=True, help="Show each run's epochs.")
@click.option("--seeds", type=click.IntRange(1, 16), default=1, show_default=True,
              help="Train every variant with this many seeds (--seed, --seed + 1, ...): the table shows mean ± std and marks differences within the noise.")
@_user_errors
def compare(app: str, varied: tuple[str, ...], int8: bool, preset: str | None,
            config_file: str | None, sets: tuple[str, ...], compare_dir: str, runs_dir: str,
            name: str | None, resume: bool, verbose: bool, seeds: int, **options: Any) -> None:
    """Train variants of one config side by side and compare them.

    Every variant has the same data, seed and epochs; only the --vary fields differ.
    Prints one table (test metric, best validation value, parameters, epochs,
    training time, int8 TFLite size) and writes it with a plot of the training
    curves overlaid. Each variant is an ordinary run: evaluate, export it.

    \b
    Examples:
      kerasdl compare vision --vary model=mlp,lenet,cnn --epochs 3
      kerasdl compare vision --vary optimizer=sgd,momentum,adam,adamw --lr 0.003
      kerasdl compare sentiment --vary model=bag,cnn,transformer --epochs 2
      kerasdl compare speech --vary features=log-mel,mfcc --vary model=cnn,ds-cnn
      kerasdl compare vision --vary dropout=0,0.3 --vary augment=off,on
      kerasdl compare vision --vary label_smoothing=0,0.1 --seeds 3
      kerasdl compare vision --name study1 --resume
    """
    _start_tensorflow()
    _setup_logging(False)
    from kerasdl.comparison import compare as run_comparison, parse_vary
    from kerasdl.registry import get_app

    given = dict(preset=preset, config_file=config_file, sets=sets, overrides=options)
    if resume:
        settings.check_resume("the comparison's saved config and variants", **given, also={"vary": varied})
        config, parsed = None, []
    else:
        if not varied:
            raise click.UsageError("Missing option '--vary' (e.g. --vary model=cnn,resnet).")
        parsed = [parse_vary(get_app(app).config_class, spec) for spec in varied]
        settings.check_not_varied([field for field, _ in parsed], sets=sets, overrides=options)
        config = settings.resolve_app_config(app, **given)
    try:
        result = run_comparison(app, config, parsed, compare_dir=compare_dir, runs_dir=runs_dir,
                                name=name, resume=resume, int8=int8, verbose=2 if verbose else 0,
                                seeds=seeds)
    except KeyboardInterrupt:
        where = f" --name {name}" if name else ""
        click.echo(f"\nInterrupted. Continue later with: kerasdl compare {app} --compare-dir "
                   f"{compare_dir} --runs-dir {runs_dir}{where} --resume", err=True)
        sys.exit(130)
    click.echo(result.table())
    click.echo(f"\nTable: {result.table_path}")
    click.echo(f"Curves: {result.curves_path}")
    click.echo(f"Runs: {result.runs_dir / app / result.folder.name}--*")


@cli.command(context_settings=CONTEXT)
@click.argument("models_dir", default="saved_models", type=click.Path())
@click.option("--port", type=click.IntRange(0, 65535), default=8501, show_default=True,
              help="TF Serving's REST port by default (0: any free port).")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (0.0.0.0: every interface).")
@click.option("--poll-seconds", type=click.FloatRange(min=0.1), default=2.0, show_default=True,
              help="How often MODELS_DIR is checked for new versions.")
@click.option("-v", "--verbose", is_flag=True, help="Log every request.")
@_user_errors
def serve(models_dir: str, port: int, host: str, poll_seconds: float, verbose: bool) -> None:
    """Serve the SavedModels in MODELS_DIR over TF Serving's REST API.

    Each model (MODELS_DIR/NAME/VERSION, as `kerasdl export` writes) is served at its
    newest version; a newer one is loaded and swapped in without a restart. The same
    requests work against TF Serving itself (see the README):

    \b
      GET  /v1/models/NAME                   version status
      GET  /v1/models/NAME/metadata          signatures, inputs and outputs
      POST /v1/models/NAME[/versions/N]:predict
           {"instances": [{"b64": "..."}]}   or {"inputs": ...}, "signature_name"

    \b
    Examples:
      kerasdl serve saved_models --port 8501
      curl -d '{"instances": ["A moving, beautifully acted film."]}' \\
           localhost:8501/v1/models/sentiment:predict
      kerasdl predict --server localhost:8501 vision apps/vision/sample/examples/*.png
    """
    _start_tensorflow()
    _setup_logging(verbose)
    from kerasdl.serving.server import ServerOptions, start_server

    server = start_server(models_dir, ServerOptions(host=host, port=port, poll_seconds=poll_seconds))
    for name in server.repository.names():
        click.echo(f"{name} version {server.repository.get(name).version}: "
                   f"{server.url}/v1/models/{name}")
    click.echo("Ctrl-C stops.")
    try:
        server.serve()
    except KeyboardInterrupt:
        click.echo("Stopped.")


def main() -> None:
    cli(prog_name="kerasdl")


if __name__ == "__main__":
    main()
