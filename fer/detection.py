"""Face detection: OpenCV's YuNet (`cv2.FaceDetectorYN`) with its weights shipped inside this package.

One detector on every platform OpenCV runs on (Linux, macOS, Windows; x86-64 and ARM), so the
confidence slider means the same everywhere. The weights, `weights/yunet_s_640_640.onnx` (232 KB,
Apache-2.0, see `weights/NOTICE`), travel with the package: nothing is downloaded at run time.
YuNet also gives five landmarks per face, which `aligned_face_crop` uses to level the eyes.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np

WEIGHTS = Path(__file__).resolve().parent / "weights" / "yunet_s_640_640.onnx"
MAX_FACES = 64  # a sane cap: a crowd photo beyond this gets its 64 most confident faces
SMALL_IMAGE_SIDE = 128  # images this small are padded and upscaled before detection
NMS_THRESHOLD = 0.3  # overlap above which two boxes are one face (OpenCV's default)
# YuNet's five landmarks, in its order. Right and left are the person's own: the right eye is on the
# image's left in a photo of someone facing the camera.
LANDMARK_NAMES = ("right_eye", "left_eye", "nose_tip", "right_mouth_corner", "left_mouth_corner")
LANDMARK_COLUMNS = tuple(f"{name}_{axis}" for name in LANDMARK_NAMES for axis in ("x", "y"))  # CSV columns

Point = tuple[float, float]
Rect = tuple[int, int, int, int]  # x0, y0, x1, y1


def overlap_area(a: Rect, b: Rect) -> int:
    """Pixels two rectangles share (0 when apart): face boxes, tags and bar panels alike."""
    return max(0, min(a[2], b[2]) - max(a[0], b[0])) * max(0, min(a[3], b[3]) - max(a[1], b[1]))


def reading_order(boxes: list[Box]) -> list[Box]:
    """Boxes as a reader numbers faces: in rows from top to bottom, each row left to right. A face joins
    the row above when its centre is less than half a face height below that row's centres, so a row
    of faces at slightly different heights stays one row (sorting by x alone zigzags down a grid's
    columns, by y alone across it)."""
    if not boxes:
        return []
    heights = sorted(b.h for b in boxes)
    tolerance = 0.5 * heights[len(heights) // 2]
    rows: list[list[Box]] = []
    for box in sorted(boxes, key=lambda b: b.y + b.h / 2):
        centre = box.y + box.h / 2
        if rows and centre - np.mean([b.y + b.h / 2 for b in rows[-1]]) <= tolerance:
            rows[-1].append(box)
        else:
            rows.append([box])
    return [box for row in rows for box in sorted(row, key=lambda b: b.x + b.w / 2)]


def landmark_cells(landmarks: dict[str, list[float]]) -> list:
    """The CSV cells of `LANDMARK_COLUMNS` from a result's JSON landmarks (blank where it has none: a face
    given as a crop)."""
    return [landmarks[name][axis] if name in landmarks else "" for name in LANDMARK_NAMES for axis in (0, 1)]


@dataclass(frozen=True)
class Box:
    """A face box in input-image pixels, with the detector's confidence in [0, 1] and, when the detector
    found them, the five landmarks of `LANDMARK_NAMES` in the same pixels."""

    x: int
    y: int
    w: int
    h: int
    score: float
    landmarks: tuple[Point, ...] = ()

    def area(self) -> int:
        return self.w * self.h

    def corners(self) -> Rect:
        """(x0, y0, x1, y1): the form `overlap_area` and drawing take."""
        return self.x, self.y, self.x + self.w, self.y + self.h

    def scaled(self, factor: float, offset: Point = (0.0, 0.0)) -> Box:
        """The box in an image `factor` times the size, after shifting it by `offset` (in this image's pixels)."""
        dx, dy = offset
        x0, y0 = (self.x + dx) * factor, (self.y + dy) * factor
        x1, y1 = (self.x + self.w + dx) * factor, (self.y + self.h + dy) * factor
        landmarks = tuple((round((px + dx) * factor, 1), round((py + dy) * factor, 1)) for px, py in self.landmarks)
        return replace(self, x=round(x0), y=round(y0), w=round(x1) - round(x0), h=round(y1) - round(y0),
                       landmarks=landmarks)

    def eye_angle(self) -> float:
        """Degrees the line from the right eye to the left eye rises against the horizontal (0 without landmarks)."""
        if len(self.landmarks) < 2:
            return 0.0
        (rx, ry), (lx, ly) = self.landmarks[:2]
        return math.degrees(math.atan2(ly - ry, lx - rx))


class YuNetDetector:
    """YuNet through OpenCV's DNN module.

    `cv2.FaceDetectorYN` keeps per-call state (its input size, its network's buffers), so each thread
    gets its own instance, made on first use in that thread: the Photos page, the live callbacks and the
    CLI's workers never share one, and no lock serialises them."""

    name = "yunet (opencv)"

    def __init__(self, weights: str | Path = WEIGHTS) -> None:
        self._weights = str(weights)
        self._local = threading.local()
        self._for_this_thread()  # a missing or broken weights file fails here, not on the first photo

    def _for_this_thread(self) -> cv2.FaceDetectorYN:
        detector = getattr(self._local, "detector", None)
        if detector is None:
            if not Path(self._weights).is_file():
                raise FileNotFoundError(f"face detector weights not found: {self._weights}")
            detector = cv2.FaceDetectorYN.create(self._weights, "", (320, 320), 0.5, NMS_THRESHOLD, 5000)
            self._local.detector, self._local.size = detector, (320, 320)
        return detector

    def detect(self, rgb: np.ndarray, min_confidence: float) -> list[Box]:
        """Boxes (with landmarks) for the faces in an (H, W, 3) RGB uint8 image, in its own pixels."""
        height, width = rgb.shape[:2]
        detector = self._for_this_thread()
        if self._local.size != (width, height):
            detector.setInputSize((width, height))
            self._local.size = (width, height)
        detector.setScoreThreshold(float(min_confidence))
        _, rows = detector.detect(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
        boxes = []
        for row in rows if rows is not None else []:
            x, y, w, h = (float(v) for v in row[:4])
            landmarks = tuple((round(float(row[4 + 2 * i]), 1), round(float(row[5 + 2 * i]), 1)) for i in range(5))
            boxes.append(Box(round(x), round(y), round(x + w) - round(x), round(y + h) - round(y), float(row[14]),
                             landmarks))
        return [box for box in boxes if box.score >= min_confidence]


def default_detector() -> YuNetDetector:
    return YuNetDetector()


def detect_faces(
    detector: YuNetDetector,
    rgb: np.ndarray,
    *,
    max_side: int,
    min_confidence: float,
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
    for found in detector.detect(np.ascontiguousarray(work), min_confidence):
        box = found.scaled(1.0 / scale, offset=(-pad * scale, -pad * scale))
        x0, y0 = max(0, box.x), max(0, box.y)
        x1, y1 = min(width, box.x + box.w), min(height, box.y + box.h)
        if x1 - x0 >= 2 and y1 - y0 >= 2:
            boxes.append(replace(box, x=x0, y=y0, w=x1 - x0, h=y1 - y0))
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


def aligned_face_crop(rgb: np.ndarray, box: Box, margin: float = 0.0) -> np.ndarray:
    """`face_crop`, rotated about the box's centre so the eyes are level (FER2013's faces are mostly
    upright). Without landmarks, or with the eyes already level, it is `face_crop` itself."""
    angle = box.eye_angle()
    if abs(angle) < 1.0:
        return face_crop(rgb, box, margin)
    side = max(1, int(round(max(box.w, box.h) * (1.0 + margin))))
    cx, cy = box.x + box.w / 2.0, box.y + box.h / 2.0
    matrix = cv2.getRotationMatrix2D((cx, cy), angle, 1.0)
    matrix[:, 2] += (side / 2.0 - cx, side / 2.0 - cy)
    return cv2.warpAffine(rgb, matrix, (side, side), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
