"""YAMNet as the speech app's pretrained backbone (issue 33): its layers in Keras, the
published file's layout, the weights resolver (cache, loopback download), fine-tuning,
export (SavedModel, TFLite for MediaPipe's AudioClassifier and kerasdl-edge), streaming.

No weights can be downloaded here: `conftest.write_yamnet_standin` writes YAMNet's layers
with random weights in the published file's layout, and the registry's hash is swapped
for the stand-in's where a test downloads or reads the cache.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from conftest import write_yamnet_standin
from kerasdl import api
from kerasdl.backbones import audio as audio_backbones
from kerasdl.backbones.weights import MIRROR_VARIABLE, WeightsFile
from kerasdl.errors import ConfigError


@pytest.fixture(scope="module")
def standin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_yamnet_standin(tmp_path_factory.mktemp("yamnet") / "yamnet.h5")


@pytest.fixture()
def published_as(monkeypatch: pytest.MonkeyPatch, standin: Path, tmp_path: Path) -> WeightsFile:
    """An empty Keras cache, and the registry's YAMNet entry with the stand-in's sha256
    as its published hash."""
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    monkeypatch.delenv(MIRROR_VARIABLE, raising=False)
    spec = audio_backbones.AUDIO_BACKBONES["yamnet"]
    weights = dataclasses.replace(spec.weights, file_hash=hashlib.sha256(standin.read_bytes()).hexdigest())
    monkeypatch.setitem(audio_backbones.AUDIO_BACKBONES, "yamnet", dataclasses.replace(spec, weights=weights))
    return weights


def test_yamnet_layers_match_the_published_layout(standin: Path) -> None:
    """55 weighted layers (a 3x3 stem and 13 depthwise-separable blocks, batch norm
    without scale, the 521-class logits), 3.75 M weights; the stand-in is about the
    published file's size (15,296,092 bytes)."""
    import h5py
    import keras

    full = audio_backbones.yamnet_layers(96, 64, keras, logits=True)
    assert len([layer for layer in full.layers if layer.weights]) == 55
    assert full.count_params() == 3_751_369
    assert full.output_shape == (None, 521)
    with h5py.File(standin, "r") as f:
        assert "layer_names" in f.attrs  # the legacy layout, loaded layer by layer in order
    assert abs(standin.stat().st_size - 15_296_092) / 15_296_092 < 0.02


def test_loading_keeps_the_file_values_and_builds_in_both_kerases(standin: Path) -> None:
    import keras
    import tf_keras

    from kerasdl.backbones.weights import resolve_weights

    spec = audio_backbones.AUDIO_BACKBONES["yamnet"]
    weights = resolve_weights(None, str(standin), what="yamnet")
    for k in (keras, tf_keras):
        backbone = spec.build(98, keras_module=k)
        spec.load(backbone, weights, keras_module=k)
        reference = audio_backbones.yamnet_layers(98, 64, keras, logits=True)
        reference.load_weights(str(standin))
        for name in ("layer1_conv", "layer14_pointwise_conv_bn"):
            for got, want in zip(backbone.get_layer(name).get_weights(), reference.get_layer(name).get_weights()):
                np.testing.assert_array_equal(got, want)
        assert backbone.output_shape == (None, 1024)


def test_config_choices() -> None:
    from kerasdl.apps.speech.config import SpeechConfig

    assert SpeechConfig(backbone="yamnet").model == "pretrained"
    assert SpeechConfig(model="pretrained").backbone == "yamnet"
    with pytest.raises(ConfigError, match="listens at 16000 Hz"):
        SpeechConfig(backbone="yamnet", sample_rate=8000)
    with pytest.raises(ConfigError, match="not an audio backbone"):
        SpeechConfig(backbone="vggish")
    with pytest.raises(ConfigError, match="has no backbone"):
        SpeechConfig(backbone="yamnet", model="crnn")


def test_download_over_loopback_then_train_from_the_cache(published_as: WeightsFile, standin: Path,
                                                          tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`kerasdl fetch-weights yamnet` downloads through the mirror and checks the sha256;
    training then finds the file in the cache (the mirror gone)."""
    import functools
    import http.server
    import threading

    from click.testing import CliRunner

    from kerasdl.cli import cli

    served = tmp_path / "served"
    served.mkdir()
    shutil.copy(standin, served / "yamnet.h5")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *args: None  # type: ignore[method-assign]
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        monkeypatch.setenv(MIRROR_VARIABLE, f"http://127.0.0.1:{httpd.server_address[1]}")
        result = CliRunner().invoke(cli, ["fetch-weights", "yamnet"])
        assert result.exit_code == 0, result.output
        assert f"sha256 {published_as.file_hash} checked" in result.output
    finally:
        httpd.shutdown()
        httpd.server_close()
    monkeypatch.setenv(MIRROR_VARIABLE, "http://127.0.0.1:9")  # nothing there: the cache must serve
    assert audio_backbones.AUDIO_BACKBONES["yamnet"].resolve("imagenet").source == "cache"


def test_offline_without_the_file_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from kerasdl.cli import cli

    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    monkeypatch.setenv(MIRROR_VARIABLE, "http://127.0.0.1:9")
    result = CliRunner().invoke(cli, ["train", "speech", "--backbone", "yamnet", "--runs-dir", str(tmp_path)])
    assert result.exit_code != 0 and "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error")]
    assert len(errors) == 1 and "kerasdl fetch-weights yamnet" in errors[0], result.output


def test_yamnet_end_to_end(yamnet_run: Path, tone_folder: Path, tmp_path: Path) -> None:
    """8 kHz tones resampled to 16 kHz as they are read; the head on the frozen network,
    then its top layers; export: the file's float32 waveform input for MediaPipe's
    AudioClassifier, Keras, TFLite and kerasdl-edge agree; streaming works on it."""
    from kerasdl.export.exporter import export_run
    from kerasdl_edge import Predictor

    run = yamnet_run
    meta = json.loads((run / "run.json").read_text())
    assert meta["data"]["sample_rate"] == 16000 and meta["data"]["features"]["mel_bins"] == 64
    assert len(meta["data"]["backbone"]["weights"]["sha256"]) == 64
    wavs = [str(p) for p in sorted((tone_folder / "test").rglob("*.wav"))[:6]]
    keras_rows = api.predict(run, wavs, top_k=3)
    report = export_run(run, formats=("tflite",), quantizations=("float32",), out_dir=tmp_path / "out",
                        check=False)
    assert report.tasks == {"float32": "AudioClassifier"}
    edge = Predictor(report.tflite["float32"])
    assert edge.model.input_dtype == np.float32
    for k, e in zip(keras_rows, edge.predict(wavs, top_k=3), strict=True):
        probability = {t["label"]: t["probability"] for t in k["top"]}
        assert e["label"] == k["label"] or probability[k["label"]] - probability[e["label"]] < 1e-3
        assert abs(probability.get(e["label"], 0.0) - e["probability"]) < 1e-3
    detections = edge.stream(wavs[0])
    assert isinstance(detections, list)
