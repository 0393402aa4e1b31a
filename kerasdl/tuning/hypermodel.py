"""Any kerasdl app as a Keras Tuner HyperModel.

The app declares its search space once (`App.search_space`): a function from Keras
Tuner's `hp` to config values. The HyperModel turns each trial's values into an
ordinary, validated config, then builds, compiles and fits exactly as `kerasdl train`
does (`training.setup.prepare_model` and `prepare_fit`: the app's model under the
strategy and precision policy, started from `init_from`'s weights, with the L1/L2
penalties and the distillation teacher; the optimizer and schedule, tf.data pipelines,
callbacks), so the best trial's config trains the same model again.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import keras_tuner

from kerasdl.config import TrainConfig
from kerasdl.errors import KerasdlError

if TYPE_CHECKING:
    from kerasdl.app import App, Datasets

# Config fields that change how a model trains but not what data it reads: trials that
# differ only in these share one loaded data set.
TRAINING_ONLY_FIELDS = frozenset({
    "epochs", "batch_size", "optimizer", "learning_rate", "schedule", "warmup_epochs",
    "weight_decay", "dropout", "early_stopping", "augment", "label_smoothing", "strategy",
    "mixed_precision",
})


class ObjectiveNotLogged(KerasdlError, keras_tuner.errors.FatalError):
    """The objective is not among the metrics a trial logs: no trial can succeed, so
    Keras Tuner stops the search at once (a FatalError) instead of failing each."""


class _CheckObjective:
    """Fails the first epoch whose logs lack the objective, naming what they hold."""

    def __new__(cls, objective: str) -> Any:
        import keras

        class CheckObjective(keras.callbacks.Callback):
            def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
                if objective not in (logs or {}):
                    raise ObjectiveNotLogged(
                        f"`objective={objective}` is not a metric the trials log; choose from "
                        f"{', '.join(sorted(logs or {}))}.")

        return CheckObjective()


class AppHyperModel(keras_tuner.HyperModel):
    """Builds and fits an app's model from a trial's hyperparameters.

    Args:
        app: the app whose `search_space` is searched.
        base_config: values the search does not set.
        verbose: Keras' progress display for each trial's fit.

    Example:
    >>> import keras_tuner
    >>> from kerasdl.registry import get_app
    >>> from kerasdl.tuning.hypermodel import AppHyperModel
    >>> app = get_app("vision")
    >>> hypermodel = AppHyperModel(app, app.config_class(epochs=1))
    >>> config = hypermodel.trial_config(keras_tuner.HyperParameters())  # the defaults
    >>> config.model in app.models
    True
    """

    def __init__(self, app: "App", base_config: TrainConfig, *, objective: str | None = None,
                 verbose: Any = 0) -> None:
        super().__init__(name=app.name)
        self.app = app
        self.objective = objective or app.monitor[0]
        self.base_config = base_config
        self.verbose = verbose
        # Set by the tuner before each trial: where its callbacks write files.
        self.output_dir: Path | None = None
        self._data_key: str | None = None
        self._data: "Datasets | None" = None
        # One per strategy name, made at the first trial: a TPU or a set of GPUs is
        # connected to once per process, not once per trial.
        self._strategies: dict[str, Any] = {}

    def trial_config(self, hp: keras_tuner.HyperParameters) -> TrainConfig:
        """The base config with the values the app's search space picks for `hp`."""
        # Six significant digits: hp's float steps leave 0.30000000000000004 behind.
        values = {k: float(f"{v:.6g}") if isinstance(v, float) else v
                  for k, v in self.app.search_space(hp, self.base_config).items()}
        unknown = sorted(set(values) - {f.name for f in dataclasses.fields(self.base_config)})
        if unknown:
            raise KerasdlError(f"The {self.app.name} search space sets unknown config fields: "
                               f"{', '.join(unknown)}.")
        return dataclasses.replace(self.base_config, **values)

    def datasets(self, config: TrainConfig) -> "Datasets":
        """The data for `config`, loaded again only when a field that shapes it changed
        (one data set is held at a time)."""
        key = json.dumps({k: v for k, v in config.to_dict().items() if k not in TRAINING_ONLY_FIELDS},
                         sort_keys=True, default=str)
        if key != self._data_key:
            from kerasdl.training.setup import source_data_info

            self._data = None  # released before the next one loads
            # A trial started from another run (init_from, teacher) reads its inputs with
            # that run's preprocessing (a vocabulary), as `kerasdl train` does.
            self._data = self.app.load_datasets(config, fitted=source_data_info(self.app, config))
            self._data_key = key
            self.app.prepare(config, self._data)
        assert self._data is not None
        return self._data

    def build(self, hp: keras_tuner.HyperParameters) -> Any:
        """The trial's model, made and compiled as `kerasdl train` makes it
        (`training.setup.prepare_model`)."""
        import keras

        from kerasdl.training.setup import prepare_fit, prepare_model

        config = self.trial_config(hp)
        data = self.datasets(config)
        keras.utils.set_random_seed(config.seed)
        # The pipelines before the model after the seed, in `kerasdl train`'s order, so
        # that both draw from the seeded generators alike.
        steps = prepare_fit(self.app, config, data, output_dir=self._output_dir(), app_callbacks=False).steps_per_epoch
        return prepare_model(self.app, config, data.info, initial_weights=data.initial_weights,
                             steps_per_epoch=steps, strategy=self._strategy(config.strategy))

    def fit(self, hp: keras_tuner.HyperParameters, model: Any, *args: Any,
            callbacks: list[Any] | None = None, epochs: int | None = None, **kwargs: Any) -> Any:
        """Trains `model` on the app's pipelines, with the app's callbacks, as `kerasdl
        train` does; `epochs` (Hyperband's budget for the trial) overrides the config's,
        and Keras Tuner's callbacks run last so they see every value the app's log."""
        from kerasdl.training.setup import prepare_fit

        config = self.trial_config(hp)
        fit = prepare_fit(self.app, config, self.datasets(config), output_dir=self._output_dir())
        kwargs.pop("verbose", None)  # the tuner's; each trial's display is ours
        return model.fit(fit.train, validation_data=fit.validation, epochs=epochs or config.epochs,
                         callbacks=[*fit.callbacks(_CheckObjective(self.objective)), *(callbacks or [])],
                         verbose=self.verbose, shuffle=False, **kwargs)

    def _strategy(self, name: str) -> Any:
        if name not in self._strategies:
            from kerasdl.training.distribution import resolve_strategy

            self._strategies[name] = resolve_strategy(name)
        return self._strategies[name]

    def _output_dir(self) -> Path:
        return self.output_dir or Path(".")
