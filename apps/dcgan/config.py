"""The dcgan app's hyperparameters."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from kerasdl.config import TrainConfig, _check_positive_int, _check_range
from kerasdl.errors import ConfigError

IMAGE_SIZES = (28, 32, 64)


@dataclass
class DcganConfig(TrainConfig):
    """A DCGAN (Radford et al. 2015) on one image data set.

    Attributes:
        model: dcgan (the only family; widths and depth follow `image_size`).
        image_size: 28, 32 or 64 pixels; None keeps the data's own size, which must be
            one of those.
        channels: 1 (grey) or 3 (colour); None keeps the data's own.
        latent_dim: length of the noise vector the generator starts from.
        width: filters of the generator's last hidden layer and of the
            discriminator's first; each further stage doubles them.
        learning_rate: the generator's Adam step (the paper's 2e-4, beta_1 0.5).
        d_learning_rate: the discriminator's Adam step; None for the generator's.
        beta_1: Adam's momentum for both (0.5: the paper found 0.9 unstable).
        real_label: the discriminator's target for real images: 1.0, or 0.9 for
            one-sided label smoothing (keeps it from growing over-confident).
        classifier: a vision run whose classifier scores the images (FID, IS); None
            trains one with the vision app on the same data, cached and reused.
        classifier_epochs: epochs of that classifier.
        fid_samples: generated and real images compared per FID.
        collapse_ratio: stop when the fixed noise batch's images differ from each
            other less than this fraction as much as real images do (mode collapse).
    """

    model: str = "dcgan"
    epochs: int = 10
    batch_size: int = 64
    optimizer: str = "adam"
    learning_rate: float = 2e-4
    image_size: int | None = None
    channels: int | None = None
    latent_dim: int = 64
    width: int = 32
    d_learning_rate: float | None = None
    beta_1: float = 0.5
    real_label: float = 0.9
    classifier: str | None = None
    classifier_epochs: int = 3
    fid_samples: int = 1000
    collapse_ratio: float = 0.1

    presets: ClassVar[dict[str, dict[str, Any]]] = {
        # Seconds on any machine: the tests and CI use it.
        "tiny": {"epochs": 2, "batch_size": 32, "width": 8, "latent_dim": 16,
                 "classifier_epochs": 6, "fid_samples": 200},
        # The benchmark recipe for Fashion-MNIST (bench/dcgan.py).
        "fashion-mnist": {"epochs": 20, "batch_size": 128, "width": 32, "latent_dim": 100,
                          "fid_samples": 5000, "classifier_epochs": 5},
    }

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.model != "dcgan":
            raise ConfigError(f"`model` must be dcgan for the dcgan app. Received: model={self.model!r}")
        for name in ("latent_dim", "width", "classifier_epochs", "fid_samples"):
            _check_positive_int(self, name)
        if self.image_size is not None and self.image_size not in IMAGE_SIZES:
            raise ConfigError(
                f"`image_size` must be one of {', '.join(map(str, IMAGE_SIZES))}. "
                f"Received: image_size={self.image_size!r}"
            )
        if self.channels not in (None, 1, 3):
            raise ConfigError(f"`channels` must be 1 or 3. Received: channels={self.channels!r}")
        if self.fid_samples < 10:
            raise ConfigError(f"`fid_samples` must be at least 10. Received: fid_samples={self.fid_samples}")
        if self.d_learning_rate is not None:
            _check_range(self, "d_learning_rate", 0.0, 1.0, low_open=True)
        _check_range(self, "beta_1", 0.0, 1.0, high_open=True)
        _check_range(self, "real_label", 0.5, 1.0, low_open=True)
        _check_range(self, "collapse_ratio", 0.0, 1.0, high_open=True)
        if self.optimizer != "adam" or self.schedule != "constant":
            raise ConfigError(
                "The dcgan app trains both networks with Adam at a constant rate (the "
                "paper's recipe): leave `optimizer` and `schedule` unset; set the rates with "
                "`learning_rate` and `d_learning_rate`.")
        if self.mixed_precision:
            raise ConfigError("`mixed_precision` is not supported by the dcgan app (its two "
                              "optimizers take float32 gradients).")
        if self.strategy == "multiworker":
            raise ConfigError("The dcgan app trains with Keras fit: use `strategy=auto`, "
                              "mirrored or tpu (Keras 3 fit under MultiWorkerMirroredStrategy "
                              "fails: keras-team/keras#20585).")
