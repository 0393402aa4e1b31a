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
from kerasdl.loading import inference_mode, load_any_model, open_run, run_config
from kerasdl.training.evaluation import evaluate_run
from kerasdl.training.workflow import TrainSummary, train_run as train

__all__ = ["TrainSummary", "evaluate", "evaluate_run", "explain", "generate", "load_any_model", "lr_find",
           "predict", "predict_with_codec", "run_config", "stream_with_codec", "train"]

if TYPE_CHECKING:
    from kerasdl.config import TrainConfig
    from kerasdl.evaluation.saliency import Explanation
    from kerasdl.training.lr_find import RangeTest
    from kerasdl_edge.codecs import Codec

logger = logging.getLogger(__name__)


def evaluate(
    run_path: str | Path, *, split: str = "test", dataset: str | None = None,
    epsilon: float | None = None, attack_steps: int = 10,
) -> tuple[dict[str, Any], str]:
    """Evaluates a run's best model on one split of its data (or of `dataset`); with
    `epsilon`, also under FGSM and PGD attacks of that budget (image classifiers).

    Returns:
        (metrics, a text report). The metrics are also written to the run's
        metrics.json when evaluating its own test split.
    """
    opened = open_run(run_path)
    run, app, config = opened.run, opened.app, opened.config
    if dataset is not None:
        config = replace(config, dataset=dataset)
    metrics = evaluate_run(run, app=app, config=config, split=split,
                           write_plots=dataset is None and split == "test", epsilon=epsilon,
                           attack_steps=attack_steps)
    if dataset is None and split == "test":
        previous = kio.read_json(run.metrics_path) if run.metrics_path.exists() else {}
        if "training" in previous:
            metrics["training"] = previous["training"]
        kio.write_json(run.metrics_path, metrics)
    report = app.format_metrics(metrics)
    if "robustness" in metrics:
        from kerasdl.training.adversarial import robustness_line

        report += "\n" + robustness_line(metrics["robustness"])
    return metrics, report


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
    codec = codec_for(app.task, info)
    with _user_input_errors():
        return codec, codec.predict(inference_mode(model), inputs, top_k=top_k)


def stream_with_codec(
    model_path: str | Path, recordings: Sequence[str], **options: Any
) -> tuple["Codec", list[dict[str, Any]]]:
    """The events heard in each long recording (apps whose codec streams: speech), as
    rows {"input", "time", "label", "score"}; `options` go to the codec's `stream`."""
    from kerasdl_edge.codecs import Streaming, codec_for

    if not recordings:
        raise KerasdlError("Nothing to listen to: give at least one recording.")
    app, info, model = load_any_model(model_path)
    codec = codec_for(app.task, info)
    if not isinstance(codec, Streaming):
        raise KerasdlError(f"The {app.name} app has no streaming mode; `stream` is for speech.")
    with _user_input_errors():
        return codec, [row for recording in recordings
                       for row in codec.stream(inference_mode(model), recording, **options)]


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
    codec = codec_for(app.task, info)
    if not isinstance(codec, Generating):
        raise KerasdlError(f"{model_path} is a {app.name} model; `generate` needs a generator "
                           "(a dcgan run or its export).")
    with _user_input_errors():
        if interpolate_to is None:
            noise = codec.noise(count, seed)
        else:
            noise = codec.walk(seed, interpolate_to, count)
            columns = columns or count
    return save_image(image_grid(codec.outputs(inference_mode(model), noise), columns), out, scale=scale)


def explain(
    run_path: str | Path, images: Sequence[str | Path], *, out_dir: str | Path | None = None
) -> "Explanation":
    """Shows where an image classifier looks: for each image a Grad-CAM heat map over
    it and the first layer's activation maps, and once the first convolution's filters,
    as PNG files (see `kerasdl.evaluation.saliency`).

    Args:
        run_path: a run of an image classifier (vision).
        images: image files, read as the run's model reads them.
        out_dir: where the PNG files go (default: the run's `explain/` folder); an
            image's files are named after it, `NAME-gradcam.png`, `NAME-activations.png`.

    Returns:
        The paths written.

    Raises:
        KerasdlError: for a run that is not an image classifier's, a model without
            convolutions, no images, or an image that cannot be read.
    """
    from kerasdl.evaluation.saliency import (Explanation, write_activation_maps, write_explanations,
                                             write_first_filters)
    from kerasdl_edge.codecs import codec_for

    if not images:
        raise KerasdlError("Nothing to explain: give at least one image.")
    opened = open_run(run_path)
    app, info = opened.app, opened.info
    model = opened.load_model()
    if len(model.inputs[0].shape) != 4 or "class_names" not in info:
        raise KerasdlError(f"{run_path} is a {app.name} run; Grad-CAM explains image classifiers (vision runs).")
    folder = Path(out_dir) if out_dir is not None else opened.run.path / "explain"
    names = [str(image) for image in images]
    with _user_input_errors():
        pixels = codec_for(app.task, info).read(names)
    return Explanation(grad_cam=write_explanations(model, pixels, names, info["class_names"], folder),
                       activations=write_activation_maps(model, pixels, names, folder),
                       filters=write_first_filters(model, folder / "filters.png"))


LR_FIND_JSON = "lr_find.json"


def lr_find(
    app_name: str, config: "TrainConfig | None" = None, *, start: float = 1e-7, end: float = 10.0,
    steps: int = 200, out_dir: str | Path = "runs/lr_find",
) -> "RangeTest":
    """The learning-rate range test (`kerasdl.training.lr_find`): trains `config`'s
    model briefly while the rate grows geometrically from `start` to `end`, and
    suggests a peak learning rate.

    Writes `out_dir/APP/lr_find.png` (the loss against the rate, the result's `plot`)
    and `out_dir/APP/lr_find.json` ({"rates", "losses", "suggestions"}), replacing
    those of an earlier test of the app.

    Args:
        app_name: a registered app with one loss and one optimizer (not dcgan).
        config: the model, data, optimizer and batch size to test (the app's defaults
            when None); its learning rate and schedule are replaced by the sweep.
        start, end: the first and last learning rate.
        steps: training steps of the sweep (at least 10); it stops early once the loss
            diverges.
        out_dir: where the app's folder of results goes.

    Raises:
        KerasdlError: for an unknown app, a config of another app, a bad range, or an
            app the test cannot run on.
    """
    from kerasdl.registry import get_app
    from kerasdl.training.lr_find import range_test

    app = get_app(app_name)
    config = config if config is not None else app.config_class()
    if not isinstance(config, app.config_class):
        raise KerasdlError(f"The {app.name} app needs a {app.config_class.__name__}; "
                           f"received a {type(config).__name__}.")
    folder = Path(out_dir) / app.name
    result = range_test(app, config, start=start, end=end, steps=steps, out_dir=folder)
    kio.write_json(folder / LR_FIND_JSON, {"rates": result.rates, "losses": result.losses,
                                          "suggestions": result.suggestions})
    return result


@contextlib.contextmanager
def _user_input_errors() -> Iterator[None]:
    """The codecs' errors (a file that is not an image ...) as kerasdl's data errors."""
    from kerasdl_edge import EdgeError

    try:
        yield
    except EdgeError as e:
        raise DataError(str(e)) from None
