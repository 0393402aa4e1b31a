"""A kerasdl .tflite export with its app's codec: inputs in, described answers out.

`Predictor` reads the export's metadata (task kind, class names, tokenizer, sample rate,
scaler ...), picks the task's codec (`kerasdl_edge.codecs`) and runs the model with
ai-edge-litert, with numpy only.

Example:
>>> from kerasdl_edge import Predictor
>>> predictor = Predictor("saved_models/tflite/vision-1-int8.tflite")  # doctest: +SKIP
>>> predictor.predict(["shoe.png"])[0]["label"]  # doctest: +SKIP
'sneaker'
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

from kerasdl_edge.codecs import Generating, Streaming, codec_for, task_of
from kerasdl_edge.errors import EdgeError
from kerasdl_edge.model import EdgeModel


class Predictor:
    """A kerasdl .tflite export, its task's input reading and output description.

    Args:
        model: the .tflite path.
        num_threads: CPU threads for the interpreter.

    Raises:
        EdgeError: for a missing, damaged or foreign model file, in one line.
    """

    def __init__(self, model: str | Path, *, num_threads: int | None = None) -> None:
        path = Path(model)
        if not path.is_file():
            raise EdgeError(f"Model file not found: {path}")
        try:
            self.model = EdgeModel(path, num_threads=num_threads)
        except ValueError as e:
            raise EdgeError(f"Cannot load {path} as a TFLite model: {str(e).splitlines()[0]}") from None
        except OSError as e:
            raise EdgeError(f"Cannot read {path}: {e.strerror}") from None
        self.app = self.model.metadata.get("app")
        self.task = task_of(self.model.metadata)
        if self.task is None or not isinstance(self.model.metadata.get("info"), dict):
            raise EdgeError(f"{path} has no kerasdl metadata naming its task: export it with "
                            "`kerasdl export`.")
        self.info: dict[str, Any] = self.model.metadata["info"]
        self.codec = codec_for(self.task, self.info)

    def read(self, inputs: Sequence[Any]) -> np.ndarray:
        """The model's input batch for `inputs` (what the task reads)."""
        return self.codec.read(inputs)

    def predict(self, inputs: Sequence[Any], *, top_k: int = 3) -> list[dict[str, Any]]:
        """One description per input: {"input", "label", "probability", "top"} for
        classifiers, {"input", "forecast": {column: values}} for forecasts."""
        return self.codec.predict(self.model, inputs, top_k=top_k)

    def stream(self, path: str, **options: Any) -> list[dict[str, Any]]:
        """The events along a long input (speech: commands in a WAV recording, with
        their times); `options` go to `kerasdl_edge.streaming.detect_commands`."""
        if not isinstance(self.codec, Streaming):
            raise EdgeError(f"{self.app} models have no streaming mode; it is for audio classifiers.")
        return self.codec.stream(self.model, path, **options)

    def generate(self, count: int, seed: int = 0) -> np.ndarray:
        """uint8 images [count, height, width, channels] from an image generator, from the
        same noise `kerasdl generate --seed` draws."""
        if not isinstance(self.codec, Generating):
            raise EdgeError(f"{self.app} models do not generate images; an image generator does.")
        return self.codec.outputs(self.model, self.codec.noise(count, seed))
