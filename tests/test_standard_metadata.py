"""The standard TFLite metadata kerasdl writes reads back field for field, survives
rewriting kerasdl's own entry, and a copy whose archive is cut short is refused."""

from __future__ import annotations

import numpy as np
import pytest

from kerasdl_edge import EdgeModel, read_metadata, write_metadata
from kerasdl_edge.metadata import associated_files
from kerasdl_edge.standard_metadata import (
    AudioInput, ImageInput, RegexTokenizerInput, StandardMetadata, TensorInfo,
    min_parser_version, read_standard_metadata, write_standard_metadata,
)


@pytest.fixture(scope="module")
def tiny_tflite() -> bytes:
    import keras
    import tensorflow as tf

    ids = keras.Input((6,), dtype="int32", name="ids")
    x = keras.layers.GlobalAveragePooling1D()(keras.layers.Embedding(8, 3)(ids))
    model = keras.Model(ids, keras.layers.Dense(2, activation="softmax")(x))
    return tf.lite.TFLiteConverter.from_keras_model(model).convert()


def _text_metadata(vocabulary: dict[str, int] | None = None) -> StandardMetadata:
    # U+0085 and U+2028 are line breaks to str.splitlines, not to MediaPipe's reader.
    tokenizer = RegexTokenizerInput(r"[ \t]+", vocabulary or {"<PAD>": 0, "<UNKNOWN>": 1, "gut": 2, "schön": 3,
                                                            "a\x85b": 4, "\u2028": 5})
    return StandardMetadata(
        "reviews", "A test model.", "3", "kerasdl tests", "CC0-1.0",
        inputs=(TensorInfo("ids", "token ids", tokenizer=tokenizer),),
        outputs=(TensorInfo("probability", "p", labels=("neg", "pos"), value_range=(0.0, 1.0)),))


def test_round_trip_and_rewriting_kerasdl_metadata_keeps_it(tiny_tflite: bytes) -> None:
    written = write_standard_metadata(write_metadata(tiny_tflite, {"app": "x"}), _text_metadata())
    assert set(associated_files(written)) == {"labels.txt", "vocab.txt"}
    rewritten = write_metadata(written, {"app": "y"})  # kerasdl's entry again: the archive stays
    for content in (written, rewritten):
        meta = read_standard_metadata(content)
        assert meta == _text_metadata()
    assert read_metadata(rewritten) == {"app": "y"}
    model = EdgeModel(rewritten)
    assert model.standard_metadata.outputs[0].labels == ("neg", "pos")
    assert model(np.zeros((2, 6), np.int32)).shape == (2, 2)


def test_image_and_audio_fields(tiny_tflite: bytes) -> None:
    for tensor in (TensorInfo("image", image=ImageInput("GRAYSCALE", (127.5,), (127.5,)), value_range=(0, 255)),
                   TensorInfo("waveform", audio=AudioInput(16000, 1))):
        meta = StandardMetadata("m", "d", "1", "a", "l", inputs=(tensor,), outputs=(TensorInfo("out"),))
        assert read_standard_metadata(write_standard_metadata(tiny_tflite, meta)).inputs[0] == tensor


def test_min_parser_version_follows_the_fields_used() -> None:
    # MediaPipe's rules (metadata_version.cc): audio 1.3.0, a regex tokenizer 1.2.1.
    plain = StandardMetadata("m", "d", "1", "a", "l", inputs=(TensorInfo("x", image=ImageInput()),))
    audio = StandardMetadata("m", "d", "1", "a", "l", inputs=(TensorInfo("x", audio=AudioInput(8000)),))
    assert [min_parser_version(m) for m in (plain, _text_metadata(), audio)] == ["1.0.0", "1.2.1", "1.3.0"]


def test_bad_metadata_and_cut_archives_are_refused(tiny_tflite: bytes) -> None:
    with pytest.raises(ValueError, match="describes 0 input"):
        write_standard_metadata(tiny_tflite, StandardMetadata("m", "d", "1", "a", "l"))
    with pytest.raises(ValueError, match="holds a space or a line break"):
        write_standard_metadata(tiny_tflite, _text_metadata({"<PAD>": 0, "two words": 1}))
    written = write_standard_metadata(tiny_tflite, _text_metadata())
    with pytest.raises(ValueError, match="standard metadata is damaged"):
        EdgeModel(written[:-1])  # the model itself is whole; its labels and vocabulary are not


def test_weights_stored_after_the_flatbuffer_survive_writing_metadata() -> None:
    """LiteRT Quantizer stores large weights after the FlatBuffer at file offsets;
    writing metadata must bring them along (it once left them behind: a broken file)."""
    import keras
    import tensorflow as tf
    from ai_edge_litert import schema_py_generated as schema

    from kerasdl.export.quantizer import quantize_tflite

    inputs = keras.Input((784,))
    model = keras.Model(inputs, keras.layers.Dense(2)(keras.layers.Dense(512)(inputs)))
    quantized = quantize_tflite(tf.lite.TFLiteConverter.from_keras_model(model).convert(), "weight_only_wi8_afp32")
    buffers = schema.ModelT.InitFromObj(schema.Model.GetRootAs(quantized, 0)).buffers
    assert any((b.offset or 0) > 1 for b in buffers)  # the case under test
    meta = StandardMetadata("m", "d", "1", "a", "l", inputs=(TensorInfo("x"),),
                            outputs=(TensorInfo("y", labels=("a", "b")),))
    x = np.random.default_rng(0).normal(size=(3, 784)).astype(np.float32)
    written = EdgeModel(write_metadata(write_standard_metadata(quantized, meta), {"app": "x"}))
    np.testing.assert_array_equal(written(x), EdgeModel(quantized)(x))
    assert written.standard_metadata.outputs[0].labels == ("a", "b")
