"""Issue 30: what `kerasdl predict` and `kerasdl-edge` show a user. Long paths keep their
file names, an empty text is named, a .tflite with damaged bytes fails in one line,
LiteRT's XNNPACK INFO line stays off stderr, `kerasdl apps` lines up, and `kerasdl-edge
info` describes the file's real input tensor."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from kerasdl.cli import cli

HINT = "re-export the model or check the file was copied whole"
SENTIMENT_INFO = {"class_names": ["neg", "pos"], "tokenizer": {
    "vocabulary": ["", "[UNK]", "good"], "standardize": "lower", "ngrams": 1, "sequence_length": 4}}
XNNPACK_INFO = "Created TensorFlow Lite XNNPACK delegate"


@pytest.fixture(scope="module")
def sentiment_tflite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny int8 token-id classifier with kerasdl sentiment metadata: an embedding
    table (a GATHER) and per-channel int8 dense weights (checked by XNNPACK)."""
    import keras

    from kerasdl.export.tflite import convert
    from kerasdl_edge import write_metadata

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,), dtype="int32"), keras.layers.Embedding(20, 8),
                              keras.layers.GlobalAveragePooling1D(), keras.layers.Dense(2, activation="softmax")])
    rng = np.random.default_rng(0)
    representative = [rng.integers(0, 20, (8, 4)).astype("int32") for _ in range(4)]
    content = write_metadata(convert(model, "int8", representative), {"app": "sentiment", "info": SENTIMENT_INFO})
    path = tmp_path_factory.mktemp("defects") / "sentiment.tflite"
    path.write_bytes(content)
    return path


def _tensors(content: bytes) -> list:
    from ai_edge_litert import schema_py_generated as schema

    graph = schema.Model.GetRootAsModel(content, 0).Subgraphs(0)
    return [graph.Tensors(i) for i in range(graph.TensorsLength())]


def with_zero_point(content: bytes, value: int) -> bytes:
    """`content` with 8 bytes changed in place: the second channel's zero point of its
    per-channel int8 weights (XNNPACK takes only 0 there; fails at allocate_tensors)."""
    tensor = next(t for t in _tensors(content) if t.Quantization() is not None
                  and t.Quantization().ZeroPointLength() > 1)
    quantization = tensor.Quantization()
    start = quantization._tab.Vector(quantization._tab.Offset(10))  # zero_point: [int64]
    data = bytearray(content)
    struct.pack_into("<q", data, start + 8, value)
    return bytes(data)


def with_table_rows(content: bytes, rows: int) -> bytes:
    """`content` with 4 bytes changed in place: the embedding table's first dimension.
    The file loads; looking up an id >= `rows` fails at invoke."""
    tensor = next(t for t in _tensors(content) if b"GatherV2/ReadVariableOp" in t.Name())
    start = tensor._tab.Vector(tensor._tab.Offset(4))  # shape: [int32]
    data = bytearray(content)
    struct.pack_into("<i", data, start, rows)
    return bytes(data)


def edge(*args: str) -> subprocess.CompletedProcess:
    """`kerasdl-edge` in a fresh process, without the tests' TF_CPP_MIN_LOG_LEVEL."""
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    return subprocess.run([sys.executable, "-m", "kerasdl_edge", *args], capture_output=True, text=True,
                          env=env, timeout=120)


def assert_one_line_failure(proc: subprocess.CompletedProcess, *parts: str) -> None:
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert len(lines) == 1 and all(p in lines[0] for p in parts), proc.stderr


def assert_kerasdl_one_line_failure(args: list[str], *parts: str) -> None:
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), repr(result.exception)
    lines = [line for line in result.output.splitlines() if line.startswith("Error")]
    assert len(lines) == 1 and all(p in lines[0] for p in parts), result.output


# 1 and 2: the source column.

def test_long_paths_keep_their_file_names_and_texts_their_beginning(tmp_path: Path) -> None:
    from kerasdl_edge.codecs import codec_for

    row = {"label": "pos", "probability": 0.9, "top": [{"label": "pos", "probability": 0.9}]}
    deep = tmp_path.joinpath(*["a-long-folder-name"] * 4, "test", "5")
    deep.mkdir(parents=True)
    review = deep / "img_0123.txt"
    review.write_text("good")
    sentiment, vision = codec_for("text_classification", SENTIMENT_INFO), codec_for("image_classification", {"image_shape": [8, 8, 3], "class_names": ["a", "b"]})
    for codec in (sentiment, vision):
        source = codec.format({"input": str(review), **row}).split(": pos")[0]
        assert source.startswith("...") and source.endswith("/test/5/img_0123.txt") and len(source) <= 60, source
    text = "A long review of a film, " * 5
    assert sentiment.format({"input": text, **row}).startswith(text[:57] + "...: pos")
    assert sentiment.format({"input": "", **row}).startswith("(empty text): pos")


