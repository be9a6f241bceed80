"""The Live page's browser engine and the Photos page in the other two engines people use: Firefox (Debian's
ESR, over WebDriver BiDi with puppeteer-core: frontend/e2e/firefox.mjs) and Safari's WebKit (WebKitGTK's
MiniBrowser over WebDriver: app_harness.webkit), each with a fake camera showing a real face. What Chromium's
suite checks (tests/test_browser_engine.py): ready, a box and its label drawn, rows in the timeline's CSV, a
recording in a format the browser records and its downloads, WebAssembly off -> the server engine offered,
a photo read, and no error in the console of a healthy run."""

from __future__ import annotations

import base64
import csv
import io
import json
import shutil
import subprocess
import time
import zipfile
from pathlib import Path

import av
import numpy as np
import pytest

from app_harness import webkit
from app_harness.browser import streamlit_server
from app_harness.fake_camera import fake_camera_script
from app_harness.webkit import in_engine, open_live_page, wait_for
from app_pages.browser_live.build import FRONTEND, install_packages, packages_installed
from fer.drawing import color_for

ROOT = Path(__file__).resolve().parents[1]
PAGE_DOWNLOADS = (ROOT / "app_harness" / "page_downloads.js").read_text()
FIREFOX_MISSING = next((why for why, missing in [
    ("Firefox ESR is not installed (apt-get install firefox-esr)", shutil.which("firefox-esr") is None),
    ("node and npm are not installed (node drives Firefox)", not (shutil.which("node") and shutil.which("npm"))),
] if missing), None)
needs_firefox = pytest.mark.skipif(FIREFOX_MISSING is not None, reason=FIREFOX_MISSING or "")
needs_webkit = pytest.mark.skipif(webkit.MISSING is not None, reason=webkit.MISSING or "")
pytestmark = pytest.mark.timeout(400, method="signal")  # a browser that hangs fails its test, not the suite


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with streamlit_server(None, tmp_path_factory.mktemp("other-browsers") / "server.log") as (url, _pid):
        yield url


@pytest.fixture(scope="module")
def camera_script(face_photo) -> str:
    return fake_camera_script(face_photo)


@pytest.fixture(scope="module")
def photo_file(tmp_path_factory, face_photo) -> Path:
    import cv2

    path = tmp_path_factory.mktemp("photo") / "astronaut.jpg"
    cv2.imwrite(str(path), face_photo[:, :, ::-1])
    return path


# What each engine saw is checked the same way.

def assert_a_happy_face_was_drawn(pixels: dict) -> None:
    rgba = np.frombuffer(base64.b64decode(pixels["base64"]), np.uint8).reshape(pixels["height"], pixels["width"], 4)
    happy = (np.abs(rgba[:, :, :3].astype(int) - color_for("happy")).max(axis=2) < 8).sum()
    assert happy > 500, happy  # the box and its tag in happy's colour


def assert_rows_of_one_happy_face(download: dict) -> list[dict]:
    assert download["name"] == "live_session.csv" or download["name"] == ""
    rows = list(csv.DictReader(io.StringIO(base64.b64decode(download["base64"]).decode())))
    assert len(rows) >= 20, len(rows)
    assert {row["face"] for row in rows} == {"1"}
    assert sum(row["label"] == "happy" for row in rows) >= 0.9 * len(rows)
    return rows


def assert_clip_and_zip(clip: dict, archive: dict, extension: str) -> None:
    assert clip["name"] == f"live_session.{extension}"
    assert archive["name"] == "live_session.zip"
    video = base64.b64decode(clip["base64"])
    with zipfile.ZipFile(io.BytesIO(base64.b64decode(archive["base64"]))) as zipped:
        assert sorted(zipped.namelist()) == ["live_session.csv", f"live_session.{extension}"]
        assert zipped.read(f"live_session.{extension}") == video
    with av.open(io.BytesIO(video)) as container:
        decoded = sum(1 for _ in container.decode(video=0))
    assert decoded >= 10, decoded


def assert_quiet(console: list[list[str]]) -> None:
    errors = [text for level, text in console if level == "error"]
    assert not errors, errors


# Firefox

@pytest.fixture(scope="module")
def puppeteer() -> None:
    """The driver (puppeteer-core, pinned in the frontend's package-lock.json), installed once if missing."""
    if not packages_installed("puppeteer-core"):
        install_packages(shutil.which("npm"))


def firefox(scenario: str, url: str, camera: str, tmp_path: Path, photo: Path | None = None) -> dict:
    script = tmp_path / "camera.js"
    script.write_text(camera)
    command = ["node", "e2e/firefox.mjs", scenario, url, str(script)] + ([str(photo)] if photo else [])
    done = subprocess.run(command, cwd=FRONTEND, capture_output=True, text=True, timeout=400)
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(done.stdout)


