"""Each kerasdl app's inference from raw inputs, with numpy and ai-edge-litert only.

`Predictor` reads what the export's metadata says (app, class names, tokenizer, sample
rate, scaler ...) and turns files or texts into the model's input exactly as training
did, runs the model and describes its outputs:

- vision: image files (Pillow, `pip install kerasdl-edge[images]`) or uint8 arrays
  such as camera frames, converted to the model's channels and resized;
- sentiment: texts, tokenized by `kerasdl_edge.text.Tokenizer`;
- speech: WAV files (`kerasdl_edge.audio.read_wav`), or long recordings scanned for
  commands (`stream`);
- forecast: CSV files whose last rows are the window, z-scored;
- dcgan: noise from a seed (`generate`), images out.

Example:
>>> from kerasdl_edge.tasks import Predictor
>>> predictor = Predictor("saved_models/tflite/vision-1-int8.tflite")  # doctest: +SKIP
>>> predictor.predict(["shoe.png"])[0]["label"]  # doctest: +SKIP
'sneaker'
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

from kerasdl_edge.model import EdgeModel

APPS = ("vision", "sentiment", "speech", "forecast", "dcgan")
MAX_TEXT_FILE_BYTES = 10_000_000


class EdgeError(ValueError):
    """An input or a model the runtime cannot use; the message says why."""


class Predictor:
    """A kerasdl .tflite export with its app's input reading and output description.

    Args:
        model: the .tflite path.
        num_threads: CPU threads for the interpreter.
    """

    def __init__(self, model: str | Path, *, num_threads: int | None = None) -> None:
        path = Path(model)
        if not path.is_file():
            raise EdgeError(f"Model file not found: {path}")
        try:
            self.model = EdgeModel(path, num_threads=num_threads)
        except ValueError as e:
            raise EdgeError(f"Cannot load {path} as a TFLite model: {str(e).splitlines()[0]}") from None
        except OSError as e:
            raise EdgeError(f"Cannot read {path}: {e.strerror}") from None
        self.app = self.model.metadata.get("app")
        if self.app not in APPS or not isinstance(self.model.metadata.get("info"), dict):
            raise EdgeError(f"{path} has no kerasdl metadata naming its app: export it with "
                            "`kerasdl export`.")
        self.info: dict[str, Any] = self.model.metadata["info"]

    # Inputs, per app.
    def read(self, inputs: Sequence[Any]) -> np.ndarray:
        """The model's input batch for `inputs` (what the app reads)."""
        if not inputs:
            raise EdgeError("Nothing to predict: give at least one input.")
        if self.app == "vision":
            return np.stack([self._image(i) for i in inputs])
        if self.app == "sentiment":
            from kerasdl_edge.text import Tokenizer

            return Tokenizer.from_spec(self.info["tokenizer"])([read_text_argument(i) for i in inputs])
        if self.app == "speech":
            from kerasdl_edge.audio import AudioError, read_wav, to_pcm16

            try:
                return to_pcm16(np.stack([read_wav(i, sample_rate=self.info["sample_rate"],
                                                   length=self.info["clip_samples"]) for i in inputs]))
            except AudioError as e:
                raise EdgeError(str(e)) from None
        if self.app == "forecast":
            return np.stack([self._window(i) for i in inputs])
        raise EdgeError("A dcgan generator reads no inputs: use `generate`.")

    def _image(self, source: Any) -> np.ndarray:
        height, width, channels = self.info["image_shape"]
        image = source if isinstance(source, np.ndarray) else read_image(source)
        return conform_image(image, (height, width), channels)

    def _window(self, path: str) -> np.ndarray:
        from kerasdl_edge.series import TableError, read_window

        try:
            return read_window(path, self.info)
        except TableError as e:
            raise EdgeError(str(e)) from None

    # Outputs, per app.
    def predict(self, inputs: Sequence[Any], *, top_k: int = 3) -> list[dict[str, Any]]:
        """One description per input: {"input", "label", "probability", "top"} for
        classifiers, {"input", "forecast": {column: values}} for forecasts."""
        outputs = self.model(self.read(inputs))
        names = [str(i) if not isinstance(i, np.ndarray) else f"array[{n}]" for n, i in enumerate(inputs)]
        if self.app == "forecast":
            targets = self.info["targets"]
            mean = np.asarray(self.info["scaler"]["mean"])[: len(targets)]
            std = np.asarray(self.info["scaler"]["std"])[: len(targets)]
            return [{"input": n, "forecast": {t: [float(v) for v in (row * std + mean)[:, j]]
                                               for j, t in enumerate(targets)}}
                    for n, row in zip(names, outputs)]
        return [{"input": n, **d} for n, d in zip(names, describe_probabilities(
            outputs, self.info["class_names"], top_k=top_k))]

    def stream(self, path: str, **options: Any) -> list[dict[str, Any]]:
        """The commands heard along a long WAV recording (speech), with their times;
        `options` go to `kerasdl_edge.streaming.detect_commands`."""
        if self.app != "speech":
            raise EdgeError(f"{self.app} models have no streaming mode; it is for speech.")
        from kerasdl_edge.audio import AudioError, read_wav
        from kerasdl_edge.streaming import detect_commands

        try:
            samples = read_wav(path, sample_rate=self.info["sample_rate"])
        except AudioError as e:
            raise EdgeError(str(e)) from None
        found = detect_commands(self.model, samples, sample_rate=self.info["sample_rate"],
                                window=self.info["clip_samples"], class_names=self.info["class_names"],
                                **options)
        return [{"input": path, "time": d.time, "label": d.label, "score": d.score} for d in found]

    def generate(self, count: int, seed: int = 0) -> np.ndarray:
        """uint8 images [count, height, width, channels] from a dcgan generator, from the
        same noise `kerasdl generate --seed` draws."""
        if self.app != "dcgan":
            raise EdgeError(f"{self.app} models do not generate images; a dcgan generator does.")
        return to_pixels(self.model(latent_noise(count, int(self.info["latent_dim"]), seed)))


