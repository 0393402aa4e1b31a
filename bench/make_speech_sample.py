"""Rebuilds the speech app's bundled sample from ../shared/data/fsdd.

The sample is a subset of the Free Spoken Digit Dataset, copied byte for byte: for all
6 speakers and 10 digits, recordings 5-7 as training clips and recording 0 as test
clips (the data set's documented split keeps recordings 0-4 for testing), in class
folders named after the spoken word. `examples/` holds three more test recordings (not
among the sample's) and one longer recording, three test clips joined by silence, for
`kerasdl predict --stream`.

    python bench/make_speech_sample.py
"""

from __future__ import annotations

import io
import shutil
import sys
import tarfile
import wave
from pathlib import Path

import numpy as np

from common import SHARED_DATA, require

TARGET = Path(__file__).resolve().parents[1] / "apps" / "speech" / "sample"
WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
SPLITS = {"train": (5, 6, 7), "test": (0,)}
EXAMPLE_SPEAKER, EXAMPLE_INDEX, EXAMPLE_DIGITS = "george", 1, (2, 5, 7)
STREAM = (("jackson", 3, 2), ("jackson", 1, 2), ("jackson", 4, 2))  # digit, index
GAP_SECONDS = 0.6
RATE = 8000


def main() -> int:
    source = require(SHARED_DATA / "fsdd" / "fsdd.tar.gz")
    if TARGET.exists():
        for child in ("train", "test", "examples"):
            shutil.rmtree(TARGET / child, ignore_errors=True)
    files: dict[str, bytes] = {}
    with tarfile.open(source) as archive:
        for member in archive.getmembers():
            if member.isfile() and member.name.endswith(".wav") and "/recordings/" in member.name:
                files[Path(member.name).name] = archive.extractfile(member).read()
    count = 0
    for name, content in sorted(files.items()):
        digit, speaker, index = name[:-4].split("_")
        for split, indices in SPLITS.items():
            if int(index) in indices:
                folder = TARGET / split / WORDS[int(digit)]
                folder.mkdir(parents=True, exist_ok=True)
                (folder / name).write_bytes(content)
                count += 1
    examples = TARGET / "examples"
    examples.mkdir(parents=True, exist_ok=True)
    for digit in EXAMPLE_DIGITS:
        word = WORDS[digit]
        name = f"{digit}_{EXAMPLE_SPEAKER}_{EXAMPLE_INDEX}.wav"
        (examples / f"{word}.wav").write_bytes(files[name])
    pieces = [np.zeros(int(GAP_SECONDS * RATE), np.int16)]
    spoken = []
    for speaker, digit, index in STREAM:
        with wave.open(io.BytesIO(files[f"{digit}_{speaker}_{index}.wav"])) as clip:
            assert clip.getframerate() == RATE and clip.getsampwidth() == 2
            pieces += [np.frombuffer(clip.readframes(clip.getnframes()), "<i2"),
                       np.zeros(int(GAP_SECONDS * RATE), np.int16)]
        spoken.append(WORDS[digit])
    with wave.open(str(examples / f"stream-{'-'.join(spoken)}.wav"), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(np.concatenate(pieces).tobytes())
    size = sum(p.stat().st_size for p in TARGET.rglob("*") if p.is_file())
    print(f"Wrote {count} clips and {len(EXAMPLE_DIGITS) + 1} examples to {TARGET} ({size / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
