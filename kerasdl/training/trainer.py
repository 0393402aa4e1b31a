"""Training one run of any app into a run directory, resumable after a crash or Ctrl-C.

`train_app` fits the model; `train_one` / `train_new_run` also score it on the test
split beside the app's classic baselines. The choices among several trained models
(`--model auto`, the default run's baseline models) are `kerasdl.training.auto`'s, which
calls this module; `kerasdl.training.workflow.train_run` picks among them.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kerasdl import io as kio
from kerasdl.config import TrainConfig, to_toml
from kerasdl.errors import KerasdlError, TrainingError
from kerasdl.runs import Run

if TYPE_CHECKING:
    import keras

    from kerasdl.app import App, Datasets

logger = logging.getLogger(__name__)


@dataclass
class TrainResult:
    """What a finished training run left behind."""

    model: "keras.Model"
    history: list[dict[str, Any]]
    data: "Datasets"
    run: Run
    epochs_completed: int
    seconds: float
    examples_per_second: float


def train_app(
    app: "App[Any]", config: TrainConfig, run: Run, *, resume: bool = False, verbose: Any = "auto"
) -> TrainResult:
    """Trains `app` with `config`, writing checkpoints, history and logs into `run`.

    Args:
        app: the app.
        config: the resolved config (for a resumed run, the one saved in the run).
        run: a new run directory, or the one to resume.
        resume: continue from the newest finished-epoch checkpoint of `run`.
        verbose: Keras' progress display ("auto", 0, 1 or 2).

    Returns:
        The trained model (the last epoch's weights) and the run's history.

    Raises:
        TrainingError: for a NaN loss.
        KeyboardInterrupt: left to the caller; the run can then be resumed.
    """
    import keras

    from kerasdl.training.distribution import resolve_strategy
    from kerasdl.training.setup import precision_policy

    # A multi-worker strategy must exist before any other TensorFlow op runs.
    strategy = resolve_strategy(config.strategy)
    keras.utils.set_random_seed(config.seed)
    # For the whole run, not only the model's build: the app's callbacks and a resumed
    # checkpoint are made under the same policy.
    with precision_policy(config, strategy):
        return _train(app, config, run, strategy, resume=resume, verbose=verbose)


def _train(app: "App[Any]", config: TrainConfig, run: Run, strategy: Any, *, resume: bool,
           verbose: Any) -> TrainResult:
    import keras

    from kerasdl.training.callbacks import RunCheckpoint
    from kerasdl.training.distribution import is_chief, uses_custom_loop
    from kerasdl.training.setup import prepare_fit, prepare_model, source_data_info

    # A resumed run keeps the preprocessing it learned (a vocabulary) when it started;
    # a run started from another run's weights takes that run's, so inputs mean the same.
    fitted = run.meta.get("data") if resume else source_data_info(app, config)
    data = app.load_datasets(config, fitted=fitted)
    if not resume:
        app.prepare(config, data)
    custom_loop = uses_custom_loop(strategy)
    fit = prepare_fit(app, config, data, output_dir=run.path, drop_remainder=custom_loop)
    logger.info("%s", describe_training(app, config, data.info, fit.train_count))

    initial_epoch, history = 0, []
    checkpoint: Path | None = None
    if resume:
        checkpoints = run.epoch_checkpoints()
        if checkpoints:
            initial_epoch, checkpoint = checkpoints[-1]
            history = run.read_history()[:initial_epoch]
            logger.info("Resuming %s after epoch %d", run.path, initial_epoch)
    else:
        run.initialize(app.name, to_toml(config), data.info)
    if initial_epoch >= config.epochs:
        raise KerasdlError(f"Run {run.path} already finished its {config.epochs} epochs.")

    model = prepare_model(app, config, data.info, initial_weights=data.initial_weights,
                          steps_per_epoch=fit.steps_per_epoch, strategy=strategy,
                          checkpoint=checkpoint if initial_epoch else None)

    epochs = config.epochs
    if not model.trainable_weights and not initial_epoch:
        # Fitted before training (a classic baseline model): one epoch scores it, more
        # would repeat the same numbers.
        epochs = 1
        logger.info("%s has no weights to train (none, or fitted before training): one epoch scores it.",
                    app.model_name(config))

    chief = is_chief()
    if chief:
        run.write_meta(status="running")
        inspect: list[Any] = []
        if config.histograms:
            from kerasdl.app import SupervisedApp
            from kerasdl.training.callbacks import GradientNorms

            if isinstance(app, SupervisedApp):  # one loss to differentiate
                inspect.append(GradientNorms(next(iter(fit.train)), str(run.logs)))
            else:
                logger.info("Gradient norms need one loss; the %s app's two players are logged as weight "
                            "histograms only.", app.name)
        callbacks = fit.callbacks(*inspect, RunCheckpoint(run, *fit.monitor, history),
                                  keras.callbacks.TensorBoard(str(run.logs), histogram_freq=int(config.histograms)))
    else:
        callbacks = fit.callbacks()

    started = time.perf_counter()
    try:
        if custom_loop:
            from kerasdl.training.custom_loop import fit_distributed

            from kerasdl.app import SupervisedApp

            fit_distributed(
                model, fit.train, fit.validation, strategy=strategy, epochs=epochs,
                initial_epoch=initial_epoch, steps_per_epoch=fit.steps_per_epoch, callbacks=callbacks,
                metrics=app.metrics(config, data.info) if isinstance(app, SupervisedApp) else [],
                verbose=verbose,
            )
        else:
            with warnings.catch_warnings():
                if not model.trainable_weights:  # a baseline model: nothing to learn, by design
                    warnings.filterwarnings("ignore", message="The model does not have any trainable weights")
                model.fit(
                    fit.train, validation_data=fit.validation, epochs=epochs,
                    initial_epoch=initial_epoch, callbacks=callbacks, verbose=verbose,
                    shuffle=False,  # the pipeline shuffles
                )
    except KeyboardInterrupt:
        if chief:
            run.write_meta(status="interrupted")
        raise
    except TrainingError:
        if chief:
            run.write_meta(status="failed")
        raise
    seconds = time.perf_counter() - started

    history = run.read_history() if chief else []
    epochs_completed = len(history) if chief else config.epochs
    if chief:
        checkpoints = run.epoch_checkpoints()
        if checkpoints:
            checkpoints[-1][1].replace(run.last_model_path)
        run.write_meta(status="completed", epochs_completed=epochs_completed)
    trained_epochs = max(1, epochs_completed - initial_epoch)
    return TrainResult(
        model=model, history=history, data=data, run=run,
        epochs_completed=epochs_completed, seconds=seconds,
        examples_per_second=fit.train_count * trained_epochs / seconds,
    )



def describe_training(app: "App[Any]", config: TrainConfig, info: dict[str, Any], train_count: int) -> str:
    """The line said before the first epoch: which model learns from which data, and
    how many examples each split holds (a wrong folder or split shows here, not after
    an hour).

    Example:
    >>> from kerasdl.registry import get_app
    >>> app = get_app("vision")
    >>> describe_training(app, app.config_class(), {"source": "idx:sample",
    ...     "sizes": {"train": 900, "validation": 100, "test": 200}}, 900)
    'Training cnn on idx:sample: 900 training, 100 validation, 200 test examples.'
    """
    sizes = dict(info.get("sizes") or {})
    sizes["train"] = train_count
    counts = ", ".join(f"{sizes[s]:,} {'training' if s == 'train' else s}" for s in ("train", "validation", "test")
                       if isinstance(sizes.get(s), int))
    return f"Training {app.model_name(config)} on {info.get('source', 'the data')}: {counts} examples."


@dataclass
class TrainSummary:
    """What `train` returns: where the run is and how it went."""

    run: Run
    model: Any
    metrics: dict[str, Any]
    history: list[dict[str, Any]]
    epochs_completed: int
    seconds: float
    examples_per_second: float
    report: str


def create_run(app: "App[Any]", runs_dir: str | Path, name: str | None) -> tuple[Run, str | None]:
    """A new run folder `runs_dir/<app>/<name>`, and the scratch folder to remove after
    training (None but on a worker of a multi-worker job that is not its chief: only the
    chief writes the run; the others train into a scratch folder instead)."""
    from kerasdl.training.distribution import is_chief

    scratch: str | None = None
    if not is_chief():
        scratch = runs_dir = tempfile.mkdtemp(prefix="kerasdl-worker-")
    return Run.create(runs_dir, app.name, name), scratch


def evaluate_result(app: "App[Any]", config: TrainConfig, result: TrainResult) -> dict[str, Any]:
    """The trained run's test-split metrics with its training time and speed
    (`metrics["training"]`), its history plotted; metrics.json is left to the caller."""
    from kerasdl.evaluation.plots import plot_history
    from kerasdl.training.evaluation import evaluate_run

    run = result.run
    plot_history(result.history, run.plots / "history.png")
    metrics = evaluate_run(run, app=app, config=config, data=result.data)
    metrics["training"] = {
        "epochs": result.epochs_completed,
        "seconds": round(result.seconds, 2),
        "examples_per_second": round(result.examples_per_second, 1),
    }
    return metrics


def train_one(app: "App[Any]", config: TrainConfig, run: Run, *, resume: bool = False, verbose: Any = "auto",
              baselines: bool = True, scratch: str | None = None) -> TrainSummary:
    """Trains `config`'s model into `run` (new, or resumed with `resume`), then scores it
    on the test split, beside the app's classic baselines with `baselines`, into
    metrics.json.

    Args:
        scratch: a worker's scratch folder (`create_run`), removed after training.

    Raises:
        KerasdlError: for bad input; the message says what to fix.
        KeyboardInterrupt: left to the caller; the run can then be resumed.
    """
    from kerasdl.evaluation.baselines import format_baseline_metrics
    from kerasdl.training.distribution import is_chief
    from kerasdl.training.evaluation import compare_with_baselines

    try:
        result = train_app(app, config, run, resume=resume, verbose=verbose)
    except BaseException:
        if not resume and not run.meta_path.exists():
            # Failed before anything worth keeping was written: leave no empty folder.
            shutil.rmtree(run.path, ignore_errors=True)
        raise
    if not is_chief():
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
        return TrainSummary(run, result.model, {}, [], result.epochs_completed,
                            result.seconds, result.examples_per_second, "")
    metrics = evaluate_result(app, config, result)
    report = app.format_metrics(metrics)
    if baselines:
        metrics.update(compare_with_baselines(run, app=app, config=config, data=result.data))
        if metrics.get("baselines"):
            report += "\n" + format_baseline_metrics(metrics, app.headline_for(run.meta["data"]))
    kio.write_json(run.metrics_path, metrics)
    return TrainSummary(
        run=run, model=result.model, metrics=metrics, history=result.history,
        epochs_completed=result.epochs_completed, seconds=result.seconds,
        examples_per_second=result.examples_per_second,
        report=report,
    )


def train_new_run(app: "App[Any]", config: TrainConfig, *, runs_dir: str | Path, name: str | None = None,
                  verbose: Any = "auto", baselines: bool = True) -> TrainSummary:
    """`train_one` into a new run `runs_dir/<app>/<name>` (a timestamp when None).

    Raises:
        ConfigError: for a model the app does not have, before any folder is created.
    """
    app.model_name(config)  # fail on a bad model name before creating anything
    run, scratch = create_run(app, runs_dir, name)
    return train_one(app, config, run, verbose=verbose, baselines=baselines, scratch=scratch)
