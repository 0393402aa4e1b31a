"""Training any app into a run directory, resumable after a crash or Ctrl-C."""

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
from kerasdl.errors import ConfigError, KerasdlError, TrainingError
from kerasdl.runs import Run
from kerasdl.training.auto import AUTO

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

    # A multi-worker strategy must exist before any other TensorFlow op runs.
    strategy = resolve_strategy(config.strategy)
    keras.utils.set_random_seed(config.seed)
    previous_policy = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(_precision_policy(config, strategy))
    try:
        return _train(app, config, run, strategy, resume=resume, verbose=verbose)
    finally:
        # The model keeps its layers' policies; the process gets its own back.
        keras.mixed_precision.set_global_policy(previous_policy)


def _train(app: "App[Any]", config: TrainConfig, run: Run, strategy: Any, *, resume: bool,
           verbose: Any) -> TrainResult:
    import keras

    from kerasdl.training.saving import load_app_model
    from kerasdl.training.callbacks import RunCheckpoint
    from kerasdl.training.distribution import is_chief, uses_custom_loop
    from kerasdl.training.setup import apply_weight_penalties, compile_for_training, prepare_fit

    # A resumed run keeps the preprocessing it learned (a vocabulary) when it started;
    # a run started from another run's weights takes that run's, so inputs mean the same.
    fitted = run.meta.get("data") if resume else None
    teacher_path = getattr(config, "teacher", None)
    if not resume and (config.init_from or teacher_path):
        from kerasdl.training.transfer import source_run

        fitted = source_run(app, config.init_from or teacher_path,
                            what="init_from" if config.init_from else "teacher").meta.get("data")
    data = app.load_datasets(config, fitted=fitted)
    if not resume:
        app.prepare(config, data)
    custom_loop = uses_custom_loop(strategy)
    fit = prepare_fit(app, config, data, output_dir=run.path, drop_remainder=custom_loop)
    logger.info("%s", describe_training(app, config, data.info, fit.train_count))

    initial_epoch, history = 0, []
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

    with strategy.scope():
        if initial_epoch:
            model = load_app_model(app, checkpoint, compile=True)
        else:
            model = app.build_model(config, {**data.info, **data.initial_weights})
            if config.init_from:
                from kerasdl.training.transfer import transfer_weights

                transfer_weights(model, app, config.init_from, config.freeze)
        if not model.compiled:  # new, or saved without its compile settings (a GAN)
            compile_for_training(app, model, config, data.info, fit.steps_per_epoch)
        apply_weight_penalties(model, config)
        if teacher_path:
            from kerasdl.training.distillation import attach_teacher
            from kerasdl.training.transfer import source_run

            if custom_loop:
                raise ConfigError("Distillation trains with Keras' fit; the multiworker custom loop does not "
                                  "support it: drop --teacher or use another --strategy.")
            teacher = load_app_model(app, source_run(app, teacher_path, what="teacher").model_path())
            attach_teacher(model, teacher, temperature=config.distill_temperature, weight=config.distill_weight)
            logger.info("Distilling from %s (T=%g, soft-target weight %g).", teacher_path,
                        config.distill_temperature, config.distill_weight)

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


