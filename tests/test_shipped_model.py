"""The models in models/ load on this machine and agree with their reports; their LiteRT copies (what the
app runs) agree with the Keras files they were converted from, or, where only the LiteRT file ships (the
ensemble: its members stay out of the repository), with the figures measured when it was converted."""

from __future__ import annotations

import numpy as np
import pytest

from fer.classifier import (
    LIVE_MODEL,
    MODELS_DIR,
    PHOTOS_INT8_MODEL,
    PHOTOS_MODEL,
    EmotionClassifier,
    default_model_path,
)
from fer.model_file import ModelInfo, read_model_info, trained_model_stem
from fer.report import ModelReport, report_path_for
from tests.conftest import FER2013_MODEL

# One report per trained model, least accurate first: the FER2013-label CNN ships as .keras and float16
# .tflite, the live model as int8 .tflite and as .keras (what runs where LiteRT is missing), the photos
# model as its int8 LiteRT file only.
SHIPPED_REPORTS = [MODELS_DIR / f"{FER2013_MODEL}.json"] + [
    p for p in [report_path_for(MODELS_DIR / f"{LIVE_MODEL}.tflite"), MODELS_DIR / f"{PHOTOS_MODEL}.json"]
    if p.exists()]
SHIPPED_KERAS = [p.with_suffix(".keras") for p in SHIPPED_REPORTS if p.with_suffix(".keras").exists()]
# .keras files shipped with a float16 LiteRT copy (NAME.tflite); an int8 copy's agreement is in its report.
WITH_FLOAT16_COPY = [p for p in SHIPPED_KERAS if p.with_suffix(".tflite").exists()]


@pytest.fixture(scope="module", params=SHIPPED_REPORTS, ids=lambda path: path.stem)
def report_path(request):
    return request.param


@pytest.fixture(scope="module")
def report(report_path) -> ModelReport:
    return ModelReport.load(report_path)


@pytest.fixture(scope="module", params=SHIPPED_KERAS, ids=lambda path: path.stem)
def shipped(request):
    return request.param


@pytest.fixture(scope="module", params=WITH_FLOAT16_COPY, ids=lambda path: path.stem)
def shipped_with_float16_copy(request):
    return request.param


@pytest.fixture(scope="module")
def model(shipped):
    return keras_model(shipped)


def litert_copies(report_path):
    """The shipped LiteRT files that a report describes: NAME.tflite and NAME.int8.tflite."""
    return sorted(p for p in MODELS_DIR.glob("*.tflite") if trained_model_stem(p) == report_path.stem)


def all_layers(model):
    """Every layer, including those inside an ensemble's member models."""
    for layer in model.layers:
        yield layer
        if hasattr(layer, "layers"):
            yield from all_layers(layer)


def test_model_and_report_agree(shipped, model):
    report = ModelReport.load(shipped)
    info = read_model_info(shipped)
    assert list(info.class_names) == report.model["class_names"] == report.dataset["class_names"]
    assert list(model.input_shape[1:]) == report.model["input_shape"] == [*info.image_size, info.channels]
    assert model.output_shape[-1] == len(info.class_names)
    assert model.count_params() == report.model["parameters"]
    assert shipped.stat().st_size == report.model["file_bytes"]
    assert all(layer.dtype_policy.name == "float32" for layer in all_layers(model)), "shipped models compute in float32"


def test_training_history_matches_the_selected_epoch(report):
    for trained in report.members or [report]:  # an ensemble: each member's own report
        assert len(trained.history) == trained.training["epochs_run"]
        best = trained.training["best_epoch"]
        assert trained.history[best - 1]["val_accuracy"] == pytest.approx(trained.training["best_val_accuracy"])


