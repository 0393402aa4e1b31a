"""Adversarial examples and adversarial training (issue 34): the attacks stay in their
budget and raise the loss, adversarial training trains on them, and `kerasdl evaluate
--epsilon` reports the accuracy under attack beside the clean one."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from kerasdl.errors import ConfigError


def _tiny_classifier(seed: int = 0):
    import keras

    keras.utils.set_random_seed(seed)
    inputs = keras.Input((6, 6, 1), dtype="uint8", name="image")
    x = keras.layers.Rescaling(1 / 255, name="scale_pixels")(inputs)
    x = keras.layers.Conv2D(4, 3, activation="relu")(x)
    x = keras.layers.Flatten()(x)
    outputs = keras.layers.Dense(3, activation="softmax")(x)
    return keras.Model(inputs, outputs)


def _cross_entropy(model, pixels: np.ndarray, labels: np.ndarray) -> float:
    from kerasdl.training.adversarial import pixel_view

    probabilities = np.asarray(pixel_view(model)(pixels))
    return float(-np.log(np.clip(probabilities[np.arange(len(labels)), labels], 1e-7, 1)).mean())


def test_attacks_stay_in_budget_and_raise_the_loss() -> None:
    from kerasdl.training.adversarial import attack, pixel_view

    model = _tiny_classifier()
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (32, 6, 6, 1)).astype("uint8")
    labels = rng.integers(0, 3, 32)
    pixels = images.astype("float32") / 255
    view = pixel_view(model)
    np.testing.assert_allclose(np.asarray(view(pixels)), np.asarray(model(images)), atol=1e-6)  # the same model
    clean = _cross_entropy(model, pixels, labels)
    losses = {}
    for method in ("fgsm", "pgd"):
        moved = np.asarray(attack(view, pixels, labels, method=method, epsilon=0.05, steps=5, seed=[0, 1]))
        assert np.abs(moved - pixels).max() <= 0.05 + 1e-6 and moved.min() >= 0 and moved.max() <= 1
        losses[method] = _cross_entropy(model, moved, labels)
    assert clean < losses["fgsm"] <= losses["pgd"] + 1e-3, (clean, losses)
    assert np.array_equal(np.asarray(attack(view, pixels, labels, method="pgd", epsilon=0.05, seed=[0, 1])),
                          np.asarray(attack(view, pixels, labels, method="pgd", epsilon=0.05, seed=[0, 1])))
    with pytest.raises(ConfigError, match="Unknown attack"):
        attack(view, pixels, labels, method="deepfool", epsilon=0.1)


def test_pixel_view_refuses_a_model_not_on_pixels() -> None:
    import keras

    from kerasdl.training.adversarial import pixel_view

    inputs = keras.Input((5,), dtype="int32")
    outputs = keras.layers.Dense(2, activation="softmax")(keras.layers.Embedding(10, 4)(inputs)[:, 0])
    with pytest.raises(ConfigError, match="work on image classifiers.*takes int32"):
        pixel_view(keras.Model(inputs, outputs))


def test_adversarial_training_loss_is_the_mix_on_attacked_examples() -> None:
    from kerasdl.training.adversarial import attach_adversary

    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, (16, 6, 6, 1)).astype("uint8")
    labels = rng.integers(0, 3, 16)
    losses = {}
    for weight in (0.0, 1.0):
        model = _tiny_classifier(seed=2)
        model.compile("adam", "sparse_categorical_crossentropy")
        attach_adversary(model, method="pgd", epsilon=0.1, steps=3, weight=weight)
        losses[weight] = float(model.compute_loss(x=images, y=labels, y_pred=model(images, training=True)))
        clean = float(model.compute_loss(x=images, y=labels, y_pred=model(images), training=False))
    assert losses[0.0] == pytest.approx(clean, rel=1e-5)  # w = 0: the clean loss
    assert losses[1.0] > clean + 1e-3  # w = 1: the loss on examples the attack made worse
    model.fit(images, labels, epochs=1, batch_size=8, verbose=0)  # trains through Keras' fit
    assert all(np.all(np.isfinite(w)) for w in model.get_weights())


def test_config_checks() -> None:
    from kerasdl.apps.vision.config import VisionConfig

    assert VisionConfig(adversarial="fgsm", epsilon=0.1).adversarial == "fgsm"
    for bad, match in (({"adversarial": "cw"}, "adversarial"), ({"epsilon": 0.0}, "epsilon"),
                       ({"epsilon": 2.0}, "epsilon"), ({"adversarial_weight": 1.5}, "adversarial_weight"),
                       ({"adversarial": "pgd", "teacher": "runs/x"}, "not both")):
        with pytest.raises(ConfigError, match=match):
            VisionConfig(**bad)


def test_train_adversarially_then_evaluate_under_attack(colour_folder: Path, trained_run: Path,
                                                        tmp_path: Path) -> None:
    """`--adversarial pgd` trains from the CLI; `kerasdl evaluate --epsilon` reports clean,
    FGSM and PGD accuracy, and a PGD attack of a large budget costs the clean model
    accuracy (measured: this colour task shrugs off FGSM's single step, not PGD)."""
    from click.testing import CliRunner

    from kerasdl.cli import cli

    runner = CliRunner()
    result = runner.invoke(cli, ["train", "vision", "--dataset", str(colour_folder), "--preset", "tiny",
                                 "--epochs", "1", "--adversarial", "pgd", "--epsilon", "0.03",
                                 "--set", "adversarial_steps=2", "--no-baseline", "--runs-dir", str(tmp_path),
                                 "--name", "robust"])
    assert result.exit_code == 0, result.output
    saved = (tmp_path / "vision" / "robust" / "config.toml")
    assert 'adversarial = "pgd"' in saved.read_text()
    result = runner.invoke(cli, ["evaluate", str(tmp_path / "vision" / "robust"), "--epsilon", "0.03"])
    assert result.exit_code == 0, result.output
    assert "Under attack (epsilon 0.03 = 7.6/255" in result.output and "PGD-10" in result.output
    result = runner.invoke(cli, ["evaluate", str(trained_run), "--split", "validation", "--epsilon", "0.25",
                                 "--attack-steps", "3", "--json"])  # the shared run's metrics.json stays
    assert result.exit_code == 0, result.output
    robustness = json.loads(result.output)["robustness"]
    assert robustness["pgd_steps"] == 3
    assert robustness["examples"] > 0
    assert robustness["pgd_accuracy"] < robustness["clean_accuracy"], robustness
    assert robustness["pgd_accuracy"] <= robustness["fgsm_accuracy"], robustness  # PGD: the stronger attack
