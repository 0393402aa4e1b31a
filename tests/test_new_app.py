"""A sixth app is its folder and one registry line: the template in docs/app_template
(an image classifier under another name, with its own config and model) is copied to a
temporary folder, registered with one line and passes everything the five apps pass:
the contract (train, save, reload, TFLite parity, its codec), `kerasdl train` and
`kerasdl export` from the CLI, and kerasdl-edge on the exported file, which finds the
codec by the task kind in the file's metadata, not by the app's name."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from app_contract import run_app_contract
from kerasdl.registry import APPS, AppEntry, get_app

TEMPLATE = Path(__file__).resolve().parents[1] / "docs" / "app_template" / "gallery"


@pytest.fixture()
def gallery(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    shutil.copytree(TEMPLATE, tmp_path / "apps" / "gallery")
    monkeypatch.syspath_prepend(str(tmp_path / "apps"))
    # The one line an app adds outside its folder.
    monkeypatch.setitem(APPS, "gallery", AppEntry("gallery.app:GalleryApp", "Image classification: a tiny CNN."))
    return "gallery"


def test_the_template_app_passes_the_contract_and_runs_on_a_device(
        gallery: str, colour_folder: Path, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from kerasdl import api
    from kerasdl.cli import cli
    from kerasdl_edge import Predictor

    app = get_app(gallery)
    assert app.task == "image_classification" and app.name == "gallery"
    first = [sorted((colour_folder / c).glob("*.png"))[0] for c in ("blue", "green", "red")]
    config = app.config_class(dataset=str(colour_folder), epochs=4, learning_rate=0.02, width=4)
    results = run_app_contract(app, config, tmp_path / "contract", inputs=first,
                               learned=lambda m: m["accuracy"] > 0.6)
    assert results["tinynet"]["output_shape"] == (4, 3)

    runner = CliRunner()
    runs = tmp_path / "runs"
    trained = runner.invoke(cli, ["train", gallery, "--dataset", str(colour_folder), "--preset", "tiny",
                                  "--set", "width=4", "--set", "learning_rate=0.02", "--set", "epochs=4",
                                  "--no-baseline", "--runs-dir", str(runs), "--name", "g"])
    assert trained.exit_code == 0, trained.output
    run = runs / gallery / "g"
    exported = runner.invoke(cli, ["export", str(run), "--quantize", "float32", "--out", str(tmp_path / "out")])
    assert exported.exit_code == 0, exported.output
    (tflite,) = (tmp_path / "out" / "tflite").glob("gallery-1-float32.tflite")

    expected = [row["label"] for row in api.predict(run, [str(p) for p in first])]
    predictor = Predictor(tflite)
    assert predictor.task == "image_classification" and predictor.app == "gallery"
    assert [row["label"] for row in predictor.predict([str(p) for p in first])] == expected
    # kerasdl-edge needs no code of the app's: the same answer with the app unregistered.
    del APPS[gallery]
    assert [row["label"] for row in Predictor(tflite).predict([str(p) for p in first])] == expected


def test_edge_info_names_the_task_and_a_file_without_one_falls_back_to_its_app(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import keras

    from kerasdl.export.tflite import convert
    from kerasdl_edge import Predictor
    from kerasdl_edge.cli import main as edge_main
    from kerasdl_edge.codecs import task_of
    from kerasdl_edge.errors import EdgeError
    from kerasdl_edge.metadata import write_metadata

    inputs = keras.Input((4, 4, 3), dtype="uint8")
    model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(
        keras.layers.Flatten()(keras.layers.Rescaling(1 / 255)(inputs))))
    float32 = convert(model, "float32")
    info = {"image_shape": [4, 4, 3], "class_names": ["a", "b"]}
    task_file = tmp_path / "task.tflite"
    task_file.write_bytes(write_metadata(float32, {"app": "someone-elses", "task": "image_classification",
                                                   "info": info}))
    assert edge_main(["info", str(task_file)]) == 0
    described = json.loads(capsys.readouterr().out)
    assert described["task"] == "image_classification" and described["app"] == "someone-elses"
    # Files exported before the metadata named a task: their app names it.
    assert task_of({"app": "vision"}) == "image_classification" and task_of({"app": "gallery"}) is None
    unknown = tmp_path / "unknown.tflite"
    unknown.write_bytes(write_metadata(float32, {"app": "gallery", "info": info}))
    with pytest.raises(EdgeError, match="no kerasdl metadata naming its task"):
        Predictor(unknown)
    image = np.full((4, 4, 3), 200, np.uint8)
    (row,) = Predictor(task_file).predict([image])
    assert row["label"] in ("a", "b")


def test_an_app_whose_required_app_is_missing_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    from kerasdl.errors import KerasdlError

    assert get_app("dcgan").requires == ("vision",)
    monkeypatch.delitem(APPS, "vision")
    with pytest.raises(KerasdlError, match="needs the vision app, which is not registered"):
        get_app("dcgan")
