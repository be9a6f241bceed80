"""The model in models/ loads on this machine and agrees with its report."""

from __future__ import annotations

import json

import numpy as np
import pytest

from fer.classifier import ACCURATE_MODEL_NAME, FAST_MODEL_NAME, MODELS_DIR
from fer.model_file import read_model_info

# The fast model is always shipped; the accurate one only once it beats the fast one on validation.
SHIPPED_MODELS = [MODELS_DIR / FAST_MODEL_NAME] + [p for p in [MODELS_DIR / ACCURATE_MODEL_NAME] if p.exists()]


@pytest.fixture(scope="module", params=SHIPPED_MODELS, ids=lambda path: path.stem)
def shipped(request):
    return request.param


@pytest.fixture(scope="module")
def report(shipped) -> dict:
    return json.loads(shipped.with_suffix(".json").read_text())


@pytest.fixture(scope="module")
def model(shipped):
    import keras

    return keras.models.load_model(shipped, compile=False)


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
