"""The models in models/ load on this machine, agree with their reports, and their LiteRT copies (what
the app runs) agree with the Keras files they were converted from."""

from __future__ import annotations

import json

import numpy as np
import pytest

from fer.classifier import ACCURATE_MODEL, FAST_MODEL, LIVE_MODEL, MODELS_DIR, EmotionClassifier, default_model_path
from fer.model_file import read_model_info, report_path_for

# The fast model is always shipped; the accurate one only once it beats the fast one on validation.
SHIPPED_MODELS = [MODELS_DIR / f"{FAST_MODEL}.keras"] + [
    p for p in [MODELS_DIR / f"{ACCURATE_MODEL}.keras"] if p.exists()]


@pytest.fixture(scope="module", params=SHIPPED_MODELS, ids=lambda path: path.stem)
def shipped(request):
    return request.param


@pytest.fixture(scope="module")
def report(shipped) -> dict:
    return json.loads(report_path_for(shipped).read_text())


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
    fast, accurate = (json.loads(report_path_for(p).read_text()) for p in SHIPPED_MODELS)
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


def test_litert_copies_match_the_keras_model_and_the_report(shipped, report):
    """Every .tflite the app may run is described in the report, which training.export_litert wrote after
    comparing it with Keras on FER2013's validation and test splits."""
    copies = sorted(MODELS_DIR.glob(f"{shipped.stem}*.tflite"))
    assert shipped.with_suffix(".tflite") in copies and sorted(report["litert"]) == [p.name for p in copies]
    for copy in copies:
        section = report["litert"][copy.name]
        assert read_model_info(copy) == read_model_info(shipped)
        assert section["file_bytes"] == copy.stat().st_size
        for split, figures in section["agreement"].items():
            assert figures["keras_accuracy"] == pytest.approx(report["evaluation"][split]["none"]["accuracy"])
            if section["weights"] == "int8":  # a handful of changed predictions, accuracy no lower
                assert figures["same_predictions"] >= 0.99 * figures["images"], split
                assert figures["accuracy"] >= figures["keras_accuracy"] - 0.002, split
            else:
                assert figures["same_predictions"] == figures["images"], split
                assert figures["max_abs_difference"] < 5e-3, split


def test_the_live_model_is_chosen_on_validation_and_fits_the_frame_budget(monkeypatch):
    """The live page runs the int8 ensemble: more accurate on PublicTest than the single CNN, and about
    as fast per face (benchmarks/latency.py)."""
    ensemble = json.loads((MODELS_DIR / f"{ACCURATE_MODEL}.json").read_text())
    single = json.loads((MODELS_DIR / f"{FAST_MODEL}.json").read_text())
    live = ensemble["litert"][f"{LIVE_MODEL}.tflite"]
    single_cnn = single["litert"][f"{FAST_MODEL}.tflite"]
    assert live["weights"] == "int8"
    assert live["agreement"]["val"]["accuracy"] > single_cnn["agreement"]["val"]["accuracy"]
    monkeypatch.delenv("FER_MODELS_DIR", raising=False)
    assert default_model_path("video").name == f"{LIVE_MODEL}.tflite"
    assert default_model_path("photos").name == f"{ACCURATE_MODEL}.tflite"


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
