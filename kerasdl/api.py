"""The library's workflows: train, evaluate and predict, each from or into a run
directory. The CLI is a thin layer over these functions.

Example:
>>> import kerasdl.api as kd
>>> from kerasdl.apps.vision.config import VisionConfig
>>> summary = kd.train("vision", VisionConfig(epochs=1))  # doctest: +SKIP
>>> summary.metrics["accuracy"]  # doctest: +SKIP
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from kerasdl import io as kio
from kerasdl.config import TrainConfig, config_from_dict, read_toml
from kerasdl.errors import DataError, KerasdlError
from kerasdl.registry import get_app
from kerasdl.runs import Run
from kerasdl.training.distribution import is_chief

logger = logging.getLogger(__name__)

EVAL_BATCH_SIZE = 256


@dataclass
class TrainSummary:
    """What `train` returns: where the run is and how it went."""

    run: Run
    model: Any
    metrics: dict[str, Any]
    history: list[dict[str, Any]]
    epochs_completed: int
    seconds: float
    examples_per_second: float
    report: str


def run_config(run: Run) -> TrainConfig:
    """The resolved config saved in a run directory."""
    app = get_app(run.meta.get("app", ""))
    return config_from_dict(app.config_class, read_toml(run.config_path))


def train(
    app_name: str,
    config: TrainConfig | None = None,
    *,
    runs_dir: str | Path = "runs",
    name: str | None = None,
    resume: bool = False,
    verbose: Any = "auto",
) -> TrainSummary:
    """Trains an app into `runs_dir/<app>/<name>`, then evaluates it on the test split.

    Args:
        app_name: a registered app, e.g. "vision".
        config: the app's config; its defaults when None. Ignored with `resume`,
            which continues with the config saved in the run.
        runs_dir: the folder that holds runs.
        name: the run's folder name (a timestamp when None); with `resume` and no
            name, the newest unfinished run of the app.
        resume: continue an interrupted run from its last finished epoch.
        verbose: Keras' progress display.

    Raises:
        KerasdlError: for bad input; the message says what to fix.
    """
    from kerasdl.evaluation.plots import plot_history
    from kerasdl.training.trainer import train_app

    app = get_app(app_name)
    scratch: str | None = None
    if resume:
        run = Run(Path(runs_dir) / app.name / name) if name else Run.latest(runs_dir, app.name, unfinished=True)
        run = Run.open(run.path)
        if run.meta.get("app") != app.name:
            raise KerasdlError(f"{run.path} is a {run.meta.get('app')} run, not {app.name}.")
        if run.meta.get("status") == "completed":
            raise KerasdlError(f"Run {run.path} already completed; nothing to resume.")
        config = run_config(run)
    else:
        config = config if config is not None else app.config_class()
        if not isinstance(config, app.config_class):
            raise KerasdlError(
                f"The {app.name} app needs a {app.config_class.__name__}, "
                f"not {type(config).__name__}."
            )
        app.model_name(config)  # fail on a bad model name before creating anything
        if not is_chief():
            # Only the chief of a multi-worker job writes the run; the others train
            # into a scratch folder that is removed afterwards.
            scratch = runs_dir = tempfile.mkdtemp(prefix="kerasdl-worker-")
        run = Run.create(runs_dir, app.name, name)
    try:
        result = train_app(app, config, run, resume=resume, verbose=verbose)
    except BaseException:
        if not resume and not run.meta_path.exists():
            # Failed before anything worth keeping was written: leave no empty folder.
            shutil.rmtree(run.path, ignore_errors=True)
        raise
    if not is_chief():
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
        return TrainSummary(run, result.model, {}, [], result.epochs_completed,
                            result.seconds, result.examples_per_second, "")
    plot_history(result.history, run.plots / "history.png")
    metrics = evaluate_run(run, app=app, config=config, data=result.data)
    metrics["training"] = {
        "epochs": result.epochs_completed,
        "seconds": round(result.seconds, 2),
        "examples_per_second": round(result.examples_per_second, 1),
    }
    kio.write_json(run.metrics_path, metrics)
    return TrainSummary(
        run=run, model=result.model, metrics=metrics, history=result.history,
        epochs_completed=result.epochs_completed, seconds=result.seconds,
        examples_per_second=result.examples_per_second,
        report=app.format_metrics(metrics),
    )


def evaluate(
    run_path: str | Path, *, split: str = "test", dataset: str | None = None
) -> tuple[dict[str, Any], str]:
    """Evaluates a run's best model on one split of its data (or of `dataset`).

    Returns:
        (metrics, a text report). The metrics are also written to the run's
        metrics.json when evaluating its own test split.
    """
    run = Run.open(run_path)
    app = get_app(run.meta.get("app", ""))
    config = run_config(run)
    if dataset is not None:
        config = replace(config, dataset=dataset)
    metrics = evaluate_run(run, app=app, config=config, split=split,
                           write_plots=dataset is None and split == "test")
    if dataset is None and split == "test":
        previous = kio.read_json(run.metrics_path) if run.metrics_path.exists() else {}
        if "training" in previous:
            metrics["training"] = previous["training"]
        kio.write_json(run.metrics_path, metrics)
    return metrics, app.format_metrics(metrics)


def evaluate_run(
    run: Run, *, app: Any, config: TrainConfig, data: Any = None, split: str = "test",
    write_plots: bool = True,
) -> dict[str, Any]:
    from kerasdl.data.pipeline import evaluation_pipeline

    if split not in ("test", "validation", "train"):
        raise KerasdlError(f"`split` must be test, validation or train. Received: {split!r}")
    info = run.meta["data"]
    data = data if data is not None else app.load_datasets(config, fitted=info)
    _check_compatible(info, data.info, app.provenance_keys)
    ds = getattr(data, split)
    used = split
    if ds is None and split == "test":
        logger.warning("The data has no test split: evaluating on the validation split.")
        ds, used = data.validation, "validation"
    model = app.load_model(run.model_path())
    metrics = app.evaluate(
        model, evaluation_pipeline(ds, EVAL_BATCH_SIZE, cache=False), info,
        plots_dir=run.plots if write_plots else None,
    )
    return {"split": used, "model": run.model_path().name, **metrics}


def _check_compatible(trained: dict[str, Any], now: dict[str, Any], provenance: Sequence[str]) -> None:
    for key in trained:
        if key in provenance or key not in now:
            continue
        if json.loads(json.dumps(trained[key])) != json.loads(json.dumps(now[key])):
            raise DataError(
                f"The data's {key.replace('_', ' ')} {now[key]} differ from the ones the "
                f"model was trained on {trained[key]}."
            )


def predict(
    model_path: str | Path, inputs: Sequence[str], *, top_k: int = 3
) -> list[dict[str, Any]]:
    """Runs a model on user inputs (image files, texts, CSV files: what the app reads).

    Args:
        model_path: a run directory (its best model), a kerasdl `.tflite` file or a
            kerasdl SavedModel version folder.
        inputs: what the app reads.
        top_k: classes listed per input (classifiers).

    Returns:
        One description per input, e.g. {"input": "cat.png", "label": "cat",
        "probability": 0.97, "top": [...]}.
    """
    return predict_with_app(model_path, inputs, top_k=top_k)[1]


def predict_with_app(
    model_path: str | Path, inputs: Sequence[str], *, top_k: int = 3
) -> tuple[Any, list[dict[str, Any]]]:
    """`predict`, also returning the model's app (whose `format_prediction` prints a row)."""
    if not inputs:
        raise KerasdlError("Nothing to predict: give at least one input.")
    app, info, model = load_any_model(model_path)
    batch = app.read_inputs(inputs, info)
    outputs = np.concatenate([
        np.asarray(model(batch[i:i + EVAL_BATCH_SIZE]))
        for i in range(0, len(batch), EVAL_BATCH_SIZE)
    ])
    described = app.describe_outputs(outputs, info, top_k=top_k)
    return app, [{"input": str(i), **d} for i, d in zip(inputs, described)]


