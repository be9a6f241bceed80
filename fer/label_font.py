"""The font every face label is drawn in, by the server and by the browser engine alike.

It is Aileron Regular (CC0), the TrueType font Pillow ships inside itself (`ImageFont.load_default`), so
nothing is downloaded and the browser engine's bundle carries the very same file (written there by
app_pages/browser_live/build.py). Text is measured from one table of advance widths taken from that font,
so both engines size and place every tag to the same pixel; each only rasterises the glyphs itself.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFont

FAMILY = "Aileron"
_MEASURED_PX = 1000  # metrics are read at this size and kept per pixel of font size
_TALLEST = "#%0Hdhkl|"  # characters whose ink reaches highest above the baseline
_FALLBACK = "n"  # a character the table lacks is as wide as this one


@functools.cache
def font_bytes() -> bytes:
    """The TrueType file itself (about 20 KB): what the browser engine loads as a web font."""
    return ImageFont.load_default(_MEASURED_PX).font_bytes


@functools.lru_cache(maxsize=64)
def font(px: int) -> ImageFont.FreeTypeFont:
    return ImageFont.load_default(px)


@dataclass(frozen=True)
class FontMetrics:
    """Per pixel of font size: each printable ASCII character's advance, and where a line's text sits: its
    ink from `top` above the baseline to `descent` below it (so `height` = top + descent)."""

    advances: dict[str, float]
    top: float
    descent: float

    @property
    def height(self) -> float:
        return self.top + self.descent


@functools.cache
def metrics() -> FontMetrics:
    measured = font(_MEASURED_PX)
    advances = {chr(c): measured.getlength(chr(c)) / _MEASURED_PX for c in range(32, 127)}
    top = -measured.getbbox(_TALLEST, anchor="ls")[1] / _MEASURED_PX
    descent = measured.getmetrics()[1] / _MEASURED_PX
    return FontMetrics(advances, top, descent)


def text_width(text: str, px: float) -> float:
    """How wide `text` is at `px`, in pixels: the sum of its characters' advances (no kerning, so the browser
    engine's copy of this sum gives the same figure)."""
    advances = metrics().advances
    fallback = advances[_FALLBACK]
    total = 0.0
    for character in text:
        total += advances.get(character, fallback)
    return total * px


def round_half_up(value: float) -> int:
    """Rounding as JavaScript's Math.floor(value + 0.5): Python's round() takes halves to even, and the two
    engines must agree on every pixel."""
    return math.floor(value + 0.5)


def browser_font() -> dict:
    """What the browser engine needs to measure text as `text_width` does and to place its baseline."""
    table = metrics()
    return {"family": FAMILY, "advances": table.advances, "fallback": _FALLBACK, "top": table.top,
            "descent": table.descent}


@functools.lru_cache(maxsize=512)
def _coverage(text: str, px: int) -> tuple[np.ndarray, int, int] | None:
    """How much ink covers each pixel of `text` (0-1), and where that patch starts from the text's origin on
    the baseline. Kept for the labels a video repeats frame after frame."""
    face = font(px)
    x0, y0, x1, y1 = face.getbbox(text, anchor="ls")
    if x1 <= x0 or y1 <= y0:
        return None
    mask = Image.new("L", (x1 - x0, y1 - y0), 0)
    ImageDraw.Draw(mask).text((-x0, -y0), text, fill=255, font=face, anchor="ls")
    alpha = np.asarray(mask, np.float32)[:, :, None] / 255.0
    alpha.flags.writeable = False
    return alpha, x0, y0


def draw_text(canvas: np.ndarray, text: str, left: int, baseline: int, px: int, ink: tuple[int, int, int]) -> None:
    """Draw `text` in place on an RGB or BGR uint8 image (`ink` in the image's channel order), its baseline at
    row `baseline`; the ink is blended, so edges are smooth, and whatever falls outside the image is cut."""
    coverage = _coverage(text, px)
    if coverage is None:
        return
    alpha, x0, y0 = coverage
    left, top = left + x0, baseline + y0
    height, width = canvas.shape[:2]
    cx0, cy0, cx1, cy1 = max(0, left), max(0, top), min(width, left + alpha.shape[1]), min(height, top + alpha.shape[0])
    if cx1 <= cx0 or cy1 <= cy0:
        return
    alpha = alpha[cy0 - top : cy1 - top, cx0 - left : cx1 - left]
    region = canvas[cy0:cy1, cx0:cx1]
    region[...] = (region * (1.0 - alpha) + np.asarray(ink, np.float32) * alpha + 0.5).astype(np.uint8)
