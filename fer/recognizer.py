"""`EmotionRecognizer`: image in, one result per face out. The entry point of the library.

    from fer import EmotionRecognizer
    recognizer = EmotionRecognizer()            # the shipped model, or EmotionRecognizer("my.keras")
    for face in recognizer.analyze("group.jpg"):
        print(face.box, face.label, face.score)
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from fer.classifier import EmotionClassifier
from fer.detection import (
    LANDMARK_NAMES,
    MAX_FACES,
    Box,
    YuNetDetector,
    aligned_face_crop,
    default_detector,
    detect_faces,
    face_crop,
    reading_order,
)
from fer.images import ImageInput, load_rgb, load_rgb_scaled
from fer.settings import DEFAULTS

# The square around YuNet's box, 10% wider than its longer side. FER2013 frames its faces anywhere from 30%
# tighter to 22% looser than YuNet's box (median 3% tighter); where a face has real pixels around it, 0.1
# reads it as well as any margin from -0.1 to 0.2, and tighter ones tend to read worse (benchmarks/crop_margin.py).
CROP_MARGIN = 0.1


@dataclass(frozen=True)
class FaceResult:
    box: Box
    label: str
    score: float
    probabilities: dict[str, float]  # every class, in the model's class order

    @classmethod
    def from_probabilities(cls, box: Box, class_names: tuple[str, ...], probabilities) -> FaceResult:
        """The result for one face: the top class, its score and every class's probability."""
        best = int(np.argmax(probabilities))
        return cls(box, class_names[best], float(probabilities[best]),
                   {n: float(p) for n, p in zip(class_names, probabilities)})

    def scaled(self, factor: float) -> FaceResult:
        """The same result with its box in an image `factor` times the size."""
        if factor == 1.0:
            return self
        return FaceResult(self.box.scaled(factor), self.label, self.score, self.probabilities)

    def to_json(self) -> dict:
        return {
            "box": {"x": self.box.x, "y": self.box.y, "w": self.box.w, "h": self.box.h},
            "detection_score": round(self.box.score, 4),
            "landmarks": {name: [x, y] for name, (x, y) in zip(LANDMARK_NAMES, self.box.landmarks)},
            "label": self.label,
            "score": round(self.score, 4),
            "probabilities": {k: round(v, 4) for k, v in self.probabilities.items()},
        }


@dataclass(frozen=True)
class AnalyzedPhoto:
    rgb: np.ndarray  # the decoded pixels (smaller than the file for a huge photo)
    scale: float  # rgb's size / the input's size
    faces: list[FaceResult]  # boxes in rgb's pixels, in reading order (rows, then left to right)

    def faces_in_input_pixels(self) -> list[FaceResult]:
        return [face.scaled(1 / self.scale) for face in self.faces]


class EmotionRecognizer:
    """Detector + classifier. Load once and share: `analyze` is safe to call from many threads."""

    def __init__(self, model_path: str | os.PathLike | None = None, detector: YuNetDetector | None = None) -> None:
        self.classifier = EmotionClassifier(model_path)
        self.detector = detector or default_detector()

    @property
    def class_names(self) -> tuple[str, ...]:
        return self.classifier.class_names

    @property
    def model_name(self) -> str:
        return self.classifier.name

    def analyze(
        self,
        image: ImageInput,
        *,
        bgr: bool = False,
        min_confidence: float = DEFAULTS.min_confidence,
        detection_side: int = DEFAULTS.photo_detection_side,
        max_faces: int = MAX_FACES,
        tta: str = DEFAULTS.photo_tta,
        align: bool = DEFAULTS.align_faces,
    ) -> list[FaceResult]:
        """Find every face and classify it, in reading order. `bgr=True` for OpenCV/webcam arrays. No face: [].
        `tta="flip"` also classifies each face's mirror image and averages (photos; not needed for video).
        `align=True` rotates each face so its eyes are level before classifying it.
        Boxes are in the input's pixels, also for a huge photo file that was decoded smaller."""
        photo = self.analyze_photo(image, bgr=bgr, min_confidence=min_confidence, detection_side=detection_side,
                                   max_faces=max_faces, tta=tta, align=align)
        return photo.faces_in_input_pixels()

    def analyze_photo(
        self,
        image: ImageInput,
        *,
        bgr: bool = False,
        min_confidence: float = DEFAULTS.min_confidence,
        detection_side: int = DEFAULTS.photo_detection_side,
        max_faces: int = MAX_FACES,
        tta: str = DEFAULTS.photo_tta,
        align: bool = DEFAULTS.align_faces,
    ) -> AnalyzedPhoto:
        """`analyze`, keeping the decoded pixels: what the Photos page and the CLI draw on. A photo file
        larger than `max_decode_side` is decoded at about that size; the faces' boxes are in those pixels."""
        rgb, scale = load_rgb_scaled(image, max_side=DEFAULTS.max_decode_side, assume_bgr=bgr)
        boxes = detect_faces(
            self.detector, rgb, max_side=detection_side, min_confidence=min_confidence, max_faces=max_faces
        )
        boxes = reading_order(boxes)  # numbered as a reader would: rows, then left to right
        return AnalyzedPhoto(rgb, scale, self.classify_boxes(rgb, boxes, tta=tta, align=align))

    def classify_boxes(self, image: np.ndarray, boxes: list[Box], *, bgr: bool = False,
                       tta: str = DEFAULTS.video_tta, align: bool = DEFAULTS.align_faces) -> list[FaceResult]:
        """Classify the faces at known boxes (no detection): video frames between detections."""
        crops = [self.face_crop(image, box, align=align) for box in boxes]
        if bgr:
            crops = [np.ascontiguousarray(crop[:, :, ::-1]) for crop in crops]
        return self._results(boxes, self.classifier.predict_crops(crops, tta))

    @staticmethod
    def face_crop(image: np.ndarray, box: Box, *, align: bool = DEFAULTS.align_faces) -> np.ndarray:
        """The crop of `box` that the classifier reads: a square with a margin, its eyes levelled with `align`.
        Explanations and feature maps take this same crop."""
        return (aligned_face_crop if align else face_crop)(image, box, CROP_MARGIN)

    def classify_crops(self, crops: list[ImageInput], *, bgr: bool = False,
                       tta: str = DEFAULTS.photo_tta) -> list[FaceResult]:
        """Classify images that are already face crops (no detection); one result per crop."""
        rgbs = [load_rgb(crop, assume_bgr=bgr) for crop in crops]
        boxes = [Box(0, 0, rgb.shape[1], rgb.shape[0], 1.0) for rgb in rgbs]
        return self._results(boxes, self.classifier.predict_crops(rgbs, tta))

    def _results(self, boxes: list[Box], probabilities: np.ndarray) -> list[FaceResult]:
        return [FaceResult.from_probabilities(box, self.class_names, probs) for box, probs in zip(boxes, probabilities)]
