"""The classifier that scores generated images (FID, Inception Score analogue).

It is a vision-app run on the same data: given with `--set classifier=RUN`, or trained
once per data set and image shape into a cache (`$KERASDL_CACHE`, default
~/.cache/kerasdl) and reused, so FIDs of different GAN runs on one data set are
measured with the same features and can be compared.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from kerasdl.errors import KerasdlError
from kerasdl.evaluation.generative import frechet_distance, inception_score

from kerasdl.apps.dcgan.config import DcganConfig

logger = logging.getLogger(__name__)

FEATURE_LAYER = "head_logits"  # the classifier's features are this layer's input
BATCH = 256


def cache_dir() -> Path:
    return Path(os.environ.get("KERASDL_CACHE") or Path.home() / ".cache" / "kerasdl")


def classifier_run(config: DcganConfig, image_shape: list[int]) -> Path:
    """The vision run that scores this data: `config.classifier`, or a cached one
    trained now if need be."""
    from kerasdl import api
    from kerasdl.apps.vision.config import VisionConfig
    from kerasdl.runs import Run

    if config.classifier:
        run = Run.open(config.classifier)
        if run.meta.get("app") != "vision":
            raise KerasdlError(f"`classifier` must be a vision run; {run.path} is a "
                               f"{run.meta.get('app')} run.")
        if list(run.meta["data"]["image_shape"]) != list(image_shape):
            raise KerasdlError(
                f"The classifier {run.path} takes images of shape "
                f"{run.meta['data']['image_shape']}, the data here are {image_shape}.")
        return run.path
    dataset = config.dataset
    if dataset and Path(dataset).expanduser().exists():
        dataset = str(Path(dataset).expanduser().resolve())
    key = json.dumps([dataset, image_shape, config.classifier_epochs, config.seed])
    name = "fid-" + hashlib.sha256(key.encode()).hexdigest()[:12]
    runs_dir = cache_dir() / "fid-classifiers"
    path = runs_dir / "vision" / name
    if path.is_dir():
        try:
            if Run.open(path).meta.get("status") == "completed":
                return path
        except KerasdlError:
            pass
        shutil.rmtree(path)  # an interrupted earlier attempt
    logger.info("Training a vision classifier (%d epochs) to score generated images; "
                "it is cached in %s for later runs on this data.", config.classifier_epochs, path)
    vision = VisionConfig(dataset=config.dataset, image_size=image_shape[0], channels=image_shape[2],
                          model="cnn", epochs=config.classifier_epochs, augment=False,
                          validation_split=config.validation_split, seed=config.seed)
    return api.train("vision", vision, runs_dir=runs_dir, name=name, verbose=0).run.path


class Scorer:
    """Features and class probabilities of images, from a vision run's classifier."""

    def __init__(self, run_path: str | Path) -> None:
        import keras

        from kerasdl.runs import Run
        from kerasdl.training.saving import load_model

        run = Run.open(run_path)
        classifier = load_model(run.model_path())
        try:
            self.accuracy: float | None = float(json.loads(run.metrics_path.read_text())["accuracy"])
        except (OSError, ValueError, KeyError):
            self.accuracy = None
        try:
            features = classifier.get_layer(FEATURE_LAYER).input
        except ValueError:
            raise KerasdlError(f"The classifier {run_path} has no '{FEATURE_LAYER}' layer; "
                               "use a classifier trained by the vision app.") from None
        self._model = keras.Model(classifier.input, [features, classifier.output])

    def __call__(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(features, probabilities) of images given as pixels 0-255 (rounded to uint8
        first, as a saved image would be)."""
        pixels = np.clip(np.round(np.asarray(images, np.float32)), 0, 255).astype(np.uint8)
        features, probabilities = [], []
        for start in range(0, len(pixels), BATCH):
            f, p = self._model(pixels[start:start + BATCH], training=False)
            features.append(np.asarray(f))
            probabilities.append(np.asarray(p))
        return np.concatenate(features), np.concatenate(probabilities)

    def compare(self, real: np.ndarray, generated: np.ndarray) -> dict[str, float]:
        """FID of `generated` against `real`, and the Inception Score analogue of each."""
        real_features, real_probabilities = self(real)
        fake_features, fake_probabilities = self(generated)
        return {
            "fid": frechet_distance(real_features, fake_features),
            "inception_score": inception_score(fake_probabilities),
            "real_inception_score": inception_score(real_probabilities),
            "classes_generated": int(len(np.unique(np.argmax(fake_probabilities, axis=1)))),
            **({"classifier_accuracy": self.accuracy} if self.accuracy is not None else {}),
        }
