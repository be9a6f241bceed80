"""`python -m fer` on folders that mix good and bad files, in every output mode."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys

import cv2
import numpy as np
import pytest

from fer.classifier import FALLBACK_MODEL, MODELS_DIR
from tests.conftest import ROOT, write_image


def run_cli(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fer", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture(scope="module")
def mixed_folder(tmp_path_factory, face_photo):
    root = tmp_path_factory.mktemp("photos")
    write_image(root / "astronaut.png", face_photo)
    write_image(root / "nested" / "deeper" / "astronaut_small.jpg", cv2.resize(face_photo, (256, 256)))
    write_image(root / "wall.png", np.full((120, 160, 3), 200, np.uint8))
    (root / "notes.jpg").write_text("not a picture")
    good = (root / "astronaut.png").read_bytes()
    (root / "truncated.png").write_bytes(good[: len(good) // 3])
    (root / "readme.txt").write_text("ignored: not an image suffix")
    return root


def test_predict_json_on_a_mixed_folder(mixed_folder, tmp_path):
    out = run_cli("predict", str(mixed_folder), "--annotate", str(tmp_path / "annotated"))
    assert out.returncode == 1, "two files could not be read"
    records = {json.loads(line)["path"].split("/")[-1]: json.loads(line) for line in out.stdout.splitlines()}
    assert set(records) == {"astronaut.png", "astronaut_small.jpg", "wall.png"}
    assert len(records["astronaut.png"]["faces"]) == 1 and len(records["astronaut_small.jpg"]["faces"]) == 1
    assert records["wall.png"]["faces"] == []
    face = records["astronaut.png"]["faces"][0]
    assert set(face) == {"box", "detection_score", "landmarks", "label", "score", "probabilities"}
    box = face["box"]
    assert list(face["landmarks"]) == ["right_eye", "left_eye", "nose_tip", "right_mouth_corner", "left_mouth_corner"]
    assert all(box["x"] <= x <= box["x"] + box["w"] and box["y"] <= y <= box["y"] + box["h"]
               for x, y in face["landmarks"].values())
    assert "notes.jpg" in out.stderr and "truncated.png" in out.stderr and "Traceback" not in out.stderr
    annotated = tmp_path / "annotated"  # the input's folders, mirrored
    assert sorted(str(p.relative_to(annotated)) for p in annotated.rglob("*.png")) == [
        "astronaut_annotated.png", "nested/deeper/astronaut_small_annotated.png", "wall_annotated.png"]


def test_predict_csv_to_a_file(mixed_folder, tmp_path):
    target = tmp_path / "out.csv"
    out = run_cli("predict", str(mixed_folder / "astronaut.png"), str(mixed_folder / "wall.png"), "--format", "csv",
                  "--output", str(target))
    assert out.returncode == 0, out.stderr
    rows = list(csv.DictReader(target.open()))
    assert [r["faces"] for r in rows] == ["1", "0"]
    assert [r["face"] for r in rows] == ["1", ""]  # numbered from #1, as the annotated copy and the app show it
    assert rows[0]["label"] in rows[0] and abs(sum(float(rows[0][c]) for c in
               ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")) - 1) < 1e-2
    x, w = float(rows[0]["x"]), float(rows[0]["w"])
    assert x < float(rows[0]["right_eye_x"]) < float(rows[0]["left_eye_x"]) < x + w
    assert rows[1]["right_eye_x"] == "" and rows[1]["left_mouth_corner_y"] == ""  # no face, no landmarks


def test_cropped_mode_skips_detection(tmp_path, face_photo):
    crop = cv2.cvtColor(cv2.resize(face_photo[60:190, 165:285], (48, 48)), cv2.COLOR_RGB2GRAY)
    write_image(tmp_path / "crops" / "a.png", crop)
    write_image(tmp_path / "crops" / "flat.png", np.full((48, 48), 90, np.uint8))  # no face, still classified
    out = run_cli("predict", "--cropped", str(tmp_path / "crops"))
    assert out.returncode == 0, out.stderr
    records = [json.loads(line) for line in out.stdout.splitlines()]
    assert [len(r["faces"]) for r in records] == [1, 1]
    assert records[0]["faces"][0]["box"] == {"x": 0, "y": 0, "w": 48, "h": 48}


def test_missing_path_and_missing_model(tmp_path):
    out = run_cli("predict", str(tmp_path / "nope.jpg"))
    assert out.returncode == 1 and "nope.jpg" in out.stderr
    out = run_cli("predict", str(tmp_path), "--model", str(tmp_path / "missing.keras"))
    assert out.returncode == 2 and "model file not found" in out.stderr and "Traceback" not in out.stderr


def test_a_keras_model_prints_no_tensorflow_noise(tmp_path, face_photo):
    """A user sees no error that is not one: TensorFlow's start-up lines and its "failed call to cuInit"
    E-line on a machine without a GPU are kept out of the CLI's output."""
    models = tmp_path / "models"
    models.mkdir()
    shutil.copy(MODELS_DIR / f"{FALLBACK_MODEL}.keras", models)
    photo = write_image(tmp_path / "face.png", face_photo)
    out = subprocess.run([sys.executable, "-m", "fer", "predict", str(photo), "--model",
                          str(models / f"{FALLBACK_MODEL}.keras")], cwd=tmp_path, capture_output=True, text=True,
                         timeout=300, env={k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"})
    assert out.returncode == 0 and json.loads(out.stdout)["faces"][0]["label"] == "happy"
    assert out.stderr == ""


def test_predict_csv_command(tmp_path):
    rng = np.random.default_rng(0)
    lines = ["emotion,pixels,Usage"] + [f"0,{' '.join(map(str, rng.integers(0, 256, 2304)))},PrivateTest"
                                         for _ in range(3)]
    (tmp_path / "fer.csv").write_text("\n".join(lines) + "\n")
    out = run_cli("predict-csv", str(tmp_path / "fer.csv"))
    assert out.returncode == 0, out.stderr
    rows = list(csv.DictReader(io.StringIO(out.stdout)))
    assert [r["row"] for r in rows] == ["2", "3", "4"] and all(r["label"] for r in rows)

    (tmp_path / "bad.csv").write_text("pixels\n1 2 3\n")
    out = run_cli("predict-csv", str(tmp_path / "bad.csv"))
    assert out.returncode == 1 and "row 2" in out.stderr
