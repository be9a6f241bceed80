"""Streamlit Community Cloud's start, done here: a fresh virtual environment with `requirements.txt` and
nothing else (no `pip install -e .`, no test tools), then `streamlit run streamlit_app.py` from the
repository, and a real browser classifying a photo on it."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from app_harness.browser import CHROMIUM, free_port, healthy, launch_chromium
from tests.conftest import ROOT, write_image

playwright_api = pytest.importorskip("playwright.sync_api")
pytestmark = [
    pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (apt-get install chromium)"),
    pytest.mark.timeout(1800, method="signal"),
]


def test_requirements_txt_alone_runs_the_app_as_community_cloud_does(tmp_path, face_photo):
    venv = tmp_path / "cloud"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    python = venv / "bin" / "python"
    install = subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                              "-r", str(ROOT / "requirements.txt")], capture_output=True, text=True, timeout=1500)
    assert install.returncode == 0, install.stderr[-3000:]
    found = subprocess.run([str(python), "-c", "import importlib.util as u; print(u.find_spec('fer'))"],
                           cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert found.stdout.strip() == "None"  # only requirements.txt: this project itself is not installed
    lean = subprocess.run([str(python), "-c", "import importlib.util as u; print(u.find_spec('tensorflow'), "
                           "u.find_spec('keras'))"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert lean.stdout.split() == ["None", "None"]  # a deploy installs what the app runs: no TensorFlow

    port, log_path = free_port(), tmp_path / "server.log"
    env = {key: value for key, value in os.environ.items() if key not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env["PATH"] = f"{venv / 'bin'}:{env.get('PATH', '')}"
    with log_path.open("w") as log:
        server = subprocess.Popen([str(python), "-m", "streamlit", "run", "streamlit_app.py", "--server.headless",
                                   "true", "--server.port", str(port)], cwd=ROOT, env=env, stdout=log,
                                  stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    url = f"http://localhost:{port}"
    try:
        deadline = time.monotonic() + 120
        while not healthy(url):
            assert server.poll() is None and time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.3)
        photo = write_image(tmp_path / "astronaut.png", face_photo)
        with playwright_api.sync_playwright() as playwright:
            browser = launch_chromium(playwright)
            try:
                page = browser.new_page()
                page.set_default_timeout(90_000)
                page.goto(f"{url}/upload")
                page.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files(str(photo))
                page.get_by_text("1 face found", exact=True).wait_for()
                page.goto(f"{url}/live")
                page.get_by_role("heading", name="Live webcam").wait_for()
                page.goto(f"{url}/video")
                page.get_by_role("heading", name="Emotions in a video").wait_for()
            finally:
                browser.close()
    finally:
        os.killpg(server.pid, 15)
        server.wait(timeout=30)
    assert "Traceback" not in log_path.read_text()
