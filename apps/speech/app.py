"""The speech app: spoken command recognition from tfds or folders of WAV files."""

from __future__ import annotations

import logging
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, ClassVar

from kerasdl.app import ClassifierApp, Datasets
from kerasdl.backbones import BACKBONE_WEIGHTS
from kerasdl.app_export import ClassifierExportSpec, ExportSettings, ExportSpec, MobileTask, TaskInput, named_probabilities

from kerasdl.apps.speech import preprocessing
from kerasdl.apps.speech.baselines import LOG_MEL_LR, STATISTICS_LAYERS, fit_log_mel_lr, log_mel_settings
from kerasdl.apps.speech.config import PRETRAINED, SpeechConfig
from kerasdl.apps.speech.models import MODELS, build_speech_model

if TYPE_CHECKING:
    import keras

    from kerasdl.data.pipeline import Augment

logger = logging.getLogger(__name__)

SAMPLE_DIR = Path(__file__).parent / "sample"


class SpeechExport(ClassifierExportSpec[SpeechConfig]):
    """An audio classifier's export: `serving_default` takes WAV files' bytes,
    `serve_pcm` int16 clips already at the model's rate and length; task-ready TFLite
    files take float32 waveforms and run in MediaPipe's AudioClassifier."""

    # A power spectrum spans many decades: in 8 bits its quiet bands round to zero and
    # the int8 model fell to chance (18.7 % on FSDD); the front end stays float32.
    # The waveform's conversion to PCM and the front end stay float in full-int8 files,
    # and so do log-mel-lr's band statistics (a quiet band's deviation is small).
    settings = ExportSettings(int8_float_layers=("waveform_to_pcm", *preprocessing.FRONT_END_LAYERS,
                                                 *STATISTICS_LAYERS), dynamic_with_litert=True)

    def serving_endpoints(self, model: "keras.Model") -> dict[str, Any]:
        """Probabilities, the top class label and its score, from WAV bytes (16-bit PCM
        at the model's sample rate; stereo mixed down, cut or padded to the clip length)
        or from PCM clips."""
        import tensorflow as tf

        decode = preprocessing.wav_decoder(self.info)
        length = self.info["clip_samples"]
        named_outputs = named_probabilities(self.info["class_names"])

        def from_wav(wav_bytes: tf.Tensor) -> dict[str, tf.Tensor]:
            clips = tf.map_fn(decode, wav_bytes, fn_output_signature=tf.TensorSpec([length], tf.int16))
            return named_outputs(model(clips, training=False))

        def from_pcm(audio: tf.Tensor) -> dict[str, tf.Tensor]:
            return named_outputs(model(audio, training=False))

        return {
            "serving_default": (from_wav, [tf.TensorSpec([None], tf.string, name="wav_bytes")]),
            "serve_pcm": (from_pcm, [tf.TensorSpec([None, length], tf.int16, name=preprocessing.INPUT_NAME)]),
        }

    def task_input(self) -> TaskInput | None:
        return preprocessing.waveform_task_input()

    def mobile_task(self) -> MobileTask:
        tensor = preprocessing.input_tensor(self.info)
        if tensor.audio is not None:
            return MobileTask(tensor, self.probabilities_tensor(), "AudioClassifier")
        return MobileTask(tensor, self.probabilities_tensor(), None, "MediaPipe's AudioClassifier hands "
                          "float32 waveforms: export without --native-input")

    def preprocessing_metadata(self) -> dict[str, Any]:
        return preprocessing.metadata(self.info)


