"""Export: SavedModel in TF Serving's layout and TFLite in four precisions, checked
against the Keras model; the TFLite files run in a process without TensorFlow."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from kerasdl.cli import cli

# Largest |TFLite - Keras| probability difference each variant may show.
TOLERANCE = {"float32": 1e-4, "float16": 1e-2, "dynamic": 0.05, "int8": 0.1}


@pytest.fixture(scope="module")
def exported(trained_run: Path, tmp_path_factory: pytest.TempPathFactory):
    from kerasdl.export.exporter import export_run

    out = tmp_path_factory.mktemp("saved_models")
    return export_run(trained_run, out_dir=out, name="colours"), out


def test_layout_and_self_check(exported) -> None:
    report, out = exported
    assert report.version == 1
    assert report.saved_model == out / "colours" / "1"
    assert (out / "colours" / "1" / "saved_model.pb").is_file()
    assert not list((out / "colours").glob(".tmp-*")), "no temporary folder left behind"
    assert 'name: "colours"' in (out / "models.config").read_text()
    assert set(report.tflite) == {"float32", "dynamic", "float16", "int8"}
    sizes = {q: p.stat().st_size for q, p in report.tflite.items()}
    assert sizes["int8"] < 0.5 * sizes["float32"] and sizes["float16"] < 0.7 * sizes["float32"]
    rows = {r["variant"]: r for r in report.rows}
    assert rows["saved_model"]["max_abs_diff"] < 1e-5
    for q, tol in TOLERANCE.items():
        row = rows[f"tflite-{q}"]
        assert row["max_abs_diff"] < tol, row
        assert row["metric"] >= row["keras_metric"] - 0.05, row
    check = json.loads((out / "tflite" / "colours-1-check.json").read_text())
    assert check["metric"] == "accuracy" and len(check["rows"]) == 5


def test_exported_files_get_the_mode_the_umask_gives(exported) -> None:
    # A TF Serving container or a web server running as another user reads them.
    import os

    from kerasdl.io import write_text

    _, out = exported
    umask = os.umask(0o022)
    os.umask(umask)
    for path in [*(out / "tflite").iterdir(), out / "models.config"]:
        assert path.stat().st_mode & 0o777 == 0o666 & ~umask, (path, oct(path.stat().st_mode))
    previous = os.umask(0o027)
    try:
        write_text(out / "private.txt", "x")
        assert (out / "private.txt").stat().st_mode & 0o777 == 0o640
    finally:
        os.umask(previous)


def test_saved_model_answers_raw_image_bytes(exported, colour_folder: Path) -> None:
    import tensorflow as tf

    report, _ = exported
    loaded = tf.saved_model.load(str(report.saved_model))
    serve = loaded.signatures["serving_default"]
    files = [colour_folder / c / "001.png" for c in ("red", "green", "blue")]
    out = serve(image_bytes=tf.constant([f.read_bytes() for f in files]))
    assert [c.decode() for c in out["classes"].numpy()] == ["red", "green", "blue"]
    assert out["probabilities"].shape == (3, 3)
    np.testing.assert_allclose(out["scores"].numpy(), out["probabilities"].numpy().max(axis=1))
    pixels = loaded.signatures["serve_pixels"]
    image = tf.io.decode_png(files[0].read_bytes())[None]
    assert pixels(image=image)["classes"].numpy()[0] == b"red"


EDGE_SCRIPT = """
import json, sys
import numpy as np
from kerasdl_edge import EdgeModel
inputs = np.load(sys.argv[1])
results = {}
for path in sys.argv[3:]:
    model = EdgeModel(path, num_threads=1)
    results[path] = {"outputs": model(inputs).tolist(), "classes": model.metadata["info"]["class_names"]}
