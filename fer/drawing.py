"""Draw results onto an image: a box per face, its label and score on a solid tag, optional bars.

Sizes follow the image (a 4000 px photo and a 320 px webcam frame both read well) and text sits on
a filled tag, so it stays readable on any background. The browser engine draws the same tags in the same
places (app_pages/browser_live/frontend/src/draw.js): `browser_drawing_rules` sends it every size, colour
and the font's metrics, and its layout is this module's, step for step (tests/test_engine_parity.py).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import cv2
import numpy as np

from fer.detection import Rect, overlap_area
from fer.label_font import browser_font, draw_text, metrics, round_half_up, text_width
from fer.recognizer import FaceResult

# One colour per emotion (RGB); other class names get a stable colour from the palette.
EMOTION_COLORS = {
    "angry": (230, 57, 70),
    "disgust": (106, 153, 78),
    "fear": (155, 93, 229),
    "happy": (255, 183, 3),
    "neutral": (141, 153, 174),
    "sad": (33, 118, 255),
    "surprise": (255, 112, 166),
}
_PALETTE = [(230, 57, 70), (42, 157, 143), (233, 196, 106), (38, 70, 83), (244, 162, 97), (131, 56, 236)]


@dataclass(frozen=True)
class LabelSizes:
    """Sizes in pixels for an image whose shorter side is 480 px; larger images scale them up."""

    text_px: float = 16.0  # a tag's text
    min_text_px: int = 10  # the smallest label text that stays readable
    min_number_px: int = 8  # a face's number alone may go a little smaller, on the tiniest faces
    tag_width_per_face: float = 1.5  # a tag may be this many times as wide as its face, no wider
    box_line: float = 2.0  # the box around a face
    bar_text_px: float = 12.0  # the probability bars' class names
    min_bar_text_px: int = 8
    fps_text_px: float = 14.0  # the processing rate in the corner


SIZES = LabelSizes()


def color_for(label: str) -> tuple[int, int, int]:
    if label in EMOTION_COLORS:
        return EMOTION_COLORS[label]
    return _PALETTE[sum(map(ord, label)) % len(_PALETTE)]


def ink_for(color: tuple[int, int, int]) -> tuple[int, int, int]:
    """Black or white text, whichever reads better on `color`."""
    return (0, 0, 0) if sum(color) > 382 else (255, 255, 255)


def browser_drawing_rules() -> dict:
    """Everything the browser engine's draw.js needs to draw as `draw_results` does, as JSON."""
    return {"sizes": asdict(SIZES), "colors": EMOTION_COLORS, "palette": _PALETTE, "font": browser_font()}


def face_tag(face: FaceResult, number: int | None = None) -> str:
    """The text on a face's tag, e.g. "#2 happy 87%": the number matches the face's chart and table row."""
    text = f"{face.label} {face.score:.0%}"
    return f"#{number} {text}" if number is not None else text


def image_unit(height: int, width: int) -> float:
    """1 for an image whose shorter side is 480 px, growing with larger images (smaller ones stay at 1)."""
    return max(1.0, min(height, width) / 480.0)


def draw_results(
    image: np.ndarray,
    results: Sequence[FaceResult],
    *,
    bgr: bool = False,
    show_probabilities: bool = False,
    numbered: bool = False,
    labels: Sequence[str] | None = None,
) -> np.ndarray:
    """Return a copy of `image` (RGB, or BGR with `bgr=True`) with the results drawn on it.
    `numbered` starts each tag with the face's number, #1 for the first result, to match a chart or a
    table row; `labels` replaces each tag's text altogether. Tags are laid out by `layout_tags`."""
    canvas = np.ascontiguousarray(image.copy())
    height, width = canvas.shape[:2]
    unit = image_unit(height, width)
    thickness = max(1, round_half_up(SIZES.box_line * unit))
    colors = [color_for(face.label) for face in results]
    for face, color in zip(results, colors):
        box = face.box
        cv2.rectangle(canvas, (box.x, box.y), (box.x + box.w, box.y + box.h), _channels(color, bgr), thickness,
                      cv2.LINE_AA)
    texts = list(labels) if labels is not None else [face_tag(f, i + 1 if numbered else None)
                                                     for i, f in enumerate(results)]
    shorts = [short_tag(text) for text in texts]
    tags = layout_tags(canvas.shape, [f.box for f in results], texts, shorts)
    for tag, color in zip(tags, colors):
        _draw_tag(canvas, tag, color, bgr)
    if show_probabilities:
        obstacles = [tag.rect for tag in tags]
        for i, face in enumerate(results):
            others = [other.box.corners() for j, other in enumerate(results) if j != i]
            panel = _bars(canvas, face, bgr, obstacles + others)
            if panel:
                obstacles.append(panel)
    return canvas