def stream_with_app(
    model_path: str | Path, recordings: Sequence[str], **options: Any
) -> tuple[Any, list[dict[str, Any]]]:
    """The commands heard in each long recording (apps with a streaming mode: speech),
    as rows {"input", "time", "label", "score"}; `options` go to the app's `stream`."""
    if not recordings:
        raise KerasdlError("Nothing to listen to: give at least one recording.")
    app, info, model = load_any_model(model_path)
    rows = []
    for recording in recordings:
        rows += app.stream(model, recording, info, **options)
    return app, rows


def generate(
    model_path: str | Path, out: str | Path, *, count: int = 64, seed: int = 0,
    interpolate_to: int | None = None, columns: int | None = None, scale: int = 2,
) -> Path:
    """Writes a grid of images made by a generator (a dcgan run, its SavedModel or a
    .tflite file) to the PNG `out`.

    Args:
        model_path: the generator.
        out: the PNG to write.
        count: images (with `interpolate_to`: steps from one seed's point to the other's).
        seed: the noise's seed: the same seed gives the same images.
        interpolate_to: a second seed; the grid walks the latent space from `seed`'s
            first noise vector to this one's (spherical interpolation).
        columns: images per row (default: a square grid; one row for a walk).
        scale: pixels per image pixel in the PNG.
    """
    from kerasdl.evaluation.plots import image_grid, save_image
    from kerasdl_edge.tasks import latent_noise, to_pixels

    app, info, model = load_any_model(model_path)
    if "latent_dim" not in info:
        raise KerasdlError(f"{model_path} is a {app.name} model; `generate` needs a generator "
                           "(a dcgan run or its export).")
    if count < 1:
        raise KerasdlError(f"--n must be at least 1. Received: {count}")
    latent = int(info["latent_dim"])
    if interpolate_to is None:
        noise = latent_noise(count, latent, seed)
    else:
        start, end = latent_noise(1, latent, seed)[0], latent_noise(1, latent, interpolate_to)[0]
        noise = np.stack([slerp(start, end, t) for t in np.linspace(0.0, 1.0, count)]).astype(np.float32)
        columns = columns or count
    images = np.concatenate([np.asarray(model(noise[i:i + EVAL_BATCH_SIZE]))
                             for i in range(0, len(noise), EVAL_BATCH_SIZE)])
    return save_image(image_grid(to_pixels(images), columns), out, scale=scale)


