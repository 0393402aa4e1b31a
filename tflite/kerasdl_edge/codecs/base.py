"""What every codec does, and the two optional abilities (streaming, generating)."""

from __future__ import annotations

import abc
import base64
import functools
from pathlib import Path
from typing import Any, Callable, ClassVar, Sequence

import numpy as np

from kerasdl_edge.errors import EdgeError

Model = Callable[[np.ndarray], Any]  # a Keras model, an EdgeModel, a SavedModel call ...
BATCH = 256
MAX_FILE_BYTES = 32 * 1024 * 1024


class Codec(abc.ABC):
    """A task kind's prediction I/O for one model.

    Args:
        info: the model's data info (from its run or its export's metadata).
    """

    # The task kind an export's metadata names (`TASKS`), e.g. "image_classification".
    task: ClassVar[str]
    # The typed facts of the data info this kind reads (`kerasdl_edge.facts`).
    facts_class: ClassVar[type]

    def __init__(self, info: dict[str, Any]) -> None:
        self.info = info

    @functools.cached_property
    def facts(self) -> Any:
        """The data info's facts this codec reads, parsed on first use (a serving
        client's codec, whose server holds the data info, never parses any).

        Raises:
            EdgeError: naming a missing or malformed entry.
        """
        from kerasdl_edge.facts import parse_facts

        return parse_facts(self.facts_class, self.info)

    @abc.abstractmethod
    def read(self, inputs: Sequence[Any]) -> np.ndarray:
        """The model's input batch for what the user gave (file paths, texts, arrays).

        Raises:
            EdgeError: naming the first input that cannot be read.
        """

    @abc.abstractmethod
    def describe(self, outputs: np.ndarray, *, top_k: int = 3) -> list[dict[str, Any]]:
        """One JSON-able description per row of model output."""

    @abc.abstractmethod
    def format(self, row: dict[str, Any]) -> str:
        """A prediction row ({"input": ..., **a description}) as text for a terminal."""

    def predict(self, model: Model, inputs: Sequence[Any], *, top_k: int = 3) -> list[dict[str, Any]]:
        """Reads `inputs`, runs `model` on them (in batches) and describes each answer."""
        if not inputs:
            raise EdgeError("Nothing to predict: give at least one input.")
        batch = self.read(inputs)
        outputs = np.concatenate([np.asarray(model(rows_of(batch, i, i + BATCH)))
                                  for i in range(0, len(inputs), BATCH)])
        names = [str(i) if not isinstance(i, np.ndarray) else f"array[{n}]" for n, i in enumerate(inputs)]
        return [{"input": name, **row} for name, row in zip(names, self.describe(outputs, top_k=top_k))]

    # TF Serving's REST API: what a kerasdl SavedModel's `serving_default` takes.
    def serving_instances(self, inputs: Sequence[str]) -> list[Any]:
        """One row-format instance of `serving_default`'s input per user input (bytes as
        {"b64": ...})."""
        raise EdgeError(f"`predict --server` cannot send {self.task.replace('_', ' ')} inputs; post TF Serving "
                        "requests to the model's serving_default yourself (see the README).")

    def describe_served(self, predictions: list[Any]) -> list[dict[str, Any]]:
        """Prediction rows from a server's answer to `serving_instances`."""
        return [{"prediction": p} for p in predictions]


class ClassifierCodec(Codec):
    """Class probabilities out: the label, its probability and the runners-up."""

    def describe(self, outputs: np.ndarray, *, top_k: int = 3) -> list[dict[str, Any]]:
        return describe_probabilities(outputs, self.facts.class_names, top_k=top_k)

    def input_is_path(self, name: str) -> bool:
        """Whether a row's `input` names a file (shortened from its start, keeping the
        file name) rather than being the text itself (shortened at its end). Image and
        WAV inputs are files; a codec that also takes texts says which."""
        return True

    def format(self, row: dict[str, Any]) -> str:
        return format_classification(row, is_path=self.input_is_path(row["input"]))

    def describe_served(self, predictions: list[Any]) -> list[dict[str, Any]]:
        """From a kerasdl signature's `classes` and `scores`: the top label and its
        probability (the other labels' names are not in the answer)."""
        described = []
        for p in predictions:
            if not isinstance(p, dict) or not {"classes", "scores"} <= set(p):
                raise EdgeError("The server's answer has no 'classes' and 'scores': is the "
                                f"model a kerasdl {self.task.replace('_', ' ')} export?")
            top = {"label": p["classes"], "probability": float(p["scores"])}
            described.append({**top, "top": [top], "probabilities": p.get("probabilities")})
        return described


