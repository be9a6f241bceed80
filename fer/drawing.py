"""Draw results onto an image: a box per face, its label and score on a solid tag, optional bars.

Sizes follow the image (a 4000 px photo and a 320 px webcam frame both read well) and text sits on
a filled tag, so it stays readable on any background.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from fer.detection import Rect, overlap_area
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
FONT = cv2.FONT_HERSHEY_SIMPLEX


def color_for(label: str) -> tuple[int, int, int]:
    if label in EMOTION_COLORS:
        return EMOTION_COLORS[label]
    return _PALETTE[sum(map(ord, label)) % len(_PALETTE)]


def face_tag(face: FaceResult, number: int | None = None) -> str:
    """The text on a face's tag, e.g. "#2 happy 87%": the number matches the face's chart and table row."""
    text = f"{face.label} {face.score:.0%}"
    return f"#{number} {text}" if number is not None else text


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
    unit = max(1.0, min(height, width) / 480.0)  # 1 at 480 px, grows with the image
    thickness = max(1, int(round(2 * unit)))
    colors = [color_for(face.label)[::-1] if bgr else color_for(face.label) for face in results]
    for face, color in zip(results, colors):
        box = face.box
        cv2.rectangle(canvas, (box.x, box.y), (box.x + box.w, box.y + box.h), color, thickness, cv2.LINE_AA)
    texts = list(labels) if labels is not None else [face_tag(f, i + 1 if numbered else None)
                                                     for i, f in enumerate(results)]
    shorts = [text.split(" ")[0] if text.startswith("#") else text for text in texts]
    tags = layout_tags(canvas.shape, [f.box for f in results], texts, shorts, 0.55 * unit)
    for tag, color in zip(tags, colors):
        _draw_tag(canvas, tag, color)
    if show_probabilities:
        obstacles = [tag.rect for tag in tags]
        for i, face in enumerate(results):
            others = [other.box.corners() for j, other in enumerate(results) if j != i]
            panel = _bars(canvas, face, 0.55 * unit, bgr, obstacles + others)
            if panel:
                obstacles.append(panel)
    return canvas


@dataclass(frozen=True)
class Tag:
    """A face's label as drawn: its text, font scale and rectangle (x0, y0, x1, y1), inside the image."""

    text: str
    font_scale: float
    rect: Rect

    def overlap(self, other: Rect) -> int:
        return overlap_area(self.rect, other)


MIN_FONT_SCALE = 0.35  # about 8 px tall: the smallest label text that stays readable
MIN_NUMBER_SCALE = 0.28  # a face's number alone may go a little smaller, on the tiniest faces
TAG_WIDTH_PER_FACE = 1.5  # a tag may be this many times as wide as its face, no wider


def layout_tags(shape: tuple[int, ...], boxes: Sequence, texts: Sequence[str], short_texts: Sequence[str],
                font_scale: float) -> list[Tag]:
    """Where each face's tag goes, so that a group photo stays readable: each tag is scaled to its face
    (at most `TAG_WIDTH_PER_FACE` times its width; a face too small for its text gets the short text,
    its number, with the label left to the table), lies inside the image, and sits above, below or
    inside its box wherever it covers no tag placed before it (and, if it can, no other face)."""
    height, width = shape[:2]
    placed: list[Tag] = []
    for i, (box, text, short) in enumerate(zip(boxes, texts, short_texts)):
        faces = [b.corners() for j, b in enumerate(boxes) if j != i]
        full_scale = _fitted_scale(text, TAG_WIDTH_PER_FACE * box.w, font_scale)
        candidates = _candidates(box, text, full_scale, width, height) if full_scale >= MIN_FONT_SCALE else []
        if short != text or not candidates:  # the number alone, no wider than the face (tiny faces: smaller text)
            short_scale = max(MIN_NUMBER_SCALE, _fitted_scale(short, max(box.w, 1), font_scale))
            candidates += _candidates(box, short, short_scale, width, height)
        costs = [(sum(tag.overlap(p.rect) for p in placed), sum(tag.overlap(f) for f in faces)) for tag in candidates]
        # The first place that covers no tag (and, among those, no face); if every place covers a tag, the
        # one that covers the least.
        best = min(range(len(candidates)), key=lambda k: (costs[k][0], costs[k][0] == 0 and costs[k][1] > 0, k))
        placed.append(candidates[best])
    return placed


