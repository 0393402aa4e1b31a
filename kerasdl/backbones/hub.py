"""keras-hub image presets as backbones: `--backbone DIR` (a preset directory, what
`save_to_preset` or `kerasdl fetch-weights hub:NAME --out DIR` writes), `--backbone
hub:NAME` (a named keras-hub preset, from keras-hub's own cache or downloaded by it from
Kaggle) or `--backbone hf://ORG/NAME` (a preset on the Hugging Face Hub, such as the Keras
team's copies `hf://keras/NAME`; downloaded by huggingface_hub, which honours
`HF_ENDPOINT`, a mirror, and keeps its files in its cache, `HF_HOME`).

A preset holds the backbone's config (`config.json`), its weights (`model.weights.h5`) and
its image converter (`image_converter.json`: the input size and the scale and offset of
its pixels). kerasdl builds the backbone from the config, puts the converter's scaling in
front of it (plain Keras layers, builtin TFLite ops) and loads the weights only when a new
model starts; a trained model is a `.keras` file like any other.

keras-hub is Keras 3 only: such a model has no tf_keras twin, so `kerasdl optimize`
(tfmot) refuses it with one line; export, TFLite and serving work as for any model.

Example:
>>> from kerasdl.backbones.hub import is_hub_backbone
>>> is_hub_backbone("hub:resnet_18_imagenet"), is_hub_backbone("mobilenet_v3_small")
(True, False)
>>> HubPreset("hf://keras/bert_tiny_en_uncased").short_name
'bert_tiny_en_uncased'

"""

from __future__ import annotations

import logging
from pathlib import Path
from types import ModuleType
from typing import Any

from kerasdl.backbones.weights import (
    NO_WEIGHTS,
    PUBLISHED,
    ResolvedWeights,
    WeightsError,
    file_digest,
    resolve_weights,
)
from kerasdl.errors import ConfigError

logger = logging.getLogger(__name__)

HUB_PREFIX = "hub:"
HF_PREFIX = "hf://"
NAMED_PRESET_PREFIXES = (HUB_PREFIX, HF_PREFIX)
PRESET_FILES = ("config.json", "metadata.json")
WEIGHTS_FILE = "model.weights.h5"
HUB_LAYER = "hub_backbone"


def is_hub_backbone(name: str) -> bool:
    """Whether `backbone` names a keras-hub preset: `hub:NAME`, `hf://ORG/NAME` or a
    preset directory."""
    if is_named_preset(name):
        return True
    folder = Path(name).expanduser()
    return all((folder / f).is_file() for f in PRESET_FILES)


def is_named_preset(name: str) -> bool:
    """Whether `name` is a preset to download by name (`hub:NAME`, `hf://ORG/NAME`), not a
    folder."""
    return name.startswith(NAMED_PRESET_PREFIXES)


def recorded_preset_name(name: str) -> str:
    """How runs, exports and model cards name a backbone: a handle or a registry name as
    given, a preset folder by its own name (no path of the training machine).

    Example:
    >>> recorded_preset_name("/home/me/presets/bert_tiny/"), recorded_preset_name("hf://keras/bert_base_zh")
    ('bert_tiny', 'hf://keras/bert_base_zh')
    """
    if is_named_preset(name) or not ("/" in name or Path(name).expanduser().is_dir()):
        return name
    return Path(name).expanduser().resolve().name


def _keras_hub() -> Any:
    try:
        import keras_hub
    except ImportError:
        raise ConfigError("keras-hub presets need keras-hub: `pip install keras-hub`.") from None
    return keras_hub


class HubPreset:
    """A keras-hub preset named by `--backbone`: where it is, how its parts load, and
    its weights as the resolver finds them. Image and text backbones build on it.

    Args:
        backbone: `hub:NAME`, `hf://ORG/NAME` or a preset directory's path.
    """

    def __init__(self, backbone: str) -> None:
        self.name = backbone
        if backbone.startswith(HUB_PREFIX):
            self.preset = backbone[len(HUB_PREFIX):]  # keras-hub's own name (Kaggle)
        elif backbone.startswith(HF_PREFIX):
            self.preset = backbone  # keras-hub reads hf:// handles itself
        else:
            self.preset = str(Path(backbone).expanduser().resolve())
        self.weights = None  # no file of kerasdl's registry: the preset brings its own

    @property
    def short_name(self) -> str:
        """The preset's own name: a folder's name, the last part of a handle."""
        return self.preset.rstrip("/").rsplit("/", 1)[-1]

    @property
    def record_name(self) -> str:
        """How runs and exports name the preset (`recorded_preset_name`)."""
        return recorded_preset_name(self.name)

    def _from_preset(self, what: str, load: Any) -> Any:
        try:
            return load(self.preset)
        except (ConfigError, KeyboardInterrupt):
            raise
        except Exception as e:  # keras-hub's and kagglehub's network and file errors
            reason = str(e).splitlines()[0][:200] if str(e) else type(e).__name__
            handle = self.name if is_named_preset(self.name) else f"{HUB_PREFIX}{self.short_name}"
            mirror = " (or set HF_ENDPOINT to a reachable mirror)" if self.name.startswith(HF_PREFIX) else ""
            raise WeightsError(
                f"Cannot load the {what} of keras-hub preset {self.preset!r} ({reason}). Offline, a named preset "
                f"must be in its cache: on a connected machine run `kerasdl fetch-weights {handle} --out DIR` "
                f"and pass --backbone DIR/{self.short_name} here{mirror}.") from None

    @property
    def description(self) -> str:
        return f"keras-hub preset {self.preset}"

    def network(self) -> Any:
        """The preset's backbone network, with random weights (`load` gives it the
        preset's)."""
        hub = _keras_hub()
        return self._from_preset("backbone", lambda p: hub.models.Backbone.from_preset(p, load_weights=False))

    def resolve(self, weights: str) -> ResolvedWeights:
        """The weights file a new model starts from: the preset's own for "imagenet"
        (its pretrained weights), a user's file, or none."""
        if (weights or "").strip().lower() != PUBLISHED:
            return resolve_weights(None, weights, what=f"the keras-hub preset {self.preset}")  # none, or a file
        path = Path(self.preset) / WEIGHTS_FILE
        if not path.is_file():
            from keras_hub.src.utils.preset_utils import get_file

            path = Path(self._from_preset("weights", lambda p: get_file(p, WEIGHTS_FILE)))
        return ResolvedWeights("preset", path, file_digest(path))

    def has_weights_here(self, weights: str) -> bool:
        """Whether `weights` can be had without a download: a preset directory's own, or a
        Hugging Face preset's already in huggingface_hub's cache."""
        choice = weights.strip().lower()
        if choice == NO_WEIGHTS:
            return False
        if choice != PUBLISHED or (Path(self.preset) / WEIGHTS_FILE).is_file():
            return True
        if self.name.startswith(HF_PREFIX):
            try:
                from huggingface_hub import try_to_load_from_cache
            except ImportError:
                return False
            cached = try_to_load_from_cache(self.name[len(HF_PREFIX):], WEIGHTS_FILE)
            return isinstance(cached, str) and Path(cached).is_file()
        return False

    def load_into(self, network: Any, weights: ResolvedWeights) -> None:
        """Loads `weights` into the keras-hub `network`.

        Raises:
            ConfigError: when the file does not fit it.
        """
        if weights.path is None:
            return
        from kerasdl.backbones.image import load_weights_file

        try:
            load_weights_file(network, weights.path)
        except Exception as e:
            raise ConfigError(f"`weights`: {weights.path} does not fit the keras-hub preset {self.preset} "
                              f"({str(e).splitlines()[0][:200]}).") from None


