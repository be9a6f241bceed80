"""The inference library on a real face photo with the real shipped model and detector."""

from __future__ import annotations

import threading

import cv2
import numpy as np
import pytest

from fer import ImageError
from fer.detection import Box, face_crop
from fer.preprocessing import prepare_face
from fer.video import iou

ASTRONAUT_FACE = Box(178, 63, 90, 113, 1.0)  # where YuNet puts her face in skimage's 512x512 photo


def face_only(face_photo: np.ndarray) -> np.ndarray:
    return face_crop(face_photo, ASTRONAUT_FACE, margin=0.1)


def grid_of_faces(face_photo: np.ndarray, rows: int, cols: int, cell: int = 200) -> np.ndarray:
    tile = cv2.resize(face_photo[20:260, 110:350], (cell, cell))
    return np.vstack([np.hstack([tile] * cols)] * rows)


def test_finds_and_classifies_the_astronaut(recognizer, face_photo):
    faces = recognizer.analyze(face_photo)
    assert len(faces) == 1
    face = faces[0]
    assert iou(face.box, ASTRONAUT_FACE) > 0.6
    assert list(face.probabilities) == list(recognizer.class_names)
    assert sum(face.probabilities.values()) == pytest.approx(1.0, abs=1e-4)
    assert face.label == max(face.probabilities, key=face.probabilities.get)
    assert face.score == pytest.approx(face.probabilities[face.label])
    assert face.to_json()["box"] == {"x": face.box.x, "y": face.box.y, "w": face.box.w, "h": face.box.h}


def test_same_result_from_bgr_path_bytes_and_pil(recognizer, face_photo, tmp_path):
    from PIL import Image

    reference = recognizer.analyze(face_photo)[0]
    path = tmp_path / "astronaut.png"
    Image.fromarray(face_photo).save(path)
    for source, kwargs in ((face_photo[:, :, ::-1].copy(), {"bgr": True}), (path, {}), (path.read_bytes(), {}),
                           (Image.fromarray(face_photo), {})):
        again = recognizer.analyze(source, **kwargs)[0]
        assert again.box == reference.box
        assert again.probabilities == pytest.approx(reference.probabilities, abs=1e-5)


def test_no_face_is_an_empty_result(recognizer):
    assert recognizer.analyze(np.full((480, 640, 3), 127, np.uint8)) == []
    noise = np.random.default_rng(0).integers(0, 256, (300, 300, 3), dtype=np.uint8)
    assert recognizer.analyze(noise) == []


def test_large_photo_boxes_map_back_to_input_pixels(recognizer, face_photo):
    big = cv2.resize(face_photo, (4096, 4096), interpolation=cv2.INTER_CUBIC)
    faces = recognizer.analyze(big)
    assert len(faces) == 1
    scaled_truth = Box(*(int(v * 8) for v in (178, 63, 89, 112)), 1.0)
    assert iou(faces[0].box, scaled_truth) > 0.6


def test_huge_photo_files_are_decoded_small_and_boxes_still_map_back(recognizer, face_photo, tmp_path):
    """A 50-megapixel JPEG is decoded at about 4096 px (its own 1/2 scale), a big PNG is reduced
    right after decoding; either way the boxes are in the file's own pixels."""
    from PIL import Image

    from fer.images import load_rgb_scaled
    from fer.settings import DEFAULTS

    MAX_DECODE_SIDE = DEFAULTS.max_decode_side

    for name, size in (("big.jpg", (8660, 5774)), ("big.png", (6144, 4096 + 1024))):
        path = tmp_path / name
        Image.fromarray(cv2.resize(face_photo, size, interpolation=cv2.INTER_LINEAR)).save(path)
        rgb, scale = load_rgb_scaled(path, max_side=MAX_DECODE_SIDE)
        assert max(rgb.shape[:2]) == MAX_DECODE_SIDE and scale == pytest.approx(MAX_DECODE_SIDE / size[0], rel=1e-3)
        faces = recognizer.analyze(path)
        assert len(faces) == 1
        sx, sy = size[0] / 512, size[1] / 512
        truth = Box(round(178 * sx), round(63 * sy), round(89 * sx), round(112 * sy), 1.0)
        assert iou(faces[0].box, truth) > 0.6, (faces[0].box, truth)
        right_eye = faces[0].box.landmarks[0]  # landmarks are mapped back with the box
        assert right_eye[0] == pytest.approx(200 * sx, rel=0.05) and right_eye[1] == pytest.approx(102 * sy, rel=0.05)


