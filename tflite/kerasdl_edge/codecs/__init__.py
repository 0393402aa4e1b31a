"""Each kerasdl app's inputs and outputs, with numpy only: one codec per app.

A codec reads what a user gives (image files or camera frames, texts, WAV files, CSV
windows) into the model's input batch exactly as training did, and describes the
model's outputs (labels and probabilities, forecasts in the data's units, images). It is
the one definition of an app's prediction I/O: `kerasdl predict`, `kerasdl predict
--server` (TF Serving's REST format) and `kerasdl-edge` all use it, chosen by the app
that an export's metadata (or a run) names.

Example:
>>> from kerasdl_edge.codecs import codec_for
>>> codec = codec_for("sentiment", {"class_names": ["neg", "pos"], "tokenizer": {
...     "vocabulary": ["", "[UNK]", "good"], "standardize": "lower", "ngrams": 1,
...     "sequence_length": 4}})
>>> codec.read(["good good film"]).tolist()
[[2, 2, 1, 0]]
"""

from __future__ import annotations

import importlib
from typing import Any

from kerasdl_edge.codecs.base import Codec, Generating, Streaming
from kerasdl_edge.errors import EdgeError

# App name -> "module:Class", imported on first use (a device loads only its app's).
CODECS: dict[str, str] = {
    "vision": "kerasdl_edge.codecs.vision:VisionCodec",
    "sentiment": "kerasdl_edge.codecs.sentiment:SentimentCodec",
    "speech": "kerasdl_edge.codecs.speech:SpeechCodec",
    "forecast": "kerasdl_edge.codecs.forecast:ForecastCodec",
    "dcgan": "kerasdl_edge.codecs.dcgan:DcganCodec",
}


def codec_class(app: str) -> type[Codec]:
    """The codec class of `app`.

    Raises:
        EdgeError: for an app without a codec.
    """
    if app not in CODECS:
        raise EdgeError(f"No kerasdl app called {app!r} reads inputs here (known: {', '.join(CODECS)}).")
    module, _, name = CODECS[app].partition(":")
    codec: type[Codec] = getattr(importlib.import_module(module), name)
    return codec


def codec_for(app: str, info: dict[str, Any]) -> Codec:
    """`app`'s codec for a model whose data info (class names, tokenizer, sample rate,
    scaler ...) is `info`."""
    return codec_class(app)(info)


__all__ = ["CODECS", "Codec", "Generating", "Streaming", "codec_class", "codec_for"]
