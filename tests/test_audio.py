"""WAV reading for the speech app and the edge runtime (numpy only)."""

from __future__ import annotations

import struct
import wave
from pathlib import Path

import numpy as np
import pytest

from kerasdl_edge.audio import AudioError, decode_wav, fix_length, read_wav, resample


def write_wav(path: Path, samples: np.ndarray, rate: int, *, width: int = 2) -> Path:
    """PCM WAV with the standard library; `samples` [frames] or [frames, channels] in [-1, 1]."""
    samples = np.atleast_2d(samples.T).T
    with wave.open(str(path), "wb") as out:
        out.setnchannels(samples.shape[1])
        out.setsampwidth(width)
        out.setframerate(rate)
        if width == 1:
            out.writeframes(np.round(samples * 127 + 128).astype(np.uint8).tobytes())
        else:
            out.writeframes(np.round(samples * 32767).astype("<i2").tobytes())
    return path


def write_float_wav(path: Path, samples: np.ndarray, rate: int) -> Path:
    body = samples.astype("<f4").tobytes()
    fmt = struct.pack("<HHIIHH", 3, 1, rate, rate * 4, 4, 32)
    path.write_bytes(b"RIFF" + struct.pack("<I", 4 + 8 + 16 + 8 + len(body)) + b"WAVE"
                     + b"fmt " + struct.pack("<I", 16) + fmt + b"data" + struct.pack("<I", len(body)) + body)
    return path


def tone(freq: float, rate: int, seconds: float) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return 0.5 * np.sin(2 * np.pi * freq * t)


def test_stereo_44k_mixed_down_and_resampled(tmp_path: Path) -> None:
    left, right = tone(440, 44100, 0.5), tone(440, 44100, 0.5) * 0.5
    clip = read_wav(write_wav(tmp_path / "s.wav", np.stack([left, right], 1), 44100), sample_rate=16000)
    assert clip.dtype == np.float32 and abs(len(clip) - 8000) <= 1
    expected = 0.75 * tone(440, 16000, 0.5)
    np.testing.assert_allclose(clip[100:-100], expected[100:len(clip) - 100], atol=0.02)


def test_downsampling_removes_frequencies_above_the_new_nyquist(tmp_path: Path) -> None:
    high = resample(tone(6000, 48000, 0.5).astype(np.float32), 48000, 8000)  # 6 kHz > 4 kHz
    kept = resample(tone(1000, 48000, 0.5).astype(np.float32), 48000, 8000)
    assert np.sqrt(np.mean(high[200:-200] ** 2)) < 0.05 < np.sqrt(np.mean(kept[200:-200] ** 2))


@pytest.mark.parametrize("kind", ["pcm8", "pcm16", "float32"])
def test_sample_formats(tmp_path: Path, kind: str) -> None:
    samples = tone(300, 8000, 0.25)
    if kind == "float32":
        path = write_float_wav(tmp_path / "f.wav", samples, 8000)
    else:
        path = write_wav(tmp_path / "p.wav", samples, 8000, width=1 if kind == "pcm8" else 2)
    clip = read_wav(path, sample_rate=8000)
    np.testing.assert_allclose(clip, samples, atol=0.01 if kind == "pcm8" else 1e-4)


def test_fixed_length_keeps_the_loud_part_or_centres(tmp_path: Path) -> None:
    quiet_then_word = np.concatenate([np.zeros(3000), tone(500, 8000, 0.25), np.zeros(3000)])
    clip = fix_length(quiet_then_word.astype(np.float32), 2000)
    assert len(clip) == 2000 and np.abs(clip).mean() > 0.25
    short = fix_length(np.ones(10, np.float32), 20)
    assert short.tolist() == [0] * 5 + [1] * 10 + [0] * 5


@pytest.mark.parametrize("content, message", [
    (b"hello, not audio at all", "is not a WAV file"),
    (b"RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00", "truncated WAV header"),
    (b"", "is not a WAV file"),
])
def test_bad_files(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad.wav"
    path.write_bytes(content)
    with pytest.raises(AudioError, match=message):
        read_wav(path, sample_rate=16000)


def test_empty_silent_and_missing(tmp_path: Path) -> None:
    with pytest.raises(AudioError, match="holds no samples"):
        read_wav(write_wav(tmp_path / "empty.wav", np.zeros(0), 16000), sample_rate=16000)
    with pytest.raises(AudioError, match="silence only"):
        read_wav(write_wav(tmp_path / "silent.wav", np.zeros(800), 16000), sample_rate=16000)
    with pytest.raises(AudioError, match="Audio file not found"):
        read_wav(tmp_path / "none.wav", sample_rate=16000)


def test_a_clip_under_a_tenth_of_the_window_is_an_error(tmp_path: Path) -> None:
    from kerasdl_edge.audio import MIN_CLIP_FRACTION, ShortClipError

    full = write_wav(tmp_path / "full.wav", tone(300, 8000, 0.5), 8000)
    cut = tmp_path / "cut.wav"
    cut.write_bytes(full.read_bytes()[: 44 + 2 * 28])  # the header and 28 samples: a copy cut short
    with pytest.raises(ShortClipError, match=r"cut.wav holds 28 samples \(3.5 ms at 8000 Hz\), under 10% of the "
                                             r"1.00 s the model listens to: a truncated or empty recording\?"):
        read_wav(cut, sample_rate=8000, length=8000)
    assert len(read_wav(cut, sample_rate=8000)) == 28  # no window asked: the samples it has
    shortest = write_wav(tmp_path / "word.wav", tone(300, 16000, 0.14), 16000)  # FSDD's shortest digit
    assert len(read_wav(shortest, sample_rate=8000, length=8000)) == 8000
    assert MIN_CLIP_FRACTION * 8000 <= 0.14 * 8000


def test_truncated_data_keeps_the_samples_it_has(tmp_path: Path) -> None:
    path = write_wav(tmp_path / "t.wav", tone(300, 8000, 0.5), 8000)
    cut = path.read_bytes()[:-2001]  # mid-sample
    samples, rate = decode_wav(cut)
    assert rate == 8000 and len(samples) == 4000 - 1001
