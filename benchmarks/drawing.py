"""What drawing the labels costs the server per video frame: boxes, tags and the fps corner.

    python benchmarks/drawing.py [--repeats 300]

The server engine draws into every frame of every viewer's stream, so this is paid 30 times a second per
viewer. Prints the median milliseconds per frame for a webcam frame (640x480) and a 1080p frame with 1, 4
and 36 faces, with and without probability bars.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from fer.detection import Box
from fer.drawing import draw_fps, draw_results
from fer.recognizer import FaceResult

PROBS = {"angry": 0.05, "disgust": 0.01, "fear": 0.04, "happy": 0.7, "neutral": 0.1, "sad": 0.05, "surprise": 0.05}


def faces_on_grid(count: int, height: int, width: int) -> list[FaceResult]:
    columns = int(np.ceil(np.sqrt(count)))
    side = min(height, width) // (columns + 1)
    spots = [(side // 2 + (i % columns) * (width // columns), side // 2 + (i // columns) * (height // columns))
             for i in range(count)]
    return [FaceResult(Box(x, y, side, side, 0.9), "happy", 0.7, PROBS) for x, y in spots]


def median_ms(frame: np.ndarray, faces: list[FaceResult], bars: bool, repeats: int) -> float:
    times = []
    for i in range(repeats):
        started = time.perf_counter()
        drawn = draw_results(frame, faces, bgr=True, show_probabilities=bars,
                             labels=[f"#{n + 1} happy {70 + i % 5}%" for n in range(len(faces))])
        draw_fps(drawn, 29.5 + i % 3)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=300)
    args = parser.parse_args()
    print(f"{'frame':>10} {'faces':>5} {'bars':>5} {'ms/frame':>9}")
    for height, width in [(480, 640), (1080, 1920)]:
        frame = np.random.default_rng(0).integers(0, 255, (height, width, 3), dtype=np.uint8)
        for count in (1, 4, 36):
            for bars in (False, True):
                ms = median_ms(frame, faces_on_grid(count, height, width), bars, args.repeats)
                print(f"{width}x{height:<5} {count:>5} {'yes' if bars else 'no':>5} {ms:>9.2f}")


if __name__ == "__main__":
    main()