@needs_firefox
def test_firefox_analyses_the_camera_in_the_browser(puppeteer, server, camera_script, tmp_path):
    seen = firefox("live", server, camera_script, tmp_path)
    assert seen["status"].startswith("Ready") and "WebAssembly" in seen["running"]
    assert_a_happy_face_was_drawn(seen["pixels"])
    assert_rows_of_one_happy_face(seen["csv"])
    assert_quiet(seen["console"])


@needs_firefox
def test_firefox_records_webm_and_zips_it_with_the_timeline(puppeteer, server, camera_script, tmp_path):
    seen = firefox("record", server, camera_script, tmp_path)
    assert_clip_and_zip(seen["clip"], seen["zip"], "webm")


@needs_firefox
def test_firefox_without_webassembly_is_offered_the_server_engine(puppeteer, server, camera_script, tmp_path):
    seen = firefox("webassembly-off", server, camera_script, tmp_path)
    assert "WebAssembly turned off" in seen["status"]
    assert "Analyse the video on the server instead" in seen["pageText"]


@needs_firefox
def test_firefox_reads_a_photo(puppeteer, server, camera_script, tmp_path, photo_file):
    seen = firefox("photos", server, camera_script, tmp_path, photo_file)
    assert "1 face" in seen["pageText"]


# WebKit

@pytest.fixture(scope="module")
def display():
    if webkit.MISSING:
        pytest.skip(webkit.MISSING)
    with webkit.virtual_display() as name:
        yield name


@needs_webkit
def test_a_webkit_start_tried_again_opens_a_session(display):
    """The harness tries a failed start again with the same options. In a CI run a first start failed and
    both tries after it failed with KeyError 'browserName': the first had taken the name out of the options
    themselves, where Selenium reads it at each start."""
    options = webkit.minibrowser_options()
    for _ in range(2):
        driver, why = webkit.start_session(options, display)
        assert driver is not None, why
        driver.quit()


@needs_webkit
def test_a_webkit_that_never_starts_says_why_at_each_try(display, monkeypatch):
    """When every try fails, the message gives each try's reason, not only the last one's: a CI run's
    message named only the last (KeyError 'browserName'), which hid why the first try had failed."""
    monkeypatch.setattr(webkit, "MINIBROWSER", "/nonexistent/MiniBrowser")
    with pytest.raises(AssertionError) as failed, webkit.webkit(display):
        pass
    assert str(failed.value).count("/nonexistent/MiniBrowser") == webkit.STARTS


@pytest.fixture
def safari(display):
    with webkit.webkit(display) as driver:
        yield driver


def click_text(driver, tag: str, words: str) -> None:
    """Click the first `tag` whose text holds `words`, once there is one."""
    wait_for(driver, "return document.evaluate(arguments[0], document, null, 9, null).singleNodeValue",
             f'//{tag}[contains(., "{words}")]').click()


def downloaded(driver, tag: str, words: str) -> dict:
    """What clicking the button downloads. A click can land on a button the page is just replacing (Streamlit
    reruns it as a stream stops, and on a loaded machine that takes seconds): clicked again until it takes."""
    driver.execute_script("window.__catchDownloads()")
    deadline = time.monotonic() + 90
    while True:
        click_text(driver, tag, words)
        try:
            wait_for(driver, "return window.__downloads.length > 0", timeout=5)
            break
        except AssertionError:
            assert time.monotonic() < deadline, f"clicking {words!r} downloaded nothing"
    return driver.execute_async_script("window.__downloaded(0).then(arguments[arguments.length - 1])")


def run_a_stream(driver, url: str, camera: str, record: bool) -> dict:
    """Start, let 40 frames be analysed, read the canvas, stop; what the engine and the page gave."""
    status = open_live_page(driver, url, [camera, PAGE_DOWNLOADS], [PAGE_DOWNLOADS])
    assert status.startswith("Ready"), status
    if record:
        click_text(driver, "button", "Settings")  # the Live page's settings popover
        click_text(driver, "label", "Record the annotated video")
        click_text(driver, "button", "Settings")
    in_engine(driver)
    if record:  # the setting has reached the engine, which says so before Start
        wait_for(driver, "return /will be recorded/.test(document.getElementById('status').textContent)")
    driver.execute_script("document.getElementById('start').click()")
    running = wait_for(driver, "const s = document.getElementById('status').textContent;"
                               "return /stays on this device/.test(s) && s;")
    driver.switch_to.default_content()
    wait_for(driver, "const m = document.body.innerText.match(/Frames analysed\\s+([\\d,]+)/);"
                     "return m && Number(m[1].replace(/,/g, '')) >= 40;", timeout=180)
    in_engine(driver)
    pixels = driver.execute_script(
        "const c = document.getElementById('view');"
        "const bytes = new Uint8Array(c.getContext('2d').getImageData(0, 0, c.width, c.height).data.buffer);"
        "return {width: c.width, height: c.height, base64: window.__toBase64(bytes)};")
    console = driver.execute_script("return window.__console")
    driver.execute_script("document.getElementById('start').click()")  # Stop
    driver.switch_to.default_content()
    wait_for(driver, "return /Session summary/.test(document.body.innerText)")
    seen = {"running": running, "pixels": pixels, "console": console,
            "csv": downloaded(driver, "button", "Download the session (CSV)")}
    if record:
        in_engine(driver)
        seen["offered"] = wait_for(driver, "const c = document.getElementById('clip');"
                                           "return (c.querySelectorAll('button').length >= 2 || /recorded no video/"
                                           ".test(c.textContent)) && c.textContent;")
        if "recorded no video" not in seen["offered"]:
            seen["clip"] = downloaded(driver, "button", "Download the clip (")
            seen["zip"] = downloaded(driver, "button", "Download the clip and the timeline (ZIP)")
    return seen