def train_run(
    app_name: str,
    config: TrainConfig | None = None,
    *,
    runs_dir: str | Path = "runs",
    name: str | None = None,
    resume: bool = False,
    verbose: Any = "auto",
    baselines: bool = True,
    time_budget: float | None = None,
    baseline_models: bool = False,
) -> TrainSummary:
    """Trains an app into `runs_dir/<app>/<name>`, then evaluates it on the test split
    beside the app's classic baselines.

    Args:
        app_name: a registered app, e.g. "vision".
        config: the app's config; its defaults when None. Ignored with `resume`,
            which continues with the config saved in the run.
        runs_dir: the folder that holds runs.
        name: the run's folder name (a timestamp when None); with `resume` and no
            name, the newest unfinished run of the app.
        resume: continue an interrupted run from its last finished epoch.
        verbose: Keras' progress display.
        baselines: also fit the app's classic baselines on the same training split
            and score them beside the model (`metrics["baselines"]`); a model worse
            than the best of them on validation is reported (`baseline_warning`).
        time_budget: with `config.model == "auto"`, seconds after which no new
            candidate starts (`kerasdl.training.auto`).
        baseline_models: also train the app's classic baseline models
            (`App.baseline_models`) beside `config`'s model and ship the better on
            validation (`kerasdl.training.auto.NEVER_WORSE`): what `kerasdl train`
            does when no --model is given. Needs `baselines`.

    Raises:
        KerasdlError: for bad input; the message says what to fix.
    """
    from kerasdl.evaluation.plots import plot_history
    from kerasdl.runs import run_config
    from kerasdl.registry import get_app
    from kerasdl.training.distribution import is_chief
    from kerasdl.evaluation.baselines import format_baseline_metrics
    from kerasdl.training.evaluation import compare_with_baselines, evaluate_run

    app = get_app(app_name)
    scratch: str | None = None
    extra: dict[str, dict[str, Any]] = {}
    if resume:
        run = Run.to_resume(runs_dir, app.name, name)
        if run.meta.get("app") != app.name:
            raise KerasdlError(f"{run.path} is a {run.meta.get('app')} run, not {app.name}.")
        config = run_config(run)
        # A default run goes on to its baseline models after the default model's epochs.
        extra = {label: app.baseline_models[label] for label in run.meta.get("baseline_models", [])
                 if label in app.baseline_models}
    else:
        config = config if config is not None else app.config_class()
        if not isinstance(config, app.config_class):
            raise KerasdlError(
                f"The {app.name} app needs a {app.config_class.__name__}, "
                f"not {type(config).__name__}."
            )
        if config.model == AUTO:
            return _train_auto(app, config, runs_dir, name, verbose, baselines, time_budget)
        model = app.model_name(config)  # fail on a bad model name before creating anything
        # Not for a cluster (the baseline models would train on the chief alone) nor a
        # model started from another run's weights or teacher (the user chose it).
        if baseline_models and baselines and config.strategy != "multiworker" and not (
                config.init_from or getattr(config, "teacher", None)):
            extra = {label: overrides for label, overrides in app.baseline_models.items() if label != model}
        if not is_chief():
            # Only the chief of a multi-worker job writes the run; the others train
            # into a scratch folder that is removed afterwards.
            scratch = runs_dir = tempfile.mkdtemp(prefix="kerasdl-worker-")
        run = Run.create(runs_dir, app.name, name)
        if extra:  # kept in run.json so that --resume goes on to them
            run.write_meta(baseline_models=list(extra))
    if extra:
        return _train_never_worse(app, config, run, extra, resume=resume, verbose=verbose)
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
    plot_history(result.history, run.plots / "history.png")
    metrics = evaluate_run(run, app=app, config=config, data=result.data)
    metrics["training"] = {
        "epochs": result.epochs_completed,
        "seconds": round(result.seconds, 2),
        "examples_per_second": round(result.examples_per_second, 1),
    }
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



def _train_auto(app: Any, config: TrainConfig, runs_dir: str | Path, name: str | None, verbose: Any,
                baselines: bool, time_budget: float | None) -> TrainSummary:
    """`--model auto`: the app's candidates trained inside one run, the winner (by
    validation) kept as the run, then evaluated beside the baselines."""
    from kerasdl.training.auto import train_candidates

    run = Run.create(runs_dir, app.name, name)
    try:
        record, winner_config = train_candidates(app, config, run, verbose=verbose, time_budget=time_budget)
    except BaseException:
        if not any(run.path.rglob("run.json")):
            shutil.rmtree(run.path, ignore_errors=True)  # nothing trained worth keeping
        raise
    return _candidates_summary(app, run, record, winner_config, baselines)


# The status of a default run between its default model's last epoch and the choice
# among it and the baseline models (`--resume` fits the baseline models again).
BASELINE_MODELS_STATUS = "training baseline models"


