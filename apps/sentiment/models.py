"""Sentiment model builders: four ways to read a text, on the same token ids.

Every model takes int32 token ids [batch, sequence_length] (0 = padding) from the app's
tokenizer and returns class probabilities, so a learner can set them side by side.

Example:
>>> from kerasdl.apps.sentiment.config import SentimentConfig
>>> from kerasdl.apps.sentiment.models import build_sentiment_model
>>> model = build_sentiment_model("cnn", 64, 1000, 2, SentimentConfig(model="cnn"))
>>> tuple(model.output.shape)
(None, 2)
"""

from __future__ import annotations

from types import ModuleType
from typing import Any, Callable, Mapping

import numpy as np

from kerasdl.backbones import BACKBONE_WEIGHTS
from kerasdl.errors import ConfigError
from kerasdl.layers.blocks import classifier_head, keras_or
from kerasdl.layers.masked_mean import masked_mean_class
from kerasdl.layers.position_embedding import position_embedding_class

from kerasdl.apps.sentiment.config import SentimentConfig
from kerasdl.apps.sentiment.linear import LINEAR_MODELS, build_linear
from kerasdl.apps.sentiment.preprocessing import token_input

Statistics = Mapping[str, Any]

MODELS: dict[str, str] = {
    "bag": "TF-IDF weighted bag of words and bigrams into an MLP: order-blind, fast, strong (the default).",
    "nbsvm": "NBSVM-style linear model: n-gram weights times naive-Bayes log-count ratios.",
    "cnn": "1-D CNN: convolutions over word embeddings find short phrases, max-pooled over the text.",
    "lstm": "(Bi)LSTM: gated recurrent reading of the text, word by word.",
    "gru": "(Bi)GRU: the LSTM's lighter cousin (two gates instead of three).",
    "transformer": "Transformer encoder: token + position embeddings, multi-head self-attention.",
    "tfidf-lr": "The classic baseline: TF-IDF of the words, bigrams and trigrams + logistic regression.",
    "nb-lr": "The classic baseline: NB-weighted binary 1-3 grams + logistic regression (two classes).",
    "pretrained": "A pretrained BERT-family encoder (--backbone, a keras-hub preset) fine-tuned with a new dense "
                  "head, on its own WordPiece tokens.",
}


def build_bag(length: int, vocab: int, classes: int, config: SentimentConfig, k: ModuleType,
              statistics: Statistics | None = None, batch_size: int | None = None) -> Any:
    """TF-IDF bag of n-grams into an MLP, computed from ids so TFLite can run it.

    A dense layer on a TF-IDF vector is the sum over the text's tokens of
    `idf(token) * W[token]`: an embedding lookup scaled by a fixed per-token idf weight.
    The mean over the non-padding tokens normalizes for length (an empty text's
    mean is 0, not 0 / 0).
    """
    ids = token_input(length, k, batch_size)
    vectors = k.layers.Embedding(vocab, config.embedding_dim, mask_zero=True, name="ngram_weights")(ids)
    weights = k.layers.Embedding(vocab, 1, mask_zero=True, trainable=False, name="idf")(ids)
    x = k.layers.Multiply(name="tf_idf")([vectors, weights])
    if config.token_dropout:
        # Word dropout (Iyyer et al. 2015): whole n-grams vanish from a text, so the
        # model cannot lean on a few telling phrases.
        x = k.layers.Dropout(config.token_dropout, noise_shape=(None, length, 1), name="token_dropout")(x)
    x = masked_mean_class(k)(name="mean_over_text")(x)
    x = k.layers.Dense(config.units, activation="relu", name="hidden")(x)
    outputs = classifier_head(x, classes, dropout=config.dropout, keras_module=k)
    model = k.Model(ids, outputs, name="bag")
    if statistics and "idf" in statistics:
        model.get_layer("idf").set_weights([_matrix(statistics["idf"], (vocab, 1))])
    return model


# Howard's NBSVM++ constants: weights start at 0.4 (interpolating between naive Bayes
# and a learned linear model) and ratios are divided by 10, on a sum over the text.
NB_WEIGHT_START = 0.4
NB_RATIO_SCALE = 0.1


