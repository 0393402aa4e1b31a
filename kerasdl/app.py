"""The contract every kerasdl app fulfils, and the shared classifier behaviour.

An app is wiring, not machinery. Its core: a config class, its data (`load_datasets`),
its model (`build_model`), and how a result is scored (`score`, `format_metrics`). On
top, what it has or has not:

- `SupervisedApp`: learns from (input, target) pairs with a `loss` and `metrics`
  (classifiers, forecasters);
- `CompilesItself`: compiles its model its own way (a GAN's two optimizers);
- `AutoSelectable`: its models can be compared example by example, so `--model auto`
  and the default run's baseline models can choose among them;
- `export_spec`: what `kerasdl export` makes of a trained model, an `ExportSpec`
  (`kerasdl.app_export`) the app returns.

Reading a user's inputs and describing the outputs is not here: the codec of the app's
task kind in the edge package (`kerasdl_edge.codecs`) does it, once, for `kerasdl
predict`, the serving client and the devices. What apps of one kind share (an image
classifier's data, preprocessing and export) is in `kerasdl.tasks`. Training,
checkpoints, tuning, export and serving live once in kerasdl and serve every app;
`tests/app_contract.py` is the test every app passes.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

import numpy as np

from kerasdl.app_export import ClassifierExportSpec, ExportSpec
from kerasdl.config import ClassifierConfig, TrainConfig
from kerasdl.errors import ConfigError

if TYPE_CHECKING:
    import keras
    import tensorflow as tf

    from kerasdl.data.pipeline import Augment
    from kerasdl.evaluation.baselines import Baseline

ConfigT = TypeVar("ConfigT", bound=TrainConfig)


# `--dataset sample:NAME` names one of an app's `named_samples`.
SAMPLE_PREFIX = "sample:"


@dataclass
class Datasets:
    """Unbatched `(input, target)` splits and the JSON-able facts that describe them.

    `info` is saved in run.json; model builders, codecs and export read it back, so it
    must hold everything they need (class names, input shape, ...).
    """

    train: "tf.data.Dataset"
    validation: "tf.data.Dataset"
    test: "tf.data.Dataset | None"
    info: dict[str, Any] = field(default_factory=dict)
    # Large arrays learned from the training split that only a new model's first
    # weights need (idf weights, naive-Bayes ratios): passed to `build_model` with the
    # info when training starts, then kept by the model's weights, not in run.json.
    initial_weights: dict[str, Any] = field(default_factory=dict)
    # The splits before preprocessing learned from the data (raw text before the
    # tokenizer), for classic baselines that read the data their own way; None when
    # the splits above are already raw.
    unprocessed: dict[str, "tf.data.Dataset | None"] | None = None


class App(abc.ABC, Generic[ConfigT]):
    """One task: its config, data, model and score."""

    name: ClassVar[str]
    description: ClassVar[str]
    # The kind of task (a key of `kerasdl_edge.codecs.TASKS`: "image_classification",
    # "text_classification", "audio_classification", "forecasting", "image_generation"):
    # it picks the codec that reads inputs and describes outputs, here and on devices, so
    # an app of an existing kind needs no edge code. Exports write it in their metadata.
    task: ClassVar[str]
    # Other registered apps this one uses (dcgan trains its scoring classifier with
    # vision): `kerasdl.registry.get_app` refuses an app whose requirements are missing.
    requires: ClassVar[tuple[str, ...]] = ()
    config_class: type[ConfigT]
    models: ClassVar[dict[str, str]] = {}
    default_model: ClassVar[str] = ""
    # The logged value that picks the best checkpoint, and whether higher is better.
    monitor: ClassVar[tuple[str, str]] = ("val_loss", "min")
    # The one number that export checks and benchmarks compare, from `score`, and
    # which way is better ("min" or "max").
    headline_metric: ClassVar[str] = "loss"
    headline_mode: ClassVar[str] = "min"
    # What a run whose model loses to a classic baseline suggests trying.
    baseline_advice: ClassVar[str] = "Try another --model, or more data."
    # `--model auto`'s candidates, in training order: label -> config overrides
    # (`kerasdl.training.auto`); none for an app without a choice worth searching.
    auto_recipes: ClassVar[dict[str, dict[str, Any]]] = {}
    # The classic baselines the app can ship as models (label -> config overrides):
    # `kerasdl train APP` with no --model trains them beside the default model and
    # ships the better on validation (`kerasdl.training.auto.NEVER_WORSE`).
    baseline_models: ClassVar[dict[str, dict[str, Any]]] = {}
    # Data info entries about where the data came from, not about the model's inputs
    # and outputs: evaluating on other data may change them.
    provenance_keys: ClassVar[tuple[str, ...]] = ("source", "sizes")
    # Logged values drawn, after `monitor`, when runs are compared side by side.
    comparison_curves: ClassVar[tuple[str, ...]] = ("val_loss", "loss", "learning_rate")
    # What `kerasdl export` makes of a trained model (`export_spec`).
    export_spec_class: ClassVar[type[ExportSpec]] = ExportSpec
    # The small real data set shipped with the app, read when no dataset is given.
    sample_dir: ClassVar[Path | None] = None
    # Other bundled samples, named by `--dataset sample:NAME` (e.g. text in another
    # language).
    named_samples: ClassVar[dict[str, Path]] = {}

    def bundled_samples(self) -> list[Path]:
        """Every sample folder shipped with the app."""
        return [p for p in (self.sample_dir, *self.named_samples.values()) if p is not None]

    def dataset_source(self, dataset: str | None) -> str | None:
        """`dataset` with `sample:NAME` replaced by that bundled sample's folder.

        Raises:
            ConfigError: for a sample name the app does not ship.
        """
        if dataset is None or not dataset.startswith(SAMPLE_PREFIX):
            return dataset
        name = dataset[len(SAMPLE_PREFIX):]
        if name not in self.named_samples:
            known = ", ".join(SAMPLE_PREFIX + n for n in self.named_samples) or "none"
            raise ConfigError(f"The {self.name} app has no bundled sample {dataset!r}. Bundled: {known}.")
        return str(self.named_samples[name])

    # ---- the core ---------------------------------------------------------------------

    @abc.abstractmethod
    def load_datasets(self, config: ConfigT, *, fitted: dict[str, Any] | None = None) -> Datasets:
        """Loads the train, validation and test splits named by `config.dataset`.

        Args:
            config: the app's config.
            fitted: the data info of a trained model. Preprocessing that is learned
                from the training split (a vocabulary) is taken from it instead of
                being learned again, so the model sees the inputs it was trained on.
        """

    @abc.abstractmethod
    def build_model(
        self, config: ConfigT, info: dict[str, Any], *, keras_module: ModuleType | None = None,
        batch_size: int | None = None,
    ) -> "keras.Model":
        """Builds the uncompiled model; its input takes what a client sends.

        Args:
            keras_module: Keras 3 (None) or tf_keras (a twin for tfmot).
            batch_size: a fixed batch size (TFLite runs recurrent layers only so).
        """

    @abc.abstractmethod
    def score(self, targets: np.ndarray, outputs: np.ndarray, info: dict[str, Any]) -> dict[str, Any]:
        """The app's metrics of `outputs` against `targets` (JSON-able)."""

    @abc.abstractmethod
    def format_metrics(self, metrics: dict[str, Any]) -> str:
        """A short text report of `evaluate`'s result."""

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

    def baseline_advice_for(self, info: dict[str, Any]) -> str:
        """What a run whose model loses to a classic baseline on this data suggests
        (`baseline_advice` unless the app narrows it to the data)."""
        return self.baseline_advice

    def fit_baselines(self, config: ConfigT, data: Datasets) -> list["Baseline"]:
        """The app's classic baselines (`kerasdl.evaluation.baselines`), fitted on
        `data.train` only and tuned on `data.validation` only, with their outputs on
        every split; none by default."""
        return []

    def plot_evaluation(self, metrics: dict[str, Any], info: dict[str, Any], plots_dir: Path) -> None:
        """Writes the app's evaluation plots (none by default)."""

    def model_name(self, config: ConfigT) -> str:
        name = config.model or self.default_model
        if name not in self.models:
            raise ConfigError(
                f"`model` must be one of {', '.join(self.models)} for the {self.name} app. "
                f"Received: model={name!r}"
            )
        return name

    def monitor_for(self, info: dict[str, Any]) -> tuple[str, str]:
        """`monitor` for this data (an app whose usual measure cannot work on some data
        picks another here)."""
        return self.monitor

    def headline_for(self, info: dict[str, Any]) -> str:
        """`headline_metric` for this data, likewise."""
        return self.headline_metric

    # ---- training hooks, with defaults ------------------------------------------------

    def prepare(self, config: ConfigT, data: Datasets) -> None:
        """Work a new run needs before it trains that is not data loading, adding what it
        makes to `data.info` (the dcgan app finds or trains the classifier that scores
        it). Runs once per new run or search; evaluation and export of a trained run find
        the result in the run's info."""

    def search_space(self, hp: Any, config: ConfigT) -> dict[str, Any]:
        """Config values a Keras Tuner search picks with `hp` (a
        `keras_tuner.HyperParameters`), each hyperparameter named after its field. The
        default tunes training only; apps add their models' own choices."""
        from kerasdl.search_space import training_space

        return training_space(hp, config)

    def augmentation(self, config: ConfigT, info: dict[str, Any]) -> "Augment | None":
        """A function applied to training batches each epoch, or None."""
        return None

    def training_callbacks(self, config: ConfigT, info: dict[str, Any], output_dir: Path,
                           validation: "tf.data.Dataset") -> list[Any]:
        """Keras callbacks of the app's own, run before kerasdl's checkpointing (so
        values they add to the epoch's logs are saved and can be monitored); files
        they write go under `output_dir` (the run's folder, or a tuning trial's)."""
        return []

    def custom_objects(self) -> dict[str, Any]:
        """The app's own saved classes (a model subclass), for loading its runs."""
        return {}

    # ---- export -----------------------------------------------------------------------

    def export_spec(self, config: ConfigT, info: dict[str, Any]) -> ExportSpec[ConfigT]:
        """What `kerasdl export` makes of a model trained with `config` on data described
        by `info` (`kerasdl.app_export`)."""
        return self.export_spec_class(self, config, info)


