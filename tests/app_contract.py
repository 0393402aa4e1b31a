"""The one test every app passes, like keras-hub's `run_task_test`: a sixth app is a
folder of its own and one registry line (its task kind's codec in the edge package
reads its inputs) that passes it (tests/test_new_app.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import pytest

from kerasdl.app import App
from kerasdl.config import TrainConfig


def run_app_contract(
    app: App[Any], config: TrainConfig, tmp_path: Path, *,
    learned: Callable[[dict[str, Any]], bool] | None = None, inputs: Sequence[Any] = (),
    tflite_tolerance: float = 1e-4, models: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Checks `app` on `config`'s (tiny, learnable) data.

    For every model (or those of `models`: the ones that read the same data as
    `config`'s model; a pretrained text encoder reads its own word pieces): it builds, compiles the way training compiles it, fits two steps
    to a finite loss, and saves and reloads with identical outputs. With `learned`: the
    default model, trained as `kerasdl train` trains it, scores what `learned` accepts
    (better than chance), its float32 TFLite file matches Keras within
    `tflite_tolerance`, and the app's codec reads `inputs` (if given) into a batch that
    both answer the same, each answer described and formatted.

    Returns:
        {model: {"output_shape", "params"}}, and "trained": the trained run's metrics.
    """
    import keras

    from kerasdl.data.pipeline import evaluation_pipeline
    from kerasdl.training.saving import load_app_model, save_model
    from kerasdl.training.setup import compile_for_training, prepare_fit
    from kerasdl_edge.codecs import codec_class

    from kerasdl_edge.facts import parse_facts

    codec = codec_class(app.task)  # every app has its device I/O, by its task kind
    data = app.load_datasets(config)
    app.prepare(config, data)
    json.dumps(data.info)  # saved in run.json
    parse_facts(codec.facts_class, data.info)  # the app writes what its kind's codec reads
    fit = prepare_fit(app, config, data, output_dir=tmp_path)
    x, _ = next(iter(evaluation_pipeline(data.validation, 4)))
    results: dict[str, Any] = {}
    for name in models if models is not None else app.models:
        keras.utils.set_random_seed(0)
        model_config = type(config)(**{**config.to_dict(), "model": name})
        model = app.build_model(model_config, {**data.info, **data.initial_weights})
        compile_for_training(app, model, model_config, data.info, fit.steps_per_epoch)
        history = model.fit(fit.train.take(2), epochs=1, verbose=0, shuffle=False)
        assert all(np.isfinite(v[-1]) for v in history.history.values()), (name, history.history)
        out = np.asarray(model(x, training=False))
        path = save_model(model, tmp_path / f"{name}.keras")
        again = np.asarray(load_app_model(app, path)(x, training=False))
        np.testing.assert_allclose(out, again, rtol=1e-5, atol=1e-6, err_msg=name)
        results[name] = {"output_shape": out.shape, "params": model.count_params()}
    if learned is not None:
        results["trained"] = _learns_and_exports(app, config, tmp_path, learned, inputs, tflite_tolerance)
    return results


def _learns_and_exports(app: App[Any], config: TrainConfig, tmp_path: Path,
                        learned: Callable[[dict[str, Any]], bool], inputs: Sequence[Any],
                        tolerance: float) -> dict[str, Any]:
    from kerasdl.export.tflite import convert
    from kerasdl.training.workflow import train_run
    from kerasdl_edge import EdgeModel
    from kerasdl_edge.codecs import Generating, codec_for

    summary = train_run(app.name, config, runs_dir=tmp_path / "runs", name="contract", verbose=0)
    assert learned(summary.metrics), summary.metrics
    info = summary.run.meta["data"]
    headline = app.headline_for(info)
    if type(app).fit_baselines is not App.fit_baselines:
        # The classic baselines were fitted and scored with the model's own metric.
        baselines = summary.metrics["baselines"]
        assert baselines and all(np.isfinite(b["validation"][headline]) for b in baselines), baselines
        assert np.isfinite(summary.metrics["validation"][headline])
        assert "validation " + headline in summary.report
    if app.auto_recipes:
        # --model auto compares candidates example by example: those values average
        # to the headline metric on validation.
        from kerasdl.training.auto import candidate_scores

        values, parameters = candidate_scores(app, summary.run)
        assert np.mean(values) == pytest.approx(summary.metrics["validation"][headline], rel=1e-5, abs=1e-7)
        assert parameters == summary.model.count_params()
    spec = app.export_spec(config, info)
    model = spec.exported_model(summary.model)
    edge = EdgeModel(convert(spec.tflite_model(model), "float32"))
    codec = codec_for(app.task, info)
    if isinstance(codec, Generating):
        batch = codec.noise(4, seed=0)
    else:
        assert inputs, "give inputs the app's codec reads"
        batch = codec.read(inputs)
    keras_out, tflite_out = np.asarray(model(batch, training=False)), edge(batch)
    np.testing.assert_allclose(tflite_out, keras_out, atol=tolerance)
    if not isinstance(codec, Generating):
        rows = codec.describe(tflite_out)
        assert len(rows) == len(inputs) and all(codec.format({"input": "x", **r}) for r in rows)
    return summary.metrics
