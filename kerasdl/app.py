"""The interface every kerasdl app implements, and the shared classifier behaviour.

An app is wiring, not machinery: it names its config, loads its data, builds its
models and says how inputs are read and outputs described. Training, checkpoints,
evaluation reports, plots and export live once in kerasdl and serve every app.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, ClassVar, Sequence

import numpy as np

from kerasdl.config import ClassifierConfig, TrainConfig
from kerasdl.errors import ConfigError, KerasdlError

if TYPE_CHECKING:
    import keras
    import tensorflow as tf

    from kerasdl.data.pipeline import Augment


@dataclass
class Datasets:
    """Unbatched `(input, target)` splits and the JSON-able facts that describe them.

    `info` is saved in run.json; model builders, `predict` and export read it back, so
    it must hold everything they need (class names, input shape, ...).
    """

    train: "tf.data.Dataset"
    validation: "tf.data.Dataset"
    test: "tf.data.Dataset | None"
    info: dict[str, Any] = field(default_factory=dict)
    # Large arrays learned from the training split that only a new model's first
    # weights need (idf weights, naive-Bayes ratios): passed to `build_model` with the
    # info when training starts, then kept by the model's weights, not in run.json.
    initial_weights: dict[str, Any] = field(default_factory=dict)


class App(abc.ABC):
    """One task: its data, its models, its inputs and outputs."""

    name: ClassVar[str]
    description: ClassVar[str]
    config_class: ClassVar[type[TrainConfig]] = TrainConfig
    models: ClassVar[dict[str, str]] = {}
    default_model: ClassVar[str] = ""
    # The logged value that picks the best checkpoint, and whether higher is better.
    monitor: ClassVar[tuple[str, str]] = ("val_loss", "min")
    # The one number that export checks and benchmarks compare, from `score`.
    headline_metric: ClassVar[str] = "loss"
    # Data info entries about where the data came from, not about the model's inputs
    # and outputs: evaluating on other data may change them.
    provenance_keys: ClassVar[tuple[str, ...]] = ("source", "sizes")
    # Models whose layers TFLite runs with a fixed batch only (recurrent ones): their
    # TFLite export is made from a batch-1 copy, so `build_model` takes `batch_size`.
    fixed_batch_models: ClassVar[tuple[str, ...]] = ()
    # Layers whose ops stay float32 in a full-int8 TFLite export (selective
    # quantization), e.g. a spectrogram front end that 8 bits cannot hold.
    int8_float_layers: ClassVar[tuple[str, ...]] = ()
    # Logged values drawn, after `monitor`, when runs are compared side by side.
    comparison_curves: ClassVar[tuple[str, ...]] = ("val_loss", "loss", "learning_rate")

    def monitor_for(self, info: dict[str, Any]) -> tuple[str, str]:
        """`monitor` for this data (an app whose usual measure cannot work on some data
        picks another here)."""
        return self.monitor

    def headline_for(self, info: dict[str, Any]) -> str:
        """`headline_metric` for this data, likewise."""
        return self.headline_metric

    def model_name(self, config: TrainConfig) -> str:
        name = config.model or self.default_model
        if name not in self.models:
            raise ConfigError(
                f"`model` must be one of {', '.join(self.models)} for the {self.name} app. "
                f"Received: model={name!r}"
            )
        return name

    @abc.abstractmethod
    def load_datasets(self, config: TrainConfig, *, fitted: dict[str, Any] | None = None) -> Datasets:
        """Loads the train, validation and test splits named by `config.dataset`.

        Args:
            config: the app's config.
            fitted: the data info of a trained model. Preprocessing that is learned
                from the training split (a vocabulary) is taken from it instead of
                being learned again, so the model sees the inputs it was trained on.
        """

    @abc.abstractmethod
    def build_model(
        self, config: TrainConfig, info: dict[str, Any], *, keras_module: ModuleType | None = None
    ) -> "keras.Model":
        """Builds the uncompiled model; its input takes what a client sends."""

    def compile_model(self, model: "keras.Model", config: TrainConfig, info: dict[str, Any],
                      steps_per_epoch: int) -> None:
        """Compiles a new (or reloaded, uncompiled) model for training: the configured
        optimizer and schedule, the app's loss and metrics."""
        from kerasdl.training.optimizers import build_optimizer

        model.compile(optimizer=build_optimizer(config, steps_per_epoch),
                      loss=self.loss(config, info), metrics=self.metrics(config, info))

    def search_space(self, hp: Any, config: TrainConfig) -> dict[str, Any]:
        """Config values a Keras Tuner search picks with `hp` (a
        `keras_tuner.HyperParameters`), each hyperparameter named after its field. The
        default tunes training only; apps add their models' own choices."""
        from kerasdl.tuning.spaces import training_space

        return training_space(hp, config)

    def training_callbacks(self, config: TrainConfig, info: dict[str, Any], output_dir: Path,
                           validation: "tf.data.Dataset") -> list[Any]:
        """Keras callbacks of the app's own, run before kerasdl's checkpointing (so
        values they add to the epoch's logs are saved and can be monitored); files
        they write go under `output_dir` (the run's folder, or a tuning trial's)."""
        return []

    def custom_objects(self) -> dict[str, Any]:
        """The app's own saved classes (a model subclass), for loading its runs."""
        return {}

    def load_model(self, path: str | Path, *, compile: bool = False) -> "keras.Model":
        """Loads one of this app's saved `.keras` models, with its own classes."""
        from kerasdl.training.saving import load_model

        return load_model(path, compile=compile, custom_objects=self.custom_objects())

    def export_model(self, model: "keras.Model") -> "keras.Model":
        """The part of a trained model that is exported and served (all of it by
        default)."""
        return model

    def augmentation(self, config: TrainConfig, info: dict[str, Any]) -> "Augment | None":
        """A function applied to training batches each epoch, or None."""
        return None

    @abc.abstractmethod
    def loss(
        self, config: TrainConfig, info: dict[str, Any], *, keras_module: ModuleType | None = None
    ) -> Any:
        """The training loss, from `keras_module` (Keras 3 by default, or tf_keras)."""

    @abc.abstractmethod
    def metrics(
        self, config: TrainConfig, info: dict[str, Any], *, keras_module: ModuleType | None = None
    ) -> list[Any]:
        """Fresh metric objects, from `keras_module`."""

    @abc.abstractmethod
    def score(self, targets: np.ndarray, outputs: np.ndarray, info: dict[str, Any]) -> dict[str, Any]:
        """The app's metrics of `outputs` against `targets` (JSON-able)."""

    def plot_evaluation(self, metrics: dict[str, Any], info: dict[str, Any], plots_dir: Path) -> None:
        """Writes the app's evaluation plots (none by default)."""

    def evaluate(
        self, model: Any, dataset: "tf.data.Dataset", info: dict[str, Any],
        *, plots_dir: Path | None = None,
    ) -> dict[str, Any]:
        """Metrics of `model` (a Keras model or anything called like one) on a batched
        split; writes plots to `plots_dir` if given."""
        targets, outputs = predict_dataset(model, dataset)
        metrics = self.score(targets, outputs, info)
        if plots_dir is not None:
            self.plot_evaluation(metrics, info, plots_dir)
        return metrics

    @abc.abstractmethod
    def format_metrics(self, metrics: dict[str, Any]) -> str:
        """A short text report of `evaluate`'s result."""

    @abc.abstractmethod
    def read_inputs(self, inputs: Sequence[str], info: dict[str, Any]) -> np.ndarray:
        """Reads what the user gave `predict` (file paths, ...) into one model batch."""

    def serving_endpoints(self, model: "keras.Model", info: dict[str, Any]) -> dict[str, Any]:
        """SavedModel endpoints that take what a client has, as
        {name: (function, input_signature)} or {name: (function, input_signature,
        layers)}, `layers` being what the function uses besides the model (a
        tokenizer's lookup table) that the SavedModel must hold; one endpoint should
        be `serving_default`.

        The export adds `model_input` (the model's own input) to every SavedModel.
        """
        return {}

    def tflite_model(self, model: "keras.Model", config: TrainConfig, info: dict[str, Any]) -> "keras.Model":
        """The model to convert to TFLite: a batch-1 copy for `fixed_batch_models`, the
        model itself otherwise."""
        if self.model_name(config) not in self.fixed_batch_models:
            return model
        fixed = self.build_model(config, info, batch_size=1)  # type: ignore[call-arg]
        fixed.set_weights(model.get_weights())
        return fixed

    def preprocessing_metadata(self, info: dict[str, Any]) -> dict[str, Any]:
        """How a client turns raw data into the model's input, for edge runtimes."""
        return {}

    def serving_instances(self, inputs: Sequence[str]) -> list[Any]:
        """What `predict --server` sends: one TF Serving row-format instance of
        `serving_default`'s input per user input (bytes as {"b64": ...})."""
        raise KerasdlError(f"`predict --server` cannot send {self.name} inputs; post TF Serving "
                           "requests to the model's serving_default yourself (see the README).")

    def describe_served(self, predictions: list[Any]) -> list[dict[str, Any]]:
        """`predict` rows from a server's answer to `serving_instances`."""
        return [{"prediction": p} for p in predictions]

    def stream(self, model: Any, path: str, info: dict[str, Any], **options: Any) -> list[dict[str, Any]]:
        """What `model` finds along the long input at `path`, one row per event with its
        time (apps with a streaming mode override this)."""
        raise KerasdlError(f"The {self.name} app has no streaming mode; --stream is for speech.")

    @abc.abstractmethod
    def describe_outputs(
        self, outputs: np.ndarray, info: dict[str, Any], *, top_k: int = 3
    ) -> list[dict[str, Any]]:
        """One JSON-able description per row of model output."""

    @abc.abstractmethod
    def format_prediction(self, row: dict[str, Any]) -> str:
        """`predict`'s row ({"input": ..., **a description}) as text for a terminal."""


