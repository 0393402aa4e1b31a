"""The sentiment app: models, training, predict and export on generated reviews."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from app_contract import run_app_contract
from conftest import review_texts, write_review_csv
from kerasdl.apps.sentiment.app import SentimentApp
from kerasdl.apps.sentiment.config import SentimentConfig
from kerasdl.apps.sentiment.models import MODELS
from kerasdl.cli import cli
from kerasdl.errors import ConfigError
from kerasdl_edge.codecs import codec_for

TINY = SentimentConfig.presets["tiny"]


def test_contract_all_models(review_csv: Path, tmp_path: Path) -> None:
    config = SentimentConfig(dataset=str(review_csv), **{**TINY, "epochs": 4, "learning_rate": 1e-2})
    # The pretrained encoder reads its preset's word pieces: tests/test_text_backbones.py.
    own = [name for name in SentimentApp.models if name != "pretrained"]
    results = run_app_contract(SentimentApp(), config, tmp_path, inputs=["A great film!", "Awful and boring."],
                               learned=lambda m: m["accuracy"] > 0.8, models=own)  # chance is 0.5
    results.pop("trained")
    assert set(results) == {"bag", "nbsvm", "cnn", "lstm", "gru", "transformer", "tfidf-lr", "nb-lr"}
    for name, r in results.items():
        assert r["output_shape"] == (4, 2), name


def test_vocabulary_comes_from_the_training_split_only(tmp_path: Path) -> None:
    (tmp_path / "train.csv").write_text("text,label\ngood film,pos\nbad film,neg\n" * 5)
    (tmp_path / "test.csv").write_text("text,label\nzebra film,pos\n")
    data = SentimentApp().load_datasets(SentimentConfig(dataset=str(tmp_path), model="cnn", **TINY))
    vocabulary = data.info["tokenizer"]["vocabulary"]
    assert "film" in vocabulary and "zebra" not in vocabulary
    ids, _ = next(iter(data.test))
    assert ids.numpy()[:3].tolist() == [1, vocabulary.index("film"), 0]


def test_fitted_info_reuses_the_trained_vocabulary(review_csv: Path, tmp_path: Path) -> None:
    app = SentimentApp()
    trained = app.load_datasets(SentimentConfig(dataset=str(review_csv), **TINY)).info
    other = write_review_csv(tmp_path / "other.csv", 60, seed=7)
    (tmp_path / "other.csv").write_text(other.read_text() + "zebra unicorn,pos\n")
    again = app.load_datasets(SentimentConfig(dataset=str(other), **TINY), fitted=trained)
    assert again.info["tokenizer"] == trained["tokenizer"]
    assert again.initial_weights == {}  # a trained model has them in its weights


def test_new_models_start_from_training_statistics(review_csv: Path) -> None:
    app = SentimentApp()
    for model, layer, key in (("bag", "idf", "idf"), ("nbsvm", "nb_ratios", "nb_ratios")):
        config = SentimentConfig(dataset=str(review_csv), model=model, **TINY)
        data = app.load_datasets(config)
        assert key not in data.info  # not in run.json: the model's weights hold them
        built = app.build_model(config, {**data.info, **data.initial_weights})
        weights = built.get_layer(layer).get_weights()[0]
        assert np.abs(weights[2:]).sum() > 0 and not weights[0].any(), model


# Texts with no known word: empty, whitespace only (all padding), unknown words only
# (all out-of-vocabulary), punctuation only (nothing left after standardizing).
WORDLESS_TEXTS = ["", "  \t\n  ", "zqxv wvvk qqzj", "!!! ... ???"]


@pytest.mark.parametrize("model", sorted(set(MODELS) - {"pretrained"}))  # its own: test_text_backbones.py
def test_every_layer_is_finite_on_texts_without_known_words(model: str, review_csv: Path) -> None:
    # Keras' masked mean divided 0 by 0 on an empty text; whether the NaN then reached
    # the output depended on the CPU's ReLU kernel. No layer may produce one.
    import keras

    app = SentimentApp()
    config = SentimentConfig(dataset=str(review_csv), model=model, **TINY)
    data = app.load_datasets(config)
    built = app.build_model(config, {**data.info, **data.initial_weights})
    ids = codec_for("text_classification", data.info).read(WORDLESS_TEXTS)
    assert not ids[[0, 1, 3]].any() and set(ids[2][ids[2] > 0]) == {1}
    layers = [layer for layer in built.layers if not isinstance(layer, keras.layers.InputLayer)]
    probe = keras.Model(built.input, [layer.output for layer in layers])
    for layer, output in zip(layers, probe(ids)):
        assert np.isfinite(np.asarray(output)).all(), (model, layer.name)


def test_bad_config_values() -> None:
    with pytest.raises(ConfigError, match="`max_tokens` must be at least 3"):
        SentimentConfig(max_tokens=2)
    with pytest.raises(ConfigError, match="`standardize` must be one of"):
        SentimentConfig(standardize="upper")
    with pytest.raises(ConfigError, match="`ngrams` must be a positive integer"):
        SentimentConfig(ngrams=0)


@pytest.fixture(scope="module")
def sentiment_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from kerasdl import api

    csv = write_review_csv(tmp_path_factory.mktemp("reviews") / "reviews.csv", 400)
    config = SentimentConfig(dataset=str(csv), **{**TINY, "epochs": 4, "learning_rate": 1e-2})
    summary = api.train("sentiment", config, runs_dir=tmp_path_factory.mktemp("runs"),
                        name="bag", verbose=0)
    assert summary.metrics["accuracy"] > 0.9  # chance is 0.5
    return summary.run.path


def test_predict_texts_files_and_stdin(sentiment_run: Path, tmp_path: Path) -> None:
    review = tmp_path / "review.txt"
    review.write_text("It was awful, the plot was boring.")
    result = CliRunner().invoke(cli, ["predict", str(sentiment_run), "A great, wonderful film!",
                                      str(review), "--json"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.output.splitlines()]
    assert [r["label"] for r in rows] == ["pos", "neg"]
    assert abs(sum(t["probability"] for t in rows[0]["top"]) - 1) < 1e-4
    result = CliRunner().invoke(cli, ["predict", str(sentiment_run)],
                                input="superb story\n\nterrible acting\n")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("superb story: pos") and lines[1].startswith("terrible acting: neg")


# How far each TFLite precision may be from Keras' probabilities. They hold on any CPU
# kernel (XNNPACK, oneDNN; AVX2 or AVX-512): float32 differs by rounding order only.
TOLERANCE = {"float32": 1e-4, "dynamic": 0.05, "float16": 0.01, "int8": 0.1}


def _check_every_precision(run: Path, out_dir: Path, texts: list[str]) -> Any:
    """Exports `run` in every precision; Keras, the SavedModel and each TFLite file
    agree on `texts` and on texts without known words, and nothing is NaN."""
    import tensorflow as tf

    from kerasdl.export.exporter import export_run
    from kerasdl.training.saving import load_model
    from kerasdl_edge import EdgeModel
    from kerasdl_edge.text import Tokenizer

    report = export_run(run, out_dir=out_dir)
    assert set(report.tflite) == set(TOLERANCE), report.failed
    rows = {r["variant"]: r for r in report.rows}
    texts = texts + WORDLESS_TEXTS
    serving = tf.saved_model.load(str(report.saved_model)).signatures["serving_default"]
    served = serving(text=tf.constant(texts))["probabilities"].numpy()
    tokenizer = Tokenizer.from_spec(EdgeModel(report.tflite["float32"]).metadata["info"]["tokenizer"])
    keras_out = np.asarray(load_model(Path(run) / "checkpoints" / "best.keras")(tokenizer(texts)))
    assert np.isfinite(served).all() and np.isfinite(keras_out).all()
    np.testing.assert_allclose(keras_out, served, atol=1e-5)
    for precision, tolerance in TOLERANCE.items():
        assert rows[f"tflite-{precision}"]["max_abs_diff"] < tolerance, precision
        out = EdgeModel(report.tflite[precision])(tokenizer(texts))
        assert np.isfinite(out).all(), precision
        np.testing.assert_allclose(out, keras_out, atol=tolerance, err_msg=precision)
    return report


def test_export_strings_savedmodel_and_token_id_tflite(sentiment_run: Path, tmp_path: Path) -> None:
    import tensorflow as tf

    report = _check_every_precision(sentiment_run, tmp_path, ["What a great film", "Ünïcödé wonderful 😀"])
    assert {r["variant"]: r for r in report.rows}["tflite-int8"]["metric"] > 0.85  # int8 keeps the accuracy
    serving = tf.saved_model.load(str(report.saved_model)).signatures["serving_default"]
    out = serving(text=tf.constant(["What a great film", "Boring, boring and awful.", ""]))
    assert [c.decode() for c in out["classes"].numpy()[:2]] == ["pos", "neg"]


def test_chinese_reviews_train_above_chance_and_export_identically(tmp_path: Path) -> None:
    """Text without spaces: a whitespace tokenizer sees each review as one unseen word
    (chance); the automatic choice splits by script, learns, and every export tokenizes
    Chinese as training did."""
    from kerasdl import api

    csv = write_review_csv(tmp_path / "zh.csv", 400, chinese=True)
    recipe = {**TINY, "epochs": 4, "learning_rate": 1e-2}
    summary = api.train("sentiment", SentimentConfig(dataset=str(csv), **recipe), runs_dir=tmp_path / "runs",
                        name="zh", verbose=0)
    info = json.loads((summary.run.path / "run.json").read_text())["data"]
    assert info["tokenizer"]["split"] == "script" and "without spaces" in info["tokenization"]
    assert summary.metrics["accuracy"] > 0.9  # chance is 0.5
    words = api.train("sentiment", SentimentConfig(dataset=str(csv), split="whitespace", **recipe),
                      runs_dir=tmp_path / "runs", name="words", verbose=0)
    assert words.metrics["accuracy"] < 0.7
    report = _check_every_precision(summary.run.path, tmp_path / "out",
                                    ["这个东西很好，推荐！", "质量很差，失望。", "ＯＫ iPhone 😀"])
    assert report.tasks["float32"] == "-"  # MediaPipe's regex tokenizer cannot split characters
    assert "kerasdl-edge" in report.task_notes["float32"]
    result = CliRunner().invoke(cli, ["predict", str(report.tflite["int8"]), "这个东西很好，推荐！", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output.splitlines()[0])["label"] == "pos"


def test_int8_bag_model_reads_one_word_texts_after_long_ones(tmp_path: Path) -> None:
    """The mean over a one-token text divides by 1, which int8 cannot hold beside the
    counts of long texts: TFLite's int8 DIV raised "data[i] != zero_point" on short
    reviews (Chinese data: 1 to 800 tokens)."""
    import csv

    from kerasdl import api
    from kerasdl.export.exporter import export_run
    from kerasdl.training.saving import load_model
    from kerasdl_edge import EdgeModel
    from kerasdl_edge.text import Tokenizer

    texts, labels = review_texts(240)
    texts = [t * (40 if i % 3 == 0 else 1) for i, t in enumerate(texts)]  # a third of them ~300 words
    with open(tmp_path / "mixed.csv", "w", newline="") as f:
        csv.writer(f).writerows([("text", "label"), *zip(texts, labels)])
    config = SentimentConfig(dataset=str(tmp_path / "mixed.csv"), model="bag",
                             **{**TINY, "sequence_length": 400, "epochs": 4, "learning_rate": 1e-2})
    run = api.train("sentiment", config, runs_dir=tmp_path, name="bag400", verbose=0).run
    report = export_run(run.path, formats=("tflite",), quantizations=("int8",), out_dir=tmp_path / "out")
    model = EdgeModel(report.tflite["int8"])
    ids = Tokenizer.from_spec(model.metadata["info"]["tokenizer"])(["great", "awful", "", "film film", texts[0]])
    out = model(ids)
    keras_out = np.asarray(load_model(run.path / "checkpoints" / "best.keras")(ids))
    assert np.isfinite(out).all()
    np.testing.assert_allclose(out, keras_out, atol=TOLERANCE["int8"])


def test_transformer_exports_finite_in_every_precision(review_csv: Path, tmp_path: Path) -> None:
    from kerasdl import api

    config = SentimentConfig(dataset=str(review_csv), model="transformer", **{**TINY, "epochs": 1})
    run = api.train("sentiment", config, runs_dir=tmp_path, name="transformer", verbose=0).run
    _check_every_precision(run.path, tmp_path / "out", ["Boring, boring and awful."])


def test_recurrent_model_exports_with_a_fixed_batch(review_csv: Path, tmp_path: Path) -> None:
    from kerasdl import api
    from kerasdl.export.exporter import export_run

    config = SentimentConfig(dataset=str(review_csv), model="gru", **{**TINY, "epochs": 1})
    run = api.train("sentiment", config, runs_dir=tmp_path, name="gru", verbose=0).run
    report = export_run(run.path, formats=("tflite",), quantizations=("float32",), out_dir=tmp_path / "out")
    (row,) = report.rows
    assert row["max_abs_diff"] < 1e-4
    texts, _ = review_texts(3, seed=5)
    result = CliRunner().invoke(cli, ["predict", str(report.tflite["float32"]), *texts])
    assert result.exit_code == 0, result.output
    assert len(result.output.splitlines()) == 3


def test_nbsvm_int8_tflite_keeps_its_accuracy(review_csv: Path, tmp_path: Path) -> None:
    from kerasdl import api
    from kerasdl.export.exporter import export_run

    config = SentimentConfig(dataset=str(review_csv), model="nbsvm",
                             **{**TINY, "epochs": 3, "learning_rate": 2e-2})
    run = api.train("sentiment", config, runs_dir=tmp_path, name="nbsvm", verbose=0).run
    report = export_run(run.path, formats=("tflite",), quantizations=("float32", "int8"), out_dir=tmp_path / "out")
    rows = {r["variant"]: r for r in report.rows}
    assert rows["tflite-float32"]["max_abs_diff"] < 1e-4  # the fused table is the same function
    assert rows["tflite-int8"]["keras_metric"] > 0.9
    assert rows["tflite-int8"]["metric"] > rows["tflite-int8"]["keras_metric"] - 0.05
