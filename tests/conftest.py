"""Shared fixtures: tiny, learnable generated data sets."""

from __future__ import annotations

import fcntl
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

COLOURS = {"red": (220, 30, 30), "green": (30, 200, 40), "blue": (30, 40, 220)}


@pytest.fixture(scope="session", autouse=True)
def _private_tmpdir(tmp_path_factory: pytest.TempPathFactory) -> None:
    # The TFLite converter and tfds mocks leave temporary folders behind.
    path = tmp_path_factory.mktemp("tmpdir")
    os.environ["TMPDIR"] = str(path)
    tempfile.tempdir = str(path)


def build_once(tmp_path_factory: pytest.TempPathFactory, name: str, build: Callable[[Path], Any]) -> Path:
    """The folder `name`, filled by `build(folder)` once per test session: under xdist
    the first worker to ask builds it while the others wait for it, then all read it (a
    session fixture is otherwise made once per worker: a run two workers both trained
    cost twice). For what the tests only read."""
    base = tmp_path_factory.getbasetemp()
    root = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base  # this run's, shared by its workers
    folder = root / f"shared-{name}"
    with (root / f"shared-{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if not (folder / ".built").is_file():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)
            build(folder)
            (folder / ".built").touch()
    return folder


def write_colour_folder(
    root: Path, *, per_class: int = 40, size: int = 16, fmt: str = "png", seed: int = 0
) -> Path:
    """Class folders of noisy solid-colour images: red / green / blue."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    for name, rgb in COLOURS.items():
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            noise = rng.integers(-25, 26, size=(size, size, 3))
            pixels = np.clip(np.array(rgb) + noise, 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(root / name / f"{i:03d}.{fmt}")
    return root


def write_idx_folder(root: Path, *, train: int = 300, test: int = 60, size: int = 12) -> Path:
    """IDX files of grey images whose class is their brightness band (4 classes)."""
    from kerasdl.data.idx import write_idx

    rng = np.random.default_rng(1)
    root.mkdir(parents=True, exist_ok=True)
    for prefix, n in (("train", train), ("t10k", test)):
        labels = rng.integers(0, 4, size=n).astype(np.uint8)
        base = labels[:, None, None] * 60 + 20
        images = np.clip(base + rng.integers(-15, 16, size=(n, size, size)), 0, 255).astype(np.uint8)
        write_idx(root / f"{prefix}-images-idx3-ubyte.gz", images)
        write_idx(root / f"{prefix}-labels-idx1-ubyte.gz", labels)
    return root


POSITIVE = ["good", "great", "wonderful", "superb", "loved"]
NEGATIVE = ["bad", "awful", "boring", "terrible", "hated"]
FILLER = ["the", "film", "plot", "acting", "was", "really", "movie", "it", "and", "story"]


def _generated_reviews(n: int, seed: int, filler: list[str], positive: list[str], negative: list[str],
                       compose: Any) -> tuple[list[str], list[str]]:
    """Alternating pos / neg reviews: 4-8 filler words with one sentiment word among
    them, made into a text by `compose(words, rng)`."""
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for i in range(n):
        label = "pos" if i % 2 == 0 else "neg"
        words = list(rng.choice(filler, size=rng.integers(4, 9)))
        words.insert(int(rng.integers(0, len(words))), str(rng.choice(positive if label == "pos" else negative)))
        texts.append(compose(words, rng))
        labels.append(label)
    return texts, labels


def review_texts(n: int, *, seed: int = 0) -> tuple[list[str], list[str]]:
    """Short generated reviews whose label is the sentiment word they hold."""
    return _generated_reviews(n, seed, FILLER, POSITIVE, NEGATIVE,
                              lambda words, rng: " ".join(words).capitalize() + rng.choice([".", "!", "..."]))


# Generated Chinese reviews: no spaces, full-width punctuation, now and then a full-width
# or ASCII word, as real ones are written.
FILLER_ZH = ["这个", "东西", "今天", "收到", "包装", "快递", "价格", "颜色", "感觉", "质量", "朋友",
             "商家", "第二次", "购买", "这本书", "内容", "作者", "故事", "ＯＫ", "iPhone", "１２３"]
POSITIVE_ZH = ["很好", "喜欢", "满意", "推荐", "精彩", "值得"]
NEGATIVE_ZH = ["很差", "失望", "退货", "难看", "糟糕", "后悔"]


def chinese_review_texts(n: int, *, seed: int = 0) -> tuple[list[str], list[str]]:
    """Short generated Chinese reviews (no spaces) whose label is the sentiment word
    they hold: a whitespace tokenizer sees each as one word never seen again."""
    return _generated_reviews(n, seed, FILLER_ZH, POSITIVE_ZH, NEGATIVE_ZH,
                              lambda words, rng: "".join(words) + str(rng.choice(["。", "！", "，真的。", "!!"])))


def write_review_csv(path: Path, n: int = 240, *, seed: int = 0, delimiter: str = ",",
                     columns: tuple[str, str] = ("text", "label"), chinese: bool = False) -> Path:
    import csv
    import gzip
    import io

    texts, labels = (chinese_review_texts if chinese else review_texts)(n, seed=seed)
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter)
    writer.writerow(columns)
    writer.writerows(zip(texts, labels))
    data = buffer.getvalue().encode("utf-8")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)
    return path


def write_review_folder(root: Path, *, train: int = 120, test: int = 40) -> Path:
    """aclImdb's layout: train/{neg,pos}/*.txt and test/{neg,pos}/*.txt."""
    for split, n, seed in (("train", train, 0), ("test", test, 1)):
        texts, labels = review_texts(n, seed=seed)
        for i, (text, label) in enumerate(zip(texts, labels)):
            folder = root / split / label
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"{i}_1.txt").write_text(text)
    return root


