"""The library's workflows: train, evaluate and predict, each from or into a run
directory. The CLI is a thin layer over these functions.

Example:
>>> import kerasdl.api as kd
>>> from kerasdl.apps.vision.config import VisionConfig
>>> summary = kd.train("vision", VisionConfig(epochs=1))  # doctest: +SKIP
>>> summary.metrics["accuracy"]  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Sequence

from kerasdl import io as kio
from kerasdl.errors import DataError, KerasdlError
from kerasdl.loading import load_any_model, open_run, run_config
from kerasdl.training.evaluation import evaluate_run
from kerasdl.training.trainer import TrainSummary, train_run as train

__all__ = ["TrainSummary", "evaluate", "evaluate_run", "generate", "load_any_model", "predict",
           "predict_with_codec", "run_config", "stream_with_codec", "train"]

if TYPE_CHECKING:
    from kerasdl_edge.codecs import Codec

logger = logging.getLogger(__name__)


def evaluate(
    run_path: str | Path, *, split: str = "test", dataset: str | None = None
) -> tuple[dict[str, Any], str]:
    """Evaluates a run's best model on one split of its data (or of `dataset`).

    Returns:
        (metrics, a text report). The metrics are also written to the run's
        metrics.json when evaluating its own test split.
    """
    opened = open_run(run_path)
    run, app, config = opened.run, opened.app, opened.config
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


def predict(
    model_path: str | Path, inputs: Sequence[Any], *, top_k: int = 3
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
    return predict_with_codec(model_path, inputs, top_k=top_k)[1]


def predict_with_codec(
    model_path: str | Path, inputs: Sequence[Any], *, top_k: int = 3
) -> tuple["Codec", list[dict[str, Any]]]:
    """`predict`, also returning the app's codec (whose `format` prints a row)."""
    from kerasdl_edge.codecs import codec_for

    app, info, model = load_any_model(model_path)
    codec = codec_for(app.name, info)
    with _user_input_errors():
        return codec, codec.predict(model, inputs, top_k=top_k)


def stream_with_codec(
    model_path: str | Path, recordings: Sequence[str], **options: Any
) -> tuple["Codec", list[dict[str, Any]]]:
    """The events heard in each long recording (apps whose codec streams: speech), as
    rows {"input", "time", "label", "score"}; `options` go to the codec's `stream`."""
    from kerasdl_edge.codecs import Streaming, codec_for

    if not recordings:
        raise KerasdlError("Nothing to listen to: give at least one recording.")
    app, info, model = load_any_model(model_path)
    codec = codec_for(app.name, info)
    if not isinstance(codec, Streaming):
        raise KerasdlError(f"The {app.name} app has no streaming mode; `stream` is for speech.")
    with _user_input_errors():
        return codec, [row for recording in recordings for row in codec.stream(model, recording, **options)]


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
    from kerasdl_edge.codecs import Generating, codec_for

    app, info, model = load_any_model(model_path)
    codec = codec_for(app.name, info)
    if not isinstance(codec, Generating):
        raise KerasdlError(f"{model_path} is a {app.name} model; `generate` needs a generator "
                           "(a dcgan run or its export).")
    with _user_input_errors():
        if interpolate_to is None:
            noise = codec.noise(count, seed)
        else:
            noise = codec.walk(seed, interpolate_to, count)
            columns = columns or count
    return save_image(image_grid(codec.outputs(model, noise), columns), out, scale=scale)


@contextlib.contextmanager
def _user_input_errors() -> Iterator[None]:
    """The codecs' errors (a file that is not an image ...) as kerasdl's data errors."""
    from kerasdl_edge import EdgeError

    try:
        yield
    except EdgeError as e:
        raise DataError(str(e)) from None
