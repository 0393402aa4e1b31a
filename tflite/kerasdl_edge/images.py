"""Images with numpy (and Pillow for files): the twin of training's decoding and resize.

`read_image` decodes a file with Pillow; `conform_image` converts channels (grey with
ITU-R 601-2 luma weights, as `tf.image.rgb_to_grayscale`) and resizes with TensorFlow's
antialiased bilinear kernel, reimplemented here, so a device sees the pixels training
saw (tested within 1 level); `write_png` writes a grid of images with zlib only.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from kerasdl_edge.errors import EdgeError


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