RECORDER_PROBE = """
const done = arguments[arguments.length - 1];
const canvas = document.createElement('canvas');
const ctx = canvas.getContext('2d');
const timer = setInterval(() => ctx.fillRect(0, 0, Math.random() * 300, 150), 33);
const recorder = new MediaRecorder(canvas.captureStream(30), {mimeType: 'video/mp4'});
const sizes = [];
recorder.ondataavailable = (e) => sizes.push(e.data.size);
recorder.onstop = () => { clearInterval(timer); done({webm: MediaRecorder.isTypeSupported('video/webm'),
                                                      bytes: sizes.reduce((a, b) => a + b, 0)}); };
recorder.start(500);
setTimeout(() => recorder.stop(), 2000);
"""


def webkit_recorder(driver) -> dict:
    """What this WebKit's MediaRecorder gives for a canvas, on a blank page: Safari writes MP4; Debian's
    WebKitGTK with GStreamer 1.22 (no isofmp4mux) runs the recorder and gives 0 bytes."""
    driver.get("about:blank")
    return driver.execute_async_script(RECORDER_PROBE)


@needs_webkit
def test_webkit_analyses_the_camera_in_the_browser(server, camera_script, safari):
    seen = run_a_stream(safari, server, camera_script, record=False)
    assert_a_happy_face_was_drawn(seen["pixels"])
    assert_rows_of_one_happy_face(seen["csv"])
    assert_quiet(seen["console"])


@needs_webkit
def test_webkit_records_mp4_and_zips_it_with_the_timeline(server, camera_script, safari):
    """Safari records no WebM: the engine asked for it, WebKit refused, and the page was stuck at "Loading".
    Now it records MP4, and where the browser's recorder gives nothing, the engine says so instead of
    offering an empty file; the stream and its timeline go on either way."""
    recorder = webkit_recorder(safari)
    assert not recorder["webm"]
    seen = run_a_stream(safari, server, camera_script, record=True)
    assert_rows_of_one_happy_face(seen["csv"])
    if recorder["bytes"]:
        assert_clip_and_zip(seen["clip"], seen["zip"], "mp4")
    else:
        assert "recorded no video" in seen["offered"] and "clip" not in seen


@needs_webkit
def test_webkit_without_webassembly_is_offered_the_server_engine(server, camera_script, safari):
    status = open_live_page(safari, server, [camera_script], without_webassembly=True)
    assert "WebAssembly turned off" in status
    wait_for(safari, "return /on the server instead/.test(document.body.innerText)")


@needs_webkit
def test_webkit_reads_a_photo(server, safari, photo_file):
    from selenium.webdriver.common.by import By

    safari.get(f"{server}/upload")
    wait_for(safari, "return document.querySelector('input[type=file]')")
    safari.find_element(By.CSS_SELECTOR, "input[type=file]").send_keys(str(photo_file))
    wait_for(safari, "return /\\b1 face\\b/.test(document.body.innerText)", timeout=120)


@needs_webkit
def test_a_webkit_wait_that_times_out_says_what_the_page_showed(server, safari):
    """A wait that never comes true names what the page showed instead: a full-suite run once timed out
    waiting for the Live page's summary, and the message gave only the script it had polled."""
    safari.get(f"{server}/upload")
    wait_for(safari, "return document.querySelector('input[type=file]')")
    last_line = safari.execute_script("return document.body.innerText").strip().splitlines()[-1]
    with pytest.raises(AssertionError) as timed_out:
        wait_for(safari, "return false", timeout=0.5)
    assert "the frame ends:" in str(timed_out.value) and last_line[-30:] in str(timed_out.value)
