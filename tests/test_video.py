"""Tracker, smoothing and fps meter on synthetic sequences."""

from __future__ import annotations

import itertools

import numpy as np

from fer.detection import Box
from fer.recognizer import FaceResult
from fer.video import FaceTracker, FpsMeter

CLASSES = ("happy", "neutral", "sad")


def result(x: int, probs: tuple[float, float, float]) -> FaceResult:
    best = int(np.argmax(probs))
    return FaceResult(Box(x, 50, 100, 100, 0.9), CLASSES[best], probs[best], dict(zip(CLASSES, probs)))


def test_ids_follow_moving_faces_and_new_faces_get_new_ids():
    tracker = FaceTracker(CLASSES, smoothing=0.0)
    first = tracker.update([result(0, (1, 0, 0)), result(300, (0, 1, 0))])
    ids = [tid for tid, _ in first]
    assert len(set(ids)) == 2
    moved = tracker.update([result(310, (0, 1, 0)), result(8, (1, 0, 0))])  # order swapped, both moved
    assert [tid for tid, _ in moved] == [ids[1], ids[0]]
    third = tracker.update([result(12, (1, 0, 0)), result(600, (0, 0, 1))])
    assert third[0][0] == ids[0] and third[1][0] not in ids


def test_a_face_that_moves_further_than_its_box_between_two_looks_keeps_its_number():
    """A slow device looks at the faces a few times a second: a face 100 px wide that moved 70 px overlaps
    its last box too little to match by overlap, and is still the same face; a face far away is new."""
    tracker = FaceTracker(CLASSES, smoothing=0.0)
    (first, _), = tracker.update([result(0, (1, 0, 0))])
    (moved, _), = tracker.update([result(70, (1, 0, 0))])
    assert moved == first
    (again, _), (other, _) = tracker.update([result(140, (1, 0, 0)), result(500, (0, 1, 0))])
    assert again == first and other != first


def label_changes(labels: list[str]) -> int:
    return sum(a != b for a, b in itertools.pairwise(labels))


def test_smoothing_stops_label_flicker():
    rng = np.random.default_rng(0)
    raw_labels, smooth_labels = [], []
    tracker = FaceTracker(CLASSES, smoothing=0.8)
    for frame in range(60):
        # The true expression is "happy"; every third frame the raw prediction flips to "sad".
        probs = (0.3, 0.1, 0.6) if frame % 3 == 2 else (0.6, 0.1, 0.3)
        probs = tuple(np.clip(np.array(probs) + rng.normal(0, 0.02, 3), 0, 1))
        raw = result(int(frame), probs)
        raw_labels.append(raw.label)
        (_, smoothed), = tracker.update([raw])
        smooth_labels.append(smoothed.label)
        assert abs(sum(smoothed.probabilities.values()) - sum(probs)) < 0.2
    assert label_changes(raw_labels) >= 30
    assert label_changes(smooth_labels[5:]) == 0 and smooth_labels[-1] == "happy"


def test_a_face_that_comes_back_keeps_its_number_and_a_new_face_gets_a_new_one():
    tracker = FaceTracker(CLASSES, smoothing=0.5, max_missed=3, remember_frames=90)
    (first, _), (second, _) = tracker.update([result(0, (1, 0, 0)), result(400, (0, 0, 1))])
    for _ in range(60):  # both leave for two seconds
        tracker.update([])
    back = tracker.update([result(20, (1, 0, 0)), result(900, (0, 1, 0))])  # one returns nearby, one is new
    assert back[0][0] == first and back[1][0] not in (first, second)
    for _ in range(100):  # gone for longer than remembered
        tracker.update([])
    (later, _), = tracker.update([result(0, (1, 0, 0))])
    assert later not in (first, second, back[1][0])


def test_fps_meter():
    meter = FpsMeter(window_seconds=1.0)
    assert meter.fps == 0.0
    for i in range(31):
        fps = meter.tick(now=10.0 + i / 30)
    assert abs(fps - 30.0) < 0.5
    meter.tick(now=20.0)  # a long pause empties the window
    assert meter.fps == 0.0
