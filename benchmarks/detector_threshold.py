"""Faces found against false faces, at each detector threshold: how the default `min_confidence` was chosen.

    python benchmarks/detector_threshold.py

Real photos only, all shipped by scikit-image: with people (the astronaut, the cameraman, a mosaic of the
100 Labeled Faces in the Wild crops in `lfw_subset`, the test suite's 2x3 grid of the astronaut, the
astronaut at the live page's 320 px and small in a 640x480 frame) and without (coffee, a cat, a rocket,
a motorcycle, coins, a clock, a retina, text, galaxies, tissue, textures and the 100 non-face crops of
`lfw_subset`, tiled). Each photo
goes through `detect_faces` at the photo detection size, as `EmotionRecognizer.analyze` runs it.
"""

from __future__ import annotations

import cv2
import numpy as np
from skimage import data

from fer.detection import default_detector, detect_faces
from fer.settings import DEFAULTS

THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


def rgb(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.dtype != np.uint8:
        image = (255 * (image - image.min()) / max(1e-9, float(np.ptp(image)))).astype(np.uint8)
    if image.ndim == 2:
        image = np.stack([image] * 3, axis=-1)
    return np.ascontiguousarray(image[..., :3])


def mosaic(crops: np.ndarray, per_row: int = 10, cell: int = 96, pad: int = 32) -> np.ndarray:
    """Small crops upscaled to `cell` px with a grey margin, in rows: a group photo of small faces."""
    side = cell + 2 * pad
    rows = -(-len(crops) // per_row)
    canvas = np.full((rows * side, per_row * side, 3), 128, np.uint8)
    for i, crop in enumerate(crops):
        tile = cv2.resize(rgb(crop), (cell, cell), interpolation=cv2.INTER_CUBIC)
        y, x = (i // per_row) * side + pad, (i % per_row) * side + pad
        canvas[y : y + cell, x : x + cell] = tile
    return canvas


def photos() -> tuple[dict[str, tuple[np.ndarray, int]], dict[str, np.ndarray]]:
    """{name: (photo, faces in it)} with people, {name: photo} without."""
    astronaut = data.astronaut()
    lfw = data.lfw_subset()
    tile = cv2.resize(astronaut[20:260, 110:350], (200, 200))
    small = np.full((480, 640, 3), 120, np.uint8)  # her face about 40 px wide at the live page's 320 px
    small[100:356, 200:456] = cv2.resize(astronaut, (256, 256))
    with_people = {
        "astronaut small in a 640x480 frame": (small, 1),
        "astronaut": (astronaut, 1),
        "cameraman": (rgb(data.camera()), 1),
        "astronaut at 320 px (live)": (cv2.resize(astronaut, (320, 320)), 1),
        "astronaut grid 2x3": (np.vstack([np.hstack([tile] * 3)] * 2), 6),
        "LFW faces mosaic": (mosaic(lfw[:100]), 100),
    }
    without = {name: rgb(getattr(data, name)()) for name in (
        "coffee", "chelsea", "rocket", "coins", "clock", "retina", "text", "page", "hubble_deep_field",
        "immunohistochemistry", "brick", "grass", "gravel", "moon", "colorwheel", "cell", "checkerboard")}
    without["motorcycle"] = rgb(data.stereo_motorcycle()[0])
    without["LFW non-faces mosaic"] = mosaic(lfw[100:])
    return with_people, without


def main() -> int:
    detector = default_detector()
    with_people, without = photos()
    side = DEFAULTS.photo_detection_side
    found = {name: detect_faces(detector, image, max_side=side, min_confidence=min(THRESHOLDS))
             for name, (image, _) in with_people.items()}
    false = {name: detect_faces(detector, image, max_side=side, min_confidence=min(THRESHOLDS))
             for name, image in without.items()}
    total_faces = sum(count for _, count in with_people.values())
    print(f"{detector.name}; {len(with_people)} photos with {total_faces} faces, {len(without)} without people")
    print(f"{'threshold':>9}{'faces found':>14}{'false faces':>13}  false faces on")
    for threshold in THRESHOLDS:
        hits = sum(min(count, sum(b.score >= threshold for b in found[name]))
                   for name, (_, count) in with_people.items())
        extra = sum(max(0, sum(b.score >= threshold for b in found[name]) - count)
                    for name, (_, count) in with_people.items())
        wrong = {name: sum(b.score >= threshold for b in boxes) for name, boxes in false.items()}
        where = ", ".join(f"{n} {c}" for n, c in wrong.items() if c)
        marker = "  <- default" if threshold == DEFAULTS.min_confidence else ""
        print(f"{threshold:>9.2f}{hits:>8}/{total_faces:<5}{sum(wrong.values()) + extra:>13}  {where or '-'}{marker}")
    print("highest false-face scores:", ", ".join(
        f"{n} {max(b.score for b in boxes):.2f}" for n, boxes in false.items() if boxes) or "none")
    lowest = sorted(b.score for name, boxes in found.items() for b in boxes)[:5]
    print("lowest scores among the faces found at 0.3:", ", ".join(f"{s:.2f}" for s in lowest))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
