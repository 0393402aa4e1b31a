"""Prediction I/O by task kind, with numpy only: one codec per kind of task.

A codec reads what a user gives (image files or camera frames, texts, WAV files, CSV
windows) into the model's input batch exactly as training did, and describes the
model's outputs (labels and probabilities, forecasts in the data's units, images). It is
the one definition of a task's prediction I/O: `kerasdl predict`, `kerasdl predict
--server` (TF Serving's REST format) and `kerasdl-edge` all use it, chosen by the task
kind that an export's metadata (or a run's app) names. An app of an existing kind (a
second image classifier) needs no code here.

Example:
>>> from kerasdl_edge.codecs import codec_for
>>> codec = codec_for("text_classification", {"class_names": ["neg", "pos"], "tokenizer": {
...     "vocabulary": ["", "[UNK]", "good"], "standardize": "lower", "ngrams": 1,
...     "sequence_length": 4}})
>>> codec.read(["good good film"]).tolist()
[[2, 2, 1, 0]]
"""

from __future__ import annotations

import importlib
from typing import Any, Mapping

from kerasdl_edge.codecs.base import Codec, Generating, Streaming
from kerasdl_edge.errors import EdgeError

# Task kind -> "module:Class", imported on first use (a device loads only its model's).
TASKS: dict[str, str] = {
    "image_classification": "kerasdl_edge.codecs.image_classifier:ImageClassifierCodec",
    "text_classification": "kerasdl_edge.codecs.text_classifier:TextClassifierCodec",
    "audio_classification": "kerasdl_edge.codecs.audio_classifier:AudioClassifierCodec",
    "forecasting": "kerasdl_edge.codecs.forecaster:ForecasterCodec",
    "image_generation": "kerasdl_edge.codecs.image_generator:ImageGeneratorCodec",
}

# Exports written before the metadata named a task kind (kerasdl 0.x before "task") name
# only the app that made them; these five apps are the only ones such files can come from.
FORMER_APP_TASKS: dict[str, str] = {
    "vision": "image_classification",
    "sentiment": "text_classification",
    "speech": "audio_classification",
    "forecast": "forecasting",
    "dcgan": "image_generation",
}


def task_of(metadata: Mapping[str, Any]) -> str | None:
    """The task kind a kerasdl export's metadata names (None if it names none we know)."""
    task = metadata.get("task") or FORMER_APP_TASKS.get(str(metadata.get("app")))
    return task if task in TASKS else None


def codec_class(task: str) -> type[Codec]:
    """The codec class of a task kind.

    Raises:
        EdgeError: for a kind without a codec.
    """
    if task not in TASKS:
        raise EdgeError(f"No kerasdl codec reads {task!r} inputs here (task kinds: {', '.join(TASKS)}).")
    module, _, name = TASKS[task].partition(":")
    codec: type[Codec] = getattr(importlib.import_module(module), name)
    return codec


def codec_for(task: str, info: dict[str, Any]) -> Codec:
    """The codec of task kind `task` for a model whose data info (class names, tokenizer,
    sample rate, scaler ...) is `info`."""
    return codec_class(task)(info)


__all__ = ["FORMER_APP_TASKS", "TASKS", "Codec", "Generating", "Streaming", "codec_class", "codec_for",
           "task_of"]
