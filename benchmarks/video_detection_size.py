"""Small faces in large video frames: which faces the detector finds at which detection size, and the
cost per frame of each size.

    python benchmarks/video_detection_size.py [--repeats 20]

For frames of 640x480 up to 3840x2160 (4K) with the astronaut's face at widths from 40 to 500 px, it
prints whether the face is found with detection at a fixed 320 px (what video used before) and at the
size `fer.video.detection_side` chooses for the default smallest face (`DEFAULTS.min_face`), then the
median time of one detection at each size. `fer video` and the live page detect on every third frame,
so a frame's average cost is about a third of that.
"""

from __future__ import annotations

import argparse
import statistics
import time

import cv2
import numpy as np
from skimage import data

from fer.detection import default_detector, detect_faces
from fer.settings import DEFAULTS
from fer.video import detection_side

FRAMES = [(640, 480), (1280, 720), (1920, 1080), (3840, 2160)]
FACE_WIDTHS = [40, 60, 80, 100, 150, 200, 300, 500]
TILE_PER_FACE = 2.2  # the astronaut crop is about this many times as wide as the face YuNet boxes in it


def frame_with_face(size: tuple[int, int], face_width: int) -> np.ndarray:
    width, height = size
    tile = round(face_width * TILE_PER_FACE)
    frame = np.full((height, width, 3), 110, np.uint8)
    if tile >= min(width, height):
        return frame
    crop = data.astronaut()[0:300, 80:380]
    y, x = (height - tile) // 2, (width - tile) // 3
    frame[y : y + tile, x : x + tile] = cv2.resize(crop, (tile, tile), interpolation=cv2.INTER_AREA)
    return frame


def found(detector, frame: np.ndarray, side: int) -> str:
    boxes = detect_faces(detector, frame, max_side=side, min_confidence=DEFAULTS.min_confidence)
    return f"{boxes[0].w}px" if boxes else "-"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    detector = default_detector()
    print(f"smallest face worth finding: {DEFAULTS.min_face} px (DEFAULTS.min_face)")
    print("frame      side(320/new)  " + "  ".join(f"{w:>9}" for w in FACE_WIDTHS) + "   ms/detection (320/new)")
    for size in FRAMES:
        new_side = detection_side(size[1], size[0], DEFAULTS.min_face)
        cells = []
        for face_width in FACE_WIDTHS:
            frame = frame_with_face(size, face_width)
            cells.append(f"{found(detector, frame, 320):>4}/{found(detector, frame, new_side):<4}")
        frame = frame_with_face(size, 150)
        costs = []
        for side in (320, new_side):
            times = []
            for _ in range(args.repeats):
                start = time.perf_counter()
                detect_faces(detector, frame, max_side=side, min_confidence=DEFAULTS.min_confidence)
                times.append((time.perf_counter() - start) * 1000)
            costs.append(statistics.median(times))
        print(f"{size[0]}x{size[1]:<5} {320:>4}/{new_side:<8} " + "  ".join(f"{c:>9}" for c in cells)
              + f"   {costs[0]:.1f} / {costs[1]:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