def build_nbsvm(length: int, vocab: int, classes: int, config: SentimentConfig, k: ModuleType,
                statistics: Statistics | None = None, batch_size: int | None = None) -> Any:
    """NBSVM-style linear model (Wang & Manning 2012; J. Howard's neural NBSVM++).

    Each n-gram's class scores are its naive-Bayes log-count ratios (fixed, from the
    training split) times learned weights that start at 0.4: the model begins as a
    scaled naive Bayes and learns where to trust it. Padding's ratios are 0.
    """
    ids = token_input(length, k, batch_size)
    weights = k.layers.Embedding(vocab, classes, embeddings_initializer=k.initializers.Constant(NB_WEIGHT_START),
                                 name="ngram_weights")(ids)
    ratios = k.layers.Embedding(vocab, classes, trainable=False, name="nb_ratios")(ids)
    x = k.layers.Multiply(name="weighted_ratios")([weights, ratios])
    x = k.layers.Dropout(config.token_dropout, noise_shape=(None, length, 1), name="token_dropout")(x) \
        if config.token_dropout else x
    # The mean over all `length` positions is the sum over the text / length: the
    # stored ratios are multiplied by `length` to make it a sum.
    x = k.layers.GlobalAveragePooling1D(name="sum_over_text")(x)
    outputs = k.layers.Activation("softmax", dtype="float32", name="probabilities")(x)
    model = k.Model(ids, outputs, name="nbsvm")
    if statistics and "nb_ratios" in statistics:
        scaled = _matrix(statistics["nb_ratios"], (vocab, classes)) * (NB_RATIO_SCALE * length)
        model.get_layer("nb_ratios").set_weights([scaled])
    return model


def build_cnn(length: int, vocab: int, classes: int, config: SentimentConfig, k: ModuleType,
              statistics: Statistics | None = None, batch_size: int | None = None) -> Any:
    """Parallel convolutions of widths 3, 4 and 5 (Kim 2014), max over time."""
    ids = token_input(length, k, batch_size)
    x = k.layers.Embedding(vocab, config.embedding_dim, name="embedding")(ids)
    x = k.layers.SpatialDropout1D(config.dropout / 2, name="embedding_dropout")(x) if config.dropout else x
    branches = []
    for width in (3, 4, 5):
        y = x
        for depth in range(config.depth):
            y = k.layers.Conv1D(config.units, width, padding="same", activation="relu",
                                name=f"conv{width}_{depth + 1}")(y)
        branches.append(k.layers.GlobalMaxPooling1D(name=f"max{width}")(y))
    x = k.layers.Concatenate(name="phrases")(branches)
    outputs = classifier_head(x, classes, dropout=config.dropout, keras_module=k)
    return k.Model(ids, outputs, name="cnn")


def _recurrent(cell: str) -> Callable[..., Any]:
    def build(length: int, vocab: int, classes: int, config: SentimentConfig, k: ModuleType,
              statistics: Statistics | None = None, batch_size: int | None = None) -> Any:
        """Embedding (padding masked), stacked (bi)recurrent layers, the last state."""
        ids = token_input(length, k, batch_size)
        x = k.layers.Embedding(vocab, config.embedding_dim, mask_zero=True, name="embedding")(ids)
        layer_class = k.layers.LSTM if cell == "lstm" else k.layers.GRU
        for depth in range(config.depth):
            last = depth == config.depth - 1
            layer = layer_class(config.units, return_sequences=not last, name=f"{cell}_{depth + 1}")
            if config.bidirectional:
                layer = k.layers.Bidirectional(layer, name=f"bi{cell}_{depth + 1}")
            x = layer(x)
        outputs = classifier_head(x, classes, dropout=config.dropout, keras_module=k)
        return k.Model(ids, outputs, name=cell)

    return build


def build_transformer(length: int, vocab: int, classes: int, config: SentimentConfig, k: ModuleType,
                      statistics: Statistics | None = None, batch_size: int | None = None) -> Any:
    """Token + position embeddings, `depth` post-norm encoder blocks (Vaswani et al.
    2017) attending over non-padding tokens, mean over the text."""
    if config.embedding_dim % config.heads:
        raise ConfigError(
            f"`embedding_dim` ({config.embedding_dim}) must be a multiple of `heads` "
            f"({config.heads}) for the transformer."
        )
    ids = token_input(length, k, batch_size)
    x = k.layers.Embedding(vocab, config.embedding_dim, mask_zero=True, name="token_embedding")(ids)
    x = position_embedding_class(k)(length, name="position_embedding")(x)
    for depth in range(1, config.depth + 1):
        attended = k.layers.MultiHeadAttention(
            config.heads, config.embedding_dim // config.heads, dropout=config.dropout / 2,
            name=f"encoder{depth}_attention")(x, x)
        x = k.layers.LayerNormalization(epsilon=1e-6, name=f"encoder{depth}_norm1")(
            k.layers.Add(name=f"encoder{depth}_residual1")([x, attended]))
        y = k.layers.Dense(config.units, activation="gelu", name=f"encoder{depth}_ffn1")(x)
        y = k.layers.Dense(config.embedding_dim, name=f"encoder{depth}_ffn2")(y)
        y = k.layers.Dropout(config.dropout / 2, name=f"encoder{depth}_dropout")(y) if config.dropout else y
        x = k.layers.LayerNormalization(epsilon=1e-6, name=f"encoder{depth}_norm2")(
            k.layers.Add(name=f"encoder{depth}_residual2")([x, y]))
    x = masked_mean_class(k)(name="mean_over_text")(x)
    outputs = classifier_head(x, classes, dropout=config.dropout, keras_module=k)
    return k.Model(ids, outputs, name="transformer")


