"""LiteRT models: inference without TensorFlow, metadata inside the .tflite file, and the app and CLI
running from .tflite files alone."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from fer.classifier import FALLBACK_MODEL, LIVE_MODEL, MODELS_DIR, PHOTOS_INT8_MODEL, PHOTOS_MODEL, EmotionClassifier
from fer.model_file import ModelFileError, ModelInfo, read_model_info, write_model_info
from fer.report import ModelReport, report_path_for
from tests.conftest import FER2013_MODEL, ROOT, write_image

TENSORFLOW_MODULES = "[m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras', 'jax', 'torch')]"


def run_python(code: str, **env: str) -> subprocess.CompletedProcess:
    import os

    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={**os.environ, **env})


def test_the_library_and_the_cli_never_import_tensorflow(tmp_path, face_photo):
    photo = write_image(tmp_path / "astronaut.png", face_photo)
    code = f"""
import json, sys
from fer import EmotionRecognizer
from fer.cli import main
faces = EmotionRecognizer().analyze({str(photo)!r})
video = EmotionRecognizer(__import__('fer').default_model_path('live')).analyze({str(photo)!r})
status = main(['predict', {str(photo)!r}, '--output', {str(tmp_path / 'out.jsonl')!r}])
print(json.dumps({{'faces': len(faces), 'video': len(video), 'status': status, 'loaded': {TENSORFLOW_MODULES}}}))
"""
    out = run_python(code)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result == {"faces": 1, "video": 1, "status": 0, "loaded": []}
    assert json.loads((tmp_path / "out.jsonl").read_text())["faces"][0]["label"]


def test_without_litert_both_purposes_run_the_live_models_float_weights(tmp_path, face_photo):
    """Where LiteRT has no wheel (`ai_edge_litert` cannot be imported), the pages and the CLI still get a
    FER+ model: the live model's own float weights, through Keras, and the picker lists only what runs."""
    photo = write_image(tmp_path / "astronaut.png", face_photo)
    code = f"""
import json, sys
sys.modules['ai_edge_litert'] = None  # what a platform without its wheel gives: ImportError
from fer import EmotionRecognizer, default_model_path
from fer.classifier import available_models
from fer.cli import main
faces = EmotionRecognizer().analyze({str(photo)!r})
status = main(['predict', {str(photo)!r}, '--output', {str(tmp_path / 'out.jsonl')!r}])
print(json.dumps({{'photos': default_model_path('photos').name, 'live': default_model_path('live').name,
                  'listed': [p.name for p in available_models()], 'label': faces[0].label, 'status': status}}))
"""
    out = run_python(code)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    fallback = f"{FALLBACK_MODEL}.keras"
    assert result == {"photos": fallback, "live": fallback, "listed": [f"{FER2013_MODEL}.keras", fallback],
                      "label": "happy", "status": 0}
    assert json.loads((tmp_path / "out.jsonl").read_text())["faces"][0]["label"] == "happy"


def test_a_keras_model_still_loads_through_keras(face_photo):
    keras_file = MODELS_DIR / f"{FALLBACK_MODEL}.keras"
    classifier = EmotionClassifier(keras_file)
    probabilities = classifier.predict_crops([face_photo[40:200, 160:300]])
    assert probabilities.shape == (1, 7) and probabilities.sum() == pytest.approx(1.0, abs=1e-4)
    assert "keras" in sys.modules


@pytest.fixture(scope="module")
def tiny_keras(tmp_path_factory):
    """A small untrained network saved as training saves one, with its metadata."""
    import keras

    from training.report import save_with_info

    folder = tmp_path_factory.mktemp("tiny")
    inputs = keras.Input((24, 24, 3))
    x = keras.layers.Rescaling(1 / 255)(inputs)
    x = keras.layers.Conv2D(4, 3, activation="relu")(x)
    outputs = keras.layers.Dense(3, activation="softmax")(keras.layers.GlobalAveragePooling2D()(x))
    model = keras.Model(inputs, outputs)
    info = ModelInfo("tiny", ("cat", "dog", "owl"), (24, 24), 3)
    path = folder / "tiny.keras"
    save_with_info(model, info, path)
    return model, info, path


@pytest.mark.parametrize("weights", ["float16", "float32", "int8"])
def test_export_writes_metadata_that_reads_back(tiny_keras, tmp_path, weights):
    from training.export_litert import export_litert

    model, info, _ = tiny_keras
    images = np.random.default_rng(0).integers(0, 256, (20, 24, 24, 3), dtype=np.uint8)
    labels = np.arange(20) % 3
    section = export_litert(model, info, tmp_path / "tiny.tflite", weights, check_splits={"val": (images, labels)})
    assert read_model_info(tmp_path / "tiny.tflite") == info
    assert section["weights"] == weights and section["file_bytes"] == (tmp_path / "tiny.tflite").stat().st_size
    assert section["agreement"]["val"]["images"] == 20 and 0 <= section["agreement"]["val"]["accuracy"] <= 1
    assert section["agreement"]["val"]["max_abs_difference"] < (0.05 if weights == "int8" else 5e-3)
    classifier = EmotionClassifier(tmp_path / "tiny.tflite")
    assert classifier.class_names == ("cat", "dog", "owl")
    crops = [np.full((40, 30, 3), v, np.uint8) for v in (0, 128, 255)]  # resized to 24x24 by the classifier
    assert classifier.predict_crops(crops).shape == (3, 3)
    with pytest.raises(ModelFileError, match="already has"):
        write_model_info(tmp_path / "tiny.tflite", info)
    assert not list(tmp_path.glob("*tmp*")), "no staging file is left behind"


