"""Audio classification sources: tfds names and folders of WAV files.

Every source yields the same thing: unbatched `(int16 clip [samples], int32 label)`
pairs of one length at one sample rate, and the class names. Clips are int16 PCM, what
a microphone gives, so the model's first layer scales them (one definition everywhere)
and a dataset in memory takes half the room of float32.

Folder layouts read (WAV files at any rate, length and channel count):
- class sub-folders (`yes/a.wav`, `no/b.wav`), optionally under train/, validation/,
  test/;
- Google Speech Commands' own layout: class folders plus `validation_list.txt` and
  `testing_list.txt` naming the held-out files; `_background_noise_/` holds noise
  for augmentation, not a class;
- one folder of `LABEL_SPEAKER_INDEX.wav` files (the Free Spoken Digit Dataset), whose
  documented split puts indices 0-4 in test.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from kerasdl.data.splits import LabelledSplits, encode_labels, hold_out, split_folders
from kerasdl.errors import DataError
from kerasdl_edge.audio import PCM_SCALE, to_pcm16  # noqa: F401 - one definition, shared with the edge runtime

if TYPE_CHECKING:
    import tensorflow as tf

logger = logging.getLogger(__name__)

NOISE_FOLDER = "_background_noise_"
SPLIT_LISTS = {"validation": "validation_list.txt", "test": "testing_list.txt"}
OTHER_AUDIO = (".mp3", ".flac", ".ogg", ".m4a", ".aac", ".opus", ".aiff", ".aif")
SPEAKER_INDEX_NAME = re.compile(r"^(?P<label>[^_]+)_(?P<speaker>[^_]+)_(?P<index>\d+)\.wav$", re.I)
# The Free Spoken Digit Dataset's documented split: recordings 0-4 of each speaker and
# digit are the test set.
SPEAKER_INDEX_TEST_BELOW = 5
SPLITS = ("train", "validation", "test")


@dataclass
class AudioDatasets(LabelledSplits):
    """Splits of `(int16 clip, int32 label)` pairs."""

    sample_rate: int
    clip_samples: int
    # Background noise recordings for augmentation (Speech Commands'
    # `_background_noise_`), if the data set has them; `read_noise` loads them.
    noise_files: list[str] = field(default_factory=list)

    def info(self) -> dict[str, Any]:
        return {**super().info(), "sample_rate": self.sample_rate,
                "clip_samples": self.clip_samples, "noise_files": self.noise_files}


def load_audio_datasets(
    dataset: str | None,
    *,
    sample_dir: str | Path,
    sample_rate: int | None,
    clip_seconds: float,
    validation_split: float = 0.1,
    seed: int = 42,
) -> AudioDatasets:
    """Loads an audio classification data set from any supported source.

    Args:
        dataset: None for the bundled sample in `sample_dir`; a folder (see the module
            docstring); `tfds:NAME` or a bare tfds name such as "speech_commands".
        sample_dir: the app's bundled sample (a folder of WAV class folders).
        sample_rate: the rate every clip is resampled to; None takes the training
            files' most common rate.
        clip_seconds: clip length: longer recordings keep their loudest part, shorter
            ones are padded with silence.
        validation_split: fraction of train held out when there is no validation split.
        seed: seed of the train / validation split.

    Raises:
        DataError: for a missing, empty or unreadable source, or a file that is not
            usable audio.

    Example:
    >>> from kerasdl.data.audio import load_audio_datasets
    >>> data = load_audio_datasets("commands/", sample_dir=".", sample_rate=16000,
    ...                            clip_seconds=1.0)  # doctest: +SKIP
    >>> data.class_names  # doctest: +SKIP
    ['no', 'yes']
    """
    if dataset is None:
        return _from_folder(Path(sample_dir), sample_rate, clip_seconds, validation_split, seed)
    if dataset.startswith("tfds:"):
        return _from_tfds(dataset[5:], sample_rate, clip_seconds, validation_split)
    path = Path(dataset).expanduser()
    if path.is_dir():
        return _from_folder(path, sample_rate, clip_seconds, validation_split, seed)
    if path.is_file():
        raise DataError(
            f"{path} is a file; expected a folder of WAV files (class sub-folders, or "
            "LABEL_SPEAKER_INDEX.wav files) or a tfds name such as speech_commands."
        )
    if "/" in dataset or dataset.startswith("."):
        raise DataError(f"No such folder: {path}")
    return _from_tfds(dataset, sample_rate, clip_seconds, validation_split)


# ---- folders ---------------------------------------------------------------------------------


@dataclass
class _Split:
    files: list[Path]
    labels: list[str]


def _wav_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() == ".wav")


def _no_wav_error(folder: Path) -> DataError:
    others = sorted({p.suffix.lower() for p in folder.rglob("*") if p.suffix.lower() in OTHER_AUDIO})
    if others:
        return DataError(
            f"{folder} holds {', '.join(others)} files but no .wav files; kerasdl reads WAV. "
            "Convert them first, e.g. ffmpeg -i in.mp3 out.wav."
        )
    return DataError(f"{folder} holds no .wav files.")


def _class_folders(root: Path) -> _Split:
    classes = sorted(p.name for p in root.iterdir()
                     if p.is_dir() and not p.name.startswith((".", "_")))
    if not classes:
        raise DataError(
            f"No class sub-folders under {root}. Expected one sub-folder of WAV files per "
            f"class, e.g. {root}/yes/0001.wav and {root}/no/0002.wav, or files named "
            "LABEL_SPEAKER_INDEX.wav."
        )
    files: list[Path] = []
    labels: list[str] = []
    for name in classes:
        found = _wav_files(root / name)
        if not found:
            raise _no_wav_error(root / name)
        files += found
        labels += [name] * len(found)
    return _Split(files, labels)


def _from_folder(
    root: Path, sample_rate: int | None, clip_seconds: float, validation_split: float, seed: int,
) -> AudioDatasets:
    if not root.is_dir():
        raise DataError(f"No such folder: {root}")
    split_dirs = split_folders(root)
    lists = {split: root / name for split, name in SPLIT_LISTS.items() if (root / name).is_file()}
    noise_files = _wav_files(root / NOISE_FOLDER) if (root / NOISE_FOLDER).is_dir() else []
    flat = sorted(p for p in root.iterdir() if p.is_file() and p.suffix.lower() == ".wav")
    if "train" in split_dirs:
        splits = {split: _class_folders(folder) for split, folder in split_dirs.items()}
        layout = "folder"
    elif flat and all(SPEAKER_INDEX_NAME.match(p.name) for p in flat):
        splits = _speaker_index_split(flat)
        layout = "label_speaker_index"
    elif flat:
        raise DataError(
            f"{root} holds WAV files directly ({flat[0].name}, ...) but they are not named "
            "LABEL_SPEAKER_INDEX.wav; put each class's files in a sub-folder named after it."
        )
    else:
        everything = _class_folders(root)
        splits = _split_by_lists(root, everything, lists) if lists else {"train": everything}
        layout = "speech_commands" if lists else "folder"
    return _finish(splits, noise_files, f"{layout}:{root}", sample_rate, clip_seconds,
                   validation_split, seed)


def _speaker_index_split(files: list[Path]) -> dict[str, _Split]:
    splits = {"train": _Split([], []), "test": _Split([], [])}
    for path in files:
        match = SPEAKER_INDEX_NAME.match(path.name)
        assert match is not None
        split = "test" if int(match["index"]) < SPEAKER_INDEX_TEST_BELOW else "train"
        splits[split].files.append(path)
        splits[split].labels.append(match["label"])
    if not splits["train"].files:
        raise DataError(
            f"{files[0].parent}: every LABEL_SPEAKER_INDEX.wav file has an index below "
            f"{SPEAKER_INDEX_TEST_BELOW}, which the layout's split keeps for testing; no "
            "training files are left."
        )
    if not splits["test"].files:
        del splits["test"]
    return splits


def _split_by_lists(root: Path, everything: _Split, lists: dict[str, Path]) -> dict[str, _Split]:
    held_out: dict[str, str] = {}
    for split, path in lists.items():
        try:
            names = path.read_text(encoding="utf-8").split()
        except (OSError, UnicodeDecodeError) as e:
            raise DataError(f"Cannot read {path}: {e}") from None
        held_out.update({name.replace("\\", "/"): split for name in names})
    splits = {s: _Split([], []) for s in ("train", *lists)}
    for path, label in zip(everything.files, everything.labels):
        split = held_out.get(path.relative_to(root).as_posix(), "train")
        splits[split].files.append(path)
        splits[split].labels.append(label)
    return {s: data for s, data in splits.items() if data.files or s == "train"}


def _read_clips(files: list[Path], sample_rate: int, clip_samples: int) -> tuple[np.ndarray, np.ndarray]:
    """(int16 clips, which files they are): clips under `MIN_CLIP_FRACTION` of the
    window are left out with a warning naming them (a truncated file would be a
    silent example with a word's label)."""
    from kerasdl_edge.audio import AudioError, ShortClipError, check_clip_length, decode_wav, fix_length, resample

    clips = np.zeros((len(files), clip_samples), np.int16)
    kept = np.ones(len(files), bool)
    short = []
    for i, path in enumerate(files):
        try:
            samples, rate = decode_wav(path.read_bytes(), name=str(path))
            check_clip_length(len(samples), rate, clip_samples / sample_rate, str(path))
        except ShortClipError as e:
            kept[i] = False
            short.append(str(e))
            continue
        except AudioError as e:
            raise DataError(str(e)) from None
        except OSError as e:
            raise DataError(f"Cannot read {path}: {e.strerror}") from None
        clips[i] = to_pcm16(fix_length(resample(samples, rate, sample_rate), clip_samples))
    if short:
        logger.warning("Left out %d clip%s too short to hold a word: %s", len(short),
                       "s" if len(short) > 1 else "", "; ".join(short[:5]) + (" ..." if len(short) > 5 else ""))
    return clips[kept], kept


def _most_common_rate(files: list[Path]) -> int:
    from kerasdl_edge.audio import AudioError, decode_wav

    rates: Counter[int] = Counter()
    for path in files[:: max(1, len(files) // 50)]:  # a sample of headers is enough
        try:
            rates[decode_wav(path.read_bytes(), name=str(path))[1]] += 1
        except AudioError as e:
            raise DataError(str(e)) from None
        except OSError as e:
            raise DataError(f"Cannot read {path}: {e.strerror}") from None
    return rates.most_common(1)[0][0]


def _finish(
    splits: dict[str, _Split], noise_files: list[Path], source: str, sample_rate: int | None,
    clip_seconds: float, validation_split: float, seed: int,
) -> AudioDatasets:
    import tensorflow as tf

    where = source.split(":", 1)[1]
    class_names, label_ids = encode_labels({s: data.labels for s, data in splits.items()}, where)
    rate = sample_rate or _most_common_rate(splits["train"].files)
    clip_samples = int(round(clip_seconds * rate))
    arrays: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for split, data in splits.items():
        logger.info("Reading %d %s clips from %s", len(data.files), split, where)
        clips, kept = _read_clips(data.files, rate, clip_samples)
        arrays[split] = (clips, label_ids[split][kept])
    if "validation" not in arrays:
        arrays["train"], arrays["validation"] = hold_out(*arrays["train"], validation_split, seed)

    def to_dataset(split: str) -> "tf.data.Dataset | None":
        if split not in arrays:
            return None
        return tf.data.Dataset.from_tensor_slices(arrays[split])

    return AudioDatasets(
        train=to_dataset("train"), validation=to_dataset("validation"), test=to_dataset("test"),
        class_names=class_names,
        sizes={split: len(arrays[split][0]) if split in arrays else 0 for split in SPLITS},
        source=source, sample_rate=rate, clip_samples=clip_samples,
        noise_files=[str(p) for p in noise_files],
    )


# ---- tfds ------------------------------------------------------------------------------------


def _from_tfds(name: str, sample_rate: int | None, clip_seconds: float, validation_split: float) -> AudioDatasets:
    import tensorflow as tf

    from kerasdl.data.tfds_source import prepare_tfds, split_sizes, three_way_split

    builder = prepare_tfds(name)
    features = builder.info.features
    if "audio" not in features or "label" not in features:
        raise DataError(
            f"tfds data set '{name}' has no 'audio' and 'label' features; it is not an audio "
            "classification data set."
        )
    rate = int(getattr(features["audio"], "sample_rate", None) or 16000)
    if sample_rate is not None and sample_rate != rate:
        raise DataError(
            f"tfds data set '{name}' is recorded at {rate} Hz; set sample_rate={rate} (kerasdl "
            "resamples WAV folders, not tfds audio)."
        )
    clip_samples = int(round(clip_seconds * rate))
    splits = three_way_split(set(builder.info.splits.keys()), validation_split)

    def prepare(audio: tf.Tensor, label: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        audio = tf.cast(tf.clip_by_value(tf.cast(audio, tf.int32), -32768, 32767), tf.int16)
        return fix_length_tf(audio, clip_samples), tf.cast(label, tf.int32)

    datasets = {
        ours: builder.as_dataset(split=theirs, as_supervised=True).map(
            prepare, num_parallel_calls=tf.data.AUTOTUNE)
        for ours, theirs in splits.items() if theirs is not None
    }
    sizes = split_sizes(builder, splits)
    return AudioDatasets(
        train=datasets["train"], validation=datasets["validation"], test=datasets.get("test"),
        class_names=list(features["label"].names), sizes=sizes, source=f"tfds:{name}",
        sample_rate=rate, clip_samples=clip_samples,
    )


def fix_length_tf(clip: "tf.Tensor", length: int) -> "tf.Tensor":
    """`kerasdl_edge.audio.fix_length` in TensorFlow: the loudest `length` samples of a
    longer clip, or a shorter one centred in silence."""
    import tensorflow as tf

    size = tf.shape(clip)[0]

    def pad() -> tf.Tensor:
        before = (length - size) // 2
        return tf.pad(clip, [[before, length - size - before]])

    def crop() -> tf.Tensor:
        energy = tf.concat([[0.0], tf.cumsum(tf.square(tf.cast(clip, tf.float32) / PCM_SCALE))], 0)
        start = tf.argmax(energy[length:] - energy[:-length], output_type=tf.int32)
        return clip[start:start + length]

    return tf.ensure_shape(tf.cond(size <= length, pad, crop), [length])


def read_noise(files: list[str], sample_rate: int) -> list[np.ndarray]:
    """Background noise recordings as int16 at `sample_rate`."""
    from kerasdl_edge.audio import AudioError, decode_wav, resample

    noise = []
    for path in files:
        try:
            samples, rate = decode_wav(Path(path).read_bytes(), name=path)
        except AudioError as e:
            raise DataError(str(e)) from None
        except OSError as e:
            raise DataError(f"Cannot read background noise {path}: {e.strerror}") from None
        noise.append(to_pcm16(resample(samples, rate, sample_rate)))
    return noise


# ---- augmentation ----------------------------------------------------------------------------


def waveform_augmentation(
    *, noise: list[np.ndarray], max_shift: int, min_snr_db: float, noise_probability: float,
    seed: int,
) -> Any:
    """A tf.data batch function: random time shift (zero-filled) and background noise
    mixed in at a random signal-to-noise ratio.

    Args:
        noise: background recordings (int16) to take random stretches from; white noise
            when empty.
        max_shift: the largest shift in samples, either way.
        min_snr_db: the noisiest mix: each clip's SNR is drawn from [min_snr_db,
            min_snr_db + 30] dB, relative to the clip's own level (quiet recordings
            get quiet noise).
        noise_probability: fraction of clips that get noise.
        seed: seed of the random choices.
    """
    import tensorflow as tf

    generator = tf.random.Generator.from_seed(seed)
    noise_bank = None
    if noise:
        noise_bank = tf.constant(np.concatenate(noise).astype(np.float32) / PCM_SCALE)
    elif noise_probability > 0:
        logger.info("The data set has no background noise recordings: mixing in white noise.")

    def rms(x: tf.Tensor) -> tf.Tensor:
        return tf.sqrt(tf.reduce_mean(tf.square(x), axis=1, keepdims=True) + 1e-12)

    def augment(clips: tf.Tensor, labels: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        x = tf.cast(clips, tf.float32) / PCM_SCALE
        batch, length = tf.shape(x)[0], tf.shape(x)[1]
        if max_shift > 0:
            shifts = generator.uniform([batch], -max_shift, max_shift + 1, dtype=tf.int32)
            positions = tf.range(length)[None, :] - shifts[:, None]
            inside = (positions >= 0) & (positions < length)
            shifted = tf.gather(x, tf.clip_by_value(positions, 0, length - 1), batch_dims=1)
            x = tf.where(inside, shifted, 0.0)
        if noise_probability > 0:
            if noise_bank is not None:
                bank_size = tf.shape(noise_bank)[0]
                starts = generator.uniform([batch], 0, tf.maximum(1, bank_size - length), dtype=tf.int32)
                background = tf.gather(noise_bank, tf.minimum(
                    starts[:, None] + tf.range(length)[None, :], bank_size - 1))
            else:
                background = generator.normal([batch, length])
            snr_db = generator.uniform([batch, 1], min_snr_db, min_snr_db + 30.0)
            volume = rms(x) / rms(background) * tf.pow(10.0, -snr_db / 20.0)
            volume *= tf.cast(generator.uniform([batch, 1]) < noise_probability, tf.float32)
            x = x + volume * background
        pcm = tf.clip_by_value(tf.round(x * PCM_SCALE), -32768.0, 32767.0)
        return tf.cast(pcm, tf.int16), labels

    return augment