def write_sine_csv(path: Path, rows: int = 600, *, seed: int = 0) -> Path:
    """Hourly rows of two noisy sines (periods 12 and 24) and a linear mix of them."""
    import datetime as dt

    rng = np.random.default_rng(seed)
    t = np.arange(rows)
    a = np.sin(2 * np.pi * t / 12) + 0.05 * rng.normal(size=rows)
    b = 2 * np.cos(2 * np.pi * t / 24) + 5 + 0.05 * rng.normal(size=rows)
    start = dt.datetime(2024, 1, 1)
    lines = ["date,a,b,mix"] + [
        f"{(start + dt.timedelta(hours=int(i))).isoformat(sep=' ')},{a[i]:.5f},{b[i]:.5f},{a[i] + 0.5 * b[i]:.5f}"
        for i in t
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="session")
def sine_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_sine_csv(tmp_path_factory.mktemp("series") / "sines.csv")


@pytest.fixture(scope="session")
def review_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_review_csv(tmp_path_factory.mktemp("reviews") / "reviews.csv")


@pytest.fixture(scope="session")
def colour_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_colour_folder(tmp_path_factory.mktemp("colours"))


@pytest.fixture(scope="session")
def idx_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_idx_folder(tmp_path_factory.mktemp("idx"))


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory: pytest.TempPathFactory, colour_folder: Path) -> Path:
    """A tiny vision run on the colour folder, for export and optimization tests."""
    from kerasdl import api
    from kerasdl.apps.vision.config import VisionConfig

    config = VisionConfig(dataset=str(colour_folder), epochs=3, batch_size=16, width=4,
                          learning_rate=0.01, label_smoothing=0.1)
    runs = tmp_path_factory.mktemp("runs")
    return api.train("vision", config, runs_dir=runs, name="tiny", verbose=0).run.path


TONES = {"high": 2400.0, "low": 300.0, "mid": 900.0}


def tone_clip(label: str, rate: int, rng: np.random.Generator, *, seconds: float | None = None) -> np.ndarray:
    """A noisy tone whose pitch is its class, at a random level and length."""
    seconds = seconds if seconds is not None else float(rng.uniform(0.3, 0.8))
    t = np.arange(int(rate * seconds)) / rate
    level = rng.uniform(0.1, 0.6)
    clip = level * np.sin(2 * np.pi * TONES[label] * t + rng.uniform(0, 6.28))
    clip *= np.hanning(len(t)) ** 0.2  # soft edges, like a spoken word
    return (clip + 0.01 * rng.normal(size=len(t))).astype(np.float32)