def short_tag(text: str) -> str:
    """What a tag says on a face too small for its whole text: "#2" of "#2 happy 87%" (the table has the rest)."""
    return text.split(" ")[0] if text.startswith("#") else text


def _channels(color: tuple[int, int, int], bgr: bool) -> tuple[int, int, int]:
    return color[::-1] if bgr else color


@dataclass(frozen=True)
class Tag:
    """A face's label as drawn: its text, font size in pixels and rectangle (x0, y0, x1, y1), inside the image."""

    text: str
    px: int
    rect: Rect

    def overlap(self, other: Rect) -> int:
        return overlap_area(self.rect, other)


def layout_tags(shape: tuple[int, ...], boxes: Sequence, texts: Sequence[str],
                short_texts: Sequence[str]) -> list[Tag]:
    """Where each face's tag goes, so that a group photo stays readable: each tag is scaled to its face
    (at most `tag_width_per_face` times its width; a face too small for its text gets the short text,
    its number, with the label left to the table), lies inside the image, and sits above, below or
    inside its box wherever it covers no tag placed before it (and, if it can, no other face)."""
    height, width = shape[:2]
    base_px = SIZES.text_px * image_unit(height, width)
    placed: list[Tag] = []
    for i, (box, text, short) in enumerate(zip(boxes, texts, short_texts)):
        faces = [b.corners() for j, b in enumerate(boxes) if j != i]
        full_px = _fitted_px(text, SIZES.tag_width_per_face * box.w, base_px)
        candidates = _candidates(box, text, full_px, width, height) if full_px >= SIZES.min_text_px else []
        if short != text or not candidates:  # the number alone, no wider than the face (tiny faces: smaller text)
            short_px = max(SIZES.min_number_px, _fitted_px(short, max(box.w, 1), base_px))
            candidates += _candidates(box, short, short_px, width, height)
        costs = [(sum(tag.overlap(p.rect) for p in placed), sum(tag.overlap(f) for f in faces)) for tag in candidates]
        # The first place that covers no tag (and, among those, no face); if every place covers a tag, the
        # one that covers the least.
        best = min(range(len(candidates)), key=lambda k: (costs[k][0], costs[k][0] == 0 and costs[k][1] > 0, k))
        placed.append(candidates[best])
    return placed


def tag_padding(px: int) -> int:
    return max(2, round_half_up(px / 5))


def _fitted_px(text: str, max_width: float, base_px: float) -> int:
    """The font size at which `text`'s tag is at most about `max_width` pixels wide, and no larger than the
    image's own size."""
    return math.floor(min(base_px, base_px * max_width / max(1.0, text_width(text, base_px) + 6)))


def _candidates(box, text: str, px: int, width: int, height: int) -> list[Tag]:
    """The places a tag may take, best first: above the box, below it, inside its top, inside its bottom;
    each left-aligned with the box, then right-aligned; all moved inside the image."""
    pad = tag_padding(px)
    tag_w = math.ceil(text_width(text, px)) + 2 * pad
    tag_h = round_half_up(metrics().height * px) + 2 * pad
    tops = (box.y - tag_h, box.y + box.h, box.y, box.y + box.h - tag_h)
    lefts = (box.x, box.x + box.w - tag_w)
    tags = []
    for top in tops:
        for left in lefts:
            x = min(max(0, left), max(0, width - tag_w))
            y = min(max(0, top), max(0, height - tag_h))
            tags.append(Tag(text, px, (x, y, x + tag_w, y + tag_h)))
    return list(dict.fromkeys(tags))


