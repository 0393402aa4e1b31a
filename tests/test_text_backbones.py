"""Pretrained text encoders (issue 33): a keras-hub BERT preset folder as the sentiment
app's backbone, its WordPiece tokenizer's TensorFlow-free twin, the three-input export.

No preset can be downloaded here: `conftest.write_text_preset` saves a randomly
initialized one-layer BERT with a small English and Chinese vocabulary as a preset folder,
which goes through the whole path as a published one would.
"""

from __future__ import annotations

import csv
import hashlib
import http.server
import json
import os
import random
import shutil
import subprocess
import sys
import threading
import time
import urllib.parse
from pathlib import Path

import numpy as np
import pytest

from conftest import chinese_review_texts, review_texts, text_preset_vocabulary, write_text_preset
from kerasdl import api
from kerasdl.errors import ConfigError, KerasdlError

TEXTS = ["A great film, I loved it!", "Terrible. Boring and BAD...", "", "   ", "great great great",
         "wonderful", "not good; not bad either?", "这个东西很好，喜欢！", "iPhone 质量很差。后悔", "ＯＫ，１２３！",
         "Café CAFÉ naïve", "mixed 中文 and English words", "x" * 150, "tab\tand\nnew line",
         "zero\u200bwidth and\u00a0nbsp", "emoji 🎬 ok", "cut " * 40]


def _fuzz_texts(count: int, seed: int = 0) -> list[str]:
    """Random strings over letters, punctuation, CJK, full-width forms, accents,
    whitespace and control characters (NUL included)."""
    alphabet = list("abcAB ,.!?'-\t\n\x0b\x0c\r\x00\x7fé") + [
        "好", "很", "\u00a0", "\u200b", "\u3000", "，", "！", "Ａ", "😀", "\u0301", "ß", "İ", "ﬁ", "\u2028", "\x85",
        "\uff61", "\u00ad", "故", "事"]
    rng = random.Random(seed)
    return ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30))) for _ in range(count)]


@pytest.mark.parametrize("lowercase,strip_accents", [(True, False), (False, False), (True, True)])
def test_wordpiece_twin_equals_keras_hub(lowercase: bool, strip_accents: bool) -> None:
    """Token for token, on English, Chinese, mixed, full-width and fuzzed text, against
    keras-hub's tokenizer as TensorFlow runs it (training, the SavedModel)."""
    import keras_hub
    import tensorflow as tf

    from kerasdl_edge.wordpiece import WordPiece

    vocabulary = text_preset_vocabulary()
    texts = TEXTS + _fuzz_texts(300)
    hub = keras_hub.tokenizers.WordPieceTokenizer(vocabulary=vocabulary, lowercase=lowercase,
                                                  strip_accents=strip_accents, _allow_python_workflow=False)
    expected = tf.function(lambda t: hub(t))(tf.constant(texts)).to_list()
    twin = WordPiece(vocabulary, lowercase=lowercase, strip_accents=strip_accents, sequence_length=64)
    for text, ids in zip(texts, expected, strict=True):
        assert [twin.ids[p] for p in twin.pieces(text)] == ids, repr(text)
    assert sum(len(ids) for ids in expected) > 1000  # the comparison saw real pieces


def test_wordpiece_packing_equals_the_training_pipeline() -> None:
    """[CLS] text [SEP], cut and padded: the twin's three inputs are the app's own
    (`preprocessing.wordpiece_function`, what training and the SavedModel run)."""
    import tensorflow as tf

    from kerasdl.apps.sentiment.preprocessing import wordpiece_function
    from kerasdl_edge.wordpiece import WordPiece

    spec = {"kind": "wordpiece", "vocabulary": text_preset_vocabulary(), "sequence_length": 12, "lowercase": True,
            "strip_accents": False, "split": True, "split_on_cjk": True, "suffix_indicator": "##",
            "oov_token": "[UNK]", "cls_token": "[CLS]", "sep_token": "[SEP]", "pad_token": "[PAD]"}
    encode, _ = wordpiece_function(spec)
    expected = tf.function(encode)(tf.constant(TEXTS))
    twin = WordPiece.from_spec(spec)(TEXTS)
    for name in ("ids", "mask", "segment_ids"):
        np.testing.assert_array_equal(twin[name], expected[name].numpy(), err_msg=name)
    assert twin["ids"][0][0] == 2 and 3 in twin["ids"][0]  # [CLS] first, [SEP] after the text
    assert (twin["mask"].sum(axis=1) == 12).any()  # the long texts were cut