def write_pcm_wav(path: Path, samples: np.ndarray, rate: int) -> Path:
    """16-bit PCM WAV; `samples` [frames] or [frames, channels] in [-1, 1]."""
    import wave

    samples = np.atleast_2d(np.asarray(samples).T).T
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(samples.shape[1])
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(np.round(np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
    return path


def write_tone_folder(root: Path, *, train: int = 40, test: int = 10, seed: int = 0) -> Path:
    """train/ and test/ class folders of tone WAVs: mostly 8 kHz mono, some at 16 kHz,
    some stereo, of varying lengths."""
    rng = np.random.default_rng(seed)
    for split, n in (("train", train), ("test", test)):
        for label in TONES:
            for i in range(n):
                rate = 16000 if i % 5 == 0 else 8000
                clip = tone_clip(label, rate, rng)
                if i % 7 == 0:
                    clip = np.stack([clip, 0.8 * clip], axis=1)
                write_pcm_wav(root / split / label / f"{label}_{i}.wav", clip, rate)
    return root


@pytest.fixture(scope="session")
def tone_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tone_folder(tmp_path_factory.mktemp("tones"))


def write_standin_weights(path: Path, backbone: str = "mobilenet_v3_small", size: int = 32) -> Path:
    """A stand-in for a published weights file (none can be downloaded here): the
    backbone's random weights with batch normalization statistics measured on random
    images (at random initialization they are 0 and 1, which leaves every feature nearly
    the same), in the legacy HDF5 layout of Keras Applications' files."""
    import h5py
    import keras
    from keras.src.legacy.saving import legacy_h5_format

    from kerasdl.backbones.image import image_backbone

    model = image_backbone(backbone).build(size)
    norms = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    for layer in norms:
        layer.momentum = 0.0  # the moving statistics become this batch's
    model(np.random.default_rng(0).uniform(0, 255, (16, size, size, 3)).astype("float32"), training=True)
    with h5py.File(path, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, model)
    return path


@pytest.fixture(scope="session")
def mobilenet_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A stand-in for MobileNetV3-Small's published file at 32 px (`write_standin_weights`)."""
    folder = build_once(tmp_path_factory, "mobilenet-weights",
                        lambda f: write_standin_weights(f / "standin_mobilenet_v3_small.h5"))
    return folder / "standin_mobilenet_v3_small.h5"


def _train_mobilenet(folder: Path, dataset: Path, weights: Path) -> None:
    from kerasdl import api
    from kerasdl.apps.vision.config import VisionConfig
    from kerasdl.export.exporter import export_run

    config = VisionConfig(dataset=str(dataset), backbone="mobilenet_v3_small", weights=str(weights),
                          backbone_size=32, epochs=2, batch_size=16, fine_tune_layers=12, learning_rate=0.01)
    run = api.train("vision", config, runs_dir=folder / "runs", name="pretrained", verbose=0, baselines=False).run
    report = export_run(run.path, formats=("tflite", "saved_model"), quantizations=("float32", "int8"),
                        out_dir=folder / "export", check=True)
    assert not report.failed, report.failed


@pytest.fixture(scope="session")
def mobilenet_run(tmp_path_factory: pytest.TempPathFactory, colour_folder: Path, mobilenet_weights: Path) -> Path:
    """A vision run fine-tuned from the MobileNetV3-Small stand-in (32 px input): the
    head on the frozen backbone for an epoch, then the top 12 layers too; exported
    beside it (SavedModel; float32 and int8 TFLite, checked: `mobilenet_export`).
    Shared by the backbone and MediaPipe tests."""
    folder = build_once(tmp_path_factory, "mobilenet-run",
                        lambda f: _train_mobilenet(f, colour_folder, mobilenet_weights))
    return folder / "runs" / "vision" / "pretrained"


@pytest.fixture(scope="session")
def mobilenet_export(mobilenet_run: Path) -> Path:
    """`mobilenet_run`'s export folder (tflite/, the SavedModel, the model card)."""
    return mobilenet_run.parents[2] / "export"


def tflite_files(export: Path) -> dict[str, Path]:
    """{quantization: path} of an export folder's TFLite files."""
    return {path.stem.rsplit("-", 1)[-1]: path for path in sorted((export / "tflite").glob("*.tflite"))}


def text_preset_vocabulary() -> list[str]:
    """A small WordPiece vocabulary over the generated reviews, English and Chinese:
    BERT's special tokens, single characters and their "##" suffixes, whole words, and
    one bigram's pieces ("wonder", "##ful") so that words split."""
    words = [w.lower() for w in FILLER + POSITIVE + NEGATIVE if w != "wonderful"] + ["wonder", "##ful", "not"]
    characters = [c for c in "abcdefghijklmnopqrstuvwxyz0123456789.,!?;'\"-()"]
    chinese = sorted({c for w in FILLER_ZH + POSITIVE_ZH + NEGATIVE_ZH for c in w if ord(c) > 0x2E80})
    vocabulary = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *characters, *(f"##{c}" for c in characters[:36]),
                  *words, *chinese, "，", "。", "！", "iphone", "ok", "é", "café"]
    return list(dict.fromkeys(vocabulary))


def write_text_preset(folder: Path, *, lowercase: bool = True, seed: int = 0) -> Path:
    """A stand-in for a published keras-hub BERT preset (none can be downloaded here):
    a randomly initialized one-layer BERT, 16 wide, with `text_preset_vocabulary`, saved
    as a preset folder (config, weights, tokenizer) as `save_to_preset` writes them."""
    import keras
    import keras_hub

    keras.utils.set_random_seed(seed)
    vocabulary = text_preset_vocabulary()
    tokenizer = keras_hub.models.BertTokenizer(vocabulary=vocabulary, lowercase=lowercase)
    backbone = keras_hub.models.BertBackbone(vocabulary_size=len(vocabulary), num_layers=1, num_heads=2,
                                             hidden_dim=16, intermediate_dim=32, max_sequence_length=64)
    backbone.save_to_preset(str(folder))
    tokenizer.save_to_preset(str(folder))
    return folder


@pytest.fixture(scope="session")
def text_preset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_text_preset(tmp_path_factory.mktemp("presets") / "tiny_bert_en_zh")


def write_yamnet_standin(path: Path) -> Path:
    """A stand-in for the published yamnet.h5 (none can be downloaded here): YAMNet's
    layers with random weights, batch normalization statistics measured on log-mel maps
    of random noise, in the published file's layout (legacy HDF5, the 521-class logits
    last)."""
    import h5py
    import keras
    from keras.src.legacy.saving import legacy_h5_format

    from kerasdl.backbones.audio import yamnet_layers

    keras.utils.set_random_seed(0)
    model = yamnet_layers(96, 64, keras, logits=True)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = 0.0  # the moving statistics become this batch's
    model(np.random.default_rng(0).normal(-4.0, 2.0, (8, 96, 64, 1)).astype("float32"), training=True)
    with h5py.File(path, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, model)
    return path


@pytest.fixture(scope="session")
def bert_run(tmp_path_factory: pytest.TempPathFactory, review_csv: Path, text_preset: Path) -> Path:
    """A sentiment run fine-tuned from the stand-in BERT preset (`text_preset`), shared by
    the export, edge and MediaPipe tests."""
    from kerasdl import api
    from kerasdl.apps.sentiment.config import SentimentConfig
    from kerasdl.config import resolve_config

    def train(folder: Path) -> None:
        config = resolve_config(SentimentConfig, overrides={
            "dataset": str(review_csv), "backbone": str(text_preset), "model": "pretrained", "epochs": 5,
            "batch_size": 16, "learning_rate": 1e-2, "sequence_length": 24, "warmup_epochs": 0.0})
        api.train("sentiment", config, runs_dir=folder, name="bert", verbose=0)

    return build_once(tmp_path_factory, "bert-run", train) / "sentiment" / "bert"


@pytest.fixture(scope="session")
def yamnet_run(tmp_path_factory: pytest.TempPathFactory, tone_folder: Path) -> Path:
    """A speech run fine-tuned from a YAMNet stand-in weights file, shared by the export
    and MediaPipe tests."""
    from kerasdl import api
    from kerasdl.apps.speech.config import SpeechConfig

    def train(folder: Path) -> None:
        weights = write_yamnet_standin(folder / "yamnet.h5")
        config = SpeechConfig(dataset=str(tone_folder), backbone="yamnet", weights=str(weights), epochs=2,
                              batch_size=16, learning_rate=3e-3, fine_tune_layers=6)
        api.train("speech", config, runs_dir=folder / "runs", name="yamnet", verbose=0)

    return build_once(tmp_path_factory, "yamnet-run", train) / "runs" / "speech" / "yamnet"
