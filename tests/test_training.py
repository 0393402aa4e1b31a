"""Optimizers, schedules, the NaN guard and checkpoint bookkeeping."""

from __future__ import annotations

import json
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


def test_l1_l2_penalties_shrink_the_weights(tmp_path: Path, colour_folder: Path) -> None:
    """--l2 adds l2 * sum(w^2) of the weight matrices to the loss: trained with a
    large one, the kernels end smaller; biases and normalization are not penalized."""
    import keras

    from kerasdl import api
    from kerasdl.apps.vision.config import VisionConfig
    from kerasdl.training.saving import load_app_model
    from kerasdl.training.setup import apply_weight_penalties
    from kerasdl.registry import get_app

    def kernel_norm(run_path: Path) -> float:
        model = load_app_model(get_app("vision"), run_path / "checkpoints" / "best.keras")
        return float(sum(np.sum(np.square(w)) for w in model.trainable_weights if w.path.endswith("kernel")))

    common = dict(dataset=str(colour_folder), model="mlp", epochs=2, batch_size=16, width=4, learning_rate=0.01)
    plain = api.train("vision", VisionConfig(**common), runs_dir=tmp_path, name="plain", verbose=0, baselines=False)
    l2 = api.train("vision", VisionConfig(**common, l2=0.05), runs_dir=tmp_path, name="l2", verbose=0,
                   baselines=False)
    assert kernel_norm(l2.run.path) < 0.5 * kernel_norm(plain.run.path)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2), keras.layers.BatchNormalization()])
    assert apply_weight_penalties(model, VisionConfig(l1=0.1)) == 1  # the kernel, not bias or BN
    assert apply_weight_penalties(model, VisionConfig()) == 0
    kernel = model.layers[0].kernel
    assert float(model.losses[0]) == pytest.approx(0.1 * float(np.abs(kernel.numpy()).sum()), rel=1e-5)


def test_init_from_copies_the_backbone_and_freeze_keeps_it(tmp_path: Path, colour_folder: Path) -> None:
    """Transfer learning: the new run starts from the source run's matching layers
    (the head's hidden layer too, not its output layer); frozen layers end exactly as
    the source left them."""
    from kerasdl import api
    from kerasdl.apps.vision.config import VisionConfig
    from kerasdl.errors import ConfigError
    from kerasdl.registry import get_app
    from kerasdl.training.saving import load_app_model

    common = dict(dataset=str(colour_folder), model="cnn", epochs=1, batch_size=16, width=4)
    source = api.train("vision", VisionConfig(**common), runs_dir=tmp_path, name="source", verbose=0,
                       baselines=False).run
    tuned = api.train("vision", VisionConfig(**common, init_from=str(source.path), freeze="backbone",
                                             learning_rate=0.05),
                      runs_dir=tmp_path, name="tuned", verbose=0, baselines=False).run
    app = get_app("vision")
    before = {l.name: l.get_weights() for l in load_app_model(app, source.model_path()).layers}
    after = load_app_model(app, tuned.model_path())
    frozen = [l for l in after.layers if not l.trainable and l.weights]
    assert {l.name for l in frozen} >= {"block1_conv", "block1_bn", "head_hidden"}
    for layer in frozen:
        for mine, theirs in zip(layer.get_weights(), before[layer.name]):
            np.testing.assert_array_equal(mine, theirs)
    head = after.get_layer("head_logits").get_weights()[0]
    assert not np.array_equal(head, before["head_logits"][0])  # the output layer trained (and started anew)
    assert after.get_layer("head_logits").trainable

    with pytest.raises(ConfigError, match="no layer"):
        api.train("vision", VisionConfig(**{**common, "width": 6}, init_from=str(source.path)),
                  runs_dir=tmp_path, name="wider", verbose=0, baselines=False)
    with pytest.raises(ConfigError, match="a vision model can start only from a vision run"):
        sentiment = tmp_path / "fake"
        sentiment.mkdir()
        (sentiment / "run.json").write_text('{"app": "sentiment"}')
        api.train("vision", VisionConfig(**common, init_from=str(sentiment)), runs_dir=tmp_path, name="x",
                  verbose=0, baselines=False)
    with pytest.raises(ConfigError, match="give `init_from`"):
        VisionConfig(freeze="backbone")
    # "none" said out loud freezes nothing (so `--vary freeze=none,backbone` can compare).
    assert VisionConfig(freeze="none").freeze == "" and VisionConfig(init_from="r", freeze="None").freeze == ""