def test_mediapipe_agreement_rule() -> None:
    from kerasdl_edge.wordpiece import WordPiece

    uncased = WordPiece(text_preset_vocabulary(), lowercase=True, sequence_length=8)
    cased = WordPiece(text_preset_vocabulary(), lowercase=False, sequence_length=8)
    assert uncased.mediapipe_agrees("A GOOD film, 很好。") and cased.mediapipe_agrees("a good film")
    assert not cased.mediapipe_agrees("A good film")  # MediaPipe lower-cases ASCII always
    assert not uncased.mediapipe_agrees("ＯＫ")  # full-width folds to ASCII here only
    assert not uncased.mediapipe_agrees("tab\x0bchar")


def test_backbone_config_and_recipe(text_preset: Path) -> None:
    from kerasdl.apps.sentiment.config import PRETRAINED_RECIPE, SentimentConfig
    from kerasdl.config import resolve_config

    config = resolve_config(SentimentConfig, overrides={"backbone": str(text_preset)})
    assert config.model == "pretrained"
    assert {k: getattr(config, k) for k in PRETRAINED_RECIPE} == PRETRAINED_RECIPE
    assert resolve_config(SentimentConfig, overrides={"backbone": str(text_preset), "learning_rate": "1e-4"}
                          ).learning_rate == 1e-4
    auto = resolve_config(SentimentConfig, overrides={"backbone": str(text_preset), "model": "auto"})
    assert auto.learning_rate == SentimentConfig.learning_rate  # the recipe goes to the pretrained candidate
    assert SentimentConfig(model="pretrained").backbone == "hub:bert_tiny_en_uncased"
    with pytest.raises(ConfigError, match="has no backbone"):
        SentimentConfig(model="cnn", backbone=str(text_preset))
    with pytest.raises(ConfigError, match="not a keras-hub text preset"):
        SentimentConfig(backbone="mobilenet_v3_small")


