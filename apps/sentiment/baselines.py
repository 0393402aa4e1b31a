"""The sentiment app's classic baselines: what a practitioner fits first.

- TF-IDF + logistic regression: word 1-2 grams, or character 1-3 grams for text the
  tokenizer splits into characters (Chinese, Japanese, Thai: their words are not
  separated by spaces).
- NB-weighted binary n-grams + logistic regression (Wang & Manning 2012): each binary
  feature scaled by its naive-Bayes log-count ratio, for two classes.

Both read the raw training texts (scikit-learn's own tokenizing, not kerasdl's), pick
C on the validation split and cap neither length nor vocabulary.
"""

from __future__ import annotations

import numpy as np

from kerasdl.app import Datasets
from kerasdl.evaluation.baselines import Baseline, logistic_regression, split_arrays, timed

# Below this many training texts, an n-gram seen once is kept (min_df=1), else twice.
MIN_DF_TWO_FROM = 1000


def fit_baselines(data: Datasets, split: str) -> list[Baseline]:
    """The baselines on `data.unprocessed` ((text, label) splits); `split` is the run
    tokenizer's (whitespace: word n-grams; otherwise character n-grams)."""
    from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer

    assert data.unprocessed is not None, "the sentiment app keeps its raw text splits"
    arrays = {s: split_arrays(ds) for s, ds in data.unprocessed.items()}
    texts = {s: [t.decode("utf-8", "replace") for t in a[0]] for s, a in arrays.items() if a is not None}
    labels = {s: a[1].astype(np.int64) for s, a in arrays.items() if a is not None}
    num_classes = len(data.info["class_names"])
    by_character = split != "whitespace"
    analyzer, ngrams, unit = ("char", (1, 3), "character 1-3") if by_character else ("word", (1, 2), "word 1-2")
    min_df = 2 if len(texts["train"]) >= MIN_DF_TWO_FROM else 1

    def tf_idf() -> tuple[dict[str, np.ndarray], str]:
        vectorizer = TfidfVectorizer(analyzer=analyzer, ngram_range=ngrams, min_df=min_df, sublinear_tf=True)
        features = {"train": vectorizer.fit_transform(texts["train"])}
        features.update({s: vectorizer.transform(t) for s, t in texts.items() if s != "train"})
        return logistic_regression(features, labels, num_classes)

    baselines = [timed(f"TF-IDF {unit} grams + logistic regression", tf_idf)]
    if num_classes == 2:
        nb_ngrams = (1, 3)

        def nb_weighted() -> tuple[dict[str, np.ndarray], str]:
            counts = CountVectorizer(analyzer=analyzer, ngram_range=nb_ngrams, min_df=min_df, binary=True)
            binary = {"train": counts.fit_transform(texts["train"])}
            binary.update({s: counts.transform(t) for s, t in texts.items() if s != "train"})
            positive = labels["train"] == 1
            p = 1 + np.asarray(binary["train"][positive].sum(axis=0)).ravel()
            q = 1 + np.asarray(binary["train"][~positive].sum(axis=0)).ravel()
            ratio = np.log((p / p.sum()) / (q / q.sum()))
            return logistic_regression({s: m.multiply(ratio).tocsr() for s, m in binary.items()}, labels,
                                       num_classes)

        baselines.append(timed(f"NB-weighted binary {'character' if by_character else 'word'} 1-3 grams "
                               "+ logistic regression", nb_weighted))
    return baselines

