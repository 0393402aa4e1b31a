"""The speech app: spoken command recognition from tfds or folders of WAV files."""

from __future__ import annotations

import logging
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from kerasdl.app import ClassifierApp, Datasets, ExportSettings, MobileTask, TaskInput, named_probabilities

from kerasdl.apps.speech import preprocessing
from kerasdl.apps.speech.baselines import LOG_MEL_LR, STATISTICS_LAYERS, fit_log_mel_lr, log_mel_settings
from kerasdl.apps.speech.config import SpeechConfig
from kerasdl.apps.speech.models import MODELS, build_speech_model

if TYPE_CHECKING:
    import keras

    from kerasdl.data.pipeline import Augment

logger = logging.getLogger(__name__)

SAMPLE_DIR = Path(__file__).parent / "sample"


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
    description: ClassVar[str] = "Spoken command recognition."
    config_class = SpeechConfig
    models: ClassVar[dict[str, str]] = MODELS
    default_model: ClassVar[str] = "cnn"
    sample_dir = SAMPLE_DIR
    baseline_advice: ClassVar[str] = (
        "Ship the baseline itself with --model log-mel-lr, or train longer, add --augment, or try --model auto.")
    auto_recipes: ClassVar[dict[str, dict[str, Any]]] = {"cnn": {"model": "cnn"}, "ds-cnn": {"model": "ds-cnn"},
                                                         LOG_MEL_LR: {"model": LOG_MEL_LR, "epochs": 1}}
    baseline_models: ClassVar[dict[str, dict[str, Any]]] = {LOG_MEL_LR: {"model": LOG_MEL_LR, "epochs": 1}}

    def fit_baselines(self, config: SpeechConfig, data: Datasets) -> list[Any]:
        """Logistic regression on log-mel statistics: exactly the model `--model
        log-mel-lr` ships (`baselines`)."""
        from kerasdl.apps.speech.baselines import fit_baselines

        return fit_baselines(data)
    provenance_keys = ("source", "sizes", "noise_files")
    # A power spectrum spans many decades: in 8 bits its quiet bands round to zero and
    # the int8 model fell to chance (18.7 % on FSDD); the front end stays float32.
    # The waveform's conversion to PCM and the front end stay float in full-int8 files,
    # and so do log-mel-lr's band statistics (a quiet band's deviation is small).
    export = ExportSettings(int8_float_layers=("waveform_to_pcm", *preprocessing.FRONT_END_LAYERS,
                                               *STATISTICS_LAYERS), dynamic_with_litert=True)

    def load_datasets(self, config: SpeechConfig, *, fitted: dict[str, Any] | None = None) -> Datasets:
        from kerasdl.data.audio import load_audio_datasets

        sample_rate, clip_seconds = config.sample_rate, config.clip_seconds
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
        info = {**data.info(), "features": features}
        datasets = Datasets(train=data.train, validation=data.validation, test=data.test, info=info)
        if fitted is None and config.model == LOG_MEL_LR:
            # Fitted here, once (as sentiment's linear models): training has nothing left to learn.
            fit = fit_log_mel_lr(datasets)
            datasets.initial_weights[LOG_MEL_LR] = {"mean": fit.mean, "variance": fit.variance,
                                                    "kernel": fit.kernel, "bias": fit.bias}
            logger.info("Fitted %s on the training split (%s, chosen on the validation split).", LOG_MEL_LR,
                        fit.setting)
        return datasets

    def search_space(self, hp: Any, config: SpeechConfig) -> dict[str, Any]:
        """Architecture, width and depth, regularization and training (the features
        stay as configured)."""
        from kerasdl.search_space import choice, training_space

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
            statistics=info.get(LOG_MEL_LR),
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

    def serving_endpoints(self, model: "keras.Model", info: dict[str, Any]) -> dict[str, Any]:
        """`serving_default` takes WAV files' bytes (16-bit PCM at the model's sample
        rate; stereo mixed down, cut or padded to the clip length) and returns
        probabilities, the top class label and its score; `serve_pcm` takes int16 clips
        already at the model's rate and length."""
        import tensorflow as tf

        from kerasdl.data.audio import PCM_SCALE, fix_length_tf
        from kerasdl_edge.audio import MIN_CLIP_FRACTION

        rate, length = info["sample_rate"], info["clip_samples"]
        named_outputs = named_probabilities(info["class_names"])
        shortest = int(np.ceil(MIN_CLIP_FRACTION * length))

        def decode(wav: tf.Tensor) -> tf.Tensor:
            audio, file_rate = tf.audio.decode_wav(wav)
            tf.debugging.assert_equal(
                file_rate, rate, message=f"WAV files must be recorded at {rate} Hz for this model")
            tf.debugging.assert_greater_equal(
                tf.shape(audio)[0], shortest,
                message=f"A WAV clip must hold at least {shortest} samples ({MIN_CLIP_FRACTION:.0%} of the "
                        f"{length / rate:.2f} s the model listens to): a truncated or empty recording?")
            pcm = tf.round(tf.reduce_mean(audio, axis=-1) * PCM_SCALE)
            pcm = tf.cast(tf.clip_by_value(pcm, -32768.0, 32767.0), tf.int16)
            return fix_length_tf(pcm, length)

        def from_wav(wav_bytes: tf.Tensor) -> dict[str, tf.Tensor]:
            clips = tf.map_fn(decode, wav_bytes, fn_output_signature=tf.TensorSpec([length], tf.int16))
            return named_outputs(model(clips, training=False))

        def from_pcm(audio: tf.Tensor) -> dict[str, tf.Tensor]:
            return named_outputs(model(audio, training=False))

        return {
            "serving_default": (from_wav, [tf.TensorSpec([None], tf.string, name="wav_bytes")]),
            "serve_pcm": (from_pcm, [tf.TensorSpec([None, length], tf.int16, name="audio")]),
        }

    def task_input(self, info: dict[str, Any]) -> TaskInput | None:
        """A float32 waveform in [-1, 1] (what MediaPipe's AudioClassifier hands the
        model), turned back into the int16 PCM the model takes by `WaveformToPcm`."""
        from kerasdl_edge.audio import pcm16_to_waveform

        def wrap(model: "keras.Model") -> "keras.Model":
            import keras

            from kerasdl.layers.task_inputs import waveform_to_pcm_class

            waveform = keras.Input(model.inputs[0].shape[1:], batch_size=model.inputs[0].shape[0],
                                   dtype="float32", name="waveform")
            return keras.Model(waveform, model(waveform_to_pcm_class(keras)(name="waveform_to_pcm")(waveform)),
                               name=f"{model.name}_waveform")

        return TaskInput(wrap=wrap, convert=pcm16_to_waveform, info={"waveform": "float32"})

    def mobile_task(self, config: SpeechConfig, info: dict[str, Any]) -> MobileTask:
        from kerasdl_edge.standard_metadata import AudioInput, TensorInfo

        rate, length = info["sample_rate"], info["clip_samples"]
        output = self.probabilities_tensor(info)
        if info.get("waveform") == "float32":
            waveform = TensorInfo("waveform", f"{length} mono samples at {rate} Hz, float32 in [-1, 1].",
                                  audio=AudioInput(rate, 1), value_range=(-1.0, 1.0))
            return MobileTask(waveform, output, "AudioClassifier")
        pcm = TensorInfo("audio", f"{length} mono samples at {rate} Hz, int16 PCM.")
        return MobileTask(pcm, output, None, "MediaPipe's AudioClassifier hands float32 waveforms: "
                          "export without --native-input")

    def preprocessing_metadata(self, info: dict[str, Any]) -> dict[str, Any]:
        return {
            "input": f"int16 PCM [batch, {info['clip_samples']}], mono at {info['sample_rate']} Hz",
            "read": "kerasdl_edge.audio.read_wav(path, sample_rate, length): any WAV, mixed "
                    "down, resampled, loudest part kept or padded with silence",
            "sample_rate": info["sample_rate"],
            "clip_samples": info["clip_samples"],
            "features": {"inside_model": True, **info["features"]},
        }
