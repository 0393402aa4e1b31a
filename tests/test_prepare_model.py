"""A tuning trial builds its model as `kerasdl train` does (`training.setup.prepare_model`):
with the L1/L2 penalties, from `init_from`'s weights, with the teacher attached."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from kerasdl.registry import get_app


def _tiny(colour_folder: Path, **fields: object) -> object:
    from kerasdl.apps.vision.config import VisionConfig

    return VisionConfig(dataset=str(colour_folder), model="mlp", epochs=1, batch_size=16, width=4, **fields)


def _trial_model(config: object) -> object:
    """The model of a trial whose model and width are the config's (the search space
    would pick its own)."""
    from kerasdl.tuning.hypermodel import AppHyperModel
    from kerasdl.tuning.search import fixed_hyperparameters

    app = get_app("vision")
    return AppHyperModel(app, config).build(fixed_hyperparameters(app, config, ("model", "width")))


def test_a_tune_trial_penalizes_the_weights_as_training_does(colour_folder: Path) -> None:
    model = _trial_model(_tiny(colour_folder, l2=0.05))
    kernels = [w for w in model.trainable_weights if w.path.endswith("kernel")]
    assert kernels and all(w.regularizer is not None for w in kernels)
    assert all(w.regularizer is None for w in model.trainable_weights if w.path.endswith("bias"))
    penalty = 0.05 * sum(float(np.sum(np.square(w.numpy()))) for w in kernels)
    assert float(sum(model.losses)) == pytest.approx(penalty, rel=1e-5)  # added to the trial's loss


def test_a_tune_trial_starts_from_init_from_and_learns_from_a_teacher(tmp_path: Path, colour_folder: Path) -> None:
    from kerasdl import api
    from kerasdl.training.saving import load_app_model

    source = api.train("vision", _tiny(colour_folder), runs_dir=tmp_path, name="source", verbose=0,
                       baselines=False).run
    trained = {layer.name: layer.get_weights() for layer in load_app_model(get_app("vision"), source.model_path()).layers}

    model = _trial_model(_tiny(colour_folder, init_from=str(source.path), freeze="backbone"))
    copied = [layer for layer in model.layers if layer.weights and not layer.name.startswith("head_logits")]
    assert copied
    for layer in copied:
        for mine, theirs in zip(layer.get_weights(), trained[layer.name]):
            np.testing.assert_array_equal(mine, theirs)
        assert not layer.trainable  # frozen as `freeze` asks
    assert not np.array_equal(model.get_layer("head_logits").get_weights()[0], trained["head_logits"][0])

    student = _trial_model(_tiny(colour_folder, teacher=str(source.path)))
    assert getattr(student, "_kerasdl_teacher", None) is not None  # its loss is the distillation loss
