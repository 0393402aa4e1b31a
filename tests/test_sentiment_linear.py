"""The sentiment baselines as shippable models, and the default run that is never worse
than them on validation (issue 30)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from conftest import write_review_folder
from kerasdl import api
from kerasdl.apps.sentiment.config import SentimentConfig
from kerasdl.cli import cli
from kerasdl.training.auto import NEVER_WORSE, chosen_line, format_candidates, format_number

TINY = SentimentConfig.presets["tiny"]


@pytest.fixture(scope="module")
def reviews(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_review_folder(tmp_path_factory.mktemp("linear"), train=200, test=60)


@pytest.mark.parametrize("model", ["nb-lr", "tfidf-lr"])
def test_the_linear_model_is_the_printed_baseline(model: str, reviews: Path, tmp_path: Path) -> None:
    from kerasdl.training.saving import load_app_model
    from kerasdl.registry import get_app

    config = SentimentConfig(dataset=str(reviews), model=model, epochs=3)
    summary = api.train("sentiment", config, runs_dir=tmp_path, name=model, verbose=0)
    assert summary.epochs_completed == 1  # nothing to train: one epoch scores it
    metrics = json.loads(summary.run.metrics_path.read_text())
    baseline = next(b for b in metrics["baselines"]
                    if b["name"].startswith("TF-IDF" if model == "tfidf-lr" else "NB-weighted"))
    assert metrics["accuracy"] == pytest.approx(baseline["test"]["accuracy"], abs=1e-9)
    assert metrics["validation"]["accuracy"] == pytest.approx(baseline["validation"]["accuracy"], abs=1e-9)
    assert metrics["accuracy"] > 0.8  # chance is 0.5
    reloaded = load_app_model(get_app("sentiment"), summary.run.model_path())
    assert not reloaded.trainable_weights
    ids = np.zeros((2, reloaded.input.shape[1]), np.int32)  # empty texts: the bias alone, finite
    out = np.asarray(reloaded(ids))
    assert np.isfinite(out).all() and np.allclose(out.sum(axis=1), 1.0, atol=1e-5)


def test_nb_lr_exports_and_runs_in_kerasdl_edge_as_in_keras(reviews: Path, tmp_path: Path) -> None:
    """float32 and int8 (the precisions a phone ships; the contract test covers the rest)."""
    import tensorflow as tf

    from kerasdl.export.exporter import export_run
    from kerasdl.training.saving import load_model
    from kerasdl_edge import EdgeModel
    from kerasdl_edge.text import Tokenizer

    config = SentimentConfig(dataset=str(reviews), model="nb-lr")
    run = api.train("sentiment", config, runs_dir=tmp_path, name="nb", verbose=0).run.path
    report = export_run(run, quantizations=("float32", "int8"), out_dir=tmp_path / "out")
    assert set(report.tflite) == {"float32", "int8"}, report.failed
    texts = ["What a great film", "Boring and awful.", "", "zzz qqq"]
    tokenizer = Tokenizer.from_spec(EdgeModel(report.tflite["float32"]).metadata["info"]["tokenizer"])
    keras_out = np.asarray(load_model(Path(run) / "checkpoints" / "best.keras")(tokenizer(texts)))
    served = tf.saved_model.load(str(report.saved_model)).signatures["serving_default"]
    np.testing.assert_allclose(served(text=tf.constant(texts))["probabilities"].numpy(), keras_out, atol=1e-5)
    for precision, tolerance in (("float32", 1e-4), ("int8", 0.1)):
        np.testing.assert_allclose(EdgeModel(report.tflite[precision])(tokenizer(texts)), keras_out,
                                   atol=tolerance, err_msg=precision)
    assert {r["variant"]: r for r in report.rows}["tflite-int8"]["metric"] > 0.8


def test_a_run_without_model_ships_the_better_of_the_default_and_the_baseline_models(
        reviews: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["train", "sentiment", "--dataset", str(reviews), "--preset", "tiny",
                                      "--runs-dir", str(tmp_path), "--name", "default"])
    assert result.exit_code == 0, result.output
    shipped = [line for line in result.output.splitlines() if line.startswith("Shipped ")]
    assert len(shipped) == 1, result.output
    run = tmp_path / "sentiment" / "default"
    record = json.loads((run / "auto.json").read_text())
    assert record["rule"] == NEVER_WORSE
    assert [c["label"] for c in record["candidates"]] == ["bag", "tfidf-lr", "nb-lr"]
    metrics = json.loads((run / "metrics.json").read_text())
    best_baseline = max(b["validation"]["accuracy"] for b in metrics["baselines"])
    assert metrics["validation"]["accuracy"] >= best_baseline - 1e-9
    assert shipped[0].startswith(f"Shipped {record['winner']}")
    # A model the user names is trained alone.
    named = CliRunner().invoke(cli, ["train", "sentiment", "--dataset", str(reviews), "--preset", "tiny",
                                     "--model", "bag", "--runs-dir", str(tmp_path), "--name", "bag"])
    assert named.exit_code == 0, named.output
    assert "Shipped" not in named.output and not (tmp_path / "sentiment" / "bag" / "auto.json").exists()


def test_three_classes_skip_the_two_class_baseline_model(tmp_path: Path) -> None:
    rows = ["text,label"] + [f"{w} {w} film {i},{w}" for i in range(60) for w in ("good", "bad", "meh")]
    csv = tmp_path / "three.csv"
    csv.write_text("\n".join(rows))
    result = CliRunner().invoke(cli, ["train", "sentiment", "--dataset", str(csv), "--preset", "tiny",
                                      "--runs-dir", str(tmp_path), "--name", "three"])
    assert result.exit_code == 0, result.output
    record = json.loads((tmp_path / "sentiment" / "three" / "auto.json").read_text())
    statuses = {c["label"]: c["status"] for c in record["candidates"]}
    assert statuses["nb-lr"].startswith("skipped: nb-lr needs two classes")
    assert statuses["tfidf-lr"] == "trained"


def _record(winner: str, rule: str) -> dict:
    return {"metric": "accuracy", "mode": "max", "rule": rule, "best": "nb-lr", "winner": winner,
            "candidates": [
                {"label": "bag", "validation": 0.89, "parameters": 1000, "gap": 0.01, "standard_error": 3e-05,
                 "within_noise": False, "seconds": 20.0},
                {"label": "nb-lr", "validation": 0.9, "parameters": 10, "gap": 0.0, "standard_error": 0.0,
                 "within_noise": True, "seconds": 0.4}]}


def test_the_summary_says_what_was_shipped_and_why_with_enough_digits() -> None:
    record = _record("nb-lr", NEVER_WORSE)
    table = format_candidates(record, None)
    assert "SE 3e-05" in table and "0.4 s" in table  # was "SE 0.0000" and "0 s"
    assert format_number(0.0) == "0.0000" and format_number(0.01234) == "0.0123"
    line = chosen_line(record)
    assert line.startswith("Shipped nb-lr, a classic baseline model") and "0.8900 for bag" in line
    assert chosen_line(_record("nb-lr", "one standard error")).startswith("Chosen: nb-lr")