def test_named_preset_offline_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A named preset that keras-hub cannot fetch (no internet here): one line naming
    `kerasdl fetch-weights`, before any text is read."""
    from click.testing import CliRunner

    from kerasdl.cli import cli

    monkeypatch.setenv("KAGGLE_CONFIG_DIR", str(tmp_path))
    monkeypatch.setenv("KAGGLEHUB_CACHE", str(tmp_path / "cache"))
    start = time.monotonic()
    result = CliRunner().invoke(cli, ["train", "sentiment", "--backbone", "hub:bert_tiny_en_uncased",
                                      "--runs-dir", str(tmp_path / "runs")])
    assert result.exit_code != 0 and result.exception is None or isinstance(result.exception, SystemExit)
    lines = [line for line in result.output.strip().splitlines() if line.startswith("Error")]
    assert len(lines) == 1 and "kerasdl fetch-weights hub:bert_tiny_en_uncased" in lines[0], result.output
    assert "Traceback" not in result.output
    assert time.monotonic() - start < 120


@pytest.fixture(scope="module")
def mixed_reviews(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """English and Chinese generated reviews in one table."""
    english, english_labels = review_texts(120, seed=3)
    chinese, chinese_labels = chinese_review_texts(120, seed=4)
    path = tmp_path_factory.mktemp("mixed") / "reviews.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(("text", "label"))
        writer.writerows(zip(english + chinese, english_labels + chinese_labels))
    return path


def test_pretrained_encoder_end_to_end(bert_run: Path, text_preset: Path, tmp_path: Path) -> None:
    """Trained from the preset folder's weights; reloaded; exported (SavedModel on raw
    strings, TFLite on three int32 inputs with a BertTokenizer in the standard metadata);
    Keras, the SavedModel, TFLite and kerasdl-edge (the TF-free twin) agree."""
    from kerasdl.export.exporter import export_run
    from kerasdl_edge import Predictor
    from kerasdl_edge.standard_metadata import read_standard_metadata

    meta = json.loads((bert_run / "run.json").read_text())
    backbone = meta["data"]["backbone"]
    assert backbone["weights"]["source"] == "preset" and len(backbone["weights"]["sha256"]) == 64
    assert meta["data"]["tokenizer"]["kind"] == "wordpiece"
    assert meta["data"]["tokenizer"]["preset"] == text_preset.name  # named, not located
    metrics = json.loads((bert_run / "metrics.json").read_text())
    assert metrics["accuracy"] >= 0.8  # validation: the word pieces carry the label

    texts = ["A wonderful film, loved it!", "Boring and terrible.", "这个东西很好，喜欢！", "质量很差。后悔", "",
             "  \t\n  ", "zqxv wvvk", "!!! ... ???"]
    keras_rows = api.predict(bert_run, texts, top_k=2)
    assert all(np.isfinite(t["probability"]) for row in keras_rows for t in row["top"])  # wordless texts too
    report = export_run(bert_run, formats=("saved_model", "tflite"),
                        quantizations=("float32", "dynamic", "int8"), out_dir=tmp_path / "out", check=True)
    assert not report.failed and set(report.tasks.values()) == {"TextClassifier"}
    # Full int8 (activations too) of this tiny stand-in encoder is flagged worse by the
    # check (measured: its softmax and layer norms lose the signal); int8 weights are not.
    assert not any(row["worse"] for row in report.rows if row["variant"] != "tflite-int8"), report.rows
    served = api.predict(report.saved_model, texts, top_k=2)
    for q, path in report.tflite.items():
        standard = read_standard_metadata(path.read_bytes())
        assert sorted(t.name for t in standard.inputs) == ["ids", "mask", "segment_ids"]
        assert standard.input_tokenizer.vocabulary == tuple(text_preset_vocabulary())
        edge = Predictor(path).predict(texts, top_k=2)
        assert all(0.0 <= e["probability"] <= 1.0 for e in edge)
        if q == "int8":
            continue
        tolerance = 1e-4 if q == "float32" else 0.05
        for k, s, e in zip(keras_rows, served, edge, strict=True):
            assert k["label"] == s["label"] == e["label"], (q, k, s, e)
            probability = {t["label"]: t["probability"] for t in k["top"]}
            assert abs(probability[e["label"]] - e["probability"]) <= tolerance, (q, k, e)


def test_pretrained_model_meets_the_app_contract(mixed_reviews: Path, text_preset: Path, tmp_path: Path) -> None:
    """Builds, compiles as training does, fits, saves and reloads identically, its data
    info parsed by the text codec's facts."""
    from app_contract import run_app_contract

    from kerasdl.apps.sentiment.app import SentimentApp
    from kerasdl.apps.sentiment.config import SentimentConfig

    config = SentimentConfig(dataset=str(mixed_reviews), backbone=str(text_preset), sequence_length=16, epochs=1)
    results = run_app_contract(SentimentApp(), config, tmp_path, models=["pretrained"])
    assert results["pretrained"]["output_shape"] == (4, 2)


