"""The sentiment app's one preprocessing definition: text to token ids.

The tokenizer is learned from the training split (`fit`) and stored in the run's data
info as a `TokenizerSpec`. From that one spec come the models' input (`token_input`), the
tf.data pipelines (`vectorize`), the SavedModel's string signature (`serving_tokenizer`),
the standard metadata's tokenizer for MediaPipe (`mobile_input`), the edge metadata
(`metadata`) and, for TFLite clients, the TensorFlow-free `kerasdl_edge.text.Tokenizer`
(the text classification codec's), which a test holds to the same ids. Models take the
ids, never strings: TFLite's builtins cannot tokenize.

A pretrained encoder (`--backbone`) brings its own tokenizer instead: its preset's
WordPiece vocabulary and rules (`fit_wordpiece`), stored in the same info entry with
`kind` "wordpiece", packed here once (`wordpiece_function`: `[CLS]` text `[SEP]`, padding)
into the encoder's three inputs ids, mask and segment_ids; its TensorFlow-free twin is
`kerasdl_edge.wordpiece.WordPiece`, and MediaPipe reads it as a BertTokenizer.
"""

from __future__ import annotations

import logging
from types import ModuleType
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from kerasdl.data.tokenizer import TokenizerSpec, fit_tokenizer, tokenizer_function

if TYPE_CHECKING:
    import tensorflow as tf

logger = logging.getLogger(__name__)

INPUT_NAME = "token_ids"
TOKENIZER_KEY = "tokenizer"
WORDPIECE = "wordpiece"
TOKENIZATION_KEY = "tokenization"
IDF_KEY = "idf"
NB_KEY = "nb_ratios"
CUT_KEY = "cut_texts"
VECTORIZE_BATCH = 256


def token_input(sequence_length: int, k: ModuleType, batch_size: int | None = None) -> Any:
    """Every sentiment model's input: token ids [batch, sequence_length] (`k`: Keras 3 or
    tf_keras)."""
    return k.Input(shape=(sequence_length,), batch_size=batch_size, dtype="int32", name=INPUT_NAME)


def is_wordpiece(info: dict[str, Any]) -> bool:
    """Whether the run's tokenizer is a pretrained encoder's WordPiece."""
    return (info.get(TOKENIZER_KEY) or {}).get("kind") == WORDPIECE


def sequence_length_of(info: dict[str, Any]) -> int:
    return int(info[TOKENIZER_KEY]["sequence_length"])


def wordpiece_inputs(sequence_length: int, k: ModuleType, batch_size: int | None = None) -> dict[str, Any]:
    """A pretrained encoder's inputs: int32 [batch, sequence_length] ids, mask and
    segment ids, named as MediaPipe's BERT preprocessor finds them."""
    from kerasdl_edge.wordpiece import INPUT_NAMES

    return {name: k.Input(shape=(sequence_length,), batch_size=batch_size, dtype="int32", name=name)
            for name in INPUT_NAMES}


def fit_wordpiece(data: "tf.data.Dataset", backbone: str, sequence_length: int) -> dict[str, Any]:
    """The pretrained encoder's tokenizer, read from its preset (nothing is learned):
    the data info entries, and how many training texts the sequence length cuts."""
    from kerasdl.backbones.text import text_backbone

    spec = text_backbone(backbone).wordpiece_spec(sequence_length)
    learned: dict[str, Any] = {TOKENIZER_KEY: spec,
                               TOKENIZATION_KEY: f"the WordPiece tokenizer of {spec['preset']} "
                                                 f"({len(spec['vocabulary']):,} tokens, "
                                                 f"{'uncased' if spec['lowercase'] else 'cased'})"}
    logger.info("Tokenization: %s.", learned[TOKENIZATION_KEY])
    pieces, _ = wordpiece_function(spec, cut=False)
    texts = data.map(lambda text, label: text).batch(VECTORIZE_BATCH)
    cut = total = 0
    for lengths in texts.map(lambda t: pieces(t).row_lengths()).as_numpy_iterator():
        cut += int((lengths > sequence_length - 2).sum())
        total += len(lengths)
    learned[CUT_KEY] = {"texts": cut, "of": total}
    (logger.info if cut else logger.debug)(
        "Sequence length %d: %s of %s training texts (%.1f %%) hold more word pieces and are cut at the end "
        "(--set sequence_length=N, up to the encoder's maximum, to change).", sequence_length, f"{cut:,}",
        f"{total:,}", 100.0 * cut / max(1, total))
    return learned