def test_many_faces_and_the_cap(recognizer, face_photo):
    group = grid_of_faces(face_photo, 2, 3)
    faces = recognizer.analyze(group)
    assert len(faces) == 6
    centres = sorted((f.box.y + f.box.h // 2) // 200 * 3 + (f.box.x + f.box.w // 2) // 200 for f in faces)
    assert centres == [0, 1, 2, 3, 4, 5]  # one face per tile
    assert len(recognizer.analyze(group, max_faces=4)) == 4


def test_48px_face_crop_is_found_after_upscaling(recognizer, face_photo):
    tiny = cv2.resize(face_only(face_photo), (48, 48), interpolation=cv2.INTER_AREA)
    faces = recognizer.analyze(tiny)
    assert len(faces) == 1
    assert faces[0].box.w > 24  # the face fills most of the crop
    cropped = recognizer.classify_crops([tiny, cv2.cvtColor(tiny, cv2.COLOR_RGB2GRAY)])
    assert [c.box for c in cropped] == [Box(0, 0, 48, 48, 1.0)] * 2
    assert cropped[0].probabilities == pytest.approx(cropped[1].probabilities, abs=1e-4)  # model is grayscale


def test_flip_tta_averages_a_face_and_its_mirror(recognizer, face_photo):
    crop = recognizer.face_crop(face_photo, recognizer.analyze(face_photo)[0].box)  # the crop analyze reads
    plain, mirrored = recognizer.classifier.predict_crops([crop, crop[:, ::-1]])
    averaged = recognizer.classifier.predict_crops([crop], tta="flip")[0]
    np.testing.assert_allclose(averaged, (plain + mirrored) / 2, atol=1e-5)
    assert recognizer.analyze(face_photo, tta="flip")[0].probabilities == pytest.approx(
        dict(zip(recognizer.class_names, averaged.tolist())), abs=1e-5)


def test_bad_images_raise_image_error(recognizer):
    with pytest.raises(ImageError):
        recognizer.analyze(b"not an image")
    assert recognizer.analyze(np.zeros((1, 1, 3), np.uint8)) == []


def test_training_and_inference_share_preprocessing(tmp_path, face_photo):
    """The dataset loader and the classifier both go through fer.preprocessing.prepare_face."""
    from tests.conftest import write_image
    from training.data import load_dataset

    crop = face_only(face_photo)
    for name in ("a", "b"):
        write_image(tmp_path / "set" / name / "face.png", crop)
    ds = load_dataset(tmp_path / "set", image_size=48, color="grayscale", val_fraction=0.5)
    loaded = np.concatenate([ds.splits["train"].images, ds.splits["val"].images])
    np.testing.assert_array_equal(loaded[0], prepare_face(crop, (48, 48), 1))


def test_concurrent_analyze_from_threads(recognizer, face_photo):
    reference = recognizer.analyze(face_photo)[0]
    errors, results = [], []

    def worker():
        try:
            for _ in range(5):
                results.append(recognizer.analyze(face_photo)[0])
        except Exception as err:  # noqa: BLE001 - collected and asserted below
            errors.append(err)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors and len(results) == 20
    for result in results:
        assert result.box == reference.box
        assert result.probabilities == pytest.approx(reference.probabilities, abs=1e-5)


def test_default_model_for_photos_and_video(tmp_path, monkeypatch):
    from fer import default_model_path
    from fer.classifier import FALLBACK_MODEL, PHOTOS_MODEL

    monkeypatch.setenv("FER_MODELS_DIR", str(tmp_path))
    (tmp_path / "mine.keras").write_bytes(b"")
    assert default_model_path("photos").name == default_model_path("live").name == "mine.keras"
    (tmp_path / f"{FALLBACK_MODEL}.keras").write_bytes(b"")
    assert default_model_path("photos").name == default_model_path("live").name == f"{FALLBACK_MODEL}.keras"
    (tmp_path / f"{FALLBACK_MODEL}.tflite").write_bytes(b"")  # LiteRT is preferred: no TensorFlow in memory
    assert default_model_path("photos").name == default_model_path("live").name == f"{FALLBACK_MODEL}.tflite"
    (tmp_path / f"{PHOTOS_MODEL}.keras").write_bytes(b"")
    assert default_model_path().name == f"{PHOTOS_MODEL}.keras"
    assert default_model_path("live").name == f"{FALLBACK_MODEL}.tflite"
    with pytest.raises(ValueError, match="purpose"):
        default_model_path("audio")


def test_classify_boxes_reads_bgr_frames_as_analyze_does(recognizer, face_photo):
    bgr = np.ascontiguousarray(face_photo[:, :, ::-1])
    faces = recognizer.analyze(bgr, bgr=True, tta="flip")
    again = recognizer.classify_boxes(bgr, [face.box for face in faces], bgr=True, tta="flip")
    assert [f.probabilities for f in again] == [f.probabilities for f in faces]
    swapped = recognizer.classify_boxes(bgr, [face.box for face in faces], tta="flip")  # colours swapped
    assert swapped[0].probabilities != faces[0].probabilities
