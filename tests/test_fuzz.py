"""Every reader of a user's bytes, fed damaged ones: cut short, with flipped bytes, random,
empty and oversized, from a fixed seed. Each call reads the input or raises the reader's
own error with a one-line message: never another exception (a traceback for the user),
never a hang."""

from __future__ import annotations

import io
import json
import signal
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import pytest

from conftest import tone_clip, write_pcm_wav, write_review_csv, write_sine_csv

CASES = 40  # mutations per reader
SECONDS = 20  # one call taking longer counts as a hang


def mutations(good: bytes, seed: int, count: int = CASES) -> Iterator[tuple[str, bytes]]:
    """Damaged variants of `good`, the same for the same seed."""
    rng = np.random.default_rng(seed)
    yield "empty", b""
    yield "one byte", good[:1]
    for i in range(count):
        kind = i % 5
        if kind == 0:
            cut = int(rng.integers(1, max(2, len(good))))
            yield f"cut at {cut}", good[:cut]
        elif kind == 1:
            data = bytearray(good)
            for position in rng.integers(0, len(data), size=int(rng.integers(1, 16))):
                data[position] = int(rng.integers(0, 256))
            yield "flipped bytes", bytes(data)
        elif kind == 2:
            head = int(rng.integers(0, min(64, len(good))))  # keep a valid-looking header
            yield f"random after {head}", good[:head] + rng.bytes(int(rng.integers(1, 4096)))
        elif kind == 3:
            start = int(rng.integers(0, len(good)))
            chunk = good[start:start + int(rng.integers(1, 512))]
            yield "repeated chunk", good[:start] + chunk * int(rng.integers(2, 50)) + good[start:]
        else:
            at = int(rng.integers(0, len(good)))
            yield "zeros inserted", good[:at] + b"\0" * int(rng.integers(1, 2048)) + good[at:]


class _Hang(Exception):
    pass


def _alarm(signum: int, frame: Any) -> None:
    raise _Hang()


def check_reader(read: Callable[[Path], Any], good: bytes, suffix: str, tmp_path: Path,
                 errors: tuple[type[BaseException], ...], seed: int) -> int:
    """Runs `read` on every mutation of `good` saved as a file; returns how many were
    refused (each with a one-line message of an allowed type)."""
    refused = 0
    previous = signal.signal(signal.SIGALRM, _alarm)
    try:
        for n, (name, data) in enumerate(mutations(good, seed)):
            path = tmp_path / f"case{n}{suffix}"
            path.write_bytes(data)
            signal.alarm(SECONDS)
            try:
                read(path)
            except errors as e:
                refused += 1
                message = str(e).strip()
                assert message and len(message.splitlines()) == 1, (name, message)
            except _Hang:
                pytest.fail(f"{name}: no answer in {SECONDS} s")
            except Exception as e:  # noqa: BLE001 - the point of the test
                pytest.fail(f"{name}: {type(e).__name__}: {e}")
            finally:
                signal.alarm(0)
    finally:
        signal.signal(signal.SIGALRM, previous)
    return refused


def test_image_readers(tmp_path: Path) -> None:
    from PIL import Image

    from kerasdl_edge.codecs import codec_for
    from kerasdl_edge.errors import EdgeError
    from kerasdl_edge.images import read_image

    rng = np.random.default_rng(0)
    for fmt, seed in (("PNG", 1), ("JPEG", 2), ("GIF", 3), ("BMP", 4)):
        buffer = io.BytesIO()
        Image.fromarray(rng.integers(0, 256, (24, 20, 3), dtype=np.uint8)).save(buffer, fmt)
        good = buffer.getvalue()
        suffix = "." + fmt.lower()
        assert check_reader(read_image, good, suffix, tmp_path, (EdgeError,), seed) > 0
        codec = codec_for("image_classification", {"image_shape": [16, 16, 3], "class_names": ["a", "b"]})  # decode, convert, resize
        assert check_reader(lambda p: codec.read([p]), good, suffix, tmp_path, (EdgeError,), seed) > 0


def test_wav_reader(tmp_path: Path) -> None:
    from kerasdl_edge.audio import AudioError, read_wav

    clip = tone_clip("mid", 8000, np.random.default_rng(0), seconds=0.5)
    good = write_pcm_wav(tmp_path / "good.wav", np.stack([clip, clip], axis=1), 8000).read_bytes()
    refused = check_reader(lambda p: read_wav(p, sample_rate=16000, length=16000), good, ".wav",
                           tmp_path, (AudioError,), 5)
    assert refused > 0


def test_series_readers(tmp_path: Path) -> None:
    from kerasdl.data.timeseries import read_series_csv
    from kerasdl.errors import DataError
    from kerasdl_edge.series import TableError, read_window

    good = write_sine_csv(tmp_path / "good.csv", rows=120).read_bytes()
    assert check_reader(read_series_csv, good, ".csv", tmp_path, (DataError,), 6) > 0
    info = {"columns": ["mix", "a", "b"], "input_length": 24,
            "scaler": {"mean": [2.5, 0.0, 5.0], "std": [1.0, 0.7, 1.4]}}
    assert check_reader(lambda p: read_window(p, info), good, ".csv", tmp_path, (TableError,), 7) > 0


def test_text_readers(tmp_path: Path) -> None:
    from kerasdl.data.text import load_text_datasets
    from kerasdl.errors import DataError
    from kerasdl_edge.errors import EdgeError
    from kerasdl_edge.text import read_text_argument

    good = write_review_csv(tmp_path / "good.csv", 40).read_bytes()
    assert check_reader(lambda p: load_text_datasets(str(p), sample_dir="."), good, ".csv", tmp_path,
                        (DataError,), 8) > 0
    check_reader(lambda p: read_text_argument(str(p)), "A fine film. Ünïcödé 😀\n".encode() * 20,
                 ".txt", tmp_path, (EdgeError,), 9)
    oversized = tmp_path / "huge.txt"
    oversized.write_bytes(b"word " * 2_100_000)
    with pytest.raises(EdgeError, match="is over 10 MB; expected one text"):
        read_text_argument(str(oversized))


def test_tflite_reader(tmp_path: Path) -> None:
    import keras

    from kerasdl.export.tflite import convert
    from kerasdl_edge import write_metadata
    from kerasdl_edge import EdgeError, Predictor

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
    good = write_metadata(convert(model, "float32"), {"app": "sentiment", "info": {"class_names": ["a"]}})
    refused = check_reader(lambda p: Predictor(p), good, ".tflite", tmp_path, (EdgeError,), 10)
    assert refused > CASES // 2


def test_rest_bodies() -> None:
    import tensorflow as tf

    from kerasdl.serving.rest import BadRequest, parse_body, request_tensors

    inputs = {"image": tf.TensorSpec([None, 2, 2, 3], tf.uint8), "text": tf.TensorSpec([None], tf.string)}
    good = json.dumps({"instances": [{"image": [[[1, 2, 3]] * 2] * 2, "text": {"b64": "aGk="}}]}).encode()
    refused = 0
    for name, body in [*mutations(good, 11), ("deep", b"[" * 100_000), ("huge number", b'{"inputs": 1e999999}'),
                       ("deep object", b'{"a":' * 5000 + b"1" + b"}" * 5000)]:
        try:
            request_tensors(parse_body(body), inputs)
        except BadRequest as e:
            refused += 1
            assert len(str(e).strip().splitlines()) == 1, (name, str(e))
        except Exception as e:  # noqa: BLE001
            pytest.fail(f"{name}: {type(e).__name__}: {e}")
    assert refused > CASES // 2
