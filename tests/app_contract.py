"""One contract every app must meet, like keras-hub's `run_task_test`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from kerasdl.app import App
from kerasdl.config import TrainConfig


def run_app_contract(app: App, config: TrainConfig, tmp_path: Path) -> dict[str, Any]:
    """Loads data, builds every model, fits two steps, checks output shapes, and
    saves and reloads each model with identical outputs."""
    import keras

    from kerasdl.data.pipeline import evaluation_pipeline, training_pipeline
    from kerasdl.training.saving import load_model, save_model

    data = app.load_datasets(config)
    train = training_pipeline(data.train, 8, seed=0,
                              augment=app.augmentation(config, data.info)).take(2)
    x, _ = next(iter(evaluation_pipeline(data.validation, 4)))
    results = {}
    for name in app.models:
        keras.utils.set_random_seed(0)
        model_config = type(config)(**{**config.to_dict(), "model": name})
        model = app.build_model(model_config, {**data.info, **data.initial_weights})
        model.compile("adam", app.loss(model_config, data.info), metrics=app.metrics(model_config, data.info))
        history = model.fit(train, epochs=1, verbose=0)
        assert np.isfinite(history.history["loss"][-1]), name
        out = np.asarray(model(x, training=False))
        path = save_model(model, tmp_path / f"{name}.keras")
        again = np.asarray(load_model(path)(x, training=False))
        np.testing.assert_allclose(out, again, rtol=1e-5, atol=1e-6, err_msg=name)
        results[name] = {"output_shape": out.shape, "params": model.count_params()}
    return results