def wordpiece_function(spec: dict[str, Any], *, cut: bool = True) -> tuple[Any, Any]:
    """(a function from a string batch to the encoder's inputs {ids, mask, segment_ids},
    the keras-hub tokenizer layer it uses); with `cut` False, the uncut word pieces
    (ragged) instead. The one definition of the packing: `[CLS]`, the first
    `sequence_length - 2` pieces, `[SEP]`, padding; mask 1 where a token is."""
    import keras_hub
    import tensorflow as tf

    from kerasdl_edge.wordpiece import IDS, MASK, SEGMENT_IDS

    tokenizer = keras_hub.tokenizers.WordPieceTokenizer(
        vocabulary=spec["vocabulary"], lowercase=spec["lowercase"], strip_accents=spec["strip_accents"],
        split=spec["split"], split_on_cjk=spec["split_on_cjk"], suffix_indicator=spec["suffix_indicator"],
        oov_token=spec["oov_token"], dtype="int32", _allow_python_workflow=False)
    ids_of = {token: i for i, token in enumerate(spec["vocabulary"])}
    cls_id, sep_id, pad_id = (ids_of[spec[k]] for k in ("cls_token", "sep_token", "pad_token"))
    length = int(spec["sequence_length"])
    if not cut:
        return tokenizer, tokenizer

    def encode(texts: "tf.Tensor") -> dict[str, "tf.Tensor"]:
        pieces = tf.cast(tokenizer(texts), tf.int32)[:, : length - 2]
        rows = tf.stack([pieces.nrows(out_type=tf.int32), 1])
        first, last = (tf.RaggedTensor.from_tensor(tf.fill(rows, i)) for i in (cls_id, sep_id))
        ids = tf.concat([first, pieces, last], axis=1).to_tensor(default_value=pad_id, shape=[None, length])
        return {IDS: ids, MASK: tf.cast(ids != pad_id, tf.int32), SEGMENT_IDS: tf.zeros_like(ids)}

    return encode, tokenizer