class SpeechApp(ClassifierApp[SpeechConfig]):
    """Spoken command recognition (keyword spotting) on fixed-length clips.

    Example:
    >>> from kerasdl.apps.speech.app import SpeechApp
    >>> from kerasdl.apps.speech.config import SpeechConfig
    >>> app = SpeechApp()
    >>> data = app.load_datasets(SpeechConfig())  # the bundled spoken-digit sample
    >>> data.info["sample_rate"], data.info["clip_samples"]
    (8000, 8000)
    """

    name: ClassVar[str] = "speech"
    task: ClassVar[str] = "audio_classification"
    description: ClassVar[str] = "Spoken command recognition."
    config_class = SpeechConfig
    models: ClassVar[dict[str, str]] = MODELS
    default_model: ClassVar[str] = "cnn"
    sample_dir = SAMPLE_DIR
    baseline_advice: ClassVar[str] = (
        "Ship the baseline itself with --model log-mel-lr, or train longer, add --augment, or try --model auto.")
    # kerasdl's own models name no backbone (a config given --backbone keeps it for the
    # pretrained candidate alone).
    auto_recipes: ClassVar[dict[str, dict[str, Any]]] = {
        "cnn": {"model": "cnn", "backbone": ""}, "ds-cnn": {"model": "ds-cnn", "backbone": ""},
        LOG_MEL_LR: {"model": LOG_MEL_LR, "epochs": 1, "backbone": ""}}
    baseline_models: ClassVar[dict[str, dict[str, Any]]] = {
        LOG_MEL_LR: {"model": LOG_MEL_LR, "epochs": 1, "backbone": ""}}

    def fit_baselines(self, config: SpeechConfig, data: Datasets) -> list[Any]:
        """Logistic regression on log-mel statistics: exactly the model `--model
        log-mel-lr` ships (`baselines`)."""
        from kerasdl.apps.speech.baselines import fit_baselines

        return fit_baselines(data)
    provenance_keys = ("source", "sizes", "noise_files")
    export_spec_class: ClassVar[type[ExportSpec]] = SpeechExport

    def load_datasets(self, config: SpeechConfig, *, fitted: dict[str, Any] | None = None) -> Datasets:
        from kerasdl.data.audio import load_audio_datasets

        sample_rate, clip_seconds = config.sample_rate, config.clip_seconds
        # A new pretrained model's weights are found first: offline, that fails in
        # seconds, before any clip is read.
        from kerasdl.backbones.audio import audio_backbone

        weights = config.new_model_weights(audio_backbone) if fitted is None else None
        if config.model == PRETRAINED:
            sample_rate = audio_backbone(config.backbone).sample_rate  # clips are resampled to it
        if fitted is not None:
            # The model's input is fixed: read other data at its rate and length.
            sample_rate = fitted["sample_rate"]
            clip_seconds = fitted["clip_samples"] / sample_rate
        data = load_audio_datasets(
            config.dataset, sample_dir=SAMPLE_DIR, sample_rate=sample_rate,
            clip_seconds=clip_seconds, validation_split=config.validation_split, seed=config.seed,
        )
        features = preprocessing.feature_settings(config, data.sample_rate)
        if config.model == LOG_MEL_LR:
            features = log_mel_settings(features)  # what the model computes, for the metadata
        if config.model == PRETRAINED:
            features = {"mfcc": 0, **audio_backbone(config.backbone).front_end}
        info = {**data.info(), "features": features}
        datasets = Datasets(train=data.train, validation=data.validation, test=data.test, info=info)
        if weights is not None:
            datasets.initial_weights[BACKBONE_WEIGHTS] = weights
            datasets.info["backbone"] = {"name": config.backbone, "weights": weights.describe()}
        if fitted is None and config.model == LOG_MEL_LR:
            # Fitted here, once (as sentiment's linear models): training has nothing left to learn.
            fit = fit_log_mel_lr(datasets)
            datasets.initial_weights[LOG_MEL_LR] = {"mean": fit.mean, "variance": fit.variance,
                                                    "kernel": fit.kernel, "bias": fit.bias}
            logger.info("Fitted %s on the training split (%s, chosen on the validation split).", LOG_MEL_LR,
                        fit.setting)
        return datasets

    def auto_candidates(self, config: SpeechConfig) -> dict[str, dict[str, Any]]:
        """kerasdl's own models and the baseline; the pretrained model too when its
        weights are here (`--model auto` never downloads)."""
        from kerasdl.backbones.audio import DEFAULT_AUDIO_BACKBONE, audio_backbone

        candidates = super().auto_candidates(config)
        spec = audio_backbone(config.backbone or DEFAULT_AUDIO_BACKBONE)
        if spec.has_weights_here(config.weights):
            candidates[PRETRAINED] = {"model": PRETRAINED, "backbone": spec.name}
        return candidates

    def search_space(self, hp: Any, config: SpeechConfig) -> dict[str, Any]:
        """Architecture, width and depth, regularization and training (the features
        stay as configured)."""
        from kerasdl.search_space import choice, training_space

        if config.model == PRETRAINED:
            return {
                **training_space(hp, config, batch_sizes=(16, 32, 64)),
                "fine_tune_layers": choice(hp, "fine_tune_layers", [0, 20, 40, -1], config.fine_tune_layers),
                "fine_tune_rate": choice(hp, "fine_tune_rate", [0.03, 0.1, 0.3], config.fine_tune_rate),
            }
        return {
            **training_space(hp, config, batch_sizes=(16, 32, 64)),
            "model": choice(hp, "model", ["cnn", "ds-cnn", "crnn"], self.model_name(config)),
            "width": choice(hp, "width", [16, 32, 64], config.width),
            "depth": choice(hp, "depth", [2, 3, 4], config.depth),
        }

    def build_model(
        self, config: SpeechConfig, info: dict[str, Any], *, keras_module: ModuleType | None = None,
        batch_size: int | None = None,
    ) -> "keras.Model":
        return build_speech_model(
            self.model_name(config), info["clip_samples"], info["sample_rate"],
            len(info["class_names"]), config, batch_size=batch_size, keras_module=keras_module,
            statistics=info.get(LOG_MEL_LR) if self.model_name(config) != PRETRAINED
            else {BACKBONE_WEIGHTS: info.get(BACKBONE_WEIGHTS)},
        )

    def augmentation(self, config: SpeechConfig, info: dict[str, Any]) -> "Augment | None":
        """Time shift and background noise on the waveforms (SpecAugment is a layer in
        the model, active while training)."""
        from kerasdl.data.audio import read_noise, waveform_augmentation

        if not config.augment or config.model == LOG_MEL_LR:  # fitted once: nothing learns
            return None
        return waveform_augmentation(
            noise=read_noise(info.get("noise_files", []), info["sample_rate"]),
            max_shift=int(config.augment_shift_ms * info["sample_rate"] / 1000),
            min_snr_db=config.noise_snr_db, noise_probability=config.noise_probability,
            seed=config.seed,
        )
