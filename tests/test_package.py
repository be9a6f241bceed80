"""The package as a user installs it: a wheel built from the checkout (what `pip install .` builds and
installs), put into a fresh virtual environment outside the checkout, runs `fer predict` and
`EmotionRecognizer()` with the shipped models that travel inside it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from fer.classifier import LIVE_MODEL, PHOTOS_INT8_MODEL
from tests.conftest import ROOT, write_image

pytestmark = pytest.mark.timeout(900)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """Built from a copy of what the package is made of: setuptools writes build/ into the source folder."""
    source, dist = tmp_path_factory.mktemp("source"), tmp_path_factory.mktemp("dist")
    shutil.copytree(ROOT / "fer", source / "fer", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "models", source / "models")
    for name in ("pyproject.toml", "requirements.txt", "README.md"):
        shutil.copy(ROOT / name, source)
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                            "--wheel-dir", str(dist), str(source)], capture_output=True, text=True, timeout=600)
    assert build.returncode == 0, build.stderr[-3000:]
    (found,) = dist.glob("fer_app-*.whl")
    return found


def test_the_wheel_holds_the_fer_package_and_its_models_only(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    top_level = {name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")}
    assert top_level == {"fer"}  # not training, app_pages or app_harness: nobody imports those from a wheel
    assert f"fer/models/{PHOTOS_INT8_MODEL}.tflite" in names and f"fer/models/{LIVE_MODEL}.tflite" in names
    assert "fer/weights/yunet_s_640_640.onnx" in names
    assert not any(name.startswith("fer/models/float/") for name in names)  # training's float weights stay out


def test_a_non_editable_install_runs_the_cli_and_the_library_outside_the_checkout(wheel, tmp_path, face_photo):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    python = venv / "bin" / "python"
    install = subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
                              "--disable-pip-version-check", str(wheel)], capture_output=True, text=True, timeout=300)
    assert install.returncode == 0, install.stderr[-3000:]
    # The dependencies (TensorFlow, LiteRT, OpenCV: gigabytes) come from this environment's site-packages,
    # added after the new environment's own, so the installed `fer` is the one imported.
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                               capture_output=True, text=True, check=True).stdout.strip())
    (site / "dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "FER_MODELS_DIR")}
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    photo = write_image(elsewhere / "astronaut.png", face_photo)

    where = subprocess.run(
        [str(python), "-c", "import fer, importlib.util as u; from fer.classifier import models_dir; "
         "from fer.recognizer import EmotionRecognizer; r = EmotionRecognizer(); "
         "print(fer.__file__, models_dir(), r.classifier.path.name, u.find_spec('training'), sep='\\n')"],
        cwd=elsewhere, env=env, capture_output=True, text=True, timeout=300)
    assert where.returncode == 0, where.stderr[-3000:]
    package, models, model, training = where.stdout.split()
    assert Path(package).is_relative_to(site) and Path(models) == site / "fer" / "models"
    assert model == f"{PHOTOS_INT8_MODEL}.tflite" and training == "None"

    out = subprocess.run([str(venv / "bin" / "fer"), "predict", str(photo), "--output", "faces.jsonl"],
                         cwd=elsewhere, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    (row,) = [json.loads(line) for line in (elsewhere / "faces.jsonl").read_text().splitlines()]
    assert len(row["faces"]) == 1 and row["faces"][0]["label"]