class Streaming(abc.ABC):
    """A codec whose model can scan a long input for events (spoken commands)."""

    @abc.abstractmethod
    def stream(self, model: Model, path: str, **options: Any) -> list[dict[str, Any]]:
        """One row {"input", "time", "label", "score"} per event found along `path`."""


class Generating(abc.ABC):
    """A codec whose model makes outputs from noise (images)."""

    @abc.abstractmethod
    def noise(self, count: int, seed: int) -> np.ndarray:
        """The model's input: the same for the same seed everywhere."""

    @abc.abstractmethod
    def walk(self, seed: int, to_seed: int, steps: int) -> np.ndarray:
        """`steps` inputs from `seed`'s first point to `to_seed`'s."""

    @abc.abstractmethod
    def outputs(self, model: Model, noise: np.ndarray) -> np.ndarray:
        """What `model` makes of `noise`, ready to save (uint8 images)."""


def rows_of(batch: Any, start: int, stop: int) -> Any:
    """Rows `start:stop` of a model input: an array, or {name: array} (a BERT model's)."""
    if isinstance(batch, dict):
        return {name: values[start:stop] for name, values in batch.items()}
    return batch[start:stop]


def describe_probabilities(outputs: np.ndarray, class_names: Sequence[str], *,
                           top_k: int = 3) -> list[dict[str, Any]]:
    """{"label", "probability", "top": [{"label", "probability"} ...]} per row of class
    probabilities."""
    described = []
    for row in np.asarray(outputs):
        order = np.argsort(row)[::-1][: max(1, top_k)]
        described.append({"label": class_names[order[0]], "probability": float(row[order[0]]),
                          "top": [{"label": class_names[i], "probability": float(row[i])} for i in order]})
    return described


SOURCE_WIDTH = 60  # characters of an input's name shown on a prediction line
EMPTY_TEXT = "(empty text)"


def shorten_path(path: str, width: int = SOURCE_WIDTH) -> str:
    """`path` in at most `width` characters where it can be: "..." and its last
    components (".../test/5/img_0123.png"); the file name is always kept whole, since
    it is what tells the lines apart."""
    if len(path) <= width:
        return path
    separators = [i for i, c in enumerate(path) if c in "/\\"]
    fitting = [i for i in separators if len(path) - i + 3 <= width]
    if fitting:
        return "..." + path[fitting[0]:]
    return "..." + path[separators[-1]:] if separators else path


def shorten_text(text: str, width: int = SOURCE_WIDTH) -> str:
    """`text` on one line in at most `width` characters: its beginning and "...";
    an empty text named as such (a blank source column reads as a bug)."""
    text = " ".join(text.split())  # a text input may span lines
    if not text:
        return EMPTY_TEXT
    return text if len(text) <= width else text[:width - 3] + "..."


def format_classification(row: dict[str, Any], *, is_path: bool = False) -> str:
    """A classified input as one terminal line: source, label, probability, runners-up.
    `is_path`: the input names a file, so its end (the file name) is kept."""
    source = shorten_path(row["input"]) if is_path and row["input"] else shorten_text(row["input"])
    others = ", ".join(f"{t['label']} {t['probability']:.3f}" for t in row["top"][1:])
    return f"{source}: {row['label']} ({row['probability']:.3f})" + (f"  [then {others}]" if others else "")


def file_instances(paths: Sequence[str], max_bytes: int = MAX_FILE_BYTES) -> list[dict[str, str]]:
    """Each file's bytes as a `{"b64": ...}` instance (for signatures taking encoded
    files: images, WAV).

    Raises:
        EdgeError: for a path that is not a readable file, or one over `max_bytes`.
    """
    instances = []
    for name in paths:
        path = Path(name)
        if not path.is_file():
            raise EdgeError(f"{name} is not a file.")
        if path.stat().st_size > max_bytes:
            raise EdgeError(f"{name} is over {max_bytes // (1024 * 1024)} MB.")
        try:
            data = path.read_bytes()
        except OSError as e:
            raise EdgeError(f"Cannot read {name}: {e.strerror}.") from None
        instances.append({"b64": base64.b64encode(data).decode("ascii")})
    return instances