def fuse_nbsvm(model: Any, keras_module: ModuleType | None = None) -> Any:
    """The same function as a trained nbsvm model with its learned weights and fixed
    ratios multiplied into one table: one lookup per token instead of two and a
    product. Full-int8 TFLite needs it: quantizing the product of two int8 lookups to
    int8 rounds most per-token terms away (measured: every review got one class)."""
    k = keras_or(keras_module)
    length = model.input.shape[1]
    weights = model.get_layer("ngram_weights").get_weights()[0]
    ratios = model.get_layer("nb_ratios").get_weights()[0]
    ids = token_input(length, k, model.input.shape[0])
    x = k.layers.Embedding(*weights.shape, name="ngram_scores")(ids)
    x = k.layers.GlobalAveragePooling1D(name="sum_over_text")(x)
    outputs = k.layers.Activation("softmax", dtype="float32", name="probabilities")(x)
    fused = k.Model(ids, outputs, name="nbsvm_fused")
    fused.get_layer("ngram_scores").set_weights([weights * ratios])
    return fused


def _linear(kind: str) -> Callable[..., Any]:
    def build(length: int, vocab: int, classes: int, config: SentimentConfig, k: ModuleType,
              statistics: Statistics | None = None, batch_size: int | None = None) -> Any:
        """A classic linear model's fitted table as a Keras model (`linear.build_linear`)."""
        return build_linear(kind, length, vocab, classes, k, statistics, batch_size)

    return build


BUILDERS: dict[str, Callable[..., Any]] = {
    "bag": build_bag,
    "nbsvm": build_nbsvm,
    "cnn": build_cnn,
    "lstm": _recurrent("lstm"),
    "gru": _recurrent("gru"),
    "transformer": build_transformer,
    **{kind: _linear(kind) for kind in LINEAR_MODELS},
}
RECURRENT = ("lstm", "gru")


def build_pretrained(length: int, classes: int, config: SentimentConfig, k: ModuleType,
                     weights: Any = None, batch_size: int | None = None) -> Any:
    """`config.backbone`'s encoder with a new head: ids, mask, segment ids -> the encoder
    -> its pooled [CLS] output (a dense tanh layer over the first token, as BERT was
    pretrained to classify with; the first token's vector where an encoder has none) ->
    dropout -> dense softmax. `weights` (a `ResolvedWeights`) is loaded into the encoder;
    None leaves it random (a model rebuilt for export takes its trained weights after)."""
    import keras

    from kerasdl.apps.sentiment.preprocessing import wordpiece_inputs
    from kerasdl.backbones.text import ENCODER_INPUTS, text_backbone

    if k is not keras:
        raise ConfigError(f"The keras-hub encoder {config.backbone} is Keras 3 only: it has no tf_keras twin, so "
                          "tfmot (kerasdl optimize) cannot work on it.")
    spec = text_backbone(config.backbone)
    encoder = spec.build()
    limit = getattr(encoder, "max_sequence_length", None)
    if limit is not None and length > limit:
        raise ConfigError(f"`sequence_length` {length} is over the encoder's maximum, {limit}.")
    if weights is not None:
        spec.load_into(encoder, weights)
    inputs = wordpiece_inputs(length, k, batch_size)
    features = encoder({ENCODER_INPUTS[name]: tensor for name, tensor in inputs.items()})
    x = features["pooled_output"] if "pooled_output" in features else features["sequence_output"][:, 0, :]
    outputs = classifier_head(x, classes, dropout=config.dropout, keras_module=k)
    return k.Model(inputs, outputs, name="pretrained")


def build_sentiment_model(
    name: str, sequence_length: int, vocabulary_size: int, num_classes: int,
    config: SentimentConfig, *, statistics: Statistics | None = None,
    batch_size: int | None = None, keras_module: ModuleType | None = None,
) -> Any:
    """Builds the uncompiled model `name` (one of `MODELS`).

    Args:
        statistics: arrays learned from the training split for a new model's first
            weights: "idf" (bag), "nb_ratios" (nbsvm) and "linear" (the closed fit of
            tfidf-lr and nb-lr, `linear.LinearFit` as a dict); without them those
            fixed weights start empty (fine when trained weights are loaded over them).
        batch_size: a fixed batch size (TFLite runs recurrent layers only so).
    """
    if name == "pretrained":
        return build_pretrained(sequence_length, num_classes, config, keras_or(keras_module),
                                weights=(statistics or {}).get(BACKBONE_WEIGHTS), batch_size=batch_size)
    return BUILDERS[name](sequence_length, vocabulary_size, num_classes, config,
                          keras_or(keras_module), statistics=statistics, batch_size=batch_size)


def _matrix(values: Any, shape: tuple[int, int]) -> np.ndarray:
    matrix = np.asarray(values, np.float32).reshape(len(values), -1)
    if matrix.shape != shape:
        raise ConfigError(f"Statistics of shape {matrix.shape} for weights of shape {shape}.")
    return matrix
