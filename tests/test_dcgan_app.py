"""The dcgan app: GAN training, the scores, sample grids, `kerasdl generate` and the
generator's export, on generated grey images (brightness bands) of 28 pixels."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from conftest import write_idx_folder
from kerasdl.apps.dcgan.config import DcganConfig
from kerasdl.cli import cli
from kerasdl.errors import ConfigError, TrainingError
from kerasdl.evaluation.generative import diversity, frechet_distance, inception_score

TINY = DcganConfig.presets["tiny"]


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="module")
def bands(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_idx_folder(tmp_path_factory.mktemp("bands"), train=600, test=200, size=28)


@pytest.fixture(scope="module")
def gan_run(tmp_path_factory: pytest.TempPathFactory, bands: Path, cache: Path) -> Path:
    runs = tmp_path_factory.mktemp("runs")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("KERASDL_CACHE", str(cache))
        result = CliRunner().invoke(cli, [
            "train", "dcgan", "--dataset", str(bands), "--preset", "tiny", "--epochs", "3",
            "--runs-dir", str(runs), "--name", "g"])
    assert result.exit_code == 0, result.output
    assert "FID" in result.output and "two halves of the real images" in result.output
    return runs / "dcgan" / "g"


def test_contract(bands: Path, cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from app_contract import run_app_contract
    from kerasdl.apps.dcgan.app import DcganApp

    monkeypatch.setenv("KERASDL_CACHE", str(cache))
    results = run_app_contract(DcganApp(), DcganConfig(dataset=str(bands), **TINY), tmp_path,
                               learned=lambda m: m["diversity_ratio"] > 0.1)  # not collapsed
    assert results["dcgan"]["output_shape"] == (4, 28, 28, 1)  # the generator's images


# ---- the measures -------------------------------------------------------------------------

def test_frechet_distance_of_gaussians() -> None:
    rng = np.random.default_rng(0)
    a = rng.normal(size=(20000, 3))
    assert frechet_distance(a, rng.normal(size=(20000, 3))) < 0.01
    # Means 2 apart, one covariance 4 I: 2^2 + 3 * (1 + 4 - 2 * 2) = 7.
    assert frechet_distance(a, 2.0 * rng.normal(size=(20000, 3)) + [2, 0, 0]) == pytest.approx(7.0, abs=0.2)


def test_inception_score_and_diversity_bounds() -> None:
    confident_all_classes = np.eye(4)[np.arange(400) % 4]
    assert inception_score(confident_all_classes) == pytest.approx(4.0, rel=1e-6)
    assert inception_score(np.eye(4)[np.zeros(400, int)]) == pytest.approx(1.0, rel=1e-6)
    same = np.full((8, 4, 4, 1), 100.0)
    assert diversity(same) == 0.0
    assert diversity(same + np.arange(8)[:, None, None, None]) > 1.0


def test_two_sample_test_tells_different_images_apart_and_not_the_same() -> None:
    from kerasdl.evaluation.two_sample import two_sample_test

    rng = np.random.default_rng(0)
    real = np.clip(rng.normal(120, 40, (400, 16, 16, 3)), 0, 255)
    blobs = np.clip(rng.normal(128, 5, (400, 16, 16, 3)), 0, 255)  # an early GAN's colour blobs
    assert two_sample_test(real, blobs).accuracy > 0.95
    same = two_sample_test(real, np.clip(rng.normal(120, 40, (400, 16, 16, 3)), 0, 255))
    assert abs(same.accuracy - 0.5) < 3 * same.standard_error and not same.distinguishable
    tiny = two_sample_test(real[:30], blobs[:30])  # few images must not leave it untrained
    assert tiny.accuracy > 0.9


def test_fid_is_refused_where_its_classifier_cannot_carry_it() -> None:
    from kerasdl.apps.dcgan.scoring import fid_refusal

    assert "one class" in fid_refusal(1, None)
    assert "67.6 % on 2 classes (chance 50 %): too weak" in fid_refusal(2, 0.676)
    assert fid_refusal(2, 0.9) is None and fid_refusal(10, 0.65) is None  # 10 classes: 61 % of the way
    assert fid_refusal(10, 0.5) is not None


def test_one_kind_of_picture_is_scored_by_the_two_sample_test(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KERASDL_CACHE", str(tmp_path / "cache"))
    rng = np.random.default_rng(0)
    (tmp_path / "cats" / "cat").mkdir(parents=True)
    for i in range(120):
        Image.fromarray(np.clip(rng.normal(120, 40, (28, 28, 1)), 0, 255).astype(np.uint8)[..., 0]).save(
            tmp_path / "cats" / "cat" / f"{i}.png")
    result = CliRunner().invoke(cli, ["train", "dcgan", "--dataset", str(tmp_path / "cats"), "--preset", "tiny",
                                      "--runs-dir", str(tmp_path / "runs"), "--name", "cats"])
    assert result.exit_code == 0, result.output
    assert "FID not computed: the data has one class" in result.output
    assert "FID 0" not in result.output and "Scored by a classifier" not in result.output
    assert "Two-sample test: a small network tells generated from real images" in result.output
    assert not (tmp_path / "cache").exists()  # no classifier trained on one class
    run = tmp_path / "runs" / "dcgan" / "cats"
    metrics = json.loads((run / "metrics.json").read_text())
    assert "fid" not in metrics and metrics["c2st_accuracy"] > 0.9  # two tiny epochs: easy to tell apart
    assert json.loads((run / "run.json").read_text())["best"].keys() == {"c2st_loss"}
    assert "c2st_loss" in (run / "history.csv").read_text().splitlines()[0]
    result = CliRunner().invoke(cli, ["train", "vision", "--dataset", str(tmp_path / "cats"), "--preset", "tiny",
                                      "--runs-dir", str(tmp_path / "runs")])
    assert result.exit_code == 1 and "holds one class ('cat'); a classifier needs at least two" in result.output


# ---- training ------------------------------------------------------------------------------

def test_training_writes_grids_animation_scores_and_a_cached_classifier(gan_run: Path, cache: Path) -> None:
    samples = sorted(p.name for p in (gan_run / "samples").iterdir())
    assert samples == ["epoch-001.png", "epoch-002.png", "epoch-003.png", "epochs.gif"]
    with Image.open(gan_run / "samples" / "epochs.gif") as gif:
        assert gif.n_frames == 3
    with Image.open(gan_run / "samples" / "epoch-003.png") as grid:
        assert grid.size == (476, 476)  # 8x8 images of 28 pixels, 2 apart, doubled
    history = (gan_run / "history.csv").read_text().splitlines()
    assert {"fid", "inception_score", "diversity_ratio", "d_loss", "g_loss"} <= set(history[0].split(","))
    metrics = json.loads((gan_run / "metrics.json").read_text())
    # Three tiny epochs do not reach the floor that real images set.
    assert metrics["fid"] > metrics["fid_real_floor"] >= 0.0
    assert 1.0 <= metrics["inception_score"] <= 4.0
    assert (gan_run / "plots" / "samples.png").is_file()
    meta = json.loads((gan_run / "run.json").read_text())
    classifiers = list((cache / "fid-classifiers" / "vision").iterdir())
    assert [str(p) for p in classifiers] == [meta["data"]["classifier"]]


def test_train_step_moves_the_generator_to_the_data() -> None:
    """Real images are all near 200; the untrained generator makes mid-grey (127.5).
    A swapped label or a gradient applied to the wrong network fails this."""
    import keras

    from kerasdl.apps.dcgan.gan import GAN
    from kerasdl.apps.dcgan.models import build_discriminator, build_generator

    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    real = np.clip(200.0 + rng.normal(0, 5, (512, 28, 28, 1)), 0, 255).astype(np.float32)
    noise = rng.standard_normal((512, 8)).astype(np.float32)
    gan = GAN(build_generator(8, (28, 28, 1), 8), build_discriminator((28, 28, 1), 8))
    gan.compile(keras.optimizers.Adam(1e-3, beta_1=0.5), keras.optimizers.Adam(1e-3, beta_1=0.5))
    before = np.asarray(gan.generator(noise[:256])).reshape(256, -1).mean(axis=1)
    assert np.all(np.abs(before - 127.5) < 10)
    history = gan.fit(noise, real, batch_size=32, epochs=5, verbose=0).history
    after = np.asarray(gan.generator(noise[:256])).reshape(256, -1).mean(axis=1)
    assert np.mean(np.abs(after - 200.0) < 30) > 0.9, np.percentile(after, [5, 50, 95])
    assert set(history) >= {"d_loss", "g_loss", "d_real_accuracy", "d_fake_accuracy"}


def test_a_second_run_reuses_the_classifier_and_rejects_a_wrong_one(
        bands: Path, cache: Path, gan_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KERASDL_CACHE", str(cache))
    result = CliRunner().invoke(cli, [
        "train", "dcgan", "--dataset", str(bands), "--preset", "tiny", "--epochs", "1",
        "--runs-dir", str(tmp_path), "--name", "again"])
    assert result.exit_code == 0, result.output
    assert len(list((cache / "fid-classifiers" / "vision").iterdir())) == 1
    result = CliRunner().invoke(cli, [
        "train", "dcgan", "--dataset", str(bands), "--preset", "tiny", "--epochs", "1",
        "--set", f"classifier={gan_run}", "--runs-dir", str(tmp_path)])
    assert result.exit_code == 1
    assert "`classifier` must be a vision run" in result.output and "Traceback" not in result.output


def test_mode_collapse_stops_training_with_advice(tmp_path: Path) -> None:
    from kerasdl.apps.dcgan.callbacks import GanMonitor

    class Scorer:
        def compare(self, real: np.ndarray, generated: np.ndarray) -> dict[str, float]:
            return {"fid": 1.0, "inception_score": 1.0}

    class Collapsed:
        @staticmethod
        def generator(noise: np.ndarray, training: bool = False) -> np.ndarray:
            return np.full((len(noise), 8, 8, 1), 90.0, np.float32)

    real = np.random.default_rng(0).uniform(0, 255, size=(64, 8, 8, 1)).astype(np.float32)
    monitor = GanMonitor(scorer=Scorer(), real=real, latent_dim=4, samples_dir=tmp_path,
                         collapse_ratio=0.1, first_checked_epoch=2)
    monitor.set_model(Collapsed())
    logs: dict = {}
    monitor.on_epoch_end(0, logs)  # too early to judge
    assert logs["diversity_ratio"] == 0.0
    with pytest.raises(TrainingError, match="Mode collapse at epoch 2"):
        monitor.on_epoch_end(1, {})
    assert (tmp_path / "epoch-002.png").is_file()


def test_a_nan_in_either_network_stops_training() -> None:
    import keras

    from kerasdl.apps.dcgan.gan import GAN
    from kerasdl.apps.dcgan.models import build_discriminator, build_generator
    from kerasdl.training.callbacks import NaNGuard

    gan = GAN(build_generator(4, (28, 28, 1), 4), build_discriminator((28, 28, 1), 4))
    gan.compile(keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-4))
    guard = NaNGuard()
    guard.set_model(gan)
    guard.on_train_batch_end(0, {"g_loss": 0.7, "d_loss": 1.3})
    with pytest.raises(TrainingError, match="loss d_loss became nan at epoch 1, step 4"):
        guard.on_train_batch_end(3, {"g_loss": 0.7, "d_loss": float("nan")})


@pytest.mark.parametrize(("size", "channels"), [(28, 1), (32, 3), (64, 3)])
def test_networks_for_each_size(size: int, channels: int) -> None:
    from kerasdl.apps.dcgan.models import build_discriminator, build_generator

    generator = build_generator(16, (size, size, channels), 4)
    images = np.asarray(generator(np.zeros((2, 16), np.float32)))
    assert images.shape == (2, size, size, channels)
    assert images.min() >= 0.0 and images.max() <= 255.0
    assert build_discriminator((size, size, channels), 4)(images).shape == (2, 1)


@pytest.mark.parametrize(("args", "message"), [
    (["--set", "image_size=30"], "`image_size` must be one of 28, 32, 64"),
    (["--optimizer", "sgd"], "Adam at a constant rate"),
    (["--set", "real_label=0.3"], "real_label"),
    (["--model", "cnn"], "--model must be dcgan"),
])
def test_bad_settings_are_one_line_errors(args: list[str], message: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["train", "dcgan", *args, "--runs-dir", str(tmp_path)])
    assert result.exit_code != 0
    assert message in result.output and "Traceback" not in result.output
    assert not any(tmp_path.iterdir())


def test_optimize_explains_that_tfmot_cannot_take_a_gan(gan_run: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["optimize", str(gan_run), "--prune", "0.5"])
    assert result.exit_code == 1
    assert "tfmot cannot prune" in result.output and "Traceback" not in result.output
    assert not any(p.name.startswith("g-") for p in gan_run.parent.iterdir())


def test_odd_sized_images_ask_for_image_size(colour_folder: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["train", "dcgan", "--dataset", str(colour_folder),
                                      "--runs-dir", str(tmp_path)])
    assert result.exit_code == 1
    assert "add --set image_size=32" in result.output and "Traceback" not in result.output


def test_config_presets_are_valid() -> None:
    for preset in DcganConfig.presets.values():
        DcganConfig(**preset)
    with pytest.raises(ConfigError, match="`mixed_precision` is not supported"):
        DcganConfig(mixed_precision=True)


# ---- generate and export -------------------------------------------------------------------

def test_generate_is_repeatable_per_seed_and_walks_between_seeds(gan_run: Path, tmp_path: Path) -> None:
    def grid(name: str, *args: str) -> np.ndarray:
        result = CliRunner().invoke(cli, ["generate", str(gan_run), "--out", str(tmp_path / name), *args])
        assert result.exit_code == 0, result.output
        with Image.open(tmp_path / name) as image:
            return np.asarray(image)

    first, again, other = (grid(f"{n}.png", "--n", "16", "--seed", s, "--scale", "1")
                           for n, s in (("a", "1"), ("b", "1"), ("c", "2")))
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)
    assert first.shape == (4 * 30 - 2, 4 * 30 - 2)  # 4x4 images of 28 pixels, 2 apart
    walk = grid("walk.png", "--n", "6", "--seed", "1", "--interpolate", "2", "--scale", "1")
    assert walk.shape == (28, 6 * 30 - 2)  # one row


def test_generate_needs_a_generator(trained_run: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["generate", str(trained_run), "--out", str(tmp_path / "x.png")])
    assert result.exit_code == 1
    assert "needs a generator" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "x.png").exists()


def test_predict_on_a_gan_points_to_generate(gan_run: Path, tmp_path: Path) -> None:
    image = tmp_path / "x.png"
    Image.fromarray(np.zeros((28, 28), np.uint8)).save(image)
    result = CliRunner().invoke(cli, ["predict", str(gan_run), str(image)])
    assert result.exit_code == 1
    assert "kerasdl generate" in result.output and "Traceback" not in result.output


def test_export_ships_the_generator_with_fid_per_precision(
        gan_run: Path, tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KERASDL_CACHE", str(cache))
    out = tmp_path / "exports"
    result = CliRunner().invoke(cli, ["export", str(gan_run), "--out", str(out), "--quantize", "int8"])
    assert result.exit_code == 0, result.output
    assert "fid" in result.output.lower()
    tflite = next(out.rglob("*int8.tflite"))
    # The int8 generator makes images close to the float one's from the same noise.
    from kerasdl import api

    _, info, float_model = api.load_any_model(gan_run)
    _, _, int8_model = api.load_any_model(tflite)
    noise = np.random.default_rng(5).standard_normal((4, info["latent_dim"])).astype(np.float32)
    expected = np.asarray(float_model.generator(noise))
    np.testing.assert_allclose(np.asarray(int8_model(noise)), expected, atol=40.0)
    assert np.mean(np.abs(np.asarray(int8_model(noise)) - expected)) < 10.0
    # The SavedModel's signature takes noise and returns uint8 images.
    import tensorflow as tf

    saved = tf.saved_model.load(str(next(p.parent for p in out.rglob("saved_model.pb"))))
    images = saved.signatures["serving_default"](noise=tf.constant(noise))["images"]
    assert images.dtype == tf.uint8 and tuple(images.shape) == (4, 28, 28, 1)
    np.testing.assert_allclose(np.asarray(images, np.float32), np.clip(np.round(expected), 0, 255), atol=1)
    result = CliRunner().invoke(cli, ["generate", str(tflite), "--n", "4", "--out", str(tmp_path / "t.png")])
    assert result.exit_code == 0, result.output
