"""Optimizers, schedules, the NaN guard and checkpoint bookkeeping."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from kerasdl.config import OPTIMIZERS, SCHEDULES, ClassifierConfig
from kerasdl.errors import TrainingError


@pytest.mark.parametrize("schedule", SCHEDULES)
def test_schedules_peak_at_the_learning_rate(schedule: str) -> None:
    import keras

    from kerasdl.training.optimizers import build_learning_rate

    config = ClassifierConfig(learning_rate=0.1, schedule=schedule, epochs=10, warmup_epochs=1)
    lr = build_learning_rate(config, steps_per_epoch=10)
    values = [float(lr(step)) if callable(lr) else lr for step in range(0, 101)]
    assert max(values) == pytest.approx(0.1, rel=1e-3)
    if schedule != "constant":
        assert values[-1] < 0.011, "every schedule decays by the end"
    if schedule in ("warmup-cosine", "one-cycle"):
        assert values[0] < 0.05, "warm-up starts low"
    # Schedules survive a save/reload of the optimizer.
    if callable(lr):
        restored = keras.optimizers.schedules.deserialize(keras.optimizers.schedules.serialize(lr))
        assert float(restored(37)) == pytest.approx(float(lr(37)))


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_every_optimizer_fits_a_separable_problem(name: str) -> None:
    import keras

    from kerasdl.training.optimizers import build_optimizer

    lr = {"sgd": 0.5, "momentum": 0.1, "nesterov": 0.1, "adagrad": 0.5}.get(name, 0.05)
    config = ClassifierConfig(optimizer=name, learning_rate=lr, weight_decay=1e-4)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 2)).astype("float32")
    y = (x[:, 0] + x[:, 1] > 0).astype("int32")
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2, activation="softmax")])
    model.compile(build_optimizer(config, steps_per_epoch=8), "sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    history = model.fit(x, y, batch_size=32, epochs=10, verbose=0)
    assert history.history["accuracy"][-1] > 0.9


def test_label_smoothing_loss_matches_definition() -> None:
    from kerasdl.layers.losses import SparseCategoricalCrossentropy

    probs = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]], dtype="float32")
    labels = np.array([0, 2])
    s = 0.3
    targets = np.eye(3)[labels] * (1 - s) + s / 3
    expected = -(targets * np.log(probs)).sum(axis=1).mean()
    assert float(SparseCategoricalCrossentropy(label_smoothing=s)(labels, probs)) == pytest.approx(expected, rel=1e-5)


def test_nan_loss_stops_with_a_clear_message() -> None:
    import keras

    from kerasdl.training.callbacks import NaNGuard

    x = np.ones((64, 3), "float32")
    x[10] = np.nan
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, activation="softmax")])
    model.compile(keras.optimizers.SGD(0.1), "sparse_categorical_crossentropy")
    with pytest.raises(TrainingError, match=r"The loss became nan at epoch 1, step 1\. Lower the learning rate \(now 0\.1\), e\.g\. `learning_rate=0\.01`"):
        model.fit(x, np.zeros(64, "int32"), batch_size=16, epochs=2, callbacks=[NaNGuard()], verbose=0,
                  shuffle=False)


def test_nan_run_through_the_cli_is_one_line(tmp_path: Path, colour_folder: Path) -> None:
    from click.testing import CliRunner

    from kerasdl.cli import cli

    result = CliRunner().invoke(cli, [
        "train", "vision", "--dataset", str(colour_folder), "--preset", "tiny", "--model", "mlp",
        "--optimizer", "sgd", "--lr", "1e30", "--runs-dir", str(tmp_path), "--name", "nan",
    ])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert "Error: The loss became" in result.output
    import json

    assert json.loads((tmp_path / "vision" / "nan" / "run.json").read_text())["status"] == "failed"


def test_zero_weight_decay_means_none_for_every_optimizer() -> None:
    # AdamW with --weight-decay 0 used to become 0.004 behind the user's back.
    from kerasdl.config import OPTIMIZERS, TrainConfig
    from kerasdl.training.optimizers import build_optimizer

    for name in OPTIMIZERS:
        off = build_optimizer(TrainConfig(optimizer=name, weight_decay=0.0), 10)
        assert not off.weight_decay, name
        on = build_optimizer(TrainConfig(optimizer=name, weight_decay=1e-3), 10)
        assert on.weight_decay == pytest.approx(1e-3), name


@pytest.mark.parametrize("keras_name", ["keras", "tf_keras"])
def test_clip_norm_bounds_each_step(keras_name: str) -> None:
    """With plain SGD a step is lr x gradient: clipped to global norm c, no weight moves
    further than lr x c in all; unclipped, the same batch moves them much more."""
    import importlib

    from kerasdl.config import TrainConfig
    from kerasdl.errors import ConfigError
    from kerasdl.training.optimizers import build_optimizer

    k = importlib.import_module(keras_name)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4)).astype("float32") * 100  # large gradients
    y = rng.normal(size=(64, 1)).astype("float32")
    moved = {}
    for clip in (0.0, 0.01):
        k.utils.set_random_seed(0)
        model = k.Sequential([k.Input((4,)), k.layers.Dense(1)])
        model.compile(build_optimizer(TrainConfig(optimizer="sgd", learning_rate=1.0, clip_norm=clip), 1,
                                      keras_module=k), "mse")
        before = np.concatenate([w.ravel() for w in model.get_weights()])
        model.train_on_batch(x, y)
        moved[clip] = float(np.linalg.norm(np.concatenate([w.ravel() for w in model.get_weights()]) - before))
    assert moved[0.01] == pytest.approx(0.01, rel=1e-3)
    assert moved[0.0] > 100 * moved[0.01]
    with pytest.raises(ConfigError, match="clip_norm"):
        TrainConfig(clip_norm=-1.0)
