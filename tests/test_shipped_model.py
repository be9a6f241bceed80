"""The model in models/ loads on this machine and agrees with its report."""

from __future__ import annotations

import json

import numpy as np
import pytest

from fer.classifier import DEFAULT_MODEL_NAME, MODELS_DIR
from fer.model_file import read_model_info

SHIPPED = MODELS_DIR / DEFAULT_MODEL_NAME
REPORT = SHIPPED.with_suffix(".json")


@pytest.fixture(scope="module")
def report() -> dict:
    return json.loads(REPORT.read_text())


@pytest.fixture(scope="module")
def model():
    import keras

    return keras.models.load_model(SHIPPED, compile=False)


def test_model_and_report_agree(model, report):
    info = read_model_info(SHIPPED)
    assert list(info.class_names) == report["model"]["class_names"] == report["dataset"]["class_names"]
    assert list(model.input_shape[1:]) == report["model"]["input_shape"] == [*info.image_size, info.channels]
    assert model.output_shape[-1] == len(info.class_names)
    assert model.count_params() == report["model"]["parameters"]
    assert SHIPPED.stat().st_size == report["model"]["file_bytes"]
    assert all(layer.dtype_policy.name == "float32" for layer in model.layers), "shipped models compute in float32"
    assert len(report["history"]) == report["training"]["epochs_run"]
    best = report["training"]["best_epoch"]
    assert report["history"][best - 1]["val_accuracy"] == pytest.approx(report["training"]["best_val_accuracy"])


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
