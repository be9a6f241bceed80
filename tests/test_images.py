"""Every input format users have becomes RGB uint8; everything else gets a clear ImageError."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from fer.images import ImageError, load_rgb


def encode(img: Image.Image, fmt: str, **kwargs) -> bytes:
    buffer = io.BytesIO()
    img.save(buffer, format=fmt, **kwargs)
    return buffer.getvalue()


def test_path_bytes_and_pil_agree(tmp_path, face_photo):
    path = tmp_path / "face.png"
    Image.fromarray(face_photo).save(path)
    from_path = load_rgb(path)
    assert from_path.shape == face_photo.shape and from_path.dtype == np.uint8
    np.testing.assert_array_equal(from_path, face_photo)
    np.testing.assert_array_equal(load_rgb(path.read_bytes()), face_photo)
    np.testing.assert_array_equal(load_rgb(Image.fromarray(face_photo)), face_photo)
    np.testing.assert_array_equal(load_rgb(str(path)), face_photo)


def test_bgr_array_is_swapped(face_photo):
    bgr = face_photo[:, :, ::-1]
    np.testing.assert_array_equal(load_rgb(bgr, assume_bgr=True), face_photo)


def test_grayscale_rgba_and_16_bit():
    gray = np.arange(64, dtype=np.uint8).reshape(8, 8)
    out = load_rgb(gray)
    assert out.shape == (8, 8, 3) and np.array_equal(out[:, :, 0], gray)
    assert load_rgb(gray[:, :, None]).shape == (8, 8, 3)

    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[..., 0] = 200
    rgba[..., 3] = 0  # fully transparent: composited on white
    assert load_rgb(rgba)[0, 0].tolist() == [255, 255, 255]
    rgba[..., 3] = 255
    assert load_rgb(rgba)[0, 0].tolist() == [200, 0, 0]
    png_rgba = encode(Image.fromarray(rgba, "RGBA"), "PNG")
    assert load_rgb(png_rgba)[0, 0].tolist() == [200, 0, 0]

    sixteen = np.full((5, 5), 65535, np.uint16)
    assert load_rgb(sixteen)[0, 0].tolist() == [255, 255, 255]
    png16 = encode(Image.fromarray(np.full((5, 5), 32768, np.uint16)), "PNG")
    assert load_rgb(png16)[0, 0, 0] in (127, 128)


def test_float_array_in_unit_range():
    assert load_rgb(np.ones((3, 3, 3), np.float32))[0, 0].tolist() == [255, 255, 255]


def test_exif_orientation_is_applied():
    wide = np.zeros((10, 20, 3), np.uint8)
    wide[:, :10] = 255  # left half white
    img = Image.fromarray(wide)
    exif = img.getexif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise on display
    out = load_rgb(encode(img, "JPEG", exif=exif.tobytes(), quality=95))
    assert out.shape == (20, 10, 3)
    assert out[:10].mean() > 200 and out[10:].mean() < 50  # white half ends up on top


def test_one_pixel_image():
    assert load_rgb(encode(Image.new("RGB", (1, 1), (1, 2, 3)), "PNG")).shape == (1, 1, 3)


@pytest.mark.parametrize("fmt", ["WEBP", "BMP", "TIFF", "GIF"])
def test_other_formats(fmt):
    data = encode(Image.new("RGB", (16, 12), (10, 200, 30)), fmt)
    assert load_rgb(data).shape == (12, 16, 3)


def test_bad_inputs_raise_clear_errors(tmp_path):
    with pytest.raises(ImageError, match="empty"):
        load_rgb(b"")
    text = tmp_path / "notes.jpg"
    text.write_text("this is not a picture")
    with pytest.raises(ImageError, match="not an image"):
        load_rgb(text)
    good = encode(Image.new("RGB", (64, 64), (120, 30, 30)), "JPEG")
    with pytest.raises(ImageError, match="damaged or truncated"):
        load_rgb(good[: len(good) // 2])
    with pytest.raises(ImageError, match="no such file"):
        load_rgb(tmp_path / "missing.png")
    with pytest.raises(ImageError, match="no pixels"):
        load_rgb(np.zeros((0, 5, 3), np.uint8))
    with pytest.raises(ImageError, match="unsupported input"):
        load_rgb(42)


def test_decompression_bomb_is_refused_before_decoding():
    # A 1-bit 20000x20000 PNG is tiny on disk but 400 megapixels once decoded.
    bomb = encode(Image.new("1", (20000, 20000)), "PNG")
    assert len(bomb) < 200_000
    with pytest.raises(ImageError, match=r"megapixels|too large"):
        load_rgb(bomb)