class ClassifierApp(App):
    """Classification: softmax outputs, cross-entropy, accuracy and a full report."""

    config_class: ClassVar[type[TrainConfig]] = ClassifierConfig
    monitor = ("val_accuracy", "max")
    headline_metric = "accuracy"

    def loss(
        self, config: TrainConfig, info: dict[str, Any], *, keras_module: ModuleType | None = None
    ) -> Any:
        from kerasdl.layers.blocks import keras_or

        smoothing = getattr(config, "label_smoothing", 0.0)
        if smoothing:
            from kerasdl.training.losses import SparseCategoricalCrossentropy

            # Keras 3's loss runs on TensorFlow tensors, so tf_keras can call it too.
            return SparseCategoricalCrossentropy(label_smoothing=smoothing)
        return keras_or(keras_module).losses.SparseCategoricalCrossentropy()

    def metrics(
        self, config: TrainConfig, info: dict[str, Any], *, keras_module: ModuleType | None = None
    ) -> list[Any]:
        from kerasdl.layers.blocks import keras_or

        return [keras_or(keras_module).metrics.SparseCategoricalAccuracy(name="accuracy")]

    def score(self, targets: np.ndarray, outputs: np.ndarray, info: dict[str, Any]) -> dict[str, Any]:
        from kerasdl.evaluation.classification import classification_report

        return classification_report(targets, outputs, info["class_names"])

    def plot_evaluation(self, metrics: dict[str, Any], info: dict[str, Any], plots_dir: Path) -> None:
        from kerasdl.evaluation.plots import plot_confusion_matrix

        plot_confusion_matrix(
            np.asarray(metrics["confusion_matrix"]), info["class_names"],
            plots_dir / "confusion_matrix.png",
        )

    def format_metrics(self, metrics: dict[str, Any]) -> str:
        from kerasdl.evaluation.classification import format_report

        return format_report(metrics)

    def format_prediction(self, row: dict[str, Any]) -> str:
        from kerasdl_edge.tasks import format_classification

        return format_classification(row)

    def describe_served(self, predictions: list[Any]) -> list[dict[str, Any]]:
        """From `named_probabilities` outputs: the top label and its probability (the
        other labels' names are not in the answer)."""
        described = []
        for p in predictions:
            if not isinstance(p, dict) or not {"classes", "scores"} <= set(p):
                raise KerasdlError("The server's answer has no 'classes' and 'scores': is the "
                                   f"model a kerasdl {self.name} export?")
            top = {"label": p["classes"], "probability": float(p["scores"])}
            described.append({**top, "top": [top], "probabilities": p.get("probabilities")})
        return described

    def describe_outputs(
        self, outputs: np.ndarray, info: dict[str, Any], *, top_k: int = 3
    ) -> list[dict[str, Any]]:
        from kerasdl_edge.tasks import describe_probabilities

        return describe_probabilities(outputs, info["class_names"], top_k=top_k)


def named_probabilities(class_names: Sequence[str]) -> Any:
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


def predict_dataset(model: Any, dataset: "tf.data.Dataset") -> tuple[np.ndarray, np.ndarray]:
    """Runs `model` (anything called like a Keras model) over a batched
    `(input, target)` dataset; returns (targets, outputs)."""
    targets, outputs = [], []
    for x, y in dataset:
        outputs.append(np.asarray(model(x, training=False)))
        targets.append(np.asarray(y))
    if not outputs:
        return np.zeros((0,)), np.zeros((0, 0))
    return np.concatenate(targets), np.concatenate(outputs)