def slerp(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    """Spherical interpolation: Gaussian noise lives near a sphere, and a straight line
    between two points would pass through its (unlikely) inside."""
    cos = np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b))
    angle = np.arccos(np.clip(cos, -1.0, 1.0))
    if angle < 1e-6:
        return (1 - t) * a + t * b
    return (np.sin((1 - t) * angle) * a + np.sin(t * angle) * b) / np.sin(angle)


def load_any_model(path: str | Path) -> tuple[Any, dict[str, Any], Any]:
    """(app, data info, a callable model) from a run directory, a kerasdl .tflite file
    or a kerasdl SavedModel folder."""
    from kerasdl.export.saved_model import MODEL_INPUT_ENDPOINT, is_saved_model, read_saved_model_metadata

    path = Path(path)
    if path.suffix == ".tflite":
        from kerasdl_edge import EdgeModel

        if not path.is_file():
            raise KerasdlError(f"TFLite file not found: {path}")
        try:
            edge = EdgeModel(path)
        except (ValueError, RuntimeError) as e:
            raise KerasdlError(f"Cannot load {path} as a TFLite model: {e}") from None
        meta = edge.metadata
        if not meta:
            raise KerasdlError(f"{path} has no kerasdl metadata; was it exported by kerasdl?")
        return get_app(meta["app"]), meta["info"], edge
    if path.is_dir() and is_saved_model(path):
        import tensorflow as tf

        meta = read_saved_model_metadata(path)
        if not meta:
            raise KerasdlError(f"{path} is a SavedModel without kerasdl metadata.")
        endpoint = tf.saved_model.load(str(path)).signatures[MODEL_INPUT_ENDPOINT]
        (name, _), = endpoint.structured_input_signature[1].items()

        def call(x: Any, training: bool = False) -> np.ndarray:
            return endpoint(**{name: tf.constant(x)})["outputs"].numpy()

        return get_app(meta["app"]), meta["info"], call

    run = Run.open(path)
    app = get_app(run.meta.get("app", ""))
    return app, run.meta["data"], app.load_model(run.model_path())