def test_export_command_writes_beside_the_model_and_updates_its_report(tiny_keras, tmp_path):
    from training.export_litert import main

    _, info, source = tiny_keras
    model = tmp_path / "tiny.keras"
    shutil.copy(source, model)
    (tmp_path / "tiny.json").write_text(json.dumps({"report_version": 1, "model": info.to_json()}))
    assert main([str(model), "--weights", "float32"]) == 0
    assert main([str(model), "--weights", "int8"]) == 0  # a variant beside it, described by the same report
    assert read_model_info(tmp_path / "tiny.tflite") == read_model_info(tmp_path / "tiny.int8.tflite") == info
    report = ModelReport.load(tmp_path / "tiny.json")
    assert report.model == info.to_json()
    assert {name: entry["weights"] for name, entry in report.litert.items()} == {
        "tiny.tflite": "float32", "tiny.int8.tflite": "int8"}
    assert main([str(model), "--weights", "int8", "--alone"]) == 0  # the copy that ships, described alone
    assert list(ModelReport.load(tmp_path / "tiny.json").litert) == ["tiny.int8.tflite"]
    assert main([str(tmp_path / "missing.keras")]) == 2


def test_model_files_list_each_model_once_and_find_its_report(tmp_path):
    from fer.model_file import model_files

    for name in ("a.keras", "a.tflite", "a.int8.tflite", "b.keras", "c.keras", "c.int8.tflite"):
        (tmp_path / name).write_bytes(b"")
    # c.keras is c.int8.tflite's float copy: listed only where LiteRT is missing (available_models)
    assert [p.name for p in model_files(tmp_path)] == ["a.tflite", "a.int8.tflite", "b.keras", "c.int8.tflite"]
    assert {report_path_for(tmp_path / n).name for n in ("a.keras", "a.tflite", "a.int8.tflite")} == {"a.json"}


def test_bad_tflite_files_get_a_clear_error(tmp_path, tiny_keras):
    from training.export_litert import convert

    garbage = tmp_path / "garbage.tflite"
    garbage.write_bytes(b"\x00" * 64 + b"not a model")
    with pytest.raises(ModelFileError, match="not a"):
        EmotionClassifier(garbage)
    bare = tmp_path / "bare.tflite"
    convert(tiny_keras[0], bare, "float32")  # converted without the metadata
    with pytest.raises(ModelFileError, match="no class list"):
        EmotionClassifier(bare)
    wrong = tmp_path / "wrong.tflite"
    shutil.copy(bare, wrong)
    write_model_info(wrong, ModelInfo("wrong", ("a", "b"), (24, 24), 3))  # two names, three outputs
    with pytest.raises(ModelFileError, match="3 outputs"):
        EmotionClassifier(wrong)


@pytest.fixture()
def litert_only_models(tmp_path, monkeypatch):
    """A models folder holding only the shipped .tflite files and their reports."""
    folder = tmp_path / "models"
    folder.mkdir()
    for stem in (FER2013_MODEL, PHOTOS_MODEL):
        shutil.copy(MODELS_DIR / f"{stem}.json", folder)
    shutil.copy(report_path_for(MODELS_DIR / f"{LIVE_MODEL}.tflite"), folder)
    for path in MODELS_DIR.glob("*.tflite"):
        shutil.copy(path, folder)
    monkeypatch.setenv("FER_MODELS_DIR", str(folder))
    return folder


def test_the_cli_runs_with_only_tflite_files(litert_only_models, tmp_path, face_photo):
    photo = write_image(tmp_path / "astronaut.png", face_photo)
    out = subprocess.run([sys.executable, "-m", "fer", "predict", str(photo)], cwd=ROOT, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert len(json.loads(out.stdout)["faces"]) == 1


def test_the_app_runs_with_only_tflite_files(litert_only_models, face_photo):
    from tests.test_app import open_page, png

    photos = open_page("app_pages/upload.py")
    assert photos.sidebar.selectbox[0].value == f"{PHOTOS_INT8_MODEL}.tflite"
    photos.file_uploader[0].set_value([("astronaut.png", png(face_photo), "image/png")]).run()
    assert not photos.exception and not photos.error
    assert len(photos.dataframe[0].value) == 1
    live = open_page("app_pages/live.py")
    assert live.selectbox[0].value == f"{LIVE_MODEL}.tflite"
    dashboard = open_page("app_pages/dashboard.py")
    file_size = next(m for m in dashboard.metric if m.label == "File size")
    assert not dashboard.warning and "int8 weights" in file_size.help
    dashboard.selectbox[0].select(f"{FER2013_MODEL}.tflite").run()
    file_size = next(m for m in dashboard.metric if m.label == "File size")
    assert not dashboard.warning and "float16 weights" in file_size.help
