"""Turn whatever a user hands us (path, bytes, PIL image, NumPy array) into one RGB uint8 array.

Photos, the classifier and the training loaders work on RGB uint8, so the format zoo is handled once,
here, with a clear `ImageError` for input we cannot use. Video frames arrive in OpenCV's BGR order:
callers say so (`assume_bgr`, `bgr=True`) and they are converted here too.
"""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

# Photos above this many pixels are refused before decoding: a 16k x 16k PNG can expand a few KB of
# upload into gigabytes of memory (a "decompression bomb").
MAX_PIXELS = 64_000_000
# File suffixes we treat as images when walking folders (CLI, dataset loaders).
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif", ".pgm", ".ppm"})

ImageInput = str | os.PathLike | bytes | bytearray | memoryview | Image.Image | np.ndarray


class ImageError(ValueError):
    """The input is not an image we can read; the message says why in user terms."""


def load_rgb(image: ImageInput, *, assume_bgr: bool = False) -> np.ndarray:
    """Return an (H, W, 3) uint8 RGB array for any supported input, at full size.

    `assume_bgr` is for NumPy frames from OpenCV or a webcam, which arrive in BGR order.
    """
    return load_rgb_scaled(image, assume_bgr=assume_bgr)[0]


def load_rgb_scaled(image: ImageInput, *, max_side: int | None = None,
                    assume_bgr: bool = False) -> tuple[np.ndarray, float]:
    """Like `load_rgb`, but an encoded image (path or bytes) whose longer side exceeds `max_side` is
    decoded straight to about that size (a JPEG from its reduced DCT, others reduced right after
    decoding), so a 50-megapixel photo never exists as several full-size copies in memory.
    Returns (rgb, scale): multiply a box on `rgb` by 1 / scale to get the original image's pixels."""
    if isinstance(image, np.ndarray):
        return _array_to_rgb(image, assume_bgr=assume_bgr), 1.0
    if isinstance(image, Image.Image):
        return _pil_to_rgb(image), 1.0
    if isinstance(image, (bytes, bytearray, memoryview)):
        data = bytes(image)
        if not data:
            raise ImageError("the file is empty")
        return _decode(data, max_side)
    if isinstance(image, (str, os.PathLike)):
        path = Path(image)
        if not path.is_file():
            raise ImageError(f"no such file: {path}")
        try:
            data = path.read_bytes()
        except OSError as err:  # e.g. no permission to read it
            raise ImageError(f"cannot read the file ({err.strerror or err})") from err
        if not data:
            raise ImageError(f"the file is empty: {path}")
        return _decode(data, max_side)
    raise ImageError(f"unsupported input type {type(image).__name__}")


def _decode(data: bytes, max_side: int | None) -> tuple[np.ndarray, float]:
    img, scale = _open_pil(io.BytesIO(data), max_side)
    return _pil_to_rgb(img), scale


def _open_pil(stream: io.BytesIO, max_side: int | None = None) -> tuple[Image.Image, float]:
    """The decoded image, reduced to `max_side` when larger, and its width over the file's (taken before
    EXIF orientation may swap the sides)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(stream)
            width, height = img.size
            if width * height > MAX_PIXELS:
                raise ImageError(
                    f"the image is {width}x{height} pixels, more than the {MAX_PIXELS // 1_000_000} "
                    "megapixels we accept"
                )
            if max_side and max(width, height) > max_side:
                factor = max_side / max(width, height)
                img.draft(None, (max(1, round(width * factor)), max(1, round(height * factor))))  # JPEG: 1/2-1/8
                img.thumbnail((max_side, max_side), Image.Resampling.BILINEAR, reducing_gap=None)
            else:
                img.load()
            return img, img.size[0] / width
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        raise ImageError(f"the image is too large to decode safely ({err})") from err
    except UnidentifiedImageError as err:
        raise ImageError("not an image file, or a format we cannot read") from err
    except (OSError, SyntaxError, ValueError) as err:
        raise ImageError(f"the image file is damaged or truncated ({err})") from err


def _pil_to_rgb(img: Image.Image) -> np.ndarray:
    try:
        ImageOps.exif_transpose(img, in_place=True)  # no copy when there is nothing to turn
    except Exception:  # noqa: BLE001 - a broken EXIF block must not lose an otherwise good photo
        pass
    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        return _array_to_rgb(np.asarray(img))
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        img = img.convert("RGBA")
        background = Image.new("RGBA", img.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, img)
    return np.array(img if img.mode == "RGB" else img.convert("RGB"), dtype=np.uint8)


def _array_to_rgb(array: np.ndarray, *, assume_bgr: bool = False) -> np.ndarray:
    if array.size == 0:
        raise ImageError("the image has no pixels")
    array = _to_uint8(array)
    if array.ndim == 2:
        return np.repeat(array[:, :, None], 3, axis=2)
    if array.ndim != 3 or array.shape[2] not in (1, 3, 4):
        raise ImageError(f"expected a (H, W), (H, W, 3) or (H, W, 4) array, got shape {array.shape}")
    if array.shape[2] == 1:
        return np.repeat(array, 3, axis=2)
    if array.shape[2] == 4:
        alpha = array[:, :, 3:4].astype(np.float32) / 255.0
        array = (array[:, :, :3] * alpha + 255.0 * (1.0 - alpha)).round().astype(np.uint8)
    if assume_bgr:
        array = array[:, :, ::-1]
    return np.ascontiguousarray(array)


def _to_uint8(array: np.ndarray) -> np.ndarray:
    if array.dtype == np.uint8:
        return array
    if array.dtype == np.bool_:
        return array.astype(np.uint8) * 255
    if np.issubdtype(array.dtype, np.floating):
        finite = np.nan_to_num(array.astype(np.float32))
        scale = 255.0 if finite.max(initial=0.0) <= 1.0 else 1.0
        return np.clip(finite * scale, 0, 255).round().astype(np.uint8)
    if array.dtype in (np.uint16, np.int32, np.uint32, np.int64) or array.max(initial=0) > 255:
        top = 65535 if array.max(initial=0) > 255 else 255
        return np.clip(array.astype(np.float64) * 255.0 / top, 0, 255).round().astype(np.uint8)
    return np.clip(array, 0, 255).astype(np.uint8)
