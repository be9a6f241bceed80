"""The models in models/ load on this machine, agree with their reports, and their LiteRT copies (what
the app runs) agree with the Keras files they were converted from."""

from __future__ import annotations

import json

import numpy as np
import pytest

from fer.classifier import ACCURATE_MODEL, FAST_MODEL, MODELS_DIR, EmotionClassifier
from fer.model_file import read_model_info

# The fast model is always shipped; the accurate one only once it beats the fast one on validation.
SHIPPED_MODELS = [MODELS_DIR / f"{FAST_MODEL}.keras"] + [
    p for p in [MODELS_DIR / f"{ACCURATE_MODEL}.keras"] if p.exists()]


@pytest.fixture(scope="module", params=SHIPPED_MODELS, ids=lambda path: path.stem)
def shipped(request):
    return request.param


@pytest.fixture(scope="module")
def report(shipped) -> dict:
    return json.loads(shipped.with_suffix(".json").read_text())


@pytest.fixture(scope="module")
def model(shipped):
    return keras_model(shipped)


def all_layers(model):
    """Every layer, including those inside an ensemble's member models."""
    for layer in model.layers:
        yield layer
        if hasattr(layer, "layers"):
            yield from all_layers(layer)


def test_model_and_report_agree(shipped, model, report):
    info = read_model_info(shipped)
    assert list(info.class_names) == report["model"]["class_names"] == report["dataset"]["class_names"]
    assert list(model.input_shape[1:]) == report["model"]["input_shape"] == [*info.image_size, info.channels]
    assert model.output_shape[-1] == len(info.class_names)
    assert model.count_params() == report["model"]["parameters"]
    assert shipped.stat().st_size == report["model"]["file_bytes"]
    assert all(layer.dtype_policy.name == "float32" for layer in all_layers(model)), "shipped models compute in float32"
    for trained in report.get("members") or [report]:  # an ensemble: each member's own report
        assert len(trained["history"]) == trained["training"]["epochs_run"]
        best = trained["training"]["best_epoch"]
        assert trained["history"][best - 1]["val_accuracy"] == pytest.approx(trained["training"]["best_val_accuracy"])


@pytest.mark.skipif(len(SHIPPED_MODELS) < 2, reason="no accurate model is shipped: the fast one serves photos too")
def test_the_accurate_model_beats_the_fast_one_on_validation():
    """The photos model is chosen for accuracy, on validation (PublicTest) only."""
    fast, accurate = (json.loads(p.with_suffix(".json").read_text()) for p in SHIPPED_MODELS)
    assert accurate["evaluation"]["val"]["none"]["accuracy"] > fast["evaluation"]["val"]["none"]["accuracy"]


def test_report_metrics_are_consistent(report):
    names = report["model"]["class_names"]
    for split, by_tta in report["evaluation"].items():
        counts = report["dataset"]["splits"][split]["class_counts"]
        for metrics in by_tta.values():
            matrix = np.array(metrics["confusion_matrix"])
            assert matrix.sum(axis=1).tolist() == counts
            assert metrics["accuracy"] == pytest.approx(np.trace(matrix) / matrix.sum())
            f1 = [metrics["per_class"][n]["f1"] for n in names]
            assert metrics["macro_f1"] == pytest.approx(np.mean(f1))


def test_report_test_accuracy_reproduces_on_fer2013(model, report, fer2013_path):
    from training.data import load_dataset
    from training.evaluate import evaluate_model

    dataset = load_dataset(fer2013_path)
    assert dataset.fingerprint() == report["dataset"]["fingerprint"]
    test = dataset.splits["test"]
    metrics = evaluate_model(model, test.images, test.labels, dataset.class_names, "none")
    assert metrics["confusion_matrix"] == report["evaluation"]["test"]["none"]["confusion_matrix"]


def test_litert_copy_matches_the_keras_model_and_the_report(shipped, report):
    litert = shipped.with_suffix(".tflite")
    assert read_model_info(litert) == read_model_info(shipped)
    section = report["litert"]
    assert section["file"] == litert.name and section["file_bytes"] == litert.stat().st_size
    for split, figures in section["agreement"].items():  # measured by training.export_litert on FER2013
        assert figures["same_predictions"] == figures["images"], split
        assert figures["max_abs_difference"] < 5e-3, split


def test_litert_and_keras_agree_on_real_face_crops(shipped, face_photo):
    """Float16 weights move a probability by at most a few thousandths (2.1e-3 measured on FER2013)."""
    import cv2

    face = face_photo[40:200, 160:300]
    crops = [face, face[:, ::-1], cv2.resize(face, (48, 48)), face_photo[:300, 100:400], face_photo[250:450, 0:200]]
    keras_probs = EmotionClassifier(shipped).predict_crops(crops, tta="flip")
    litert_probs = EmotionClassifier(shipped.with_suffix(".tflite")).predict_crops(crops, tta="flip")
    assert litert_probs == pytest.approx(keras_probs, abs=5e-3)
    assert (litert_probs.argmax(1) == keras_probs.argmax(1)).all()


def test_litert_reproduces_the_keras_predictions_on_fer2013(shipped, fer2013_path):
    """Every PrivateTest image gets the same prediction from the shipped LiteRT file as from Keras."""
    from training.data import load_dataset
    from training.evaluate import predict_probabilities

    test = load_dataset(fer2013_path).splits["test"]
    litert = EmotionClassifier(shipped.with_suffix(".tflite")).predict_prepared(test.images)
    assert (litert.argmax(1) == predict_probabilities(keras_model(shipped), test.images).argmax(1)).all()


def keras_model(path):
    import keras

    return keras.models.load_model(path, compile=False)
