"""Reading WAV files into fixed-length mono clips, with numpy only.

One definition for training, `kerasdl predict` and devices: any sample rate (resampled
to the model's), any length (cropped around the loudest part or padded with silence),
any channel count (mixed down), PCM 8/16/24/32-bit or 32/64-bit float.

Example:
>>> from kerasdl_edge.audio import read_wav
>>> clip = read_wav("yes.wav", sample_rate=16000, length=16000)  # doctest: +SKIP
>>> clip.shape, clip.dtype  # doctest: +SKIP
((16000,), dtype('float32'))
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

PCM, IEEE_FLOAT, EXTENSIBLE = 1, 3, 0xFFFE


PCM_SCALE = 32768.0
# A clip under this fraction of the model's window is no word (the shortest spoken
# digit in FSDD and the Speech Commands sample lasts 0.14 s of a 1 s window): a WAV
# cut short by a failed copy or recording, labelled from silence if it were used.
MIN_CLIP_FRACTION = 0.1


def to_pcm16(samples: np.ndarray) -> np.ndarray:
    """float samples in [-1, 1] to int16 PCM (what kerasdl's speech models take)."""
    return np.clip(np.round(np.asarray(samples) * PCM_SCALE), -32768, 32767).astype(np.int16)


def pcm16_to_waveform(pcm: np.ndarray) -> np.ndarray:
    """int16 PCM to float32 samples in [-1, 1): the input of a task-ready (MediaPipe
    AudioClassifier) speech model, whose first layer turns them back into the same PCM."""
    return np.asarray(pcm, np.float32) / np.float32(PCM_SCALE)


class AudioError(ValueError):
    """A file that is not usable audio; the message says why."""


class ShortClipError(AudioError):
    """A clip holding under `MIN_CLIP_FRACTION` of the samples the model listens to."""


def check_clip_length(samples: int, rate: int, window_seconds: float, name: str) -> None:
    """Raises `ShortClipError` when `samples` at `rate` last under `MIN_CLIP_FRACTION`
    of `window_seconds`, the model's window."""
    if samples / rate < MIN_CLIP_FRACTION * window_seconds:
        raise ShortClipError(
            f"{name} holds {samples} samples ({1000 * samples / rate:.1f} ms at {rate} Hz), under "
            f"{MIN_CLIP_FRACTION:.0%} of the {window_seconds:.2f} s the model listens to: a "
            "truncated or empty recording?")


def read_wav(path: str | Path, *, sample_rate: int, length: int | None = None) -> np.ndarray:
    """A WAV file as float32 mono samples in [-1, 1] at `sample_rate`.

    Args:
        path: the file.
        sample_rate: the rate to resample to.
        length: samples to return: longer clips keep their loudest `length` samples,
            shorter ones are padded with silence at both ends; None keeps the length.

    Raises:
        AudioError: not a WAV file, a truncated or unsupported one, no samples, or
            silence only; `ShortClipError` for a clip under `MIN_CLIP_FRACTION` of
            `length`.
    """
    from kerasdl_edge.files import read_bytes

    path = Path(path)
    data = read_bytes(path, "Audio", AudioError)
    samples, rate = decode_wav(data, name=str(path))
    if not np.any(samples):
        raise AudioError(f"{path} is silence only (every sample is 0).")
    if length is not None:
        check_clip_length(len(samples), rate, length / sample_rate, str(path))
    samples = resample(samples, rate, sample_rate)
    return fix_length(samples, length) if length is not None else samples


def decode_wav(data: bytes, *, name: str = "the data") -> tuple[np.ndarray, int]:
    """(float32 mono samples, sample rate) from the bytes of a RIFF/WAVE file."""
    if len(data) < 12 or data[:4] not in (b"RIFF", b"RF64") or data[8:12] != b"WAVE":
        raise AudioError(f"{name} is not a WAV file (no RIFF/WAVE header).")
    fmt = None
    payload = None
    offset = 12
    while offset + 8 <= len(data):
        chunk, size = data[offset:offset + 4], struct.unpack("<I", data[offset + 4:offset + 8])[0]
        body = data[offset + 8:offset + 8 + size]
        if chunk == b"fmt ":
            if len(body) < 16:
                raise AudioError(f"{name} has a truncated WAV header (fmt chunk of {len(body)} bytes).")
            fmt = struct.unpack("<HHIIHH", body[:16])
            if fmt[0] == EXTENSIBLE and len(body) >= 26:
                fmt = (struct.unpack("<H", body[24:26])[0],) + fmt[1:]
        elif chunk == b"data":
            payload = body  # a truncated file keeps the samples it has
            break
        offset += 8 + size + (size & 1)
    if fmt is None:
        raise AudioError(f"{name} has a truncated WAV header (no fmt chunk).")
    if payload is None:
        raise AudioError(f"{name} has no data chunk: the file is truncated or holds no audio.")
    encoding, channels, rate, _, block, bits = fmt
    if channels < 1 or rate < 1 or block < 1:
        raise AudioError(f"{name} has an invalid WAV header ({channels} channels at {rate} Hz).")
    if bits % 8 == 0 and block != channels * bits // 8:
        raise AudioError(f"{name} has an inconsistent WAV header: {channels} channels of {bits} bits "
                         f"in blocks of {block} bytes.")
    frames = len(payload) // block
    if frames == 0:
        raise AudioError(f"{name} holds no samples.")
    raw = payload[: frames * block]
    if encoding == PCM and bits == 8:
        samples = (np.frombuffer(raw, np.uint8).astype(np.float32) - 128.0) / 128.0
    elif encoding == PCM and bits == 16:
        samples = np.frombuffer(raw, "<i2").astype(np.float32) / PCM_SCALE
    elif encoding == PCM and bits == 24:
        bytes3 = np.frombuffer(raw, np.uint8).reshape(-1, 3).astype(np.int32)
        values = bytes3[:, 0] | (bytes3[:, 1] << 8) | (bytes3[:, 2] << 16)
        samples = (np.where(values >= 1 << 23, values - (1 << 24), values) / float(1 << 23)).astype(np.float32)
    elif encoding == PCM and bits == 32:
        samples = (np.frombuffer(raw, "<i4") / 2147483648.0).astype(np.float32)
    elif encoding == IEEE_FLOAT and bits in (32, 64):
        samples = np.frombuffer(raw, "<f4" if bits == 32 else "<f8").astype(np.float32)
    else:
        raise AudioError(
            f"{name} is {bits}-bit audio in WAV format code {encoding}; kerasdl reads PCM "
            "8/16/24/32-bit and 32/64-bit float WAV files."
        )
    samples = samples.reshape(frames, channels).mean(axis=1)
    return np.clip(samples, -1.0, 1.0).astype(np.float32), int(rate)


def resample(samples: np.ndarray, rate: int, target: int) -> np.ndarray:
    """Resamples by linear interpolation, after a windowed-sinc low-pass filter when the
    rate goes down (so frequencies above the new Nyquist limit do not fold back)."""
    if rate == target:
        return samples.astype(np.float32)
    if target < rate:
        cutoff = target / rate / 2  # in cycles per input sample
        taps = 8 * int(np.ceil(rate / target)) + 1
        n = np.arange(taps) - taps // 2
        kernel = 2 * cutoff * np.sinc(2 * cutoff * n) * np.hamming(taps)
        samples = np.convolve(samples, kernel / kernel.sum(), mode="same")
    duration = len(samples) / rate
    count = max(1, int(round(duration * target)))
    positions = np.arange(count) * (rate / target)
    return np.interp(positions, np.arange(len(samples)), samples).astype(np.float32)


def fix_length(samples: np.ndarray, length: int) -> np.ndarray:
    """Exactly `length` samples: the loudest stretch of a longer clip (so a word is
    not cut off by leading silence), or a shorter clip centred in silence."""
    if len(samples) == length:
        return samples.astype(np.float32)
    if len(samples) < length:
        before = (length - len(samples)) // 2
        return np.pad(samples, (before, length - len(samples) - before)).astype(np.float32)
    energy = np.concatenate([[0.0], np.cumsum(samples.astype(np.float64) ** 2)])
    window = energy[length:] - energy[:-length]
    start = int(np.argmax(window))
    return samples[start:start + length].astype(np.float32)
