"""Drawing stays inside the image, scales with it and changes the pixels where faces are."""

from __future__ import annotations

import numpy as np
import pytest

from fer.detection import Box, reading_order
from fer.drawing import (
    _PALETTE,
    EMOTION_COLORS,
    SIZES,
    color_for,
    draw_results,
    face_tag,
    layout_tags,
)
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
    box = results[0].box
    edge = [tuple(out[y, box.x]) for y in range(box.y, box.y + box.h)]
    assert edge.count(color_for("happy")) >= box.h // 3  # the box's left edge (a tag may cover some of it)
    with_bars = draw_results(image, results, show_probabilities=True)
    assert with_bars.shape == image.shape and ((with_bars != out).any() or shape[0] < 100)  # no room at 48 px


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
    long = draw_results(image, [odd], labels=["#7 curious"], show_probabilities=True)
    assert tuple(short[100, 20]) == colour  # the box's left edge, in the class's stable colour
    assert tag_width(long, 50, colour) > 3 * tag_width(short, 50, colour)  # the tag fits its text
    bars = np.any(long != draw_results(image, [odd], labels=["#7 curious"]), axis=2)
    assert bars.sum() > 400 and not bars[60:141, 20:101].any()  # two probability bars, beside the face
    assert np.all(short[145:200] == 0)


def test_a_tag_too_wide_for_its_face_keeps_only_the_number():
    image = np.zeros((400, 400, 3), np.uint8)
    small, large = Box(20, 100, 40, 40, 0.9), Box(150, 100, 240, 240, 0.9)
    tags = layout_tags(image.shape, [small, large], ["#1 surprise 87%"] * 2, ["#1"] * 2)
    assert tags[0].text == "#1" and tags[1].text == "#1 surprise 87%"
    for tag, box in zip(tags, (small, large)):
        assert tag.rect[2] - tag.rect[0] <= 1.5 * box.w + 1  # no tag is much wider than its face


def group_of_faces(rows: int = 6, columns: int = 6, side: int = 60, gap: int = 14) -> list[Box]:
    """A crowd on a grid, each row a little higher or lower, like people standing for a photo."""
    return [Box(20 + c * (side + gap), 40 + r * (side + gap) + (c % 3) * 4, side, side, 0.9)
            for r in range(rows) for c in range(columns)]


@pytest.mark.parametrize("side", [24, 40, 60, 90])
def test_tags_of_a_crowd_never_overlap_or_leave_the_image(side):
    boxes = group_of_faces(side=side, gap=max(6, side // 5))
    shape = (max(b.y + b.h for b in boxes) + 20, max(b.x + b.w for b in boxes) + 20, 3)
    texts = [f"#{i + 1} surprise 100%" for i in range(len(boxes))]
    tags = layout_tags(shape, boxes, texts, [t.split()[0] for t in texts])
    for i, tag in enumerate(tags):
        x0, y0, x1, y1 = tag.rect
        assert 0 <= x0 < x1 <= shape[1] and 0 <= y0 < y1 <= shape[0], tag
        assert tag.px >= (SIZES.min_text_px if " " in tag.text else SIZES.min_number_px)
        assert all(tag.overlap(other.rect) == 0 for other in tags[:i]), (i, tag)
    assert draw_results(np.zeros(shape, np.uint8), [face(b.x, b.y, b.w, b.h) for b in boxes], numbered=True).any()


def test_faces_are_numbered_in_reading_order():
    boxes = group_of_faces()
    shuffled = [boxes[i] for i in np.random.default_rng(0).permutation(len(boxes))]
    assert reading_order(shuffled) == boxes  # row by row, each left to right, despite uneven heights


def test_numbered_tags_match_chart_titles():
    image = np.zeros((200, 300, 3), np.uint8)
    results = [face(20, 60, 80, 80), face(160, 60, 80, 80)]
    plain, numbered = draw_results(image, results), draw_results(image, results, numbered=True)
    assert face_tag(results[1], 2) == "#2 happy 70%" and face_tag(results[1]) == "happy 70%"
    colour = color_for("happy")
    row = 45  # through both tags, above the boxes
    assert tag_width(numbered, row, colour) > tag_width(plain, row, colour) + 20  # "#1 " and "#2 " added


def test_a_real_crowd_photo_gets_tags_that_do_not_overlap_in_reading_order(recognizer, face_photo):
    from tests.test_app import crowd_photo

    photo = recognizer.analyze_photo(crowd_photo(face_photo))
    boxes = [f.box for f in photo.faces]
    assert len(boxes) == 36 and boxes == reading_order(boxes)
    centres = [(b.y + b.h / 2, b.x + b.w / 2) for b in boxes]
    assert all(centres[i][1] < centres[i + 1][1] for i in range(35) if (i + 1) % 6)  # left to right in a row
    assert all(centres[i][0] < centres[i + 6][0] for i in range(30))  # each row below the one before
    texts = [face_tag(f, i + 1) for i, f in enumerate(photo.faces)]
    tags = layout_tags(photo.rgb.shape, boxes, texts, [t.split()[0] for t in texts])
    for i, tag in enumerate(tags):
        assert 0 <= tag.rect[0] and tag.rect[2] <= photo.rgb.shape[1] and 0 <= tag.rect[1]
        assert tag.rect[3] <= photo.rgb.shape[0] and all(tag.overlap(t.rect) == 0 for t in tags[:i])


@pytest.mark.parametrize("shape", [(480, 640, 3), (120, 160, 3)])
def test_probability_bars_never_cover_another_face_or_any_tag(shape):
    """Four faces in a 2x2 tile (a webcam with several people), and a tiny frame: bars sit beside their
    face, or are left out where there is no room, and every tag stays visible."""
    h, w = shape[:2]
    side = h // 5  # a face as the detector finds it in each quarter of the frame
    results = [face(x, y, side, side) for y in (h // 8, h // 2 + h // 8) for x in (w // 8, w // 2 + w // 8)]
    image = np.full(shape, 40, np.uint8)
    plain = draw_results(image, results, numbered=True)
    bars = draw_results(image, results, numbered=True, show_probabilities=True)
    changed = np.any(bars != plain, axis=2)
    tags = layout_tags(shape, [r.box for r in results], [face_tag(r, i + 1) for i, r in enumerate(results)],
                       [f"#{i + 1}" for i in range(4)])
    for tag in tags:
        x0, y0, x1, y1 = tag.rect
        assert not changed[y0:y1, x0:x1].any(), tag  # no bar over a tag
    for i, r in enumerate(results):
        b = r.box
        inside = changed[b.y : b.y + b.h, b.x : b.x + b.w].sum()
        assert inside <= 0.25 * b.w * b.h, (i, inside)  # at most a corner of its own face, never another's
    if h >= 480:
        assert changed.sum() > 4 * 2000  # four panels were drawn