def latent_noise(count: int, latent_dim: int, seed: int) -> np.ndarray:
    """A generator's input: standard normal float32 [count, latent_dim], the same for the
    same seed here and in `kerasdl generate`."""
    return np.random.default_rng(seed).standard_normal((count, latent_dim)).astype(np.float32)


def to_pixels(images: np.ndarray) -> np.ndarray:
    """A generator's float output (pixels 0-255) as uint8."""
    return np.clip(np.round(np.asarray(images)), 0, 255).astype(np.uint8)


def describe_probabilities(outputs: np.ndarray, class_names: Sequence[str], *,
                           top_k: int = 3) -> list[dict[str, Any]]:
    """{"label", "probability", "top": [{"label", "probability"} ...]} per row of class
    probabilities (kerasdl's classifier apps describe theirs with this too)."""
    described = []
    for row in np.asarray(outputs):
        order = np.argsort(row)[::-1][: max(1, top_k)]
        described.append({"label": class_names[order[0]], "probability": float(row[order[0]]),
                          "top": [{"label": class_names[i], "probability": float(row[i])} for i in order]})
    return described


def format_classification(row: dict[str, Any]) -> str:
    """A classified input as one terminal line: source, label, probability, runners-up."""
    source = " ".join(row["input"].split())  # a text input may span lines
    if len(source) > 60:
        source = source[:57] + "..."
    others = ", ".join(f"{t['label']} {t['probability']:.3f}" for t in row["top"][1:])
    return f"{source}: {row['label']} ({row['probability']:.3f})" + (f"  [then {others}]" if others else "")


def read_text_argument(value: str) -> str:
    """The contents of `value` if it names a text file (UTF-8, gzipped if .gz), else
    `value` itself: the same rule as kerasdl's sentiment app (which calls this)."""
    import gzip

    path = Path(value)
    try:
        is_file = len(value) < 4096 and "\n" not in value and path.is_file()
    except OSError:
        is_file = False
    if not is_file:
        return value
    if path.stat().st_size > MAX_TEXT_FILE_BYTES:
        raise EdgeError(f"{path} is over {MAX_TEXT_FILE_BYTES // 1_000_000} MB; expected one text.")
    try:
        raw = path.read_bytes()
        if path.name.lower().endswith(".gz"):
            raw = gzip.decompress(raw)
        return raw.decode("utf-8-sig")
    except (OSError, EOFError, gzip.BadGzipFile) as e:
        raise EdgeError(f"Cannot read {path}: {e}") from None
    except UnicodeDecodeError as e:
        raise EdgeError(f"{path} is not UTF-8 text (byte {e.start}).") from None


