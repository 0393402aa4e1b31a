"""The speech app: audio sources, models, training, predict, streaming and export on
generated tones (the class is the pitch)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from app_contract import run_app_contract
from conftest import TONES, tone_clip, write_pcm_wav, write_tone_folder
from kerasdl.apps.speech.app import SpeechApp
from kerasdl.apps.speech.config import SpeechConfig
from kerasdl.cli import cli
from kerasdl.errors import ConfigError, DataError

TINY = SpeechConfig.presets["tiny"]
RATE = 8000


def test_contract_all_models(tone_folder: Path, tmp_path: Path) -> None:
    config = SpeechConfig(dataset=str(tone_folder), **{**TINY, "augment": False, "epochs": 12,
                                                       "learning_rate": 1e-2, "width": 8, "depth": 2})
    clips = [sorted((tone_folder / "test" / t).glob("*.wav"))[0] for t in sorted(TONES)]
    # The pretrained model listens at its backbone's 16 kHz: tests/test_audio_backbones.py.
    own = [name for name in SpeechApp.models if name != "pretrained"]
    results = run_app_contract(SpeechApp(), config, tmp_path, inputs=clips, tflite_tolerance=1e-3,
                               learned=lambda m: m["accuracy"] > 0.6, models=own)  # chance is 1/3
    results.pop("trained")
    assert set(results) == {"cnn", "ds-cnn", "crnn", "log-mel-lr"}
    for name, r in results.items():
        assert r["output_shape"] == (4, 3), name


def test_class_folders_are_resampled_mixed_down_and_cut(tone_folder: Path) -> None:
    data = SpeechApp().load_datasets(SpeechConfig(dataset=str(tone_folder), clip_seconds=0.5))
    assert data.info["class_names"] == sorted(TONES)
    assert data.info["sample_rate"] == RATE  # the most common rate; 16 kHz files resampled
    assert data.info["clip_samples"] == RATE // 2
    assert data.info["sizes"] == {"train": 108, "validation": 12, "test": 30}
    clips, labels = next(iter(data.test.batch(30)))
    assert clips.dtype.name == "int16" and tuple(clips.shape) == (30, RATE // 2)
    # The pitch survives reading: each clip's spectral peak is its class's tone.
    spectrum = np.abs(np.fft.rfft(np.asarray(clips, np.float32), axis=1))
    peaks = np.argmax(spectrum, axis=1) * RATE / (RATE // 2)
    expected = np.array([TONES[data.info["class_names"][i]] for i in np.asarray(labels)])
    np.testing.assert_allclose(peaks, expected, atol=5)


def test_speech_commands_layout_uses_its_lists_and_noise(tmp_path: Path) -> None:
    from kerasdl.data.audio import load_audio_datasets

    rng = np.random.default_rng(0)
    for label in ("yes", "no"):
        for i in range(6):
            write_pcm_wav(tmp_path / label / f"spk{i}_nohash_0.wav", tone_clip(
                "low" if label == "no" else "high", 16000, rng), 16000)
    write_pcm_wav(tmp_path / "_background_noise_" / "hum.wav", 0.1 * rng.normal(size=32000), 16000)
    (tmp_path / "validation_list.txt").write_text("yes/spk0_nohash_0.wav\nno/spk0_nohash_0.wav\n")
    (tmp_path / "testing_list.txt").write_text("yes/spk1_nohash_0.wav\nno/spk1_nohash_0.wav\n")
    data = load_audio_datasets(str(tmp_path), sample_dir=".", sample_rate=None, clip_seconds=1.0)
    assert data.class_names == ["no", "yes"]  # _background_noise_ is not a class
    assert data.sizes == {"train": 8, "validation": 2, "test": 2}
    assert data.sample_rate == 16000 and data.source.startswith("speech_commands:")
    assert [Path(f).name for f in data.noise_files] == ["hum.wav"]


def test_speaker_index_layout_keeps_the_documented_test_split(tmp_path: Path) -> None:
    from kerasdl.data.audio import load_audio_datasets

    rng = np.random.default_rng(0)
    for digit, label in ((0, "low"), (1, "high")):
        for index in range(8):
            write_pcm_wav(tmp_path / f"{digit}_alice_{index}.wav", tone_clip(label, RATE, rng), RATE)
    data = load_audio_datasets(str(tmp_path), sample_dir=".", sample_rate=None, clip_seconds=1.0,
                               validation_split=0.2)
    assert data.class_names == ["0", "1"]
    assert data.sizes["test"] == 10  # indices 0-4 of each label
    assert data.sizes["train"] + data.sizes["validation"] == 6


def test_clips_too_short_for_a_word_are_left_out_of_training_by_name(tmp_path: Path) -> None:
    import logging

    from kerasdl.data.audio import load_audio_datasets

    root = write_tone_folder(tmp_path / "tones", train=12, test=10)
    good = root / "train" / "low" / "low_1.wav"
    (root / "train" / "low" / "cut.wav").write_bytes(good.read_bytes()[: 44 + 2 * 28])
    records: list[logging.LogRecord] = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = records.append  # type: ignore[method-assign]
    logger = logging.getLogger("kerasdl.data.audio")  # the CLI's setup stops propagation to the root
    logger.addHandler(handler)
    try:
        data = load_audio_datasets(str(root), sample_dir=".", sample_rate=RATE, clip_seconds=1.0,
                                   validation_split=0.25)
    finally:
        logger.removeHandler(handler)
    assert data.sizes["train"] + data.sizes["validation"] == 36  # 37 files, the cut one left out
    text = " ".join(r.getMessage() for r in records)
    assert "Left out 1 clip too short to hold a word" in text and "cut.wav holds 28 samples" in text


def test_augmentation_shifts_and_adds_noise_at_the_chosen_snr() -> None:
    import tensorflow as tf

    from kerasdl.data.audio import waveform_augmentation

    rng = np.random.default_rng(0)
    clean = np.stack([tone_clip("mid", RATE, rng, seconds=1.0) for _ in range(16)])
    pcm = tf.constant(np.round(clean * 32767).astype(np.int16))
    labels = tf.range(16)
    noisy, same = waveform_augmentation(noise=[], max_shift=0, min_snr_db=20.0,
                                        noise_probability=1.0, seed=0)(pcm, labels)
    assert noisy.dtype == tf.int16 and np.array_equal(same, labels)
    noise = np.asarray(noisy, np.float64) - np.asarray(pcm, np.float64)
    snr = 10 * np.log10(np.mean(np.asarray(pcm, np.float64) ** 2, axis=1) / np.mean(noise ** 2, axis=1))
    assert np.all(snr > 19.5) and np.all(snr < 50.5)
    shifted, _ = waveform_augmentation(noise=[], max_shift=400, min_snr_db=0.0,
                                       noise_probability=0.0, seed=1)(pcm, labels)
    moved = [np.argmax(np.correlate(np.asarray(s, np.float32), np.asarray(p, np.float32)[2000:6000]))
             - 2000 for s, p in zip(shifted, pcm)]
    assert any(m != 0 for m in moved) and all(abs(m) <= 400 for m in moved)


def test_fix_length_in_tensorflow_matches_the_edge_reader() -> None:
    from kerasdl.data.audio import fix_length_tf
    from kerasdl_edge.audio import fix_length

    rng = np.random.default_rng(3)
    for size in (500, 1000, 2600):
        clip = (rng.normal(size=size) * np.linspace(0.01, 1, size) * 3000).astype(np.int16)
        clip[size // 3:size // 3 + 50] = 20000  # a loud burst the crop must keep
        expected = fix_length(clip.astype(np.float32), 1000)
        np.testing.assert_array_equal(np.asarray(fix_length_tf(clip, 1000)), expected.astype(np.int16))


def _with_good_class(root: Path, bad_name: str, content: bytes) -> None:
    write_pcm_wav(root / "no" / "good.wav", 0.3 * np.ones(100), RATE)
    (root / "yes").mkdir(parents=True)
    (root / "yes" / bad_name).write_bytes(content)


@pytest.mark.parametrize("make, message", [
    (lambda root: root.mkdir(), "No class sub-folders"),
    (lambda root: _with_good_class(root, "a.mp3", b"ID3"), "mp3 files but no .wav"),
    (lambda root: _with_good_class(root, "a.wav", b"RIFF\0\0\0\0WAVEfmt "), "truncated WAV header"),
    (lambda root: _with_good_class(root, "a.wav", b"hello"), "not a WAV file"),
    (lambda root: write_pcm_wav(root / "yes" / "a.wav", np.zeros(100), RATE), "only one class"),
    (lambda root: write_pcm_wav(root / "loose.wav", np.zeros(100), RATE), "put each class's files"),
])
def test_bad_audio_folders_fail_with_one_line(tmp_path: Path, make, message: str) -> None:
    root = tmp_path / "data"
    make(root)
    result = CliRunner().invoke(cli, ["train", "speech", "--dataset", str(root),
                                      "--runs-dir", str(tmp_path / "runs"), "--preset", "tiny"])
    assert result.exit_code != 0
    assert message in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not [p for p in (tmp_path / "runs").rglob("*") if p.is_file()]  # no run left behind


def test_tfds_speech_commands_with_mock_data(monkeypatch: pytest.MonkeyPatch) -> None:
    import tensorflow_datasets as tfds

    from kerasdl.data import tfds_source
    from kerasdl.data.audio import load_audio_datasets

    monkeypatch.setattr(tfds_source, "internet_available", lambda timeout=3.0: True)

    with tfds.testing.mock_data(num_examples=6):
        data = load_audio_datasets("speech_commands", sample_dir=".", sample_rate=None, clip_seconds=1.0)
        clips, labels = next(iter(data.train.batch(6)))
    assert data.sample_rate == 16000 and tuple(clips.shape) == (6, 16000)
    assert clips.dtype.name == "int16" and labels.dtype.name == "int32"
    assert "_silence_" in data.class_names and "_unknown_" in data.class_names
    with pytest.raises(DataError, match="16000 Hz; set sample_rate=16000"):
        with tfds.testing.mock_data(num_examples=2):
            load_audio_datasets("speech_commands", sample_dir=".", sample_rate=8000, clip_seconds=1.0)


def test_bad_config_values() -> None:
    with pytest.raises(ConfigError, match="`features` must be one of"):
        SpeechConfig(features="wavelet")
    with pytest.raises(ConfigError, match="`step_ms` must not exceed `frame_ms`"):
        SpeechConfig(frame_ms=10, step_ms=20)
    with pytest.raises(ConfigError, match="`sample_rate` must be at least 4000"):
        SpeechConfig(sample_rate=1000)
    with pytest.raises(ConfigError, match="`mfcc` must not exceed `mel_bins`"):
        SpeechConfig(features="mfcc", mfcc=20, mel_bins=16)


@pytest.mark.parametrize("model, activation, norm", [("cnn", "gelu", "layer"), ("ds-cnn", "swish", "none"),
                                                    ("crnn", "tanh", "batch")])
def test_activation_and_norm_switches_reach_every_convolution(model: str, activation: str, norm: str) -> None:
    """`--activation` / `--norm` reach every convolution of each speech model, which
    still trains and converts to TFLite builtins with the same outputs; auto keeps
    each design (DS-CNN: ReLU stem, ReLU6 blocks)."""
    import keras

    from kerasdl.apps.speech.models import build_speech_model
    from kerasdl.export.tflite import convert
    from kerasdl_edge import EdgeModel

    config = SpeechConfig(activation=activation, norm=norm, width=4, depth=2, units=4, mel_bins=16)
    net = build_speech_model(model, 4000, 8000, 3, config)
    kinds = [type(layer).__name__ for layer in net.layers if layer.name != "feature_norm"]  # the input's
    assert ("BatchNormalization" in kinds) == (norm == "batch") and ("LayerNormalization" in kinds) == (norm == "layer")
    convolutions = sum(kind in ("Conv2D", "DepthwiseConv2D") for kind in kinds)
    chosen = [layer for layer in net.layers if getattr(layer, "activation", None) is keras.activations.get(activation)
              and type(layer).__name__ == "Activation"]
    assert len(chosen) == convolutions  # one after each convolution, the stem's included
    clips = (np.random.default_rng(0).normal(0, 3000, (6, 4000))).astype("int16")
    net.compile("adam", "sparse_categorical_crossentropy")
    net.fit(clips, np.arange(6) % 3, epochs=1, verbose=0)
    tflite = EdgeModel(convert(net, "float32"))
    np.testing.assert_allclose(tflite(clips), np.asarray(net(clips)), atol=1e-4)
    default = build_speech_model("ds-cnn", 4000, 8000, 3, SpeechConfig(width=4, depth=2, mel_bins=16))
    names = [layer.name for layer in default.layers]
    assert "stem_relu" in names and "ds1_dw_relu6" in names and "stem_bn" in names


def test_macs_are_counted_from_layer_shapes() -> None:
    import keras

    from kerasdl.apps.speech.models import build_speech_model
    from kerasdl.evaluation.complexity import count_macs

    inputs = keras.Input((10, 8, 3))
    x = keras.layers.Conv2D(4, 3, padding="same")(inputs)           # 10*8*4 * 3*3*3
    x = keras.layers.DepthwiseConv2D(3, strides=2, padding="same")(x)  # 5*4*4 * 3*3
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dense(5)(x)                                      # 4*5
    assert count_macs(keras.Model(inputs, x)) == 10 * 8 * 4 * 27 + 5 * 4 * 4 * 9 + 20
    sequence = keras.Sequential([keras.Input((7, 6)), keras.layers.GRU(5)])
    assert count_macs(sequence) == 7 * 3 * 5 * (6 + 5)
    ds_cnn = build_speech_model("ds-cnn", RATE, RATE, 10, SpeechConfig())
    assert 1e6 < count_macs(ds_cnn) < 2e7  # "Hello Edge" DS-CNN-S class: millions, not billions


def test_spec_augment_masks_while_training_only() -> None:
    import keras

    from kerasdl.layers.spec_augment import spec_augment_class

    layer = spec_augment_class(keras)(time_masks=2, time_width=4, freq_masks=1, freq_width=3)
    x = np.random.default_rng(0).normal(size=(8, 30, 12)).astype("float32")
    np.testing.assert_array_equal(np.asarray(layer(x)), x)
    masked = np.asarray(layer(x, training=True))
    changed = masked != x
    assert changed.any() and changed.mean() < 0.6
    # Masked cells hold the example's mean.
    for row, out in zip(x, masked):
        assert np.allclose(out[out != row], row.mean(), atol=1e-5)


def test_streaming_finds_commands_and_their_times() -> None:
    from kerasdl_edge.streaming import detect_commands

    names = sorted(TONES)
    rng = np.random.default_rng(0)

    def classify(windows: np.ndarray) -> np.ndarray:
        # A perfect "model": the pitch decides, with a confidence that grows with loudness.
        spectrum = np.abs(np.fft.rfft(windows.astype(np.float32), axis=1))
        energy = np.stack([spectrum[:, int(TONES[n] * windows.shape[1] / RATE)] for n in names], 1)
        return energy / (energy.sum(axis=1, keepdims=True) + 1e-9)

    gap = np.zeros(int(0.7 * RATE), np.float32)
    parts, said = [gap], []
    for label in ("low", "high", "mid", "high"):
        said.append((sum(len(p) for p in parts) + int(0.25 * RATE)) / RATE)
        parts += [tone_clip(label, RATE, rng, seconds=0.5), gap]
    recording = np.concatenate(parts) + 1e-4 * rng.normal(size=sum(len(p) for p in parts))
    found = detect_commands(classify, recording, sample_rate=RATE, window=RATE, class_names=names)
    assert [d.label for d in found] == ["low", "high", "mid", "high"]
    for detection, centre in zip(found, said):
        assert abs(detection.time - centre) < 0.35, (detection, centre)
    silence = detect_commands(classify, np.zeros(RATE * 2, np.float32), sample_rate=RATE, window=RATE,
                              class_names=names)
    assert silence == []


@pytest.fixture(scope="module")
def speech_run(tone_folder: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from kerasdl import api

    config = SpeechConfig(dataset=str(tone_folder), model="cnn",
                          **{**TINY, "epochs": 12, "learning_rate": 1e-2, "width": 8, "depth": 2})
    summary = api.train("speech", config, runs_dir=tmp_path_factory.mktemp("runs"), name="tones",
                        verbose=0)
    assert summary.metrics["accuracy"] > 0.8  # chance is 1/3
    return summary.run.path


def test_predict_wav_files_and_bad_audio(speech_run: Path, tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    files = [write_pcm_wav(tmp_path / f"{label}.wav", tone_clip(label, 16000, rng), 16000)
             for label in ("low", "high")]
    result = CliRunner().invoke(cli, ["predict", str(speech_run), *map(str, files), "--json"])
    assert result.exit_code == 0, result.output
    assert [json.loads(line)["label"] for line in result.output.splitlines()] == ["low", "high"]
    silent = write_pcm_wav(tmp_path / "silent.wav", np.zeros(4000), RATE)
    truncated = tmp_path / "truncated.wav"
    truncated.write_bytes(files[0].read_bytes()[:30])
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    cut = tmp_path / "cut.wav"
    cut.write_bytes(files[0].read_bytes()[: 44 + 2 * 28])  # the header and 28 samples
    for path, message in ((silent, "silence only"), (truncated, "truncated WAV header"),
                          (empty, "not a WAV file"), (tmp_path / "missing.wav", "not found"),
                          (cut, "holds 28 samples (1.8 ms at 16000 Hz), under 10% of the 1.00 s")):
        result = CliRunner().invoke(cli, ["predict", str(speech_run), str(path)])
        assert result.exit_code != 0 and message in result.output, result.output
        assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1


def test_stream_cli_prints_commands_with_times(speech_run: Path, tmp_path: Path) -> None:
    rng = np.random.default_rng(11)
    gap = np.zeros(int(0.8 * RATE), np.float32)
    recording = np.concatenate([gap, tone_clip("high", RATE, rng, seconds=0.6), gap,
                                tone_clip("low", RATE, rng, seconds=0.6), gap])
    path = write_pcm_wav(tmp_path / "long.wav", recording, RATE)
    result = CliRunner().invoke(cli, ["predict", str(speech_run), str(path), "--stream", "--json",
                                      "--threshold", "0.5"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.output.splitlines()]
    assert [r["label"] for r in rows] == ["high", "low"]
    assert abs(rows[0]["time"] - 1.1) < 0.4 and abs(rows[1]["time"] - 2.5) < 0.4
    result = CliRunner().invoke(cli, ["predict", str(speech_run), str(path), "--stream", "--threshold", "0.5"])
    assert result.exit_code == 0 and " s  high (" in result.output


def test_export_wav_savedmodel_and_int8_tflite(speech_run: Path, tmp_path: Path) -> None:
    import tensorflow as tf

    from kerasdl.export.exporter import export_run
    from kerasdl.training.saving import load_model
    from kerasdl_edge import EdgeModel

    report = export_run(speech_run, quantizations=("float32", "int8"), out_dir=tmp_path)
    by_variant = {r["variant"]: r for r in report.rows}
    assert by_variant["tflite-float32"]["max_abs_diff"] < 1e-3
    assert by_variant["tflite-int8"]["metric"] > 0.8

    rng = np.random.default_rng(5)
    clips = [tone_clip(label, RATE, rng, seconds=0.6) for label in ("mid", "low")]
    wavs = [write_pcm_wav(tmp_path / f"{i}.wav", clip, RATE).read_bytes() for i, clip in enumerate(clips)]
    serving = tf.saved_model.load(str(report.saved_model)).signatures["serving_default"]
    out = serving(wav_bytes=tf.constant(wavs))
    assert [c.decode() for c in out["classes"].numpy()] == ["mid", "low"]
    blip = write_pcm_wav(tmp_path / "blip.wav", clips[0][:28], RATE).read_bytes()  # 28 samples, header intact
    with pytest.raises(tf.errors.InvalidArgumentError, match="must hold at least 800 samples"):
        serving(wav_bytes=tf.constant([blip]))

    from kerasdl_edge.codecs import codec_for

    info = json.loads((speech_run / "run.json").read_text())["data"]
    paths = [str(tmp_path / f"{i}.wav") for i in range(2)]
    pcm = codec_for("audio_classification", info).read(paths)
    keras_out = np.asarray(load_model(speech_run / "checkpoints" / "best.keras")(pcm))
    np.testing.assert_allclose(out["probabilities"].numpy(), keras_out, atol=1e-4)
    # Task-ready files (MediaPipe's AudioClassifier) take float32 waveforms in [-1, 1]; the
    # codec reads the same samples for them, and the model turns them back into the PCM.
    from kerasdl_edge import Predictor

    waveform = Predictor(report.tflite["float32"]).read(paths)
    np.testing.assert_array_equal(waveform, pcm.astype(np.float32) / 32768)
    edge = EdgeModel(report.tflite["float32"])
    assert edge.input_dtype == np.float32
    np.testing.assert_allclose(edge(waveform), keras_out, atol=1e-3)
    int8 = EdgeModel(report.tflite["int8"])
    assert int8.input_dtype == np.float32  # no 8-bit audio on the way in: quantized inside
    assert list(np.argmax(int8(waveform), axis=1)) == list(np.argmax(keras_out, axis=1))
    assert report.tasks == {"float32": "AudioClassifier", "int8": "AudioClassifier"}
    # The dynamic variant comes from LiteRT Quantizer, which keeps the front end float.
    dynamic = export_run(speech_run, formats=("tflite",), quantizations=("dynamic",), out_dir=tmp_path / "dynamic")
    assert EdgeModel(dynamic.tflite["dynamic"]).metadata["quantizer"] == "LiteRT Quantizer dynamic_wi8_afp32"
    assert dynamic.rows[-1]["metric"] >= by_variant["tflite-float32"]["metric"] - 0.1
    # --native-input keeps the model's own int16 PCM input.
    native = export_run(speech_run, formats=("tflite",), quantizations=("int8",), out_dir=tmp_path / "native",
                        task_ready=False)
    assert EdgeModel(native.tflite["int8"]).input_dtype == np.int16
    assert native.tasks == {"int8": "-"} and "float32 waveforms" in native.task_notes["int8"]
    np.testing.assert_allclose(native.rows[-1]["metric"], by_variant["tflite-int8"]["metric"], atol=0.1)


def test_qat_leaves_the_front_end_float_and_exports_int8(speech_run: Path, tmp_path: Path) -> None:
    from kerasdl.export.exporter import export_run
    from kerasdl.optimization.optimize import OptimizeConfig, optimize_run

    report = optimize_run(speech_run, OptimizeConfig(qat=True, epochs=1),
                          runs_dir=tmp_path, name="qat", verbose=0)
    (stage,) = report.stages
    assert "block1_conv" in stage["wrapped"] and not any("features" in w for w in stage["wrapped"])
    assert report.metric > 0.8
    export = export_run(report.run.path, formats=("tflite",), quantizations=("int8",),
                        out_dir=tmp_path / "out")
    (row,) = export.rows
    assert row["metric"] > 0.8  # the quantization-aware model's own ranges
