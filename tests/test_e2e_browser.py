"""End to end in a real browser: Debian's Chromium, driven by Playwright, against `streamlit run`.

The live test feeds Chromium's fake camera from an MJPEG file of real face frames, so the whole
path runs: browser camera -> WebRTC -> the server's callback (detector + CNN) -> annotated video
back into the page's <video> element.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.conftest import ROOT, write_image

CHROMIUM = next((p for p in ("/usr/lib/chromium/chromium", "/usr/bin/chromium") if Path(p).exists()), None)
playwright_api = pytest.importorskip("playwright.sync_api")
pytestmark = [
    pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (apt-get install chromium)"),
    pytest.mark.timeout(300, method="signal"),  # the signal method still runs fixture teardown
]
BACKGROUND = 128  # mid-grey camera background: the black fps tag stands out on processed frames


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def stats_file(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("live") / "stats.json"


@pytest.fixture(scope="module")
def server(stats_file):
    port = free_port()
    env = {**os.environ, "FER_LIVE_STATS_FILE": str(stats_file), "PYTHONUNBUFFERED": "1"}
    for name in ("ICE_SERVERS", "TWILIO_ACCOUNT_SID", "CLOUDFLARE_TURN_KEY_ID", "HF_TOKEN"):
        env.pop(name, None)
    log = open(stats_file.parent / "server.log", "w")
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "streamlit_app.py", "--server.headless", "true",
         "--server.address", "127.0.0.1", "--server.port", str(port), "--server.fileWatcherType", "none",
         "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("streamlit did not start:\n" + (stats_file.parent / "server.log").read_text())
            time.sleep(0.3)
        yield url
    finally:
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=15)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=15)
        log.close()


@pytest.fixture(scope="module")
def camera_video(tmp_path_factory, face_photo) -> Path:
    """Four seconds of 640x480 MJPEG: the astronaut's face drifting slowly over a grey background."""
    face = cv2.resize(face_photo[30:250, 120:340], (200, 200))
    path = tmp_path_factory.mktemp("camera") / "faces.mjpeg"
    with path.open("wb") as handle:
        for i in range(120):
            frame = np.full((480, 640, 3), BACKGROUND, np.uint8)
            x = 220 + int(30 * np.sin(i / 20))
            frame[140:340, x : x + 200] = face
            ok, encoded = cv2.imencode(".jpg", frame[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, 90])
            assert ok
            handle.write(encoded.tobytes())
    return path


@pytest.fixture()
def browser(camera_video):
    with playwright_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run", "--use-fake-ui-for-media-stream",
                  "--use-fake-device-for-media-stream", f"--use-file-for-fake-video-capture={camera_video}"],
        )
        try:
            yield chromium
        finally:
            chromium.close()


def test_upload_page_with_a_real_face_photo(server, browser, face_photo, tmp_path):
    photo = write_image(tmp_path / "astronaut.png", face_photo)
    page = browser.new_page()
    page.set_default_timeout(60_000)
    page.goto(f"{server}/upload")
    page.get_by_text("Emotions in photos").wait_for()
    page.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files(str(photo))
    page.get_by_text("1 face(s) found").wait_for()
    page.get_by_text("All faces").wait_for()
    image = page.locator('[data-testid="stImage"] img').first
    image.wait_for()
    assert image.evaluate("img => img.naturalWidth") == face_photo.shape[1]
    page.get_by_role("button", name="Download results (CSV)").wait_for()
    page.get_by_text(re.compile(r"Face 1: \w+ \d+%")).first.wait_for()  # the plotly chart's title
    page.screenshot(path=str(tmp_path / "upload.png"), full_page=True)
    if os.environ.get("FER_SCREENSHOTS"):
        shutil.copy(tmp_path / "upload.png", Path(os.environ["FER_SCREENSHOTS"]) / "upload.png")


def read_stats(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return {}


def test_live_webcam_over_webrtc(server, browser, stats_file):
    stats_file.unlink(missing_ok=True)
    page = browser.new_page()
    page.set_default_timeout(60_000)
    page.goto(f"{server}/live")
    frame = page.frame_locator('iframe[title*="streamlit_webrtc"]')
    try:
        frame.get_by_role("button", name=re.compile("^start$", re.I)).click()
    finally:
        page.screenshot(path=str(stats_file.parent / "live_start.png"))

    deadline = time.monotonic() + 90
    stats = {}
    while time.monotonic() < deadline:
        stats = read_stats(stats_file)
        if stats.get("frames", 0) >= 30 and stats.get("frames_with_faces", 0) >= 10:
            break
        time.sleep(0.5)
    assert stats.get("frames", 0) >= 30, f"frames did not reach the callback: {stats}"
    assert stats["frames_with_faces"] >= 10, f"no faces found in the fake camera's frames: {stats}"
    height, width = stats["frame_shape"][:2]
    assert abs(width / height - 4 / 3) < 0.02
    track = stats["last"]["tracks"][0]
    assert track["label"] in track["probabilities"]

    video = frame.locator("video")
    video.wait_for()
    page.wait_for_function(
        "() => { const f = document.querySelector('iframe[title*=streamlit_webrtc]');"
        " const v = f && f.contentDocument.querySelector('video'); return v && v.videoWidth > 0; }",
        timeout=30_000,
    )
    # A processed frame carries the black fps tag in its top-left corner; the camera's frames are grey there.
    corner = None
    for _ in range(40):
        corner = video.evaluate(
            """v => { const c = document.createElement('canvas'); c.width = v.videoWidth; c.height = v.videoHeight;
                 const g = c.getContext('2d'); g.drawImage(v, 0, 0);
                 const d = g.getImageData(2, 2, Math.floor(v.videoWidth / 12), Math.floor(v.videoHeight / 40)).data;
                 let s = 0; for (let i = 0; i < d.length; i += 4) s += (d[i] + d[i+1] + d[i+2]) / 3;
                 return s / (d.length / 4); }"""
        )
        if corner < 40:
            break
        time.sleep(0.25)
    assert corner is not None and corner < 40, f"no annotated frame came back to the <video> (corner {corner})"

    page.get_by_text("Processing rate").wait_for(timeout=30_000)
    frame.get_by_role("button", name=re.compile("^stop$", re.I)).click()
    page.get_by_text("Session summary").wait_for(timeout=30_000)
    page.get_by_role("button", name="Download the session (CSV)").wait_for(timeout=30_000)


def test_no_chromium_left_behind():
    """Each test closes its browser: no fake-camera Chromium may outlive it."""
    if shutil.which("pgrep") is None:
        pytest.skip("pgrep is not available")
    out = subprocess.run(["pgrep", "-f", "use-file-for-fake-video-capture"], capture_output=True, text=True)
    assert out.stdout.strip() == ""