class SupervisedApp(App[ConfigT]):
    """An app that learns from (input, target) pairs with a loss: its model is compiled
    with the configured optimizer, this loss and these metrics."""

    @abc.abstractmethod
    def loss(self, config: ConfigT, info: dict[str, Any], *, keras_module: ModuleType | None = None) -> Any:
        """The training loss, from `keras_module` (Keras 3 by default, or tf_keras)."""

    @abc.abstractmethod
    def metrics(self, config: ConfigT, info: dict[str, Any], *,
                keras_module: ModuleType | None = None) -> list[Any]:
        """Fresh metric objects, from `keras_module`."""


class AutoSelectable(abc.ABC):
    """An app whose candidate models `--model auto` and the default run's baseline models
    can be compared on: one value per validation example, paired example by example
    (`kerasdl.evaluation.selection`)."""

    auto_recipes: ClassVar[dict[str, dict[str, Any]]]  # App's

    @abc.abstractmethod
    def per_example_metric(self, targets: np.ndarray, outputs: np.ndarray, info: dict[str, Any]) -> np.ndarray:
        """One value per example whose mean is `headline_for(info)` (1/0 for accuracy, the
        squared error for MSE)."""

    def correlation_length(self, info: dict[str, Any]) -> int:
        """How many consecutive validation examples may share data (1: independent
        examples); the standard error of a difference between models allows for it."""
        return 1

    def auto_candidates(self, config: Any) -> dict[str, dict[str, Any]]:
        """The app's `auto_recipes` worth training on `config`'s data, in order; all of
        them unless the app narrows them (forecast: no covariate models for one column)."""
        return dict(self.auto_recipes)


