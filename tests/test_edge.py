"""The edge runtime (`kerasdl-edge`) runs TFLite exports of all five apps in a process
where TensorFlow and Keras cannot be imported, and its preprocessing matches training's."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
from PIL import Image

from conftest import write_idx_folder, write_pcm_wav, tone_clip
from kerasdl import api
from kerasdl.config import resolve_config
from kerasdl.export.exporter import export_run
from kerasdl.registry import get_app

Edge = Callable[..., subprocess.CompletedProcess]
DEVICE_DISTRIBUTIONS = ("ai-edge-litert", "flatbuffers", "numpy", "pillow")  # tflite/pyproject.toml's, with [images]


def _closure(names: tuple[str, ...]) -> set[str]:
    """The installed distributions `names` need, with their own dependencies."""
    from importlib import metadata

    from packaging.requirements import Requirement

    seen: set[str] = set()
    todo = list(names)
    while todo:
        name = todo.pop()
        key = name.lower().replace("_", "-")
        if key in seen:
            continue
        seen.add(key)
        for text in metadata.requires(name) or []:
            requirement = Requirement(text)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                todo.append(requirement.name)
    return seen


@pytest.fixture(scope="module")
def device_python(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A virtual environment holding what `pip install ./tflite[images]` installs
    (linked from this environment, as there is no network) and nothing else."""
    import sysconfig
    from importlib import metadata

    import kerasdl_edge

    root = tmp_path_factory.mktemp("device") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True)
    python = str(root / "bin" / "python")
    site = Path(subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    here = Path(sysconfig.get_paths()["purelib"])
    for name in _closure(DEVICE_DISTRIBUTIONS):
        distribution = metadata.distribution(name)
        tops = {Path(str(f)).parts[0] for f in distribution.files or [] if not str(f).startswith("..")}
        for top in tops:
            source = Path(distribution.locate_file(top))
            if source.exists() and not (site / top).exists():
                (site / top).symlink_to(source)
    (site / "kerasdl_edge").symlink_to(Path(kerasdl_edge.__file__).parent)
    check = subprocess.run([python, "-c", "import tensorflow"], capture_output=True, text=True)
    assert check.returncode != 0 and here != site  # really without TensorFlow
    return python


@pytest.fixture(scope="module")
def edge(device_python: str) -> Edge:
    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([device_python, "-m", "kerasdl_edge", *args], capture_output=True, text=True,
                              timeout=300)

    return run


def edge_json(edge: Edge, *args: str) -> list[dict]:
    proc = edge(*args, "--json")
    assert proc.returncode == 0, proc.stderr[-3000:]
    return [json.loads(line) for line in proc.stdout.splitlines()]


def _tflite(run: Path, out: Path) -> Path:
    report = export_run(run, formats=("tflite",), quantizations=("float32",), out_dir=out, check=False)
    return report.tflite["float32"]


def _train(app_name: str, root: Path, **overrides) -> Path:
    config = resolve_config(get_app(app_name).config_class, preset="tiny", overrides=overrides)
    return api.train(app_name, config, runs_dir=root / "runs", name=app_name, verbose=0).run.path


def test_vision_images_match_keras(edge: Edge, trained_run: Path, colour_folder: Path, tmp_path: Path) -> None:
    model = _tflite(trained_run, tmp_path)
    files = [sorted((colour_folder / c).glob("*.png"))[1] for c in ("red", "green", "blue")]
    # A larger JPEG and a grey image exercise resizing and channel conversion.
    big = tmp_path / "big.jpg"
    Image.open(files[0]).resize((40, 40)).save(big, quality=95)
    grey = tmp_path / "grey.png"
    Image.open(files[2]).convert("L").save(grey)
    inputs = [str(p) for p in (*files, big, grey)]
    rows = edge_json(edge, "predict", str(model), *inputs, "--top-k", "3")
    keras_rows = api.predict(trained_run, inputs, top_k=3)
    assert [r["label"] for r in rows] == [r["label"] for r in keras_rows]
    for row, keras_row in zip(rows, keras_rows):
        assert row["probability"] == pytest.approx(keras_row["probability"], abs=0.02)
    info = json.loads(edge("info", str(model)).stdout)
    assert info["app"] == "vision" and info["class_names"] == ["blue", "green", "red"]


def test_image_preprocessing_twin(tmp_path: Path) -> None:
    import tensorflow as tf

    from kerasdl.data.images import conform_image
    from kerasdl_edge.images import conform_image as edge_conform

    rng = np.random.default_rng(0)
    for shape, size, channels in [((37, 23, 3), (16, 16), 3), ((12, 12, 3), (28, 20), 1),
                                  ((30, 30, 1), (30, 30), 3), ((9, 40, 4), (8, 8), 3)]:
        image = rng.integers(0, 256, shape, dtype=np.uint8)
        expected = conform_image(tf.constant(image), size, channels).numpy()
        got = edge_conform(image, size, channels)
        assert got.shape == expected.shape and got.dtype == np.uint8
        assert np.abs(got.astype(int) - expected.astype(int)).max() <= 1, (shape, size, channels)


def test_sentiment_texts_and_files_match_keras(edge: Edge, review_csv: Path, tmp_path: Path) -> None:
    run = _train("sentiment", tmp_path, dataset=str(review_csv), model="bag", epochs=3)
    model = _tflite(run, tmp_path)
    review = tmp_path / "review.txt"
    review.write_text("An awful, boring film.\nA waste of time.", encoding="utf-8")
    inputs = ["a wonderful, moving film", "dull and a waste of time", str(review)]
    rows = edge_json(edge, "predict", str(model), *inputs)
    keras_rows = api.predict(run, inputs)
    assert [r["label"] for r in rows] == [r["label"] for r in keras_rows]
    for row, keras_row in zip(rows, keras_rows):
        assert row["probability"] == pytest.approx(keras_row["probability"], abs=1e-4)


def test_pretrained_encoder_texts_match_keras_without_tensorflow(edge: Edge, bert_run: Path, tmp_path: Path) -> None:
    """A BERT-family model's file: the device tokenizes with the WordPiece twin (no
    TensorFlow, no keras-hub) into its three inputs."""
    run = bert_run
    model = _tflite(run, tmp_path)
    inputs = ["A wonderful film, loved it!", "Boring and terrible.", "很好。喜欢", "ＯＫ，１２３！", ""]
    rows = edge_json(edge, "predict", str(model), *inputs)
    keras_rows = api.predict(run, inputs)
    assert [r["label"] for r in rows] == [r["label"] for r in keras_rows]
    for row, keras_row in zip(rows, keras_rows):
        assert row["probability"] == pytest.approx(keras_row["probability"], abs=1e-4)
    shown = edge("info", str(model))
    assert shown.returncode == 0, shown.stderr[-2000:]
    assert json.loads(shown.stdout)["standard_metadata"]["bert_tokenizer"]["vocabulary"] > 100


def test_speech_clips_and_stream_match_keras(edge: Edge, tone_folder: Path, tmp_path: Path) -> None:
    run = _train("speech", tmp_path, dataset=str(tone_folder), model="cnn", epochs=8, learning_rate=1e-2,
                 width=8, depth=2)
    model = _tflite(run, tmp_path)
    clips = [str(sorted((tone_folder / "test" / label).glob("*.wav"))[i]) for label in ("high", "low", "mid")
             for i in (0, 1)]  # 16 kHz, 8 kHz and stereo files among them
    rows = edge_json(edge, "predict", str(model), *clips)
    keras_rows = api.predict(run, clips)
    assert [r["label"] for r in rows] == [r["label"] for r in keras_rows]
    for row, keras_row in zip(rows, keras_rows):
        assert row["probability"] == pytest.approx(keras_row["probability"], abs=1e-4)
    rng = np.random.default_rng(1)
    rate = 16000
    silence = np.zeros(rate // 2, np.float32)
    recording = np.concatenate([silence, tone_clip("high", rate, rng), silence, tone_clip("low", rate, rng), silence])
    long_wav = write_pcm_wav(tmp_path / "long.wav", recording, rate)
    heard = edge_json(edge, "stream", str(model), str(long_wav), "--threshold", "0.5")
    _, keras_heard = api.stream_with_codec(run, [str(long_wav)], threshold=0.5)
    assert heard, "nothing heard in a recording of two tones"
    assert [(r["label"], round(r["time"], 2)) for r in heard] == \
        [(r["label"], round(r["time"], 2)) for r in keras_heard]


def test_forecast_csv_matches_keras(edge: Edge, sine_csv: Path, tmp_path: Path) -> None:
    run = _train("forecast", tmp_path, dataset=str(sine_csv), epochs=3)
    model = _tflite(run, tmp_path)
    (row,) = edge_json(edge, "predict", str(model), str(sine_csv))
    (keras_row,) = api.predict(run, [str(sine_csv)])
    assert row["forecast"].keys() == keras_row["forecast"].keys()
    for name, values in row["forecast"].items():
        np.testing.assert_allclose(values, keras_row["forecast"][name], rtol=1e-4, atol=1e-4)
    short = tmp_path / "short.csv"
    short.write_text("\n".join(sine_csv.read_text().splitlines()[:3]) + "\n")
    proc = edge("predict", str(model), str(short))
    assert proc.returncode == 1 and "rows; the model needs the last" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_dcgan_generator_matches_keras(edge: Edge, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KERASDL_CACHE", str(tmp_path / "cache"))
    data = write_idx_folder(tmp_path / "bands", train=200, test=60, size=28)
    run = _train("dcgan", tmp_path, dataset=str(data), epochs=1)
    model = _tflite(run, tmp_path)
    proc = edge("generate", str(model), "--n", "4", "--seed", "3", "--out", str(tmp_path / "grid.png"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    with Image.open(tmp_path / "grid.png") as grid:
        pixels = np.asarray(grid)
    assert pixels.shape[:2] == (2 * 28 * 2, 2 * 28 * 2)  # 2x2 images, doubled
    _, info, generator = api.load_any_model(run)
    noise = np.random.default_rng(3).standard_normal((4, info["latent_dim"])).astype(np.float32)
    images = np.clip(np.round(np.asarray(generator(noise, training=False))), 0, 255).astype(np.uint8)
    first = pixels[:56:2, :56:2].reshape(28, 28, -1)[..., :1]
    assert np.abs(first.astype(int) - images[0].astype(int)).max() <= 1


def test_bad_inputs_are_one_line_errors(edge: Edge, trained_run: Path, tmp_path: Path) -> None:
    model = _tflite(trained_run, tmp_path)
    not_image = tmp_path / "notes.png"
    not_image.write_text("hello")
    not_model = tmp_path / "model.tflite"
    not_model.write_bytes(b"\x00" * 64)
    content = model.read_bytes()
    damaged = {"empty": b"", "header only": content[:16], "half": content[: len(content) // 2],
               "all but the last byte": content[:-1], "a web page": b"<html>Not found</html>"}
    for name, data in damaged.items():  # an interrupted copy, a failed download ...
        (tmp_path / f"{name}.tflite").write_bytes(data)
    for args, message in [(("predict", str(model), str(not_image)), "Cannot read image"),
                          (("predict", str(model), str(tmp_path / "none.png")), "Image file not found"),
                          (("predict", str(tmp_path / "none.tflite"), "x"), "Model file not found"),
                          (("predict", str(not_model), "x"), "Cannot load"),
                          *[(("info", str(tmp_path / f"{name}.tflite")), "Cannot load") for name in damaged],
                          (("stream", str(model), "x.wav"), "no streaming mode"),
                          (("generate", str(model)), "do not generate images")]:
        proc = edge(*args)
        assert proc.returncode == 1 and message in proc.stderr, (args, proc.stderr[-2000:])
        assert "Traceback" not in proc.stderr
