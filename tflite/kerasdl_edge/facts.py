"""The data facts each task kind's codec reads, typed: one schema for kerasdl and devices.

A model's data info (a run's run.json "data", an export's metadata "info") is a JSON
object that holds more than prediction needs (where the data came from, split sizes).
Each kind of task reads its own facts from it, parsed here once: the apps write info
that these classes parse (the app contract test checks it for every app), the codecs
read only these fields, and a missing or malformed entry is one clear error rather than
a KeyError deep in a codec.

Example:
>>> from kerasdl_edge.facts import ImageFacts, parse_facts
>>> facts = parse_facts(ImageFacts, {"class_names": ["cat", "dog"], "image_shape": [32, 32, 1],
...                                  "source": "folder:pets"})
>>> facts.image_shape, facts.channels_in
((32, 32, 1), 1)
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Mapping, TypeVar

from kerasdl_edge.errors import EdgeError


@dataclass(frozen=True)
class ClassifierFacts:
    """A classifier's: the labels, in the order of the model's outputs."""

    class_names: tuple[str, ...]


@dataclass(frozen=True)
class ImageFacts(ClassifierFacts):
    """An image classifier's: the model's image size and channels, and the channels a
    task-ready file takes instead (3: RGB frames for a grey model)."""

    image_shape: tuple[int, int, int]
    input_channels: int | None = None

    @property
    def channels_in(self) -> int:
        """The channels of the images the file takes."""
        return self.input_channels or self.image_shape[2]


@dataclass(frozen=True)
class TextFacts(ClassifierFacts):
    """A text classifier's: its tokenizer (`kerasdl_edge.text.Tokenizer.from_spec`)."""

    tokenizer: Mapping[str, Any]


@dataclass(frozen=True)
class AudioFacts(ClassifierFacts):
    """An audio classifier's: the rate and length of a clip, and "float32" when a
    task-ready file takes waveforms instead of int16 PCM."""

    sample_rate: int
    clip_samples: int
    waveform: str | None = None


@dataclass(frozen=True)
class SeriesFacts:
    """A forecaster's: the columns a window holds and the ones forecast, the window and
    horizon lengths, the z-score scaler, and the time column and step when the data has
    them (to label forecast rows)."""

    columns: tuple[str, ...]
    targets: tuple[str, ...]
    input_length: int
    horizon: int
    scaler: Mapping[str, Any]
    time_column: str | None = None
    time_step: Any = None
    categories: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class GeneratorFacts:
    """An image generator's: the images it makes and the length of its noise."""

    image_shape: tuple[int, int, int]
    latent_dim: int


FactsT = TypeVar("FactsT")

_CONVERT = {"tuple[str, ...]": lambda v: tuple(str(x) for x in v),
            "tuple[int, int, int]": lambda v: tuple(int(x) for x in v) if len(v) == 3 else _bad(v),
            "int": int, "int | None": lambda v: None if v is None else int(v)}


def _bad(value: Any) -> Any:
    raise ValueError(f"unexpected value {value!r}")


def parse_facts(cls: type[FactsT], info: Mapping[str, Any]) -> FactsT:
    """`cls` from a data info, its other entries ignored.

    Raises:
        EdgeError: naming the first missing or malformed entry.
    """
    if not isinstance(info, Mapping):
        raise EdgeError("The model's data info is not a JSON object: export it again with `kerasdl export`.")
    values: dict[str, Any] = {}
    for field in dataclasses.fields(cls):  # type: ignore[arg-type]
        if field.name not in info:
            if field.default is dataclasses.MISSING:
                raise EdgeError(f"The model's data info has no {field.name!r}, which "
                                f"{cls.__name__.removesuffix('Facts').lower()} models need: export it "
                                "again with `kerasdl export`.")
            continue
        value = info[field.name]
        try:
            values[field.name] = _CONVERT.get(str(field.type), lambda v: v)(value)
        except (TypeError, ValueError):
            raise EdgeError(f"The model's data info holds {field.name}={value!r}, which is not a "
                            f"{field.type}.") from None
    return cls(**values)