def test_both_clis_show_file_names_and_name_empty_texts(sentiment_tflite: Path, tmp_path: Path) -> None:
    deep = tmp_path.joinpath(*["reviews-of-this-year"] * 4, "test", "5")
    deep.mkdir(parents=True)
    review = deep / "review_0123.txt"
    review.write_text("good good")
    proc = edge("predict", str(sentiment_tflite), str(review), "")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("...") and "/test/5/review_0123.txt: " in lines[0], lines
    assert lines[1].startswith("(empty text): "), lines
    result = CliRunner().invoke(cli, ["predict", str(sentiment_tflite), "", str(review)])
    assert result.exit_code == 0, result.output
    shown = [line for line in result.output.splitlines() if ": " in line]
    assert shown[0].startswith("(empty text): ") and "/test/5/review_0123.txt: " in shown[1], shown


# 3: damaged files.

def test_damaged_quantization_fails_at_load_in_one_line(sentiment_tflite: Path, tmp_path: Path) -> None:
    damaged = tmp_path / "zero-point.tflite"
    damaged.write_bytes(with_zero_point(sentiment_tflite.read_bytes(), 56))
    message = ("zero-point.tflite", "unsupported zero-point value (56)", HINT)
    assert_one_line_failure(edge("predict", str(damaged), "good"), *message)
    assert_kerasdl_one_line_failure(["predict", str(damaged), "good"], *message)


def test_damaged_shape_fails_at_invoke_in_one_line(sentiment_tflite: Path, tmp_path: Path) -> None:
    from kerasdl_edge import EdgeError, EdgeModel

    damaged = tmp_path / "table-rows.tflite"
    damaged.write_bytes(with_table_rows(sentiment_tflite.read_bytes(), 1))
    model = EdgeModel(damaged)  # loads: only the lookup of id 2 goes out of the table
    with pytest.raises(EdgeError, match="gather index out of bounds"):
        model(np.full((3, 4), 2, np.int32))  # resized to 3, then invoked
    message = ("table-rows.tflite", "failed to run the model (invoke)", "gather index out of bounds", HINT)
    assert_one_line_failure(edge("predict", str(damaged), "good"), *message)
    assert_kerasdl_one_line_failure(["predict", str(damaged), "good"], *message)


# 4: LiteRT's INFO line.

def test_xnnpack_info_line_is_not_printed(sentiment_tflite: Path) -> None:
    proc = edge("predict", str(sentiment_tflite), "good")
    assert proc.returncode == 0 and "good: " in proc.stdout, proc.stderr
    assert XNNPACK_INFO not in proc.stderr and not proc.stderr.strip(), proc.stderr
    # What `kerasdl export`'s check does with each file it wrote.
    check = subprocess.run([sys.executable, "-c", "import sys; from kerasdl_edge import EdgeModel; "
                            "EdgeModel(sys.argv[1])(__import__('numpy').zeros((2, 4), 'int32'))",
                            str(sentiment_tflite)], capture_output=True, text=True, timeout=120)
    assert check.returncode == 0 and XNNPACK_INFO not in check.stderr, check.stderr


def test_native_errors_still_reach_stderr(capfd: pytest.CaptureFixture[str]) -> None:
    from kerasdl_edge.model import quiet_native_info

    with quiet_native_info():
        os.write(2, f"INFO: {XNNPACK_INFO} for CPU.\nERROR: a real native error\n".encode())
    err = capfd.readouterr().err
    assert "ERROR: a real native error" in err and XNNPACK_INFO not in err


# 5: `kerasdl apps`.

def test_apps_lines_up_long_model_names() -> None:
    result = CliRunner().invoke(cli, ["apps"])
    assert result.exit_code == 0
    starts = set()
    for line in result.output.splitlines():
        if line.startswith("  --model "):
            name = line.split()[1]
            end = len("  --model ") + len(name)
            description = len(line) - len(line[end:].lstrip(" "))
            assert description > end, line  # at least one blank
            starts.add(description)
    assert "repeat-last" in result.output and len(starts) == 1, result.output


# 6: `kerasdl-edge info` on a task-ready speech export.

def test_info_describes_the_real_input_tensor(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import keras

    from kerasdl.export.tflite import convert
    from kerasdl.registry import get_app
    from kerasdl_edge import write_metadata
    from kerasdl_edge.cli import main
    from kerasdl_edge.standard_metadata import StandardMetadata, write_standard_metadata

    app = get_app("speech")
    info = {"class_names": ["no", "yes"], "sample_rate": 8000, "clip_samples": 8000, "features": {}}
    task_info = {**info, "waveform": "float32"}  # what the exporter gives a task-ready variant
    mobile = app.export_spec(app.config_class(), task_info).mobile_task()
    model = keras.Sequential([keras.Input((8000,)), keras.layers.Dense(2, activation="softmax")])
    content = write_metadata(convert(model, "float32"), {"app": "speech", "info": task_info,
                                                         "preprocessing": app.export_spec(app.config_class(), info).preprocessing_metadata()})
    content = write_standard_metadata(content, StandardMetadata("m", "d", "1", "a", "l", inputs=(mobile.input,),
                                                                outputs=(mobile.output,)))
    path = tmp_path / "speech.tflite"
    path.write_bytes(content)
    assert main(["info", str(path)]) == 0
    assert json.loads(capsys.readouterr().out)["input"] == "float32 [batch, 8000], values in [-1, 1]"
