"""How an app's trained model leaves kerasdl: the export specification an app returns.

`App.export_spec(config, info)` gives one `ExportSpec` per export, made for the run's
config and data info. It says what `kerasdl export` needs and nothing else lives on the
app: the model that is exported (`exported_model`), the SavedModel's endpoints that take
what a client has (`serving_endpoints`), the model converted to TFLite (`tflite_model`)
and its quirks (`settings`, `int8_output`), the metadata that tells an edge runtime how
to prepare inputs (`preprocessing_metadata`), the input a mobile runtime hands the model
(`task_input`) and the standard TFLite metadata with the MediaPipe task that runs the
file (`mobile_task`). An app of a shared kind gets most of it from its task module
(`kerasdl.tasks`); the defaults suit a model whose input is what a client sends.

Example:
>>> from kerasdl.registry import get_app
>>> app = get_app("vision")
>>> spec = app.export_spec(app.config_class(), {"image_shape": [28, 28, 1], "class_names": ["a", "b"]})
>>> spec.int8_output, spec.task_input().info
('uint8', {'input_channels': 3})
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Generic, TypeVar

import numpy as np

from kerasdl.config import TrainConfig

if TYPE_CHECKING:
    import keras

    from kerasdl.app import App
    from kerasdl_edge.standard_metadata import BertTokenizerInput, TensorInfo

ConfigT = TypeVar("ConfigT", bound=TrainConfig)


@dataclass(frozen=True)
class ExportSettings:
    """How an app's models leave kerasdl.

    Attributes:
        fixed_batch_models: models whose layers TFLite runs with a fixed batch only
            (recurrent ones): their TFLite file is made from a batch-1 copy.
        int8_float_layers: layers whose ops stay float32 in a full-int8 TFLite file
            (selective quantization), e.g. a spectrogram front end 8 bits cannot hold.
        dynamic_with_litert: make the `dynamic` variant with LiteRT Quantizer, which
            keeps `int8_float_layers` float there too.
    """

    fixed_batch_models: tuple[str, ...] = ()
    int8_float_layers: tuple[str, ...] = ()
    # The `dynamic` variant from LiteRT Quantizer (dynamic_wi8_afp32, with the
    # int8_float_layers kept float) instead of the converter, whose dynamic-range
    # quantization cannot leave a front end float (measured on FSDD: 81.7 % against 100 %).
    dynamic_with_litert: bool = False


@dataclass(frozen=True)
class TaskInput:
    """How a task-ready TFLite file's input differs from the model's own input (what
    MediaPipe Tasks hand a model: RGB frames, float waveforms).

    Attributes:
        wrap: the model with that input (a layer or two in front of it).
        convert: a batch of the model's own inputs to the wrapped model's inputs (for
            int8 calibration and the export's check).
        info: data-info entries telling the task's codec to read that input.
    """

    wrap: Callable[["keras.Model"], "keras.Model"]
    convert: Callable[[np.ndarray], np.ndarray]
    info: dict[str, Any]


@dataclass(frozen=True)
class MobileTask:
    """An export's tensors as the standard TFLite metadata describes them, and the
    MediaPipe task that runs the file (None, with `note` saying why, where none does)."""

    input: "TensorInfo | tuple[TensorInfo, ...]"
    output: "TensorInfo"
    task: str | None
    note: str = ""
    # A BERT model's tokenizer, for its three inputs (ids, mask, segment_ids).
    tokenizer: "BertTokenizerInput | None" = None

    @property
    def inputs(self) -> "tuple[TensorInfo, ...]":
        """The input tensors described, in any order (the export orders them as the
        file's inputs, by name)."""
        return self.input if isinstance(self.input, tuple) else (self.input,)


class ExportSpec(Generic[ConfigT]):
    """What `kerasdl export` makes of one trained model of `app`.

    Args:
        app: the app that trained it.
        config: the run's config.
        info: the run's data info (with `task_input`'s entries for a task-ready file).
    """

    settings: ClassVar[ExportSettings] = ExportSettings()
    # The type of a full-int8 TFLite file's output: float32, or uint8 for probabilities
    # (what MediaPipe's classifiers take; int8 they refuse).
    int8_output: ClassVar[str] = "float32"

    def __init__(self, app: "App[ConfigT]", config: ConfigT, info: dict[str, Any]) -> None:
        self.app, self.config, self.info = app, config, info

    def for_info(self, info: dict[str, Any]) -> "ExportSpec[ConfigT]":
        """The same specification for other data info (a task-ready variant's)."""
        return type(self)(self.app, self.config, info)

    def exported_model(self, model: "keras.Model") -> "keras.Model":
        """The part of a trained model that is exported and served (all of it by
        default; a GAN's generator)."""
        return model

    def tflite_model(self, model: "keras.Model") -> "keras.Model":
        """The model to convert to TFLite: a batch-1 copy for the fixed-batch models,
        the model itself otherwise."""
        if self.app.model_name(self.config) not in self.settings.fixed_batch_models:
            return model
        fixed = self.app.build_model(self.config, self.info, batch_size=1)
        fixed.set_weights(model.get_weights())
        return fixed

    def serving_endpoints(self, model: "keras.Model") -> dict[str, Any]:
        """SavedModel endpoints that take what a client has, as
        {name: (function, input_signature)} or {name: (function, input_signature,
        layers)}, `layers` being what the function uses besides the model (a
        tokenizer's lookup table) that the SavedModel must hold; one endpoint should
        be `serving_default`.

        The export adds `model_input` (the model's own input) to every SavedModel.
        """
        return {}

    def preprocessing_metadata(self) -> dict[str, Any]:
        """How a client turns raw data into the model's input, for edge runtimes."""
        return {}

    def task_input(self) -> TaskInput | None:
        """The input a standard mobile runtime hands the model, where it differs from
        the model's own (None: the same)."""
        return None

    def mobile_task(self) -> MobileTask:
        """The standard metadata's description of the exported tensors (`info` holds
        `task_input`'s entries when the file is task-ready)."""
        from kerasdl_edge.standard_metadata import TensorInfo

        return MobileTask(TensorInfo("input", self.preprocessing_metadata().get("input", "")),
                          TensorInfo("output"), None,
                          f"no MediaPipe task runs {self.app.task.replace('_', ' ')} models; use "
                          "kerasdl-edge or the TFLite interpreter")


class ClassifierExportSpec(ExportSpec[ConfigT]):
    """A classifier's export: probabilities out, uint8 in full-int8 files."""

    int8_output: ClassVar[str] = "uint8"

    def probabilities_tensor(self) -> "TensorInfo":
        """The standard metadata of the softmax output: labels and the [0, 1] range."""
        from kerasdl_edge.standard_metadata import TensorInfo

        return TensorInfo("probability", "The probability of each class, in the order of the labels.",
                          labels=tuple(self.info["class_names"]), value_range=(0.0, 1.0))


def named_probabilities(class_names: Any) -> Any:
    """A function, for SavedModel signatures, from a probability batch to named outputs:
    `probabilities`, `classes` (the top label) and `scores` (its probability)."""
    import tensorflow as tf

    labels = tf.constant(list(class_names))

    def outputs(probabilities: "tf.Tensor") -> dict[str, "tf.Tensor"]:
        return {
            "probabilities": probabilities,
            "classes": tf.gather(labels, tf.argmax(probabilities, axis=-1)),
            "scores": tf.reduce_max(probabilities, axis=-1),
        }

    return outputs
