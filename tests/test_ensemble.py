"""Ensembles: two tiny trained models averaged into one file that everything downstream loads."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from fer.classifier import EmotionClassifier
from fer.model_file import read_model_info
from fer.report import ModelReport
from tests.conftest import ROOT
from tests.test_training import make_pattern_dataset, tiny_config
from training.ensemble import main as ensemble_main
from training.train import train


@pytest.fixture(scope="module")
def members(tmp_path_factory):
    root = tmp_path_factory.mktemp("ensemble")
    data = make_pattern_dataset(root / "data", per_class=60)
    paths = [
        train(tiny_config(root / f"m{seed}", data, seed=seed, epochs=2, output=str(root / f"m{seed}.keras"),
                          name=f"tiny{seed}"))
        for seed in (1, 2)
    ]
    return data, paths


def test_ensemble_averages_its_members_and_reports_them(members, tmp_path):
    data, paths = members
    output = tmp_path / "models" / "tiny_ensemble.keras"
    assert ensemble_main(["--data", str(data), "--members", *map(str, paths), "--output", str(output)]) == 0

    info = read_model_info(output)
    assert info.name == "tiny_ensemble" and info.class_names == read_model_info(paths[0]).class_names
    crops = [np.random.default_rng(i).integers(0, 255, (30, 30, 3), dtype=np.uint8) for i in range(5)]
    expected = np.mean([EmotionClassifier(p).predict_crops(crops) for p in paths], axis=0)
    np.testing.assert_allclose(EmotionClassifier(output).predict_crops(crops), expected, atol=1e-5)
    litert = EmotionClassifier(output.with_suffix(".tflite"))  # float16 weights: within a few thousandths
    np.testing.assert_allclose(litert.predict_crops(crops), expected, atol=5e-3)

    report = ModelReport.load(output)
    assert [m.model["name"] for m in report.members] == ["tiny1", "tiny2"]
    assert all(len(m.history) == 2 for m in report.members)
    assert report.model["parameters"] == sum(m.parameters for m in report.members)
    assert report.training["train_seconds"] == pytest.approx(
        sum(m.training["train_seconds"] for m in report.members), abs=0.2)
    test = report.metrics("test")
    assert np.array(test["confusion_matrix"]).sum() == report.splits["test"]["count"]


def test_ensemble_refuses_members_with_different_classes(members, tmp_path):
    data, paths = members
    other_data = tmp_path / "other"
    for name in ("a", "b"):  # a dataset with other classes, same image size
        for split in ("train", "test"):
            source = next((data / split).iterdir())
            (other_data / split / name).mkdir(parents=True)
            for image in list(source.iterdir())[:8]:
                (other_data / split / name / image.name).write_bytes(image.read_bytes())
    other = train(tiny_config(tmp_path / "other_run", other_data, epochs=1, output=str(tmp_path / "other.keras")))
    out = subprocess.run(
        [sys.executable, "-m", "training.ensemble", "--data", str(data), "--members", str(paths[0]), str(other),
         "--output", str(tmp_path / "bad.keras")],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert out.returncode == 2 and "has classes" in out.stderr and "Traceback" not in out.stderr
    assert not (tmp_path / "bad.keras").exists()
