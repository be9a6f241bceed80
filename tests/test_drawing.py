"""Drawing stays inside the image, scales with it and changes the pixels where faces are."""

from __future__ import annotations

import numpy as np
import pytest

from fer.detection import Box
from fer.drawing import color_for, draw_results
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


def test_custom_labels_and_unknown_classes():
    image = np.zeros((200, 200, 3), np.uint8)
    odd = FaceResult(Box(20, 60, 80, 80, 0.9), "curious", 0.8, {"curious": 0.8, "bored": 0.2})
    out = draw_results(image, [odd], labels=["#7 curious"], show_probabilities=True)
    assert out.any()
