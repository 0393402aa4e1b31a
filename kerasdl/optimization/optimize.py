"""`kerasdl optimize`: fine-tune a trained run with pruning, clustering and/or
quantization-aware training, into a new run that `kerasdl export` handles like any other.
"""

from __future__ import annotations

import gzip
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from kerasdl.config import to_toml
from kerasdl.errors import ConfigError, KerasdlError
from kerasdl.runs import Run

logger = logging.getLogger(__name__)

QAT_MODEL = "qat.h5"


@dataclass
class OptimizeConfig:
    """What to do to a trained model.

    Attributes:
        prune: target sparsity in (0, 1), e.g. 0.8 zeroes 80 % of each pruned kernel.
        prune_schedule: polynomial (ramp up) or constant.
        cluster: clusters per kernel (at least 2); exclusive with `prune`.
        qat: quantization-aware training after pruning or clustering (which it
            preserves) or alone.
        epochs: fine-tuning epochs for each stage.
        learning_rate: peak fine-tuning learning rate, decayed to zero by a cosine over
            each stage (default: a tenth of the run's).
    """

    prune: float | None = None
    prune_schedule: str = "polynomial"
    cluster: int | None = None
    qat: bool = False
    epochs: int = 2
    learning_rate: float | None = None

    def __post_init__(self) -> None:
        if self.prune is None and self.cluster is None and not self.qat:
            raise ConfigError("Nothing to do: give `prune=SPARSITY`, `cluster=N` and/or `qat`.")
        if self.prune is not None and not 0.0 < self.prune < 1.0:
            raise ConfigError(f"`prune` must be a sparsity in (0, 1). Received: prune={self.prune!r}")
        if self.prune is not None and self.cluster is not None:
            raise ConfigError("Choose one of `prune` and `cluster` (each can be followed by `qat`).")
        if self.cluster is not None and self.cluster < 2:
            raise ConfigError(f"`cluster` must be at least 2. Received: cluster={self.cluster!r}")
        if self.prune_schedule not in ("polynomial", "constant"):
            raise ConfigError(
                "`prune_schedule` must be polynomial or constant. "
                f"Received: prune_schedule={self.prune_schedule!r}")
        if not isinstance(self.epochs, int) or self.epochs < 1:
            raise ConfigError(f"`epochs` must be a positive integer. Received: epochs={self.epochs!r}")
        if self.learning_rate is not None and self.learning_rate <= 0:
            raise ConfigError(
                f"`learning_rate` must be positive. Received: learning_rate={self.learning_rate!r}")


@dataclass
class OptimizeReport:
    run: Run
    base_metric: float
    metric: float
    metric_name: str
    stages: list[dict[str, Any]] = field(default_factory=list)
    sparsity: dict[str, float] = field(default_factory=dict)
    unique_values: dict[str, int] = field(default_factory=dict)
    gzip_bytes: dict[str, int] = field(default_factory=dict)

    def text(self) -> str:
        lines = []
        for stage in self.stages:
            lines.append(f"{stage['technique']}: wrapped {len(stage['wrapped'])} layers"
                         + (f"; left as they were: {', '.join(stage['left'])}" if stage["left"] else ""))
        for name, value in self.sparsity.items():
            lines.append(f"  sparsity {name}: {value * 100:.1f} %")
        for name, value in self.unique_values.items():
            lines.append(f"  distinct values {name}: {value}")
        lines.append(f"{self.metric_name}: {self.metric:.4f} (base run {self.base_metric:.4f})")
        if self.gzip_bytes:
            base, new = self.gzip_bytes["base"], self.gzip_bytes["optimized"]
            lines.append(f"gzip of the float32 TFLite: {new / 1024:.1f} KB "
                         f"({new / base * 100:.0f} % of the base run's {base / 1024:.1f} KB)")
        lines.append(f"Run saved to {self.run.path}")
        return "\n".join(lines)