def test_report_metrics_are_consistent(report):
    names = report.model["class_names"]
    for split, by_tta in report.evaluation.items():
        counts = report.splits[split]["class_counts"]
        for metrics in by_tta.values():
            matrix = np.array(metrics["confusion_matrix"])
            assert matrix.sum(axis=1).tolist() == counts
            assert metrics["accuracy"] == pytest.approx(np.trace(matrix) / matrix.sum())
            f1 = [metrics["per_class"][n]["f1"] for n in names]
            assert metrics["macro_f1"] == pytest.approx(np.mean(f1))
            if "ferplus" in metrics:  # scored against the FER+ majority of the faces that have a clear one
                plus = metrics["ferplus"]
                matrix = np.array(plus["confusion_matrix"])
                assert matrix.sum(axis=1).tolist() == report.splits[split]["majority_counts"]
                recall = [plus["per_class"][n]["recall"] for n in names]
                assert plus["balanced_accuracy"] == pytest.approx(np.mean(recall))


def test_report_test_accuracy_reproduces_on_fer2013(shipped, model, fer2013_path):
    from training.data import load_dataset
    from training.evaluate import evaluate_model
    from training.ferplus import attach_votes, default_votes_path

    report = ModelReport.load(shipped)
    dataset = load_dataset(fer2013_path)
    if report.config.get("labels") == "ferplus":  # the votes were part of its data
        attach_votes(dataset, default_votes_path(fer2013_path))
    assert dataset.fingerprint() == report.dataset["fingerprint"]
    test = dataset.splits["test"]
    correction = read_model_info(shipped).prior_correction  # the report scores what the file gives, as fer runs it
    metrics = evaluate_model(model, test.images, test.labels, dataset.class_names, "none", correction=correction)
    if report.model.get("stored_weights") == "float16":  # training.float16_copy: weights rounded after the report
        moved = np.abs(np.array(metrics["confusion_matrix"]) - report.metrics("test")["confusion_matrix"]).sum() / 2
        assert moved <= 0.001 * len(test.labels), f"{moved:.0f} faces read otherwise than the report says"
    else:
        assert metrics["confusion_matrix"] == report.metrics("test")["confusion_matrix"]


def test_litert_copies_match_the_report(report_path, report):
    """Every .tflite the app may run is described in the report, which training.export_litert wrote after
    comparing it with Keras on FER2013's validation and test splits."""
    copies = litert_copies(report_path)
    assert copies and sorted(report.litert) == [p.name for p in copies]
    for copy in copies:
        section = report.litert[copy.name]
        assert read_model_info(copy) == ModelInfo.from_json(report.model)
        assert section["file_bytes"] == copy.stat().st_size
        for split, figures in section["agreement"].items():
            assert figures["keras_accuracy"] == pytest.approx(report.metrics(split)["accuracy"])
            if section["weights"] == "int8":  # a handful of changed predictions, accuracy no lower
                assert figures["same_predictions"] >= 0.99 * figures["images"], split
                assert figures["accuracy"] >= figures["keras_accuracy"] - 0.002, split
            else:  # float16: only a near-tie may turn (1-2 of 3,589 images; below)
                assert figures["same_predictions"] >= 0.999 * figures["images"], split
                assert figures["max_abs_difference"] < 5e-3, split


def test_every_file_the_app_runs_has_the_dashboards_figures(report_path, report):
    """The dashboard and Home page show each file's PrivateTest scores (read once and with flip) and its time
    per face from the report; a file shipped without `benchmarks/accuracy.py --update-report` and
    `benchmarks/latency.py --update-report` would show "not measured" and "n/a" there."""
    for copy in litert_copies(report_path):
        assert report.latency_ms(copy.name), f"{copy.name}: no time per face in its report"
        for tta in ("none", "flip"):
            assert report.scores(copy.name, "test", tta).get("ferplus"), f"{copy.name}: no PrivateTest {tta}"