def _draw_tag(canvas: np.ndarray, tag: Tag, color: tuple[int, int, int], bgr: bool) -> None:
    """Text on its filled rectangle, black or white, whichever reads better on the colour."""
    x0, y0, x1, y1 = tag.rect
    canvas[y0:y1, x0:x1] = _channels(color, bgr)
    pad = tag_padding(tag.px)
    draw_text(canvas, tag.text, x0 + pad, y0 + pad + round_half_up(metrics().top * tag.px), tag.px, ink_for(color))


@dataclass(frozen=True)
class BarPanel:
    """Where a face's probability bars go: the panel (x0, y0, x1, y1), its text size, the height of one
    class's row, and the width of the class names' column."""

    rect: Rect
    px: int
    line: int
    label_width: int


def bar_panel(shape: tuple[int, ...], box, classes: int, obstacles: Sequence[Rect]) -> BarPanel | None:
    """A panel scaled to the face, beside it (right, then left), else below or above it: the first place
    that covers none of `obstacles` (other faces, tags and panels) and at most a quarter of its own face.
    None where there is no such place."""
    height, width = shape[:2]
    px = max(SIZES.min_bar_text_px, min(round_half_up(SIZES.bar_text_px * image_unit(height, width)),
                                        round_half_up(box.h / 9)))
    line = round_half_up(px * 1.35) + 2
    label_width = math.ceil(text_width("surprise ", px))
    panel_w, panel_h = label_width + max(round_half_up(box.w * 0.8), 4 * line), line * classes
    spots = [(box.x + box.w + 4, box.y), (box.x - panel_w - 4, box.y), (box.x, box.y + box.h + 4),
             (box.x, box.y - panel_h - 4)]
    for x, y in spots:
        x, y = min(max(0, x), max(0, width - panel_w)), min(max(0, y), max(0, height - panel_h))
        rect = (x, y, x + panel_w, y + panel_h)
        if not any(overlap_area(rect, o) for o in obstacles) and overlap_area(rect, box.corners()) <= 0.25 * box.area():
            return BarPanel(rect, px, line, label_width)
    return None


def _bars(canvas, face: FaceResult, bgr: bool, obstacles: list[Rect]) -> Rect | None:
    """The face's probabilities as bars in their `bar_panel`; None (nothing drawn) where there is no room:
    the face and its tag stay visible instead."""
    panel = bar_panel(canvas.shape, face.box, len(face.probabilities), obstacles)
    if panel is None:
        return None
    x, y, x1, _ = panel.rect
    bar_width = x1 - x - panel.label_width
    baseline = (panel.line - round_half_up(metrics().height * panel.px)) // 2 + round_half_up(metrics().top * panel.px)
    for i, (name, prob) in enumerate(face.probabilities.items()):
        top = y + i * panel.line
        canvas[top : top + panel.line, x:x1] = 0
        bar_end = x + panel.label_width + math.floor(bar_width * prob)
        canvas[top + 2 : top + panel.line - 2, x + panel.label_width : bar_end] = _channels(color_for(name), bgr)
        draw_text(canvas, name[:8], x + 2, top + baseline, panel.px, (255, 255, 255))
    return panel.rect


def draw_fps(image: np.ndarray, fps: float) -> None:
    """The processing rate in the top-left corner, white on black, in place."""
    px = max(8, round_half_up(SIZES.fps_text_px * image.shape[0] / 480))  # small frames keep room for faces
    text = f"{fps:.1f} fps"
    pad = round_half_up(px / 2)
    image[: round_half_up(metrics().height * px) + 2 * pad, : math.ceil(text_width(text, px)) + 2 * pad] = 0
    draw_text(image, text, pad, pad + round_half_up(metrics().top * px), px, (255, 255, 255))
