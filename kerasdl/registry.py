"""The static map of app names to their classes: adding an app is one entry here.

It is a plain dictionary so that `kerasdl apps`, `--help` and the "unknown app" error
work without importing TensorFlow or any app module.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from kerasdl.errors import KerasdlError

if TYPE_CHECKING:
    from kerasdl.app import App


@dataclass(frozen=True)
class AppEntry:
    """Where an app lives and what it does, in one line."""

    import_path: str
    description: str


APPS: dict[str, AppEntry] = {
    "vision": AppEntry(
        "kerasdl.apps.vision.app:VisionApp",
        "Image classification: MLP, LeNet, CNN, ResNet, MobileNet, AlexNet, VGG, DenseNet and fastcnn "
        "nets, and pretrained backbones.",
    ),
    "sentiment": AppEntry(
        "kerasdl.apps.sentiment.app:SentimentApp",
        "Text classification: TF-IDF bag of n-grams, NBSVM, 1-D CNN, (Bi)LSTM/GRU and Transformer.",
    ),
    "speech": AppEntry(
        "kerasdl.apps.speech.app:SpeechApp",
        "Spoken command recognition: log-mel/MFCC features in the model; CNN, DS-CNN and CRNN.",
    ),
    "dcgan": AppEntry(
        "kerasdl.apps.dcgan.app:DcganApp",
        "Image generation: DCGAN, scored by FID and an Inception Score analogue.",
    ),
    "forecast": AppEntry(
        "kerasdl.apps.forecast.app:ForecastApp",
        "Time-series forecasting: baselines, linear/DLinear, MLP, CNN, LSTM/GRU and PatchTST.",
    ),
}


def app_names() -> list[str]:
    """Every registered app's name, sorted: the one list commands, docs and tests use."""
    return sorted(APPS)


def get_app(name: str) -> "App":
    """Returns an instance of the app registered as `name`.

    Raises:
        KerasdlError: if no app has that name.
    """
    entry = APPS.get(name)
    if entry is None:
        raise KerasdlError(
            f"Unknown app '{name}'. Available apps: {', '.join(app_names())}."
        )
    module_name, class_name = entry.import_path.split(":")
    module = importlib.import_module(module_name)
    app: "App" = getattr(module, class_name)()
    missing = [r for r in app.requires if r not in APPS]
    if missing:
        raise KerasdlError(f"The {name} app needs the {', '.join(missing)} app, which is not registered "
                           f"(registered: {', '.join(app_names())}).")
    return app