def test_each_page_runs_its_int8_model_chosen_on_validation(monkeypatch, fer2013_path):
    """Models are chosen by balanced accuracy against the FER+ majority on PublicTest, as the app runs them:
    the live model (no TTA) ahead of the FER2013-label CNN it replaced, the photos model (flip TTA) no behind it."""
    from fer.classifier import EmotionClassifier
    from training.data import VAL, load_dataset
    from training.evaluate import vote_metrics
    from training.ferplus import attach_votes, default_votes_path

    validation = attach_votes(load_dataset(fer2013_path), default_votes_path(fer2013_path)).splits[VAL]

    def balanced(stem: str, tta: str) -> float:
        classifier = EmotionClassifier(MODELS_DIR / f"{stem}.tflite")
        probabilities = classifier.predict_prepared(validation.images, tta)
        return vote_metrics(probabilities, validation.votes, list(classifier.class_names))["balanced_accuracy"]

    photos, live = balanced(PHOTOS_INT8_MODEL, "flip"), balanced(LIVE_MODEL, "none")
    assert photos >= live > balanced(FER2013_MODEL, "none") + 0.05
    for stem in (PHOTOS_INT8_MODEL, LIVE_MODEL):
        section = ModelReport.load(MODELS_DIR / f"{stem}.tflite").litert[f"{stem}.tflite"]
        assert section["weights"] == "int8"
    monkeypatch.delenv("FER_MODELS_DIR", raising=False)
    assert default_model_path("photos").name == f"{PHOTOS_INT8_MODEL}.tflite"
    assert default_model_path("live").name == f"{LIVE_MODEL}.tflite"


def test_litert_and_keras_agree_on_real_face_crops(shipped_with_float16_copy, face_photo):
    """Float16 weights move a probability by at most a few thousandths (2.1e-3 measured on FER2013)."""
    import cv2

    face = face_photo[40:200, 160:300]
    crops = [face, face[:, ::-1], cv2.resize(face, (48, 48)), face_photo[:300, 100:400], face_photo[250:450, 0:200]]
    keras_probs = EmotionClassifier(shipped_with_float16_copy).predict_crops(crops, tta="flip")
    litert_probs = EmotionClassifier(shipped_with_float16_copy.with_suffix(".tflite")).predict_crops(crops, tta="flip")
    assert litert_probs == pytest.approx(keras_probs, abs=5e-3)
    assert (litert_probs.argmax(1) == keras_probs.argmax(1)).all()


def test_litert_reproduces_the_keras_predictions_on_fer2013(shipped_with_float16_copy, fer2013_path):
    """PrivateTest images get the same prediction from the shipped LiteRT file (float16 weights) as from
    Keras, except where Keras's two most likely classes are within float16's rounding of each other."""
    from training.data import load_dataset
    from training.evaluate import predict_probabilities

    test = load_dataset(fer2013_path).splits["test"]
    litert = EmotionClassifier(shipped_with_float16_copy.with_suffix(".tflite")).predict_prepared(test.images)
    keras_probs = predict_probabilities(keras_model(shipped_with_float16_copy), test.images,
                                        correction=read_model_info(shipped_with_float16_copy).prior_correction)
    turned = np.flatnonzero(litert.argmax(1) != keras_probs.argmax(1))
    assert len(turned) <= 2
    top_two = np.sort(keras_probs[turned], axis=1)[:, -2:]
    assert (top_two[:, 1] - top_two[:, 0] < 5e-3).all(), top_two


def test_litert_files_reproduce_their_recorded_accuracy_on_fer2013(report_path, report, fer2013_path):
    """Every shipped LiteRT file, int8 or float16, with or without its Keras source beside it, scores on
    PublicTest and PrivateTest exactly what training.export_litert recorded when it converted it."""
    from training.data import load_dataset

    copies = litert_copies(report_path)
    dataset = load_dataset(fer2013_path)
    for copy in copies:
        classifier = EmotionClassifier(copy)
        for split, figures in report.litert[copy.name]["agreement"].items():
            data = dataset.splits[split]
            accuracy = float(np.mean(classifier.predict_prepared(data.images).argmax(1) == data.labels))
            assert accuracy == pytest.approx(figures["accuracy"], abs=1e-9), (copy.name, split)


def keras_model(path):
    import keras

    return keras.models.load_model(path, compile=False)
