"""Drawing stays inside the image, scales with it and changes the pixels where faces are."""

from __future__ import annotations

import numpy as np
import pytest

from fer.detection import Box
from fer.drawing import _PALETTE, EMOTION_COLORS, color_for, draw_results, face_tag
from fer.recognizer import FaceResult

PROBS = {"angry": 0.05, "disgust": 0.0, "fear": 0.05, "happy": 0.7, "neutral": 0.1, "sad": 0.05, "surprise": 0.05}


def face(x, y, w, h) -> FaceResult:
    return FaceResult(Box(x, y, w, h, 0.9), "happy", 0.7, PROBS)


@pytest.mark.parametrize("shape", [(48, 48, 3), (480, 640, 3), (3000, 4000, 3)])
def test_draws_box_and_tag_at_any_size(shape):
    image = np.full(shape, 40, np.uint8)
    h, w = shape[:2]
    results = [face(w // 4, h // 4, w // 3, h // 3), face(0, 0, w // 5, h // 5),
               face(w - w // 5, h - h // 5, w // 5, h // 5)]
    out = draw_results(image, results)
    assert out.shape == image.shape and out.dtype == np.uint8
    assert np.array_equal(image, np.full(shape, 40, np.uint8)), "the input must not be modified"
    x, y = results[0].box.x, results[0].box.y + results[0].box.h // 2
    assert tuple(out[y, x]) == color_for("happy")  # the left edge of the box
    with_bars = draw_results(image, results, show_probabilities=True)
    assert with_bars.shape == image.shape and (with_bars != out).any()


def test_bgr_frames_get_bgr_colours():
    image = np.zeros((200, 200, 3), np.uint8)
    out = draw_results(image, [face(50, 50, 100, 100)], bgr=True)
    assert tuple(out[100, 50]) == color_for("happy")[::-1]


def tag_width(out: np.ndarray, row: int, colour: tuple[int, int, int]) -> int:
    """How many pixels of `row` carry the tag's fill colour."""
    return int(np.all(out[row] == colour, axis=1).sum())


def test_custom_labels_and_unknown_classes():
    image = np.zeros((200, 200, 3), np.uint8)
    odd = FaceResult(Box(20, 60, 80, 80, 0.9), "curious", 0.8, {"curious": 0.8, "bored": 0.2})
    colour = color_for("curious")
    assert (colour == color_for("curious") and colour not in EMOTION_COLORS.values()) or colour in _PALETTE
    short = draw_results(image, [odd], labels=["x"])
    long = draw_results(image, [odd], labels=["#7 curious and long"], show_probabilities=True)
    assert tuple(short[100, 20]) == colour  # the box's left edge, in the class's stable colour
    assert tag_width(long, 50, colour) > 3 * tag_width(short, 50, colour)  # the tag fits its text
    below = long[145:200, 20:200]
    assert np.all(below == 0, axis=2).mean() < 0.9  # two probability bars under the box
    assert np.all(short[145:200] == 0)


def test_numbered_tags_match_chart_titles():
    image = np.zeros((200, 300, 3), np.uint8)
    results = [face(20, 60, 80, 80), face(160, 60, 80, 80)]
    plain, numbered = draw_results(image, results), draw_results(image, results, numbered=True)
    assert face_tag(results[1], 2) == "#2 happy 70%" and face_tag(results[1]) == "happy 70%"
    colour = color_for("happy")
    row = 45  # through both tags, above the boxes
    assert tag_width(numbered, row, colour) > tag_width(plain, row, colour) + 20  # "#1 " and "#2 " added
