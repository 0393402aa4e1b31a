"""The sentiment app's classic baselines: what a practitioner fits first.

- TF-IDF + logistic regression (`--model tfidf-lr`).
- NB-weighted binary n-grams + logistic regression (Wang & Manning 2012; `--model
  nb-lr`), for two classes.

Both read each distinct word, bigram and trigram of a text once (characters and their
n-grams for scripts written without spaces, as the run's tokenizer splits), from the
app's own tokenizer with the linear models' settings, and pick C on the validation
split: the baseline a run prints is the model `--model tfidf-lr` / `nb-lr` ships,
number for number (`apps/sentiment/linear.py`).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from kerasdl.app import Datasets
from kerasdl.evaluation.baselines import Baseline, split_arrays, timed

from kerasdl.apps.sentiment import preprocessing
from kerasdl.apps.sentiment.config import MODEL_MAX_TOKENS, MODEL_TOKENS, SentimentConfig
from kerasdl.apps.sentiment.linear import NB, TFIDF, LinearFit, fit_linear, linear_name


def split_ids(data: Datasets) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """(split -> token id rows, split -> int labels) of the vectorized splits."""
    arrays = {s: split_arrays(ds) for s, ds in (("train", data.train), ("validation", data.validation),
                                                 ("test", data.test))}
    arrays = {s: a for s, a in arrays.items() if a is not None}
    return {s: a[0] for s, a in arrays.items()}, {s: a[1].astype(np.int64) for s, a in arrays.items()}


def fit_linear_model(kind: str, data: Datasets) -> LinearFit:
    """`kind` fitted on `data`'s token ids (the run's own tokenizer)."""
    ids, labels = split_ids(data)
    spec = preprocessing.tokenizer_spec(data.info)
    return fit_linear(kind, ids, labels, vocabulary_size=len(spec.vocabulary),
                      num_classes=len(data.info["class_names"]), binary=spec.binary)


def linear_data(config: SentimentConfig, data: Datasets) -> Datasets:
    """`data` tokenized as the linear models read it (their default n-grams, window and
    vocabulary), the run's split and normalization kept; `data` itself when the run's
    tokenizer already is that one."""
    from kerasdl.data.tokenizer import fit_tokenizer

    assert data.unprocessed is not None, "the sentiment app keeps its raw text splits"
    texts = data.unprocessed["train"].map(lambda text, label: text)
    ngrams, length, binary = MODEL_TOKENS[NB]
    max_tokens = MODEL_MAX_TOKENS[NB]
    if preprocessing.is_wordpiece(data.info):  # a pretrained encoder's run: split as the texts ask
        from kerasdl.data.tokenizer import CHOICE_SAMPLE_TEXTS, choose_tokenization

        sample = [t.decode("utf-8", "replace") for t in texts.take(CHOICE_SAMPLE_TEXTS).as_numpy_iterator()]
        choice = choose_tokenization(sample, split=config.split, normalize=config.normalize)
        split, normalize = choice.split, choice.normalize
    else:
        run_spec = preprocessing.tokenizer_spec(data.info)
        split, normalize = run_spec.split, run_spec.normalize
    wanted = dict(ngrams=ngrams, sequence_length=length, binary=binary, standardize=config.standardize,
                  split=split, normalize=normalize)
    if not preprocessing.is_wordpiece(data.info) and all(getattr(run_spec, k) == v for k, v in wanted.items()) \
            and len(run_spec.vocabulary) <= max_tokens and config.vocabulary_size(config.model) == max_tokens:
        return data
    spec = fit_tokenizer(texts, max_tokens=max_tokens, **wanted)
    info = {**data.info, preprocessing.TOKENIZER_KEY: spec.to_dict()}
    splits = {s: None if ds is None else preprocessing.vectorize(ds, info) for s, ds in data.unprocessed.items()}
    return dataclasses.replace(data, train=splits["train"], validation=splits["validation"],
                               test=splits.get("test"), info=info)


def fit_baselines(config: SentimentConfig, data: Datasets) -> list[Baseline]:
    """The linear models on `data.unprocessed` ((text, label) splits), each timed with
    its tokenizing."""
    linear: dict[str, Any] = {}

    def tokenized() -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], Any]:
        if not linear:
            prepared = linear_data(config, data)
            ids, labels = split_ids(prepared)
            linear.update(ids=ids, labels=labels, spec=preprocessing.tokenizer_spec(prepared.info))
        return linear["ids"], linear["labels"], linear["spec"]

    def fitted(kind: str) -> tuple[dict[str, np.ndarray], str]:
        ids, labels, spec = tokenized()
        fit = fit_linear(kind, ids, labels, vocabulary_size=len(spec.vocabulary),
                         num_classes=len(data.info["class_names"]))
        return fit.outputs, fit.setting

    # A pretrained encoder's word pieces say nothing of how the baselines split: their
    # own tokenizer does (tokenized once, before the first baseline's timing then).
    split = (tokenized()[2].split if preprocessing.is_wordpiece(data.info)
             else preprocessing.tokenizer_spec(data.info).split)
    ngrams = MODEL_TOKENS[NB][0]
    kinds = [TFIDF] + ([NB] if len(data.info["class_names"]) == 2 else [])
    return [timed(linear_name(kind, ngrams, split), lambda kind=kind: fitted(kind)) for kind in kinds]