class CompilesItself(abc.ABC):
    """An app whose model compiles its own way (a GAN: two networks, two optimizers)."""

    @abc.abstractmethod
    def compile_model(self, model: "keras.Model", config: Any, info: dict[str, Any],
                      steps_per_epoch: int) -> None:
        """Compiles a new (or reloaded, uncompiled) model for training."""


class ClassifierApp(SupervisedApp[ConfigT], AutoSelectable):
    """Classification: softmax outputs, cross-entropy, accuracy and a full report."""

    monitor = ("val_accuracy", "max")
    headline_metric = "accuracy"
    headline_mode = "max"
    export_spec_class: ClassVar[type[ExportSpec]] = ClassifierExportSpec

    def loss(self, config: ConfigT, info: dict[str, Any], *, keras_module: ModuleType | None = None) -> Any:
        from kerasdl.layers.blocks import keras_or

        smoothing = config.label_smoothing if isinstance(config, ClassifierConfig) else 0.0
        if smoothing:
            from kerasdl.layers.losses import SparseCategoricalCrossentropy

            # Keras 3's loss runs on TensorFlow tensors, so tf_keras can call it too.
            return SparseCategoricalCrossentropy(label_smoothing=smoothing)
        return keras_or(keras_module).losses.SparseCategoricalCrossentropy()

    def metrics(self, config: ConfigT, info: dict[str, Any], *,
                keras_module: ModuleType | None = None) -> list[Any]:
        from kerasdl.layers.blocks import keras_or

        return [keras_or(keras_module).metrics.SparseCategoricalAccuracy(name="accuracy")]

    def score(self, targets: np.ndarray, outputs: np.ndarray, info: dict[str, Any]) -> dict[str, Any]:
        from kerasdl.evaluation.classification import classification_report

        return classification_report(targets, outputs, info["class_names"])

    def per_example_metric(self, targets: np.ndarray, outputs: np.ndarray, info: dict[str, Any]) -> np.ndarray:
        """1.0 where the top class is right, else 0.0 (their mean is the accuracy)."""
        labels = np.asarray(targets).astype(int).reshape(-1)
        return (np.asarray(outputs).argmax(axis=1) == labels).astype(np.float64)

    def plot_evaluation(self, metrics: dict[str, Any], info: dict[str, Any], plots_dir: Path) -> None:
        from kerasdl.evaluation.plots import plot_confusion_matrix

        plot_confusion_matrix(
            np.asarray(metrics["confusion_matrix"]), info["class_names"],
            plots_dir / "confusion_matrix.png",
        )

    def format_metrics(self, metrics: dict[str, Any]) -> str:
        from kerasdl.evaluation.classification import format_report

        return format_report(metrics)


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
