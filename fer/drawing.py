"""Draw results onto an image: a box per face, its label and score on a solid tag, optional bars.

Sizes follow the image (a 4000 px photo and a 320 px webcam frame both read well) and text sits on
a filled tag, so it stays readable on any background.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

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
    table row; `labels` replaces each tag's text altogether."""
    canvas = np.ascontiguousarray(image.copy())
    height, width = canvas.shape[:2]
    unit = max(1.0, min(height, width) / 480.0)  # 1 at 480 px, grows with the image
    thickness = max(1, int(round(2 * unit)))
    font_scale = 0.55 * unit
    for i, face in enumerate(results):
        color = color_for(face.label)
        if bgr:
            color = color[::-1]
        box = face.box
        cv2.rectangle(canvas, (box.x, box.y), (box.x + box.w, box.y + box.h), color, thickness, cv2.LINE_AA)
        text = labels[i] if labels is not None else face_tag(face, i + 1 if numbered else None)
        _tag(canvas, text, (box.x, box.y), color, font_scale, thickness)
        if show_probabilities:
            _bars(canvas, face, (box.x, box.y + box.h), max(box.w, int(110 * unit)), font_scale, bgr)
    return canvas


def _tag(canvas, text, anchor, color, font_scale, thickness) -> None:
    """Text on a filled rectangle above the anchor (or inside the box when at the top edge)."""
    (tw, th), baseline = cv2.getTextSize(text, FONT, font_scale, max(1, thickness - 1))
    x, y = anchor
    pad = max(2, thickness)
    top = y - th - baseline - 2 * pad
    if top < 0:
        top = y
    x = min(max(0, x), max(0, canvas.shape[1] - tw - 2 * pad))
    cv2.rectangle(canvas, (x, top), (x + tw + 2 * pad, top + th + baseline + 2 * pad), color, -1)
    ink = (0, 0, 0) if sum(color) > 382 else (255, 255, 255)
    cv2.putText(canvas, text, (x + pad, top + pad + th), FONT, font_scale, ink, max(1, thickness - 1), cv2.LINE_AA)


def _bars(canvas, face: FaceResult, origin, bar_width, font_scale, bgr) -> None:
    x, y = origin
    scale = font_scale * 0.75
    line = int(cv2.getTextSize("Ag", FONT, scale, 1)[0][1] * 1.9) + 2
    height, width = canvas.shape[:2]
    label_width = int(cv2.getTextSize("surprise ", FONT, scale, 1)[0][0])
    if y + line * len(face.probabilities) > height:  # no room below: draw inside the box instead
        y = max(0, face.box.y + face.box.h - line * len(face.probabilities))
    x = min(max(0, x), max(0, width - bar_width - label_width))
    for i, (name, prob) in enumerate(face.probabilities.items()):
        top = y + i * line
        color = color_for(name)[::-1] if bgr else color_for(name)
        cv2.rectangle(canvas, (x, top), (x + label_width + bar_width, top + line - 1), (0, 0, 0), -1)
        cv2.rectangle(canvas, (x + label_width, top + 2), (x + label_width + int(bar_width * prob), top + line - 3),
                      color, -1)
        cv2.putText(canvas, name[:8], (x + 2, top + line - 5), FONT, scale, (255, 255, 255), 1, cv2.LINE_AA)