def _fitted_scale(text: str, max_width: float, font_scale: float) -> float:
    """The font scale at which `text`'s tag is at most `max_width` pixels wide, and no larger than the
    image's own scale."""
    (text_width, _), _ = cv2.getTextSize(text, FONT, font_scale, 1)
    return min(font_scale, font_scale * max_width / max(1, text_width + 6))


def _candidates(box, text: str, font_scale: float, width: int, height: int) -> list[Tag]:
    """The places a tag may take, best first: above the box, below it, inside its top, inside its bottom;
    each left-aligned with the box, then right-aligned; all moved inside the image."""
    (tw, th), baseline = cv2.getTextSize(text, FONT, font_scale, _text_thickness(font_scale))
    pad = max(2, int(round(3 * font_scale)))
    tag_w, tag_h = tw + 2 * pad, th + baseline + 2 * pad
    tops = (box.y - tag_h, box.y + box.h, box.y, box.y + box.h - tag_h)
    lefts = (box.x, box.x + box.w - tag_w)
    tags = []
    for top in tops:
        for left in lefts:
            x = min(max(0, left), max(0, width - tag_w))
            y = min(max(0, top), max(0, height - tag_h))
            tags.append(Tag(text, font_scale, (x, y, x + tag_w, y + tag_h)))
    return list(dict.fromkeys(tags))


def _text_thickness(font_scale: float) -> int:
    return max(1, int(round(font_scale * 1.8)))


def _draw_tag(canvas: np.ndarray, tag: Tag, color) -> None:
    """Text on its filled rectangle, black or white, whichever reads better on the colour."""
    x0, y0, x1, y1 = tag.rect
    cv2.rectangle(canvas, (x0, y0), (x1 - 1, y1 - 1), color, -1)
    thickness = _text_thickness(tag.font_scale)
    (tw, th), baseline = cv2.getTextSize(tag.text, FONT, tag.font_scale, thickness)
    pad_x, pad_y = (x1 - x0 - tw) // 2, (y1 - y0 - th - baseline) // 2
    ink = (0, 0, 0) if sum(color) > 382 else (255, 255, 255)
    cv2.putText(canvas, tag.text, (x0 + pad_x, y0 + pad_y + th), FONT, tag.font_scale, ink, thickness, cv2.LINE_AA)


def _bars(canvas, face: FaceResult, font_scale: float, bgr: bool,
          obstacles: list[Rect]) -> Rect | None:
    """The face's probabilities as bars in a panel scaled to the face, beside it (right, then left),
    else below or above it: the first place that covers no other face, tag or panel and at most a
    quarter of its own face. None (nothing drawn) where there is no such place."""
    box = face.box
    scale = min(font_scale * 0.75, max(0.3, box.h / 7 / 24))  # seven lines about as tall as the face
    line = int(cv2.getTextSize("Ag", FONT, scale, 1)[0][1] * 1.9) + 2
    label_width = int(cv2.getTextSize("surprise ", FONT, scale, 1)[0][0])
    panel_w, panel_h = label_width + max(int(box.w * 0.8), 4 * line), line * len(face.probabilities)
    height, width = canvas.shape[:2]
    spots = [(box.x + box.w + 4, box.y), (box.x - panel_w - 4, box.y), (box.x, box.y + box.h + 4),
             (box.x, box.y - panel_h - 4)]
    rects = []
    for x, y in spots:
        x, y = min(max(0, x), max(0, width - panel_w)), min(max(0, y), max(0, height - panel_h))
        rects.append((x, y, x + panel_w, y + panel_h))
    fits = [rect for rect in rects if not any(overlap_area(rect, o) for o in obstacles)
            and overlap_area(rect, box.corners()) <= 0.25 * box.area()]
    if not fits:  # a frame too small for bars beside the face: the face and its tag stay visible instead
        return None
    x, y, _, _ = fits[0]
    bar_width = panel_w - label_width
    for i, (name, prob) in enumerate(face.probabilities.items()):
        top = y + i * line
        color = color_for(name)[::-1] if bgr else color_for(name)
        cv2.rectangle(canvas, (x, top), (x + panel_w, top + line - 1), (0, 0, 0), -1)
        cv2.rectangle(canvas, (x + label_width, top + 2), (x + label_width + int(bar_width * prob), top + line - 3),
                      color, -1)
        cv2.putText(canvas, name[:8], (x + 2, top + line - 5), FONT, scale, (255, 255, 255), 1, cv2.LINE_AA)
    return x, y, x + panel_w, y + panel_h