def test_cased_preset_export_names_no_mediapipe_task(tmp_path: Path, mixed_reviews: Path) -> None:
    """MediaPipe lower-cases ASCII letters whatever the preset: a cased preset's file is
    for kerasdl-edge, and the export says so."""
    from kerasdl.apps.sentiment.app import SentimentExport, SentimentApp
    from kerasdl.apps.sentiment.config import SentimentConfig
    from kerasdl.apps.sentiment.preprocessing import fit_wordpiece
    from kerasdl.data.text import load_text_datasets

    preset = write_text_preset(tmp_path / "cased", lowercase=False)
    data = load_text_datasets(str(mixed_reviews), sample_dir=tmp_path, validation_split=0.1, seed=0)
    info = {**data.info(), **fit_wordpiece(data.train, str(preset), 16)}
    task = SentimentExport(SentimentApp(), SentimentConfig(backbone=str(preset)), info).mobile_task()
    assert task.task is None and "lower-cases ASCII" in task.note and task.tokenizer is not None


def test_foreign_weights_file_is_one_clear_error(tmp_path: Path, mixed_reviews: Path, text_preset: Path) -> None:
    import keras_hub

    from kerasdl.apps.sentiment.config import SentimentConfig

    # Another architecture's weights: a two-layer encoder's file for a one-layer preset.
    wide = keras_hub.models.BertBackbone(vocabulary_size=10, num_layers=2, num_heads=2, hidden_dim=8,
                                         intermediate_dim=8, max_sequence_length=64)
    wide.save_weights(tmp_path / "wide.weights.h5")
    config = SentimentConfig(dataset=str(mixed_reviews), backbone=str(text_preset),
                             weights=str(tmp_path / "wide.weights.h5"), epochs=1)
    with pytest.raises(KerasdlError, match="does not fit the keras-hub preset"):
        api.train("sentiment", config, runs_dir=tmp_path / "runs", verbose=0)


def test_optimize_refuses_a_keras_hub_encoder_in_one_line(bert_run: Path) -> None:
    """tfmot needs a tf_keras twin, and keras-hub's encoders are Keras 3 only."""
    from click.testing import CliRunner

    from kerasdl.cli import cli

    result = CliRunner().invoke(cli, ["optimize", str(bert_run), "--prune", "0.5", "--epochs", "1"])
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert "no tf_keras twin" in result.output.strip().splitlines()[-1], result.output


def test_auto_takes_the_pretrained_candidates_only_with_weights_here(text_preset: Path, tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """`--model auto` adds the pretrained encoder (a preset folder has its weights) and
    YAMNet only when its file is here: it never downloads."""
    from conftest import write_yamnet_standin
    from kerasdl.apps.sentiment.app import SentimentApp
    from kerasdl.apps.sentiment.config import SentimentConfig
    from kerasdl.apps.speech.app import SpeechApp
    from kerasdl.apps.speech.config import SpeechConfig

    candidates = SentimentApp().auto_candidates(SentimentConfig(model="auto", backbone=str(text_preset)))
    assert candidates["pretrained"]["backbone"] == str(text_preset) and candidates["pretrained"]["learning_rate"] == 3e-5
    assert all(c.get("backbone") == "" for name, c in candidates.items() if name != "pretrained")
    assert "pretrained" not in SentimentApp().auto_candidates(SentimentConfig(model="auto"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "empty"))
    assert "pretrained" not in SpeechApp().auto_candidates(SpeechConfig(model="auto"))
    weights = write_yamnet_standin(tmp_path / "yamnet.h5")
    assert "pretrained" in SpeechApp().auto_candidates(SpeechConfig(model="auto", weights=str(weights)))


class _HuggingFaceHubStandIn(http.server.BaseHTTPRequestHandler):
    """The part of the Hugging Face Hub's protocol that `hf_hub_download` speaks: HEAD and
    GET of /ORG/NAME/resolve/REVISION/PATH, answered with the headers it reads (the
    commit, the file's ETag, its length), and 404 with `X-Error-Code: EntryNotFound` for a
    file the repository lacks (keras-hub probes optional files that way)."""

    root: Path
    served: list[str]
    COMMIT = "0123456789abcdef0123456789abcdef01234567"

    def do_HEAD(self) -> None:  # noqa: N802 (http.server's naming)
        self._answer(body=False)

    def do_GET(self) -> None:  # noqa: N802
        self._answer(body=True)

    def _answer(self, *, body: bool) -> None:
        parts = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path).strip("/").split("/")
        file = self.root.joinpath(parts[0], parts[1], *parts[4:]) if len(parts) > 4 and parts[2] == "resolve" else None
        if file is None or not file.is_file():
            self.send_response(404)
            self.send_header("X-Error-Code", "EntryNotFound" if file is not None else "RepoNotFound")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        data = file.read_bytes()
        self.served.append("/".join(parts[4:]) + (" GET" if body else " HEAD"))
        self.send_response(200)
        self.send_header("X-Repo-Commit", self.COMMIT)
        self.send_header("ETag", '"' + hashlib.sha256(data).hexdigest() + '"')
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if body:
            self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