def optimize_run(
    run_path: str | Path,
    options: OptimizeConfig,
    *,
    runs_dir: str | Path | None = None,
    name: str | None = None,
    verbose: Any = 2,
) -> OptimizeReport:
    """Fine-tunes a run's best model with tfmot and writes the result as a new run.

    Raises:
        KerasdlError: for a bad run, a model tfmot cannot handle, or bad options.
    """
    from kerasdl.data.pipeline import as_arrays, evaluation_pipeline
    from kerasdl.loading import open_run
    from kerasdl.optimization import techniques
    from kerasdl.optimization.twin import build_twin, check_same_outputs, copy_weights
    from kerasdl.training.setup import fine_tuning_config, prepare_fit, prepare_model

    opened = open_run(run_path)
    base, app, config, info = opened.run, opened.app, opened.config, opened.info
    model = opened.load_model()
    data = app.load_datasets(config, fitted=info)
    # The pipelines `kerasdl train` uses; the callbacks are Keras 3's, and the twin that
    # fine-tunes is a tf_keras model, so it runs tfmot's own callbacks only.
    setup = prepare_fit(app, config, data, output_dir=base.path, app_callbacks=False)
    train, validation = setup.train, setup.validation
    sample = as_arrays(next(iter(evaluation_pipeline(data.validation, 32)))[0])
    steps = setup.steps_per_epoch * options.epochs
    lr = options.learning_rate or config.learning_rate / 10

    twin = build_twin(app, config, info, model, sample)
    history: list[dict[str, Any]] = []
    stages: list[dict[str, Any]] = []
    weight_stage = "prune" if options.prune is not None else "cluster" if options.cluster else None
    if weight_stage:
        if weight_stage == "prune":
            wrapped = techniques.prune(twin, options.prune, options.prune_schedule, steps)
        else:
            wrapped = techniques.cluster(twin, options.cluster)
        _require_wrapped(wrapped, weight_stage, app)
        _fine_tune(app, config, info, wrapped.model, train, validation, options.epochs, lr,
                   techniques.training_callbacks(weight_stage), history, weight_stage, verbose)
        twin = techniques.strip(wrapped.model, weight_stage)
        stages.append({"technique": weight_stage, "wrapped": wrapped.wrapped, "left": wrapped.left})

    # The Keras 3 model the twin's weights go to, made by `prepare_model` with the
    # stages' config, for which most of what it does for a new run does not apply: the
    # weights come from the trained run (which already holds what `init_from` or a
    # teacher gave it; copying from them again would be overwritten, and needs those runs
    # kept); the stages are compiled and fitted on the tf_keras twin, which Keras 3's
    # L1/L2 regularizers and distillation loss do not reach (and the stages drop the
    # penalties on purpose); and the model that is saved and exported is float32 on one
    # device, however the run trained. Left uncompiled: it is only saved and scored.
    optimized = prepare_model(app, fine_tuning_config(config, learning_rate=lr, epochs=options.epochs), info)
    copy_weights(twin, optimized)
    check_same_outputs(twin, optimized, sample)

    out = Run.create(runs_dir or base.path.parent.parent, app.name, name or _default_name(base, options))
    try:
        return _finish(app, config, info, data, base, model, out, twin, optimized, options, stages,
                       history, weight_stage, train, validation, lr, verbose)
    except BaseException:
        import shutil

        shutil.rmtree(out.path, ignore_errors=True)  # no half-written run
        raise