class HubImageBackbone(HubPreset):
    """A keras-hub image preset used like an `ImageBackbone` of the registry.

    Args:
        backbone: `hub:NAME` or a preset directory's path.
    """

    def __init__(self, backbone: str) -> None:
        super().__init__(backbone)
        self._converter: Any = None

    def converter(self) -> Any:
        """The preset's image converter (its size, scale and offset)."""
        if self._converter is None:
            hub = _keras_hub()
            self._converter = self._from_preset("image converter", hub.layers.ImageConverter.from_preset)
        return self._converter

    @property
    def input_size(self) -> int:
        size = getattr(self.converter(), "image_size", None)
        return int(size[0]) if size and size[0] else 224

    def build(self, size: int | None = None, *, keras_module: ModuleType | None = None) -> Any:
        """The preset's backbone with random weights behind its own pixel scaling, taking
        float RGB [0, 255] at `size`, named `backbone`.

        Raises:
            ConfigError: for tf_keras (no twin) or a backbone without a feature map.
        """
        import keras

        if keras_module is not None and keras_module is not keras:
            raise ConfigError(f"The keras-hub backbone {self.preset} is Keras 3 only: it has no tf_keras twin, "
                              "so tfmot (kerasdl optimize) cannot work on it.")
        from kerasdl.backbones.image import BACKBONE_LAYER

        converter = self.converter()
        network = self.network()
        network.name = HUB_LAYER
        side = size or self.input_size
        inputs = keras.Input((side, side, 3), name="pixels")
        scale = converter.scale if converter.scale is not None else 1.0
        offset = converter.offset if converter.offset is not None else 0.0
        x = keras.layers.Rescaling(scale, offset, name="preset_scaling")(inputs)
        features = network(x)
        if len(features.shape) != 4:
            raise ConfigError(f"The keras-hub preset {self.preset} gives features of shape {tuple(features.shape)}; "
                              "kerasdl pools a feature map [batch, height, width, channels].")
        return keras.Model(inputs, features, name=BACKBONE_LAYER)

    def load(self, model: Any, weights: ResolvedWeights) -> None:
        """Loads `weights` into the keras-hub network inside a built backbone.

        Raises:
            ConfigError: when the file does not fit it.
        """
        self.load_into(model.get_layer(HUB_LAYER), weights)


def fetch_hub_preset(name: str, out_dir: Path) -> Path:
    """Downloads the keras-hub preset `name` (`hub:NAME` or `hf://ORG/NAME`, through
    keras-hub) and saves it as the directory `out_dir/NAME`, to copy to a machine without
    internet: the backbone with its weights, and its tokenizer (text) or image converter
    (images) where it has one.

    Raises:
        ConfigError: for a name that is not a named preset.
        WeightsError: when keras-hub cannot get it.
    """
    if not is_named_preset(name):
        raise ConfigError(f"{name!r} is not a named keras-hub preset: give {HUB_PREFIX}NAME or {HF_PREFIX}ORG/NAME.")
    spec = HubPreset(name)
    hub = _keras_hub()
    from keras_hub.src.utils.preset_utils import check_file_exists

    network = spec._from_preset("backbone", hub.models.Backbone.from_preset)
    folder = Path(out_dir).expanduser() / spec.short_name
    network.save_to_preset(str(folder))
    for part, file, load in (("tokenizer", "tokenizer.json", hub.tokenizers.Tokenizer.from_preset),
                             ("image converter", "image_converter.json", hub.layers.ImageConverter.from_preset)):
        if spec._from_preset(f"{part} file list", lambda p: check_file_exists(p, file)):
            spec._from_preset(part, load).save_to_preset(str(folder))
    return folder