def test_hugging_face_preset_over_loopback(text_preset: Path, review_csv: Path, tmp_path: Path) -> None:
    """`--backbone hf://ORG/NAME` downloads the preset through huggingface_hub from the
    endpoint HF_ENDPOINT names (a loopback stand-in of the Hub here), records the weights'
    sha256, then trains again from huggingface_hub's cache with the endpoint gone; a
    preset neither served nor cached is one line naming `kerasdl fetch-weights`."""
    shutil.copytree(text_preset, tmp_path / "hub" / "keras" / "bert_standin")
    handler = type("Handler", (_HuggingFaceHubStandIn,), {"root": tmp_path / "hub", "served": []})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    env = {**os.environ, "HF_ENDPOINT": f"http://127.0.0.1:{httpd.server_address[1]}", "HF_HOME": str(tmp_path / "hf"),
           "HF_HUB_DISABLE_TELEMETRY": "1"}

    def kerasdl(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-c", "from kerasdl.cli import cli; cli()", *args], env=env, cwd=tmp_path,
                              capture_output=True, text=True, timeout=600)

    train = ("train", "sentiment", "--dataset", str(review_csv), "--model", "pretrained", "--epochs", "1",
             "--set", "sequence_length=16", "--no-baseline", "--runs-dir", str(tmp_path / "runs"))
    try:
        first = kerasdl(*train, "--backbone", "hf://keras/bert_standin", "--name", "downloaded")
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert first.returncode == 0, first.stderr[-2000:]
    assert {"config.json GET", "model.weights.h5 GET", "tokenizer.json GET",
            "assets/tokenizer/vocabulary.txt GET"} <= set(handler.served), handler.served
    meta = json.loads((tmp_path / "runs" / "sentiment" / "downloaded" / "run.json").read_text())
    weights = meta["data"]["backbone"]["weights"]
    assert weights["sha256"] == hashlib.sha256((text_preset / "model.weights.h5").read_bytes()).hexdigest()
    assert meta["data"]["tokenizer"]["preset"] == "hf://keras/bert_standin"
    # The endpoint is gone: huggingface_hub's cache serves the downloaded preset (saved as
    # a folder), and a preset never served fails in one line.
    fetched = kerasdl("fetch-weights", "hf://keras/bert_standin", "hf://keras/never_served",
                      "--out", str(tmp_path / "presets"))
    assert (tmp_path / "presets" / "bert_standin" / "model.weights.h5").is_file(), fetched.stderr[-2000:]
    errors = [line for line in fetched.stderr.splitlines() + fetched.stdout.splitlines() if line.startswith("Error")]
    assert fetched.returncode != 0 and "Traceback" not in fetched.stderr, fetched.stderr[-2000:]
    assert len(errors) == 1 and "kerasdl fetch-weights hf://keras/never_served" in errors[0], errors