def _train_never_worse(app: Any, config: TrainConfig, run: Run, extra: dict[str, dict[str, Any]], *,
                       resume: bool, verbose: Any) -> TrainSummary:
    """The default run: `config`'s model trained as any run (resumable), then the app's
    baseline models `extra` under `candidates/`, the default shipped unless one of them
    is better on validation (`kerasdl.training.auto.ship_never_worse`)."""
    from kerasdl.evaluation.plots import plot_history
    from kerasdl.training.auto import ship_never_worse
    from kerasdl.training.evaluation import evaluate_run

    if not (resume and run.meta.get("status") == BASELINE_MODELS_STATUS):
        try:
            result = train_app(app, config, run, resume=resume, verbose=verbose)
        except BaseException:
            if not resume and not run.config_path.exists():
                shutil.rmtree(run.path, ignore_errors=True)  # nothing worth keeping was written
            raise
        plot_history(result.history, run.plots / "history.png")
        metrics = evaluate_run(run, app=app, config=config, data=result.data)
        metrics["training"] = {"epochs": result.epochs_completed, "seconds": round(result.seconds, 2),
                               "examples_per_second": round(result.examples_per_second, 1)}
        kio.write_json(run.metrics_path, metrics)
        run.write_meta(status=BASELINE_MODELS_STATUS)
    metrics = kio.read_json(run.metrics_path)
    default = {"label": app.model_name(config), "overrides": {}, "status": "trained",
               "seconds": metrics["training"]["seconds"], "test": metrics.get(app.headline_for(run.meta["data"]))}
    record, winner_config = ship_never_worse(app, config, run, default, extra, verbose=verbose)
    return _candidates_summary(app, run, record, winner_config, True)


def _candidates_summary(app: Any, run: Run, record: dict[str, Any], winner_config: TrainConfig,
                        baselines: bool) -> TrainSummary:
    """An auto or default run after its choice: the winner's metrics beside the
    baselines, the candidates' table and the line saying what was shipped."""
    from kerasdl.evaluation.baselines import best_baseline, format_baseline_metrics
    from kerasdl.training.auto import chosen_line, format_candidates
    from kerasdl.training.evaluation import compare_with_baselines, validation_metrics
    from kerasdl.training.saving import load_app_model

    info = run.meta["data"]
    metric = app.headline_for(info)
    metrics = kio.read_json(run.metrics_path)
    metrics["auto"] = record
    report = app.format_metrics(metrics)
    data = app.load_datasets(winner_config, fitted=info)
    if not baselines:
        metrics["validation"] = {metric: validation_metrics(run, app=app, data=data).get(metric)}
    else:
        metrics.update(compare_with_baselines(
            run, app=app, config=winner_config, data=data,
            advice="No candidate beat it on this data: the baseline is the better model here, "
                   "or the data is too small for the deep ones."))
        if metrics.get("baselines"):
            report += "\n" + format_baseline_metrics(metrics, metric)
    kio.write_json(run.metrics_path, metrics)
    report = format_candidates(record, best_baseline(metrics.get("baselines", []), metric, app.headline_mode)) \
        + "\n" + report
    history = run.read_history()
    winner = next(c for c in record["candidates"] if c["label"] == record["winner"])
    trained = [c for c in record["candidates"] if c.get("seconds") is not None]
    all_seconds = sum(c["seconds"] for c in trained)
    chosen = chosen_line(record)
    if len(trained) > 1:
        chosen += f" {len(trained)} candidates trained in {all_seconds:.1f} s."
    # The summary's time and speed are the shipped model's own, as for any run.
    return TrainSummary(run=run, model=load_app_model(app, run.model_path()), metrics=metrics, history=history,
                        epochs_completed=len(history), seconds=float(winner.get("seconds") or 0.0),
                        examples_per_second=float(metrics.get("training", {}).get("examples_per_second", 0.0)),
                        report=report + "\n" + chosen)


def _precision_policy(config: TrainConfig, strategy: Any) -> str:
    if not config.mixed_precision:
        return "float32"
    import tensorflow as tf

    # TPUs compute in bfloat16; float16 needs loss scaling and suits GPUs.
    return "mixed_bfloat16" if isinstance(strategy, tf.distribute.TPUStrategy) else "mixed_float16"
