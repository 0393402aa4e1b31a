"""The dcgan app: image generation from the vision app's data sources."""

from __future__ import annotations

import logging
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from kerasdl.app import App, CompilesItself, Datasets
from kerasdl.app_export import ExportSpec
from kerasdl.errors import DataError, KerasdlError

from kerasdl.apps.dcgan.config import IMAGE_SIZES, DcganConfig
from kerasdl.apps.dcgan.noise import GRID_SIZE, fixed_noise

if TYPE_CHECKING:
    import keras
    import tensorflow as tf

logger = logging.getLogger(__name__)

class DcganExport(ExportSpec[DcganConfig]):
    """An image generator's export: the generator alone, noise in, images out."""

    def exported_model(self, model: "keras.Model") -> "keras.Model":
        return model.generator

    def serving_endpoints(self, model: "keras.Model") -> dict[str, Any]:
        """`serving_default` takes noise [batch, latent_dim] and returns uint8 images."""
        import tensorflow as tf

        def generate(noise: tf.Tensor) -> dict[str, tf.Tensor]:
            pixels = tf.clip_by_value(tf.round(model(noise, training=False)), 0.0, 255.0)
            return {"images": tf.cast(pixels, tf.uint8)}

        return {"serving_default": (generate, [tf.TensorSpec([None, self.info["latent_dim"]], tf.float32,
                                                             name="noise")])}

    def preprocessing_metadata(self) -> dict[str, Any]:
        return {
            "input": f"float32 noise [batch, {self.info['latent_dim']}], standard normal",
            "output": f"float32 images [batch, {', '.join(map(str, self.info['image_shape']))}], "
                      "pixels 0-255: round and clip to uint8",
        }