def test_lr_find_sweeps_the_rate_and_suggests_one(tmp_path: Path, colour_folder: Path) -> None:
    import json

    from click.testing import CliRunner

    from kerasdl.cli import cli

    result = CliRunner().invoke(cli, ["lr-find", "vision", "--dataset", str(colour_folder), "--model", "mlp",
                                      "--set", "width=4", "--batch-size", "8", "--steps", "40",
                                      "--start", "1e-5", "--end", "10", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    record = json.loads((tmp_path / "vision" / "lr_find.json").read_text())
    rates = np.array(record["rates"])
    assert len(rates) >= 10 and np.all(np.diff(rates) > 0)  # one growing rate per step
    assert np.allclose(rates[1:] / rates[:-1], (10 / 1e-5) ** (1 / 39))
    assert 1e-5 <= record["suggestions"]["steepest"] <= 10
    assert (tmp_path / "vision" / "lr_find.png").stat().st_size > 10_000
    assert "Suggested peak learning rate" in result.output
    refused = CliRunner().invoke(cli, ["lr-find", "dcgan", "--steps", "20", "--out", str(tmp_path)])
    assert refused.exit_code == 1 and "two" in refused.output and "Traceback" not in refused.output


def test_histograms_log_gradient_norms(tmp_path: Path, colour_folder: Path) -> None:
    import csv

    from kerasdl import api
    from kerasdl.apps.vision.config import VisionConfig

    run = api.train("vision", VisionConfig(dataset=str(colour_folder), model="mlp", epochs=2, batch_size=16,
                                           width=4, histograms=True),
                    runs_dir=tmp_path, name="h", verbose=0, baselines=False).run
    with open(run.history_path) as f:
        norms = [float(row["grad_norm"]) for row in csv.DictReader(f)]
    assert len(norms) == 2 and all(n > 0 and np.isfinite(n) for n in norms)
    events = list((run.logs / "gradients").glob("events.out.tfevents.*"))
    assert events and events[0].stat().st_size > 1000


def test_distillation_loss_is_the_weighted_sum_and_validation_stays_plain() -> None:
    import keras

    from kerasdl.training.distillation import attach_teacher, soft_target_loss

    def net(seed: int) -> "keras.Model":
        keras.utils.set_random_seed(seed)
        return keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])

    student, teacher = net(0), net(1)
    student.compile("adam", "sparse_categorical_crossentropy")
    x = np.random.default_rng(0).normal(size=(8, 4)).astype("float32")
    y = np.arange(8) % 3
    y_pred = student(x)
    hard = float(student.compute_loss(x=x, y=y, y_pred=y_pred))
    attach_teacher(student, teacher, temperature=2.0, weight=0.25)
    soft = float(soft_target_loss(teacher(x), y_pred, temperature=2.0))
    assert soft > 0
    assert float(student.compute_loss(x=x, y=y, y_pred=y_pred)) == pytest.approx(0.75 * hard + 0.25 * soft, rel=1e-5)
    assert float(student.compute_loss(x=x, y=y, y_pred=y_pred, training=False)) == pytest.approx(hard, rel=1e-6)
    assert not teacher.trainable and len(student.trainable_weights) == 2


def test_a_student_trains_from_a_teacher_run(tmp_path: Path, colour_folder: Path) -> None:
    from click.testing import CliRunner

    from kerasdl.cli import cli

    base = ["train", "vision", "--dataset", str(colour_folder), "--preset", "tiny", "--no-baseline",
            "--runs-dir", str(tmp_path)]
    assert CliRunner().invoke(cli, [*base, "--model", "cnn", "--name", "teacher"]).exit_code == 0
    result = CliRunner().invoke(cli, [*base, "--model", "mlp", "--name", "student", "--teacher",
                                      str(tmp_path / "vision" / "teacher"), "--lr", "0.01"])
    assert result.exit_code == 0, result.output
    metrics = json.loads((tmp_path / "vision" / "student" / "metrics.json").read_text())
    assert metrics["accuracy"] > 0.6  # three colours: chance is 0.33
    other = CliRunner().invoke(cli, [*base, "--model", "mlp", "--name", "bad", "--set", "image_size=8",
                                     "--teacher", str(tmp_path / "vision" / "teacher")])
    assert other.exit_code == 1 and "teacher takes inputs" in other.output and "Traceback" not in other.output
