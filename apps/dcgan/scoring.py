"""How generated images are scored.

- FID and the Inception Score analogue read a classifier's features: a vision-app run on
  the same data, given with `--set classifier=RUN`, or trained once per data set and
  image shape into a cache (`$KERASDL_CACHE`, default ~/.cache/kerasdl) and reused, so
  FIDs of different GAN runs on one data set use the same features. Such features only
  carry information when the classifier has classes to tell apart and tells them apart
  well: on one class of pictures (faces, cats), or with a classifier near chance, FID
  is not computed and the run says why.
- The classifier two-sample test (`kerasdl.evaluation.two_sample`) needs no labels:
  the held-out accuracy of a small network trained to tell generated from real images,
  50 % when it cannot. It is measured on every run's final model, and every epoch
  (picking the best one) where FID is not computed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from pathlib import Path

import numpy as np

from kerasdl.errors import KerasdlError
from kerasdl.evaluation.generative import frechet_distance, inception_score

from kerasdl.apps.dcgan.config import DcganConfig

logger = logging.getLogger(__name__)

FEATURE_LAYER = "head_logits"  # the classifier's features are this layer's input
BATCH = 256
# The classifier's accuracy above chance, as a share of the way from chance to 100 %,
# below which its features say too little to score images: (accuracy - 1/K) / (1 - 1/K).
MIN_CLASSIFIER_SKILL = 0.5


def fid_refusal(class_count: int, accuracy: float | None) -> str | None:
    """Why a classifier-based FID would mean nothing here, or None when it can be used."""
    if class_count < 2:
        return ("the data has one class, so no classifier can learn features that tell images "
                "apart (FID needs them)")
    if accuracy is None:
        return None
    chance = 1.0 / class_count
    if (accuracy - chance) / (1.0 - chance) < MIN_CLASSIFIER_SKILL:
        return (f"the scoring classifier reaches {100 * accuracy:.1f} % on {class_count} classes "
                f"(chance {100 * chance:.0f} %): too weak for its features to measure images; "
                "train it longer with `classifier_epochs=N`")
    return None


def run_accuracy(run_path: str | Path) -> float | None:
    """A vision run's test accuracy (from its metrics.json), None if it has none."""
    from kerasdl.runs import Run

    try:
        return float(json.loads(Run.open(run_path).metrics_path.read_text())["accuracy"])
    except (OSError, ValueError, KeyError, KerasdlError):
        return None


def cache_dir() -> Path:
    return Path(os.environ.get("KERASDL_CACHE") or Path.home() / ".cache" / "kerasdl")


def classifier_run(config: DcganConfig, image_shape: list[int]) -> Path:
    """The vision run that scores this data: `config.classifier`, or a cached one
    trained now if need be."""
    from kerasdl.registry import get_app
    from kerasdl.runs import Run
    from kerasdl.training.workflow import train_run

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
    vision = get_app("vision").config_class(
        dataset=config.dataset, image_size=image_shape[0], channels=image_shape[2], model="cnn",
        epochs=config.classifier_epochs, augment=False, validation_split=config.validation_split,
        seed=config.seed)
    return train_run("vision", vision, runs_dir=runs_dir, name=name, verbose=0).run.path


class Scorer:
    """Features and class probabilities of images, from a vision run's classifier."""

    def __init__(self, run_path: str | Path) -> None:
        import keras

        from kerasdl.runs import Run
        from kerasdl.training.saving import load_model

        run = Run.open(run_path)
        classifier = load_model(run.model_path())
        self.accuracy = run_accuracy(run_path)
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