class DcganApp(App[DcganConfig], CompilesItself):
    """Image generation with a DCGAN.

    Example:
    >>> from kerasdl.apps.dcgan.app import DcganApp
    >>> from kerasdl.apps.dcgan.config import DcganConfig
    >>> app = DcganApp()
    >>> model = app.build_model(DcganConfig(), {"image_shape": [28, 28, 1], "latent_dim": 64})
    >>> model.generator.output_shape
    (None, 28, 28, 1)
    """

    name: ClassVar[str] = "dcgan"
    task: ClassVar[str] = "image_generation"
    requires: ClassVar[tuple[str, ...]] = ("vision",)  # its data sources and scoring classifier
    description: ClassVar[str] = "Image generation."
    config_class = DcganConfig
    models: ClassVar[dict[str, str]] = {
        "dcgan": "DCGAN (Radford et al. 2015): transposed-convolution generator, "
                 "convolutional discriminator.",
    }
    default_model: ClassVar[str] = "dcgan"
    export_spec_class: ClassVar[type[ExportSpec]] = DcganExport
    monitor = ("fid", "min")
    headline_metric = "fid"
    # The two players' losses show the minimax balance; "loss" is only their sum.
    comparison_curves = ("d_loss", "g_loss", "d_real_accuracy", "d_fake_accuracy")
    provenance_keys = ("source", "sizes", "classifier")

    def __init__(self) -> None:
        self._scorers: dict[str, Any] = {}

    def scorer(self, info: dict[str, Any]) -> Any:
        """The classifier features that FID reads, or None where FID is not computed."""
        from kerasdl.apps.dcgan.scoring import Scorer

        path = info.get("classifier")
        if path is None or info.get("fid_refused"):
            return None
        if path not in self._scorers:
            self._scorers[path] = Scorer(path)
        return self._scorers[path]

    def monitor_for(self, info: dict[str, Any]) -> tuple[str, str]:
        """FID where it means something; otherwise the two-sample test's held-out
        cross-entropy (higher: harder to tell from real; it keeps moving while the
        accuracy sits at 100 %)."""
        return ("c2st_loss", "max") if info.get("fid_refused") else self.monitor

    def headline_for(self, info: dict[str, Any]) -> str:
        return "c2st_accuracy" if info.get("fid_refused") else self.headline_metric

    # ---- data ---------------------------------------------------------------------------

    def load_datasets(self, config: DcganConfig, *, fitted: dict[str, Any] | None = None) -> Datasets:
        """The vision app's image sources, as (noise, image) pairs: each validation and
        test image has its own fixed noise vector, so scores are repeatable."""
        import tensorflow as tf

        from kerasdl.data.images import load_image_datasets
        from kerasdl.registry import get_app

        # With no dataset, the vision app's bundled sample: the images its classifier
        # (which scores the generated ones) is trained on.
        data = load_image_datasets(
            config.dataset, sample_dir=get_app("vision").sample_dir or ".", image_size=config.image_size,
            channels=config.channels, validation_split=config.validation_split, seed=config.seed,
        )
        info = data.info()
        if info["image_shape"][0] not in IMAGE_SIZES or info["image_shape"][0] != info["image_shape"][1]:
            raise DataError(
                f"The images are {info['image_shape'][0]}x{info['image_shape'][1]}; the DCGAN "
                f"makes square images of {', '.join(map(str, IMAGE_SIZES))} pixels: "
                "add `image_size=32` (or 28, 64)."
            )
        info.update(latent_dim=config.latent_dim, fid_samples=config.fid_samples)
        for key in ("classifier", "fid_refused"):  # a trained run's scoring, kept
            if fitted is not None and key in fitted:
                info[key] = fitted[key]

        def with_noise(ds: tf.data.Dataset, split_seed: int) -> tf.data.Dataset:
            def pair(index: tf.Tensor, example: tuple[tf.Tensor, tf.Tensor]) -> tuple[tf.Tensor, tf.Tensor]:
                noise = tf.random.stateless_normal(
                    [config.latent_dim], seed=tf.stack([tf.constant(split_seed, tf.int64), index]))
                return noise, example[0]

            return ds.enumerate().map(pair)

        return Datasets(
            train=with_noise(data.train, 1),
            validation=with_noise(data.validation, 2),
            test=with_noise(data.test, 3) if data.test is not None else None,
            info=info,
        )

    # ---- model and training --------------------------------------------------------------

    def prepare(self, config: DcganConfig, data: Datasets) -> None:
        """Finds (`config.classifier`, or the cache) or trains the vision classifier whose
        features FID reads, and decides whether FID can mean anything on this data."""
        from kerasdl.apps.dcgan.scoring import classifier_run, fid_refusal, run_accuracy
        from kerasdl.runs import Run

        info = data.info
        if len(info["class_names"]) < 2 and not config.classifier:
            info["classifier"], refusal = None, fid_refusal(len(info["class_names"]), None)
        else:
            info["classifier"] = str(classifier_run(config, info["image_shape"]))
            classes = len(Run.open(info["classifier"]).meta["data"]["class_names"])
            refusal = fid_refusal(classes, run_accuracy(info["classifier"]))
        info.pop("fid_refused", None)
        if refusal:
            info["fid_refused"] = refusal
            logger.warning("FID is not computed: %s. The two-sample test scores the images instead.", refusal)

    def search_space(self, hp: Any, config: DcganConfig) -> dict[str, Any]:
        """The two networks' rates, size, label smoothing and batch (Adam at a
        constant rate throughout, as the paper)."""
        from kerasdl.search_space import choice

        d_rate = config.d_learning_rate or config.learning_rate
        return {
            "learning_rate": hp.Float("learning_rate", min(5e-5, config.learning_rate),
                                      max(1e-3, config.learning_rate), sampling="log",
                                      default=config.learning_rate),
            "d_learning_rate": hp.Float("d_learning_rate", min(5e-5, d_rate), max(1e-3, d_rate),
                                        sampling="log", default=d_rate),
            "width": choice(hp, "width", [16, 32, 64], config.width),
            "real_label": choice(hp, "real_label", [0.9, 1.0], config.real_label),
            "batch_size": choice(hp, "batch_size", [32, 64, 128], config.batch_size),
        }

    def build_model(
        self, config: DcganConfig, info: dict[str, Any], *, keras_module: ModuleType | None = None,
        batch_size: int | None = None,
    ) -> "keras.Model":
        import keras

        from kerasdl.apps.dcgan.gan import GAN
        from kerasdl.apps.dcgan.models import build_discriminator, build_generator

        if keras_module is not None and keras_module is not keras:
            raise KerasdlError(
                "tfmot cannot prune, cluster or quantize-train the GAN (a two-network model "
                "with its own training step); export the generator (`kerasdl export`) quantized "
                "to dynamic, float16 or int8 instead.")
        shape = tuple(info["image_shape"])
        return GAN(build_generator(info["latent_dim"], shape, config.width),
                   build_discriminator(shape, config.width), real_label=config.real_label,
                   name="dcgan")

    def compile_model(self, model: "keras.Model", config: DcganConfig, info: dict[str, Any],
                      steps_per_epoch: int) -> None:
        """Adam for each network (beta_1 0.5, as the paper), each with its own rate and
        `clip_norm` on each one's gradients."""
        import keras

        clip = config.clip_norm or None
        model.compile(
            g_optimizer=keras.optimizers.Adam(config.learning_rate, beta_1=config.beta_1, global_clipnorm=clip),
            d_optimizer=keras.optimizers.Adam(config.d_learning_rate or config.learning_rate,
                                              beta_1=config.beta_1, global_clipnorm=clip),
        )

    def training_callbacks(self, config: DcganConfig, info: dict[str, Any], output_dir: Path,
                           validation: "tf.data.Dataset") -> list[Any]:
        from kerasdl.apps.dcgan.callbacks import GanMonitor

        real = []
        for _, images in validation.unbatch().take(config.fid_samples).batch(256):
            real.append(np.asarray(images))
        if not real:
            raise DataError("The validation split is empty: nothing to score the generator against.")
        return [GanMonitor(
            scorer=self.scorer(info), two_sample=bool(info.get("fid_refused")), real=np.concatenate(real),
            latent_dim=info["latent_dim"], samples_dir=output_dir / "samples",
            collapse_ratio=config.collapse_ratio,
        )]

    def score(self, targets: np.ndarray, outputs: np.ndarray, info: dict[str, Any]) -> dict[str, Any]:
        """`outputs` (generated images) against `targets` (real ones): the two-sample
        test always, FID and the Inception Score analogue where they mean something."""
        from kerasdl.evaluation.two_sample import two_sample_test

        scorer = self.scorer(info)
        metrics: dict[str, Any] = scorer.compare(targets, outputs) if scorer is not None else {}
        test = two_sample_test(targets, outputs)
        metrics.update(c2st_accuracy=test.accuracy, c2st_standard_error=test.standard_error,
                       c2st_loss=test.loss)
        if info.get("fid_refused"):
            metrics["fid_refused"] = info["fid_refused"]
        return metrics

    def evaluate(
        self, model: Any, dataset: "tf.data.Dataset", info: dict[str, Any],
        *, plots_dir: Path | None = None,
    ) -> dict[str, Any]:
        """FID and IS of as many generated images as the split has real ones, beside
        the floor: the FID between the split's two halves of real images."""
        from kerasdl.app import predict_dataset
        from kerasdl.evaluation.generative import diversity, frechet_distance

        real, generated = predict_dataset(model, dataset)
        metrics = self.score(real, generated, info)
        scorer = self.scorer(info)
        if scorer is not None:
            half = len(real) // 2
            features, _ = scorer(real)
            metrics["fid_real_floor"] = frechet_distance(features[:half], features[half:2 * half])
        metrics["images"] = int(len(real))
        metrics["diversity_ratio"] = diversity(generated[:GRID_SIZE]) / max(diversity(real[:GRID_SIZE]), 1e-9)
        if plots_dir is not None:
            from kerasdl.evaluation.plots import image_grid, save_image

            images = np.asarray(model(fixed_noise(GRID_SIZE, info["latent_dim"]), training=False))
            save_image(image_grid(np.clip(np.round(images), 0, 255).astype(np.uint8), 8),
                       plots_dir / "samples.png", scale=2)
        return metrics

    def format_metrics(self, metrics: dict[str, Any]) -> str:
        lines = []
        if "fid" in metrics:
            lines.append(f"FID {metrics['fid']:.2f} (lower is better; two halves of the real images: "
                         f"{metrics['fid_real_floor']:.2f})" if "fid_real_floor" in metrics
                         else f"FID {metrics['fid']:.2f}")
            lines.append(f"Inception Score analogue {metrics['inception_score']:.2f} "
                         f"(real images: {metrics['real_inception_score']:.2f}); "
                         f"{metrics['classes_generated']} of the classes generated")
            if "classifier_accuracy" in metrics:
                lines.append(f"Scored by a classifier with {100 * metrics['classifier_accuracy']:.1f} % "
                             "test accuracy")
        if "c2st_accuracy" in metrics:
            lines.append(f"Two-sample test: a small network tells generated from real images "
                         f"{100 * metrics['c2st_accuracy']:.1f} % of the time on held-out images "
                         f"(50 % = indistinguishable; chance alone moves it {200 * metrics['c2st_standard_error']:.1f} points)")
        if metrics.get("fid_refused"):
            lines.append(f"FID not computed: {metrics['fid_refused']}.")
        if "diversity_ratio" in metrics:
            lines.append(f"Diversity: {metrics['diversity_ratio']:.2f} of the real images'")
        return "\n".join(lines)

    # ---- export and use ------------------------------------------------------------------

    def custom_objects(self) -> dict[str, Any]:
        from kerasdl.apps.dcgan.gan import GAN

        return {"kerasdl>GAN": GAN}