assert "tensorflow" not in sys.modules and "keras" not in sys.modules, "TensorFlow was imported"
json.dump(results, open(sys.argv[2], "w"))
"""


def test_tflite_runs_without_tensorflow(exported, trained_run: Path, colour_folder: Path, tmp_path: Path) -> None:
    from kerasdl.runs import Run
    from kerasdl_edge.codecs import codec_for
    from kerasdl.training.saving import load_model

    report, _ = exported
    files = sorted(colour_folder.glob("*/00[0-4].png"))
    inputs = codec_for("image_classification", {"image_shape": [16, 16, 3], "class_names": ["a", "b"]}).read(files)
    np.save(tmp_path / "inputs.npy", inputs)
    script = tmp_path / "edge.py"
    script.write_text(EDGE_SCRIPT)
    paths = [str(p) for p in report.tflite.values()]
    proc = subprocess.run([sys.executable, str(script), str(tmp_path / "inputs.npy"),
                           str(tmp_path / "out.json"), *paths], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    results = json.loads((tmp_path / "out.json").read_text())
    keras_out = load_model(Run.open(trained_run).model_path())(inputs, training=False).numpy()
    for q, path in report.tflite.items():
        got = np.array(results[str(path)]["outputs"])
        assert np.abs(got - keras_out).max() < TOLERANCE[q], q
        assert results[str(path)]["classes"] == ["blue", "green", "red"]


def test_cli_export_predict_benchmark(trained_run: Path, colour_folder: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "sm"
    result = runner.invoke(cli, ["export", str(trained_run), "--out", str(out), "--format", "tflite",
                                 "--quantize", "int8", "--no-check"])
    assert result.exit_code == 0, result.output
    int8 = out / "tflite" / "vision-1-int8.tflite"
    assert int8.is_file() and not (out / "vision").exists()
    result = runner.invoke(cli, ["export", str(trained_run), "--out", str(out), "--format", "saved_model", "--no-check"])
    assert result.exit_code == 0, result.output
    assert (out / "vision" / "2" / "saved_model.pb").is_file(), "versions increase"

    red = str(colour_folder / "red" / "002.png")
    for model in (int8, out / "vision" / "2"):
        result = runner.invoke(cli, ["predict", str(model), red, "--json"])
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout.splitlines()[0])["label"] == "red"

    result = runner.invoke(cli, ["benchmark", str(int8), str(trained_run), "--runs", "10", "--threads", "1"])
    assert result.exit_code == 0, result.output
    assert "vision-1-int8.tflite" in result.stdout and "keras" in result.stdout
    assert "Fastest here:" in result.stdout

    # LiteRT Quantizer's variants beside the converter's, checked in the same table; the
    # option lists the module's recipes (spelled out there: the CLI loads no numpy at start).
    from kerasdl.export.quantizer import QUANTIZER_RECIPES

    litert = next(p for p in cli.commands["export"].params if p.name == "litert_recipes")
    assert list(litert.type.choices) == [*QUANTIZER_RECIPES, "all"]
    result = runner.invoke(cli, ["export", str(trained_run), "--out", str(out), "--format", "tflite",
                                 "--quantize", "float32", "--litert", "static_wi8_ai8",
                                 "--litert", "dynamic_wi8_afp32"])
    assert result.exit_code == 0, result.output
    rows = [line.split() for line in result.stdout.splitlines() if line.startswith("tflite-")]
    assert [r[0] for r in rows] == ["tflite-float32", "tflite-litert-static_wi8_ai8", "tflite-litert-dynamic_wi8_afp32"]
    assert all(r[-1] == "ImageClassifier" for r in rows)
    assert all(float(r[5]) < 0.1 for r in rows), rows  # max |diff| from Keras
    assert "Model card:" in result.stdout and (out / "vision-3-model-card.md").is_file()

    result = runner.invoke(cli, ["export", str(tmp_path), "--no-check"])
    assert result.exit_code == 1 and "is not a kerasdl run directory" in result.output
    result = runner.invoke(cli, ["export", str(trained_run), "--name", "bad name"])
    assert result.exit_code == 1 and "Model name 'bad name'" in result.output


def test_flex_ops_are_refused_clearly() -> None:
    import keras

    from kerasdl.export.tflite import ExportError, convert

    vectorize = keras.layers.TextVectorization(max_tokens=20, output_sequence_length=4)
    vectorize.adapt(["good film", "bad film"])
    inputs = keras.Input((1,), dtype="string")
    x = keras.layers.Embedding(20, 4)(vectorize(inputs))
    model = keras.Model(inputs, keras.layers.Dense(2)(keras.layers.GlobalAveragePooling1D()(x)))
    with pytest.raises(ExportError, match="needs TensorFlow ops that TFLite's builtins lack"):
        convert(model, "float32")


def test_mixed_precision_run_exports_as_float32(colour_folder: Path, tmp_path: Path) -> None:
    import keras

    from kerasdl import api
    from kerasdl.apps.vision.config import VisionConfig
    from kerasdl.export.exporter import export_run

    config = VisionConfig(dataset=str(colour_folder), epochs=1, batch_size=32, width=4,
                          mixed_precision=True)
    run = api.train("vision", config, runs_dir=tmp_path, name="mp", verbose=0).run.path
    assert keras.mixed_precision.global_policy().name == "float32", "training restores the policy"
    report = export_run(run, quantizations=("float32",), out_dir=tmp_path / "out")
    rows = {r["variant"]: r for r in report.rows}
    assert rows["tflite-float32"]["max_abs_diff"] < 1e-2  # float16 training, float32 export


def test_float_export_without_check_needs_no_data(tmp_path: Path) -> None:
    """The metadata comes from the run's info: a float export, unchecked, runs on a
    machine without the training data (int8 calibration and the checks read it)."""
    import shutil

    from conftest import write_colour_folder
    from kerasdl import api
    from kerasdl.apps.vision.config import VisionConfig
    from kerasdl.errors import KerasdlError
    from kerasdl.export.exporter import export_run

    folder = write_colour_folder(tmp_path / "colours", per_class=40, size=8)
    run = api.train("vision", VisionConfig(dataset=str(folder), epochs=1, width=4), runs_dir=tmp_path / "runs",
                    name="r", verbose=0).run.path
    shutil.rmtree(folder)
    report = export_run(run, formats=("tflite",), quantizations=("float32",), check=False, out_dir=tmp_path / "out")
    assert set(report.tflite) == {"float32"} and report.tflite["float32"].is_file()
    with pytest.raises(KerasdlError):  # int8 calibrates on the training split
        export_run(run, formats=("tflite",), quantizations=("int8",), check=False, out_dir=tmp_path / "out")