def fit(data: "tf.data.Dataset", num_classes: int, *, max_tokens: int, ngrams: int,
        sequence_length: int, standardize: str, binary: bool = False, split: str = "auto",
        normalize: str = "auto",
        statistics: Sequence[str] = ()) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Learns the tokenizer from the training split's `(text, label)` pairs.

    Args:
        split, normalize: as in `TokenizerSpec`; "auto" chooses from the script of the
            training texts (`choose_tokenization`), and the info's `tokenization`
            says what was chosen and why.
        statistics: also "idf" (inverse document frequencies) and/or "nb_ratios"
            (naive-Bayes log-count ratios per class), for a new model's first weights.

    Returns:
        (data info entries: the tokenizer; {statistic: array}).
    """
    from kerasdl.data.tokenizer import (CHOICE_SAMPLE_TEXTS, choose_tokenization, document_counts,
                                        inverse_document_frequency, naive_bayes_ratios)

    texts = data.map(lambda text, label: text)
    sample = [t.decode("utf-8", "replace") for t in texts.take(CHOICE_SAMPLE_TEXTS).as_numpy_iterator()]
    choice = choose_tokenization(sample, split=split, normalize=normalize)
    # Said when it departs from plain words, where a user may wonder; always in the info.
    log = logger.info if (choice.split, choice.normalize) != ("whitespace", "ascii") else logger.debug
    log("Tokenization: %s", choice.reason)
    spec = fit_tokenizer(texts, max_tokens=max_tokens, ngrams=ngrams, sequence_length=sequence_length,
                         standardize=standardize, binary=binary, split=choice.split,
                         normalize=choice.normalize)
    learned: dict[str, Any] = {TOKENIZER_KEY: spec.to_dict(), TOKENIZATION_KEY: choice.reason}
    cut, total = count_cut_texts(texts, spec)
    learned[CUT_KEY] = {"texts": cut, "of": total}
    # Said whenever the cut shortens a text: the end of a long review is silently unread.
    (logger.info if cut else logger.debug)(
        "Sequence length %d: %s of %s training texts (%.1f %%) hold more tokens and are cut at "
        "the end (--set sequence_length=N to change).", spec.sequence_length, f"{cut:,}", f"{total:,}",
        100.0 * cut / max(1, total))
    arrays: dict[str, np.ndarray] = {}
    if statistics:
        counts, documents = document_counts(
            vectorize(data, learned).batch(VECTORIZE_BATCH), len(spec.vocabulary), num_classes)
        if IDF_KEY in statistics:
            arrays[IDF_KEY] = inverse_document_frequency(counts, documents)
        if NB_KEY in statistics:
            arrays[NB_KEY] = naive_bayes_ratios(counts)
    return learned, arrays


def count_cut_texts(texts: "tf.data.Dataset", spec: TokenizerSpec) -> tuple[int, int]:
    """(texts whose token ids outnumber `spec.sequence_length`, texts) of a dataset of strings."""
    tokenize, _ = tokenizer_function(spec, cut=False)
    cut = total = 0
    for lengths in texts.batch(VECTORIZE_BATCH).map(lambda t: tokenize(t).row_lengths()).as_numpy_iterator():
        cut += int((lengths > spec.sequence_length).sum())
        total += len(lengths)
    return cut, total


def tokenizer_spec(info: dict[str, Any]) -> TokenizerSpec:
    return TokenizerSpec.from_dict(info[TOKENIZER_KEY])


def vectorize(ds: "tf.data.Dataset", info: dict[str, Any]) -> "tf.data.Dataset":
    """Maps `(text, label)` pairs to `(int32 ids, label)` pairs."""
    import tensorflow as tf

    tokenize, _ = (wordpiece_function(info[TOKENIZER_KEY]) if is_wordpiece(info)
                   else tokenizer_function(tokenizer_spec(info)))

    def to_ids(text: "tf.Tensor", label: "tf.Tensor") -> tuple["tf.Tensor", "tf.Tensor"]:
        return tokenize(text), label

    # Tokenizing a batch at a time is several times faster than one text at a time.
    ids = ds.batch(VECTORIZE_BATCH).map(to_ids, num_parallel_calls=tf.data.AUTOTUNE).unbatch()
    known = int(ds.cardinality())
    return ids.apply(tf.data.experimental.assert_cardinality(known)) if known >= 0 else ids


# ---- the SavedModel's and the mobile runtimes' view of the same tokenizer --------------

def serving_tokenizer(info: dict[str, Any]) -> tuple[Any, Any]:
    """(a function from a string batch to token ids, the layer it uses) for the
    SavedModel's string signature: the run's tokenizer, built so the export tracks it."""
    import tensorflow as tf

    tokenize, vectorizer = (wordpiece_function(info[TOKENIZER_KEY]) if is_wordpiece(info)
                            else tokenizer_function(tokenizer_spec(info)))
    tf.function(tokenize)(tf.constant([""]))  # builds it (as the graph runs it): the export tracks built layers only
    return tokenize, vectorizer


def mobile_input(info: dict[str, Any]) -> tuple[Any, str]:
    """(the standard metadata's token-id input, "" or why MediaPipe's TextClassifier
    cannot run the model). Its tokenizer cuts at a regex's delimiters and does not
    lower-case: it reproduces exactly the unigram tokenizers with
    `standardize=split_punctuation` or `none`."""
    from kerasdl_edge.standard_metadata import PAD_TOKEN, START_TOKEN, UNKNOWN_TOKEN, RegexTokenizerInput, TensorInfo
    from kerasdl_edge.text import OOV_ID, PAD_ID, Tokenizer

    if is_wordpiece(info):
        raise ValueError("a pretrained encoder's inputs are described by `bert_mobile_inputs`")
    spec = tokenizer_spec(info)
    description = f"int32 token ids [1, {spec.sequence_length}], 0 = padding."
    try:
        delimiter = Tokenizer.from_spec(spec.to_dict()).regex_delimiter()
        special = sorted({PAD_TOKEN, UNKNOWN_TOKEN, START_TOKEN} & set(spec.vocabulary))
        if special:
            raise ValueError(f"its vocabulary holds {', '.join(special)}, which the regex tokenizer "
                             "reads as special tokens")
    except ValueError as e:
        remedy = ("run it with kerasdl-edge or the TFLite interpreter" if spec.split != "whitespace"
                  else "train with `ngrams=1`, `binary=false`, `standardize=split_punctuation`, "
                       "`normalize=ascii` for one it runs")
        return (TensorInfo(INPUT_NAME, description),
                f"MediaPipe's TextClassifier cannot reproduce this tokenizer: {e}; {remedy}")
    vocabulary = {PAD_TOKEN: PAD_ID, UNKNOWN_TOKEN: OOV_ID}
    vocabulary.update({token: i for i, token in enumerate(spec.vocabulary) if i > OOV_ID})
    return TensorInfo(INPUT_NAME, description, tokenizer=RegexTokenizerInput(delimiter, vocabulary)), ""


def bert_mobile_inputs(info: dict[str, Any]) -> tuple[tuple[Any, ...], Any, str]:
    """A pretrained encoder's three inputs as the standard metadata describes them, its
    BertTokenizer, and "" or why MediaPipe's TextClassifier would read other ids (it
    lower-cases ASCII letters, always: a cased preset's model would not see capitals)."""
    from kerasdl_edge.standard_metadata import BertTokenizerInput, TensorInfo
    from kerasdl_edge.wordpiece import IDS, MASK, SEGMENT_IDS

    spec = info[TOKENIZER_KEY]
    length = spec["sequence_length"]
    inputs = (
        TensorInfo(IDS, f"int32 WordPiece ids [1, {length}]: [CLS] text [SEP], then padding."),
        TensorInfo(MASK, f"int32 [1, {length}]: 1 where a token is, 0 for padding."),
        TensorInfo(SEGMENT_IDS, f"int32 [1, {length}]: 0 (one text)."),
    )
    note = "" if spec["lowercase"] and not spec["strip_accents"] else (
        "MediaPipe's TextClassifier lower-cases ASCII letters and strips no accents; this preset's tokenizer "
        f"({'cased' if not spec['lowercase'] else 'strips accents'}) reads texts otherwise: run the file with "
        "kerasdl-edge or the TFLite interpreter")
    return inputs, BertTokenizerInput(tuple(spec["vocabulary"])), note


def metadata(info: dict[str, Any]) -> dict[str, Any]:
    """How a client turns a text into the model's input (the export's `preprocessing`
    entry, for edge runtimes)."""
    if is_wordpiece(info):
        spec = info[TOKENIZER_KEY]
        return {
            "input": f"int32 ids, mask and segment_ids [batch, {spec['sequence_length']}]",
            "tokenizer": f"info.tokenizer: the WordPiece tokenizer of {spec['preset']}; "
                         "kerasdl_edge.wordpiece.WordPiece reproduces its ids without TensorFlow",
            "lowercase": spec["lowercase"],
            "strip_accents": spec["strip_accents"],
            "sequence_length": spec["sequence_length"],
        }
    spec = tokenizer_spec(info)
    return {
        "input": f"int32 token ids [batch, {spec.sequence_length}], 0 = padding",
        "tokenizer": "info.tokenizer: TextVectorization settings and vocabulary; "
                     "kerasdl_edge.text.Tokenizer reproduces its ids without TensorFlow",
        "standardize": spec.standardize,
        "split": spec.split,
        "normalize": spec.normalize,
        "ngrams": spec.ngrams,
        "sequence_length": spec.sequence_length,
        "binary": spec.binary,
    }
