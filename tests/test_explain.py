"""Saliency and feature maps on a real face with the shipped models."""

from __future__ import annotations

import numpy as np
import pytest

from fer.classifier import LIVE_MODEL, MODELS_DIR, PHOTOS_INT8_MODEL
from fer.detection import face_crop
from fer.explain import explain_face, face_feature_maps, feature_grid, feature_maps, layer_name, occlusion_saliency
from fer.recognizer import CROP_MARGIN, EmotionRecognizer


@pytest.fixture(scope="module")
def smiling_crop(recognizer, face_photo) -> np.ndarray:
    return face_crop(face_photo, recognizer.analyze(face_photo)[0].box, CROP_MARGIN)


@pytest.fixture(scope="module")
def fer2013_recognizer() -> EmotionRecognizer:
    """The FER2013-label model: far less sure of the astronaut's smile than the FER+ models, so hiding her
    mouth costs it a quarter of its probability, a strong effect to map."""
    return EmotionRecognizer(MODELS_DIR / "fer2013_vgg32.tflite")


def test_a_smile_rests_on_the_mouth(fer2013_recognizer, smiling_crop):
    """The astronaut is read as happy; hiding the lower half of her face (the smile) costs that label the
    most, and hiding the upper half next to nothing."""
    saliency = occlusion_saliency(fer2013_recognizer.classifier, smiling_crop)
    height, width = saliency.heat.shape
    assert saliency.label == "happy" and 0.1 < saliency.drop <= 1
    assert 0.5 < saliency.heat.max() <= 1 and saliency.heat.min() >= 0
    lower, upper = saliency.heat[height // 2 :].mean(), saliency.heat[: height // 2].mean()
    assert lower > 5 * upper
    mouth = saliency.heat[int(height * 0.6) : int(height * 0.85), width // 3 : 2 * width // 3].mean()
    assert mouth > 0.4 * saliency.heat.max()


def test_a_negligible_effect_looks_negligible(recognizer, smiling_crop, face_photo):
    """The photos model is 99% sure of this smile: no patch takes more than a point or two off it, and the
    heat map says so (it once scaled every map to its own maximum, drawing that as bright red)."""
    saliency = occlusion_saliency(recognizer.classifier, smiling_crop)
    assert saliency.drop < 0.05 and saliency.heat.max() < 0.2
    overlay, _ = explain_face(recognizer, face_photo, recognizer.analyze(face_photo)[0].box)
    assert np.abs(overlay.astype(int) - smiling_crop.astype(int)).mean() < 3  # the face, hardly tinted


def test_explain_face_overlays_the_crop(fer2013_recognizer, face_photo):
    box = fer2013_recognizer.analyze(face_photo)[0].box
    overlay, saliency = explain_face(fer2013_recognizer, face_photo, box)
    assert saliency.label == "happy"
    crop = face_crop(face_photo, box, CROP_MARGIN)
    assert overlay.shape == crop.shape and overlay.dtype == np.uint8
    assert 2 < np.abs(overlay.astype(int) - crop.astype(int)).mean() < 120  # tinted where it matters, still the face


VGG_LAYERS = [f"b{block}_{part}" for block in range(4) for part in ("relu0", "relu1", "pool")]


@pytest.mark.parametrize(("name", "members"), [("fer2013_vgg32.tflite", None),
                                               (f"{LIVE_MODEL}.tflite", None),
                                               (f"{PHOTOS_INT8_MODEL}.tflite", 2)])
def test_feature_maps_of_every_conv_layer(name, members, face_photo):
    """Every convolution and pooling layer, in network order, found through the interpreter's public API;
    an ensemble's layers carry their member's name, whatever the ensemble's file is called."""
    recognizer = EmotionRecognizer(MODELS_DIR / name)
    layers = face_feature_maps(recognizer, face_photo, recognizer.analyze(face_photo)[0].box)
    expected = VGG_LAYERS if members is None else [f"member_{m}/{n}" for m in range(members) for n in VGG_LAYERS]
    assert [layer.layer for layer in layers] == expected
    assert layers[0].maps.shape[:2] == (48, 48) and layers[-1].maps.shape[:2] == (3, 3)
    assert all((layer.maps >= 0).all() for layer in layers if "relu" in layer.layer)  # ReLU outputs
    assert any(layer.maps.std() > 0 for layer in layers)
    grid = feature_grid(layers[0].maps)
    assert grid.shape == (4 * 66, 8 * 66, 3)


def test_feature_maps_are_the_face_s_own(face_photo):
    """The maps are those of the crop the recognizer classifies, not of the last input the interpreter saw."""
    recognizer = EmotionRecognizer(MODELS_DIR / "fer2013_vgg32.tflite")
    box = recognizer.analyze(face_photo)[0].box
    crop = recognizer.face_crop(face_photo, box)
    assert [layer.maps.tolist() for layer in feature_maps(recognizer.classifier, crop)[:3]] == \
        [layer.maps.tolist() for layer in face_feature_maps(recognizer, face_photo, box)[:3]]
    first = feature_maps(recognizer.classifier, crop)[0].maps
    assert not np.array_equal(first, feature_maps(recognizer.classifier, 255 - crop)[0].maps)


def test_feature_maps_need_a_tflite_file(face_photo):
    recognizer = EmotionRecognizer(MODELS_DIR / "fer2013_vgg32.keras")
    with pytest.raises(ValueError, match="export_litert"):
        feature_maps(recognizer.classifier, face_photo)


def test_layer_names_are_short():
    assert layer_name("fer2013_vgg32_1/b0_relu0_1/Relu;fer2013_vgg32_1/b0_bn0_1/bat") == "b0_relu0"