def read_image(path: str | Path) -> np.ndarray:
    """An image file as uint8 [height, width, channels] (Pillow decodes it)."""
    try:
        from PIL import Image
    except ImportError:
        raise EdgeError("Reading image files needs Pillow: pip install 'kerasdl-edge[images]' "
                        "(or pass uint8 arrays, such as camera frames).") from None
    try:
        with Image.open(path) as image:
            image.load()
            if image.mode not in ("L", "RGB", "RGBA"):
                image = image.convert("RGBA" if "A" in image.getbands() else "RGB")
            array = np.asarray(image)
    except FileNotFoundError:
        raise EdgeError(f"Image file not found: {path}") from None
    except Exception as e:  # Pillow raises many unrelated types for damaged files (OSError,
        # SyntaxError, ValueError, struct.error, DecompressionBombError ...)
        first = str(e).splitlines()[0] if str(e).strip() else type(e).__name__
        raise EdgeError(f"Cannot read image {path}: {first}") from None
    return array[..., None] if array.ndim == 2 else array


def conform_image(image: np.ndarray, size: tuple[int, int], channels: int) -> np.ndarray:
    """The twin of kerasdl.data.images.conform_image: channels converted (grey with
    ITU-R 601-2 luma weights, as `tf.image.rgb_to_grayscale`), then resized with an
    antialiased bilinear filter (as `tf.image.resize(..., antialias=True)`) and rounded."""
    image = np.asarray(image)
    if image.ndim == 2:
        image = image[..., None]
    if image.ndim != 3:
        raise EdgeError(f"An image must be [height, width, channels]; received shape {image.shape}.")
    have = image.shape[-1]
    if have != channels:
        if have == 1 and channels == 3:
            image = np.repeat(image, 3, axis=-1)
        elif have in (3, 4) and channels == 1:
            grey = image[..., :3].astype(np.float32) @ np.array([0.2989, 0.587, 0.114], np.float32)
            image = np.round(grey)[..., None]
        elif have == 4 and channels == 3:
            image = image[..., :3]
        else:
            raise EdgeError(f"Cannot convert a {have}-channel image to {channels} channels.")
    if image.shape[:2] != tuple(size):
        image = resize_bilinear_antialias(image.astype(np.float32), size)
    return np.clip(np.round(image), 0, 255).astype(np.uint8)


def _resize_weights(source: int, target: int) -> np.ndarray:
    """[target, source] weights of TensorFlow's antialiased bilinear (triangle) kernel:
    widened by the scale when shrinking, normalized per output pixel."""
    scale = target / source
    support = 1.0 / scale if scale < 1.0 else 1.0
    centers = (np.arange(target) + 0.5) / scale
    positions = np.arange(source) + 0.5
    weights = np.maximum(0.0, 1.0 - np.abs(positions[None, :] - centers[:, None]) / support)
    totals = weights.sum(axis=1, keepdims=True)
    return weights / np.where(totals > 0, totals, 1.0)


def resize_bilinear_antialias(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    rows = _resize_weights(image.shape[0], size[0])
    columns = _resize_weights(image.shape[1], size[1])
    return np.einsum("ih,hwc,jw->ijc", rows, image, columns)


def write_png(path: str | Path, images: np.ndarray, *, columns: int | None = None, scale: int = 2) -> Path:
    """Writes uint8 images [n, height, width, channels] as one PNG grid (zlib only)."""
    import struct
    import zlib

    images = np.asarray(images, np.uint8)
    count, height, width, channels = images.shape
    columns = columns or int(np.ceil(np.sqrt(count)))
    rows = int(np.ceil(count / columns))
    grid = np.zeros((rows * height, columns * width, channels), np.uint8)
    for i, image in enumerate(images):
        r, c = divmod(i, columns)
        grid[r * height:(r + 1) * height, c * width:(c + 1) * width] = image
    grid = grid.repeat(scale, axis=0).repeat(scale, axis=1)
    colour_type = {1: 0, 3: 2}[channels]
    raw = b"".join(b"\x00" + row.tobytes() for row in grid)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", grid.shape[1], grid.shape[0], 8, colour_type, 0, 0, 0)
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")
    out = Path(path)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_bytes(png)
    tmp.replace(out)
    return out