def _finish(app: Any, config: Any, info: dict[str, Any], data: Any, base: Run, model: Any, out: Run,
            twin: Any, optimized: Any, options: OptimizeConfig, stages: list[dict[str, Any]],
            history: list[dict[str, Any]], weight_stage: str | None, train: Any, validation: Any,
            lr: float, verbose: Any) -> OptimizeReport:
    from kerasdl import io as kio
    from kerasdl.training.evaluation import evaluate_run
    from kerasdl.evaluation.plots import plot_history
    from kerasdl.optimization import techniques
    from kerasdl.optimization.twin import copy_from_quantized
    from kerasdl.training.saving import save_model, save_quantization_aware_model

    out.initialize(app.name, to_toml(config), info)
    qat_model = None
    if options.qat:
        preserve = {"prune": "sparsity", "cluster": "clusters"}.get(weight_stage or "")
        wrapped = techniques.quantize_aware(twin, preserve)
        _require_wrapped(wrapped, "qat", app)
        _fine_tune(app, config, info, wrapped.model, train, validation, options.epochs, lr,
                   [], history, "qat", verbose)
        stages.append({"technique": "qat", "wrapped": wrapped.wrapped, "left": wrapped.left})
        qat_model = wrapped.model
        save_quantization_aware_model(qat_model, out.checkpoints / QAT_MODEL)
        # The run's float model takes the QAT-trained weights, keeping pruned zeros.
        zeros = [w == 0 for w in optimized.get_weights()] if weight_stage == "prune" else None
        copy_from_quantized(qat_model, optimized)
        if zeros is not None:
            optimized.set_weights([np.where(z, 0, w) for z, w in zip(zeros, optimized.get_weights())])

    save_model(optimized, out.best_model_path)
    save_model(optimized, out.last_model_path)
    out.write_history(history)
    plot_history([{k: v for k, v in r.items() if k != "stage"} for r in history],
                 out.plots / "history.png")
    metrics = evaluate_run(out, app=app, config=config, data=data)
    base_metrics = evaluate_run(base, app=app, config=config, data=data, write_plots=False)
    headline = app.headline_for(data.info)
    report = OptimizeReport(
        run=out, base_metric=float(base_metrics[headline]),
        metric=float(metrics[headline]), metric_name=headline,
        stages=stages,
    )
    if weight_stage == "prune":
        report.sparsity = kernel_sparsity(optimized, stages[0]["wrapped"])
    if weight_stage == "cluster":
        report.unique_values = kernel_unique_values(optimized, stages[0]["wrapped"])
    if weight_stage:
        report.gzip_bytes = {"base": gzipped_tflite_size(model), "optimized": gzipped_tflite_size(optimized)}
    optimization = {
        "base_run": str(base.path),
        "options": options.__dict__,
        "stages": stages,
        "sparsity": report.sparsity,
        "unique_values": report.unique_values,
        "gzip_float32_tflite_bytes": report.gzip_bytes,
        "qat_model": QAT_MODEL if qat_model is not None else None,
    }
    metrics["optimization"] = optimization
    kio.write_json(out.metrics_path, metrics)
    out.write_meta(status="completed", epochs_completed=len(history), optimization=optimization)
    return report


def _default_name(base: Run, options: OptimizeConfig) -> str:
    parts = [base.name]
    if options.prune is not None:
        parts.append(f"prune{round(options.prune * 100)}")
    if options.cluster is not None:
        parts.append(f"cluster{options.cluster}")
    if options.qat:
        parts.append("qat")
    return "-".join(parts)


def _require_wrapped(wrapped: Any, technique: str, app: Any) -> None:
    if not wrapped.wrapped:
        raise KerasdlError(
            f"tfmot supports none of the {app.name} model's layers for {technique} "
            f"(layers with weights: {', '.join(wrapped.left) or 'none'})."
        )


def _fine_tune(
    app: Any, config: Any, info: dict[str, Any], model: Any, train: Any, validation: Any,
    epochs: int, lr: float, callbacks: list[Any], history: list[dict[str, Any]], stage: str,
    verbose: Any,
) -> None:
    import tf_keras

    from kerasdl.training.setup import compile_for_training, fine_tuning_config

    compile_for_training(app, model, fine_tuning_config(config, learning_rate=lr, epochs=epochs), info,
                         int(train.cardinality()), keras_module=tf_keras)
    logger.info("Fine-tuning (%s) for %d epochs at learning rate %g", stage, epochs, lr)
    result = model.fit(train, validation_data=validation, epochs=epochs, callbacks=callbacks,
                       verbose=verbose)
    for i in range(epochs):
        row = {"epoch": len(history) + 1, "stage": stage}
        row.update({k: float(v[i]) for k, v in result.history.items()})
        history.append(row)


def _kernels(model: Any, layer_names: list[str]) -> dict[str, np.ndarray]:
    kernels = {}
    for name in layer_names:
        layer = model.get_layer(name)
        for weight in layer.weights:
            if "kernel" in weight.name or "embeddings" in weight.name:
                kernels[f"{name}/{weight.name.split('/')[-1]}"] = np.asarray(weight.numpy())
    return kernels


def kernel_sparsity(model: Any, layer_names: list[str]) -> dict[str, float]:
    """Fraction of exact zeros in each kernel of `layer_names`."""
    return {k: float(np.mean(v == 0)) for k, v in _kernels(model, layer_names).items()}


def kernel_unique_values(model: Any, layer_names: list[str]) -> dict[str, int]:
    return {k: int(len(np.unique(v))) for k, v in _kernels(model, layer_names).items()}


def gzipped_tflite_size(model: Any) -> int:
    """Size of the float32 TFLite file after gzip: the size pruning and clustering win."""
    from kerasdl.export.tflite import convert

    return len(gzip.compress(convert(model, "float32"), compresslevel=9))
