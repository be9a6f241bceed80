"""The Live page's browser engine (app_pages/browser_live) in Debian's Chromium against `streamlit run`:
the committed bundle is what its sources build, the browser's classifier gives the server's
probabilities, its detector the server's boxes, and the page works end to end with a fake camera."""

from __future__ import annotations

import base64
import csv
import io
import itertools
import re
import shutil
import subprocess
import sys
import time
import urllib.request
import zipfile
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from app_harness.browser import (
    CHROMIUM,
    ENGINE_IFRAME,
    engine_files_fetched,
    engine_frame,
    engine_network_reasons,
    frames_analysed,
    launch_chromium,
    start_button,
    streamlit_server,
    toggle_live_setting,
    wait_for_engine_cache,
    wait_until,
    write_camera_video,
)
from app_harness.network_cut import cuttable
from app_pages.browser_live.build import STATIC
from app_pages.browser_live.session import browser_model_for
from fer.classifier import LIVE_MODEL, MODELS_DIR
from fer.detection import Box
from fer.recognizer import EmotionRecognizer
from fer.video import detection_side, iou
from tests.conftest import ROOT
from tests.test_video_pipeline import moving_face_frames

playwright_api = pytest.importorskip("playwright.sync_api")
needs_chromium = pytest.mark.skipif(CHROMIUM is None,
                                    reason="Debian's chromium is not installed (apt-get install chromium)")
pytestmark = pytest.mark.timeout(300, method="signal")  # the signal method still runs fixture teardown
BROWSER_MODEL = MODELS_DIR / f"{LIVE_MODEL}.tflite"  # the live model, whose fixed-batch copy runs there
HAPPY = (255, 183, 3)  # fer.drawing.EMOTION_COLORS["happy"]


def test_the_committed_bundle_is_what_the_sources_build(tmp_path):
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node and npm are not installed: the committed bundle cannot be rebuilt here")
    built = subprocess.run([sys.executable, str(ROOT / "app_pages/browser_live/build.py"), "--output", str(tmp_path)],
                           capture_output=True, text=True, timeout=240)
    assert built.returncode == 0, built.stdout + built.stderr
    files = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    assert Path("engine.js") in files and Path("detector/yunet_320x256.tflite") in files
    stale = [str(name) for name in files if (tmp_path / name).read_bytes() != (STATIC / name).read_bytes()]
    assert not stale, f"rebuild with `python app_pages/browser_live/build.py` and commit: {stale} differ"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    log = tmp_path_factory.mktemp("browser-engine") / "server.log"
    with streamlit_server(None, log) as (url, _pid):
        yield url


@pytest.fixture(scope="module")
def camera_video(tmp_path_factory, face_photo) -> Path:
    return write_camera_video(tmp_path_factory.mktemp("camera") / "faces.mjpeg", face_photo)


@pytest.fixture(scope="module")
def playwright():
    if CHROMIUM is None:
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    with playwright_api.sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="module")
def chromium(playwright, camera_video):
    browser = launch_chromium(playwright, camera_video)
    try:
        yield browser
    finally:
        browser.close()


def open_engine(page, url: str):
    """The live page on its default engine, the browser's, with its runtimes and models loaded."""
    page.set_default_timeout(90_000)
    page.goto(f"{url}/live")
    engine_ui = page.frame_locator(ENGINE_IFRAME)
    engine_ui.get_by_text("Ready").wait_for()
    return engine_ui


@pytest.fixture(scope="module")
def engine(server, chromium):
    """The live page on its default engine, the browser's, with its models loaded."""
    page = chromium.new_page()
    open_engine(page, server)
    frame = engine_frame(page)
    yield page, frame
    page.close()


@needs_chromium
def test_the_app_serves_the_engine_and_its_webassembly_itself(engine):
    """Every asset comes from the app (no CDN); the gzipped runtimes arrive as the gzip files they are,
    not unpacked on the way by a Content-Encoding, since the engine unpacks them itself."""
    _, frame = engine
    base = frame.url.split("index.html")[0]
    for name in ["engine.js", "runtime/litert_wasm_internal.js", "runtime/litert_wasm_internal.wasm.gz",
                 "runtime/litert_wasm_compat_internal.wasm.gz", "detector/yunet_320x256.tflite",
                 f"models/{browser_model_for(BROWSER_MODEL).name}"]:
        request = urllib.request.Request(base + name, headers={"Accept-Encoding": "gzip"})
        with urllib.request.urlopen(request, timeout=30) as response:
            assert response.status == 200, name
            body = response.read()
            if name.endswith(".gz"):
                assert response.headers.get("Content-Encoding") is None, name
                assert body == (STATIC / name).read_bytes(), name
    loaded = frame.evaluate("() => performance.getEntriesByType('resource').map(r => r.name)")
    assert any(url.endswith(".wasm.gz") for url in loaded), loaded
    assert all(url.startswith(base.split("/component/")[0]) for url in loaded), loaded


@needs_chromium
def test_a_repeat_visit_takes_the_runtimes_and_models_from_the_browser_cache(server, chromium):
    """Streamlit serves a component's files without validators, so the HTTP cache fetched all 8.7 MB again
    on every visit; the engine now keeps them in Cache Storage under versions the page sends."""
    context = chromium.new_context()
    try:
        fetched, why = [], []
        for _ in range(2):
            page = context.new_page()
            open_engine(page, server)
            frame = engine_frame(page)
            fetched.append(engine_files_fetched(frame))
            why.append(engine_network_reasons(frame))
            wait_for_engine_cache(frame, len(fetched[0]))
            page.close()
        assert len(fetched[0]) >= 4, fetched  # two runtimes, two models and the font came over the network once
        assert fetched[1] == [], (fetched, why)  # and from the cache the second time
    finally:
        context.close()


def png_url(rgb: np.ndarray) -> str:
    ok, encoded = cv2.imencode(".png", np.ascontiguousarray(rgb[..., ::-1]) if rgb.ndim == 3 else rgb)
    assert ok
    return "data:image/png;base64," + base64.b64encode(encoded.tobytes()).decode()


def browser_probabilities(frame, faces: np.ndarray) -> np.ndarray:
    """The browser engine's classifier on 48x48 grey faces, one call per face (as the engine runs it)."""
    rows = frame.evaluate("async (faces) => { const out = []; for (const f of faces) out.push("
                          "await window.ferEngine.classifyFace(Uint8Array.from(f))); return out; }",
                          [face.reshape(-1).tolist() for face in faces])
    return np.array(rows)


@needs_chromium
def test_the_browser_classifier_gives_the_servers_probabilities_on_fer2013_faces(engine, fer2013_path):
    _, frame = engine
    files = sorted((fer2013_path / "test").glob("*/*.jpg"))
    picks = np.random.default_rng(0).choice(len(files), 200, replace=False)
    faces = np.stack([cv2.imread(str(files[i]), cv2.IMREAD_GRAYSCALE) for i in picks])
    assert faces.shape == (200, 48, 48)
    expected = np.stack([r.probabilities[n] for r in EmotionRecognizer(BROWSER_MODEL).classify_crops(
        list(faces), tta="none") for n in r.probabilities]).reshape(len(faces), -1)
    got = browser_probabilities(frame, faces)
    assert np.abs(got - expected).max() <= 0.02, np.abs(got - expected).max()
    assert (got.argmax(1) == expected.argmax(1)).mean() >= 0.98


@needs_chromium
def test_the_browser_classifier_gives_the_servers_probabilities_on_a_real_face(engine, face_photo):
    """The same check without FER2013: the astronaut's face at many crops and angles, as 48x48 grey."""
    _, frame = engine
    gray = cv2.cvtColor(face_photo, cv2.COLOR_RGB2GRAY)
    faces = []
    for i in range(40):
        top, left, side = 20 + (i % 5) * 6, 110 + (i // 5) * 5, 200 + (i % 3) * 20
        crop = gray[top : top + side, left : left + side]
        turn = cv2.getRotationMatrix2D((side / 2, side / 2), (i % 9 - 4) * 4, 1.0)
        faces.append(cv2.resize(cv2.warpAffine(crop, turn, (side, side)), (48, 48), interpolation=cv2.INTER_AREA))
    faces = np.stack(faces)
    results = EmotionRecognizer(BROWSER_MODEL).classify_crops(list(faces), tta="none")
    expected = np.array([list(r.probabilities.values()) for r in results])
    got = browser_probabilities(frame, faces)
    assert np.abs(got - expected).max() <= 0.02, np.abs(got - expected).max()


def frames_with_faces(face_photo) -> list[np.ndarray]:
    """RGB frames with faces: the project's moving-face test clip, a 2x2 group, and the photo itself."""
    frames = [f[:, :, ::-1] for f in moving_face_frames(face_photo)]
    group = np.full((480, 640, 3), 128, np.uint8)
    face = cv2.resize(face_photo[30:250, 120:340], (150, 150))
    for top, left in [(40, 130), (40, 330), (260, 130), (260, 330)]:
        group[top : top + 150, left : left + 150] = face
    return [*frames, group, cv2.resize(face_photo, (640, 640))]


@needs_chromium
def test_the_browser_finds_the_servers_boxes_and_labels_on_the_test_video(engine, face_photo):
    _, frame = engine
    recognizer = EmotionRecognizer(BROWSER_MODEL)
    faces = matched = frames = agreeing = 0
    for rgb in frames_with_faces(face_photo):
        server = recognizer.analyze(rgb, detection_side=detection_side(*rgb.shape[:2]), tta="none")
        browser = frame.evaluate("url => window.ferEngine.analyzeStill(url)", png_url(rgb))
        faces += len(server)
        for s in server:
            matched += any(iou(s.box, Box(*b["box"], b["score"])) >= 0.8 for b in browser)
        frames += 1
        labels = [recognizer.class_names[int(np.argmax(b["probs"]))] for b in browser]
        agreeing += len(browser) == len(server) and labels == [s.label for s in server]
    assert faces >= 29, faces
    assert matched >= 0.95 * faces, f"{matched} of {faces} server boxes overlapped by a browser box (IoU >= 0.8)"
    assert agreeing >= 0.95 * frames, f"labels agree on {agreeing} of {frames} frames"


def canvas_pixels(frame) -> np.ndarray:
    url = frame.evaluate("() => document.getElementById('view').toDataURL('image/png')")
    data = np.frombuffer(base64.b64decode(url.split(",", 1)[1]), np.uint8)
    return cv2.imdecode(data, cv2.IMREAD_COLOR)[:, :, ::-1]


@needs_chromium
def test_the_camera_is_analysed_in_the_browser_and_its_rows_reach_the_timeline_and_csv(engine, tmp_path):
    page, frame = engine
    engine_ui = page.frame_locator(ENGINE_IFRAME)
    # Ready before Start: the page draws the empty chart, so the charting library loads before the video runs
    page.locator(".js-plotly-plot").filter(has_text="press Start").wait_for()
    toggle_live_setting(page, "Record the annotated video")  # from this Start on, recorded in the browser
    engine_ui.get_by_text("will be recorded").wait_for()  # the setting reached the engine before Start
    engine_ui.get_by_role("button", name="Start").click()
    engine_ui.get_by_text("the video stays on this device").wait_for()
    page.get_by_text("Faces now").wait_for(timeout=60_000)  # a report reached Python and the panel drew it
    wait_until(lambda: frames_analysed(page) >= 40)  # a condition, not a time: a loaded machine shows fewer fps
    page.locator(".js-plotly-plot").filter(has_text="Face #1").wait_for()  # the face's live chart, in Plotly
    pixels = canvas_pixels(frame)
    happy = (np.abs(pixels.astype(int) - HAPPY).max(axis=2) < 8).sum()  # the box and tag in happy's colour
    assert happy > 500, happy
    assert (pixels[:10, :40] == 0).all(axis=2).mean() > 0.5  # the fps tag: black in the top-left corner
    engine_ui.get_by_role("button", name="Stop").click()
    page.get_by_text("Session summary").wait_for()
    with page.expect_download() as download:
        page.get_by_role("button", name="Download the session (CSV)").click()
    csv_path = download.value.path()
    rows = list(csv.DictReader(io.StringIO(Path(csv_path).read_text())))
    assert len(rows) >= 20, len(rows)
    assert {row["face"] for row in rows} == {"1"}
    assert sum(row["label"] == "happy" for row in rows) >= 0.9 * len(rows)
    zip_button = engine_ui.get_by_role("button", name="Download the clip and the timeline (ZIP)")
    try:  # the clip never left the browser: it zips it with the timeline the page sent after Stop
        zip_button.wait_for(timeout=90_000)
    except playwright_api.TimeoutError:  # which half never came: the clip (no buttons) or the timeline (one)
        pytest.fail(f"no ZIP offered; the engine shows: {frame.locator('body').inner_text()!r}")
    with page.expect_download() as download:
        zip_button.click()
    with zipfile.ZipFile(download.value.path()) as archive:
        assert sorted(archive.namelist()) == ["live_session.csv", "live_session.webm"]
        assert archive.read("live_session.csv").decode().splitlines()[1:] == Path(csv_path).read_text().splitlines()[1:]
        clip = archive.read("live_session.webm")
    with av.open(io.BytesIO(clip)) as container:
        decoded = sum(1 for _ in container.decode(video=0))
    assert decoded >= 10, decoded  # a loaded 2-core machine records 14 frames where an idle one records 60+


@needs_chromium
def test_a_blocked_camera_is_said_in_words(server, playwright):
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=[
        "--no-sandbox", "--disable-gpu", "--use-fake-device-for-media-stream"])  # no fake "allow": denied
    try:
        page = browser.new_page()
        engine_ui = open_engine(page, server)
        engine_ui.get_by_role("button", name="Start").click()
        engine_ui.get_by_text(re.compile("camera was blocked")).wait_for()
        page.get_by_text(re.compile("camera was blocked")).wait_for()  # and the page says it too
    finally:
        browser.close()


@needs_chromium
def test_a_server_stream_that_cannot_connect_offers_the_browser_engine(playwright, camera_video, tmp_path):
    """Media only through a TURN server that is not there: WebRTC never connects, as on a network that
    needs TURN. After about 10 s the page says so, and one click moves to the browser engine."""
    nowhere = '[{"urls": "turn:127.0.0.1:9", "username": "u", "credential": "p"}]'
    env = {"ICE_SERVERS": nowhere, "ICE_TRANSPORT_POLICY": "relay"}
    browser = launch_chromium(playwright, camera_video)
    try:
        with streamlit_server(None, tmp_path / "server.log", extra_env=env) as (url, _pid):
            page = browser.new_page()
            page.set_default_timeout(90_000)
            page.goto(f"{url}/live?engine=server")
            start_button(page).click()
            started = time.monotonic()
            page.get_by_text("has not connected to the server").wait_for(timeout=40_000)
            assert time.monotonic() - started >= 9
            page.get_by_role("button", name="Analyse the video in this browser").click()
            engine_ui = page.frame_locator(ENGINE_IFRAME)
            engine_ui.get_by_text("Ready").wait_for()
            engine_ui.get_by_role("button", name="Start").click()
            engine_ui.get_by_text("the video stays on this device").wait_for()
            page.get_by_text("Faces now").wait_for(timeout=60_000)
    finally:
        browser.close()


@pytest.mark.parametrize("how", ["blocked", "turned off"])
@needs_chromium
def test_webassembly_that_does_not_load_is_said_and_the_server_engine_offered(server, chromium, how):
    context = chromium.new_context()
    if how == "blocked":  # as a proxy or policy that blocks the runtimes' downloads
        context.route("**/runtime/*.wasm.gz", lambda route: route.abort())
    else:  # as a browser with WebAssembly turned off (Safari's Lockdown Mode, JIT-less policies)
        context.add_init_script("delete globalThis.WebAssembly")
    try:
        page = context.new_page()
        page.set_default_timeout(90_000)
        page.goto(f"{server}/live")
        said = "turned off" if how == "turned off" else "could not start"
        page.frame_locator(ENGINE_IFRAME).get_by_text(said).wait_for()
        page.get_by_text(said).wait_for()  # the page says it too ...
        offer = page.get_by_role("button", name="Analyse the video on the server instead")
        offer.wait_for()
        box = offer.bounding_box()  # where the eye is: on the first screen, not under an empty canvas
        assert box["y"] + box["height"] <= page.viewport_size["height"], box
        offer.click()  # ... and offers
        start_button(page).wait_for()  # streamlit-webrtc's START: the server engine
    finally:
        context.close()


# Makes this Chromium answer as a browser without relaxed WebAssembly SIMD (Safari, older Firefox): the
# feature probe LiteRT.js compiles (a module using a relaxed SIMD opcode, 0xfd 0x80 0x02 or later) fails.
NO_RELAXED_SIMD = """(() => {
  const instantiate = WebAssembly.instantiate;
  const relaxed = (bytes) => bytes instanceof Uint8Array && bytes.length < 64 &&
    bytes.some((b, i) => b === 253 && bytes[i + 2] === 2 && bytes[i + 1] >= 128);
  WebAssembly.instantiate = function (bytes, ...rest) {
    if (relaxed(bytes)) return Promise.reject(new WebAssembly.CompileError('relaxed SIMD is not supported'));
    return instantiate.call(this, bytes, ...rest);
  };
})();"""


@needs_chromium
def test_a_browser_without_relaxed_simd_runs_the_compatible_build(server, chromium):
    context = chromium.new_context()
    context.add_init_script(NO_RELAXED_SIMD)
    runtimes = []
    context.on("request", lambda request: runtimes.append(request.url.rsplit("/", 1)[-1])
               if "/runtime/litert" in request.url else None)
    try:
        page = context.new_page()
        engine_ui = open_engine(page, server)
        assert sorted(runtimes) == ["litert_wasm_compat_internal.js", "litert_wasm_compat_internal.wasm.gz"]
        engine_ui.get_by_role("button", name="Start").click()
        page.get_by_text("Faces now").wait_for()  # faces found and read with that build
    finally:
        context.close()


@needs_chromium
def test_no_camera_is_said_in_words(server, playwright):
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=[
        "--no-sandbox", "--disable-gpu", "--use-fake-ui-for-media-stream"])  # allowed, but no device
    try:
        page = browser.new_page()
        engine_ui = open_engine(page, server)
        engine_ui.get_by_role("button", name="Start").click()
        engine_ui.get_by_text(re.compile("No camera was found")).wait_for()
    finally:
        browser.close()


@needs_chromium
def test_another_model_mid_stream_keeps_the_stream_and_its_timeline(server, chromium):
    page = chromium.new_page()
    try:
        engine_ui = open_engine(page, server)
        engine_ui.get_by_role("button", name="Start").click()
        page.get_by_text("Faces now").wait_for()
        before = frames_analysed(page)
        page.get_by_role("button", name="Settings").click()
        page.get_by_test_id("stSelectbox").click()
        page.get_by_role("option", name="fer2013_vgg32.tflite").click()
        frame = engine_frame(page)
        frame.wait_for_function("() => window.ferEngine?.modelFile === 'fer2013_vgg32.b1.tflite'")
        time.sleep(5)
        assert engine_ui.get_by_role("button", name="Stop").is_visible()  # the same stream goes on
        assert frames_analysed(page) > before + 30  # and the same timeline grows
    finally:
        page.close()


@needs_chromium
def test_a_slow_device_says_its_rate_and_keeps_going(server, chromium):
    page = chromium.new_page()
    try:
        engine_ui = open_engine(page, server)
        cpu = page.context.new_cdp_session(page)
        cpu.send("Emulation.setCPUThrottlingRate", {"rate": 12})
        engine_ui.get_by_role("button", name="Start").click()
        engine_ui.get_by_text(re.compile(r"This device analyses \d+ frames? a second")).wait_for(timeout=60_000)
        page.get_by_text("Faces now").wait_for()
        cpu.send("Emulation.setCPUThrottlingRate", {"rate": 1})  # the device is free again: the line follows
        engine_ui.get_by_text("Running in this browser").wait_for(timeout=10_000)
    finally:
        page.close()


@needs_chromium
def test_a_4k_camera_is_analysed_at_a_bounded_size(server, playwright, face_photo, tmp_path):
    video = tmp_path / "4k.mjpeg"
    face = cv2.resize(face_photo[30:250, 120:340], (800, 800))
    with video.open("wb") as handle:
        for i in range(30):
            frame = np.full((2160, 3840, 3), 128, np.uint8)
            frame[600:1400, 1400 + 10 * i : 2200 + 10 * i] = face
            handle.write(cv2.imencode(".jpg", frame[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, 85])[1].tobytes())
    browser = launch_chromium(playwright, video)
    try:
        page = browser.new_page()
        engine_ui = open_engine(page, server)
        engine_ui.get_by_role("button", name="Start").click()
        page.get_by_text("Faces now").wait_for()
        frame = engine_frame(page)
        camera = frame.evaluate("() => [document.getElementById('camera').videoWidth, "
                                "document.getElementById('view').width]")
        assert camera[1] <= 1280, camera  # the page asks for 640 px; a camera that sends more is shrunk to 1280
        assert frames_analysed(page) > 0
    finally:
        browser.close()


@needs_chromium
def test_many_faces_are_each_found_numbered_and_read(server, playwright, face_photo, tmp_path):
    """Twelve faces in view: each keeps its own number and gets readings (a few are re-read per frame, in
    turn), and every one reaches the timeline and the CSV."""
    video = tmp_path / "crowd.mjpeg"
    face = cv2.resize(face_photo[30:250, 120:340], (120, 120))
    frame = np.full((480, 640, 3), 128, np.uint8)
    for row in range(3):
        for column in range(4):
            top, left = 20 + 155 * row, 15 + 155 * column
            frame[top : top + 120, left : left + 120] = face
    encoded = cv2.imencode(".jpg", frame[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes()
    video.write_bytes(encoded * 60)
    browser = launch_chromium(playwright, video)
    try:
        page = browser.new_page()
        engine_ui = open_engine(page, server)
        engine_ui.get_by_role("button", name="Start").click()
        page.get_by_test_id("stMetric").filter(has_text="Faces now").filter(has_text="12").wait_for(timeout=60_000)
        time.sleep(3)
        engine_ui.get_by_role("button", name="Stop").click()
        page.get_by_text("Session summary").wait_for()
        with page.expect_download() as download:
            page.get_by_role("button", name="Download the session (CSV)").click()
        rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text())))
        numbers = {row["face"] for row in rows}
        assert numbers == {str(n) for n in range(1, 13)}, numbers  # numbered once each, in reading order
        by_face = {n: [row for row in rows if row["face"] == n] for n in numbers}
        assert min(len(face_rows) for face_rows in by_face.values()) >= 20
        assert all(row["label"] == "happy" for row in rows[-12:]), rows[-12:]  # the same face twelve times
    finally:
        browser.close()


HIDE_TAB = """(hidden) => {
  Object.defineProperty(document, 'hidden', {value: hidden, configurable: true});
  Object.defineProperty(document, 'visibilityState', {value: hidden ? 'hidden' : 'visible', configurable: true});
  document.dispatchEvent(new Event('visibilitychange'));
}"""


@needs_chromium
def test_a_hidden_and_frozen_tab_says_so_and_carries_on_when_back(server, chromium):
    """Headless Chromium never hides a tab, so the test does what a hidden background tab goes through:
    the visibilitychange event, then the page frozen (no script runs, as Chrome freezes background
    tabs), then active and visible again."""
    page = chromium.new_page()
    try:
        engine_ui = open_engine(page, server)
        engine_ui.get_by_role("button", name="Start").click()
        page.get_by_text("Faces now").wait_for()
        frame = engine_frame(page)
        frame.evaluate(HIDE_TAB, True)
        engine_ui.get_by_text("Paused while this tab is hidden").wait_for()
        lifecycle = page.context.new_cdp_session(page)
        lifecycle.send("Page.setWebLifecycleState", {"state": "frozen"})
        time.sleep(3)
        lifecycle.send("Page.setWebLifecycleState", {"state": "active"})
        frame.evaluate(HIDE_TAB, False)
        engine_ui.get_by_text("the video stays on this device").wait_for()
        before = frames_analysed(page)
        time.sleep(5)
        assert engine_ui.get_by_role("button", name="Stop").is_visible()
        assert frames_analysed(page) > before + 30  # the same stream goes on, and its frames reach the page
    finally:
        page.close()


COUNT_FRAMES_SHOWN = "window.__ferFrameShown = () => { window.framesShown = (window.framesShown ?? 0) + 1; }"


SLOW_READINGS = """() => {
  // Each reading waits 50 ms more, as on a GPU whose results come back a moment later: the page runs other
  // tasks (a click on Stop) meanwhile, which WebAssembly's readings, done at once, leave no room for.
  const classifier = window.ferEngine.classifier;
  const classify = classifier.classify.bind(classifier);
  classifier.classify = async (face) => {
    window.reading = true;
    const probs = await classify(face);
    await new Promise((resolve) => setTimeout(resolve, 50));
    window.reading = false;
    return probs;
  };
}"""
STOP_DURING_A_READING = """() => new Promise((done) => {
  const stopWhenReading = () => {
    if (!window.reading) return setTimeout(stopWhenReading, 1);
    document.getElementById('start').click();
    done(window.framesShown);
  };
  stopWhenReading();
})"""


@needs_chromium
def test_a_frame_still_being_analysed_at_stop_stays_out_of_the_timeline(server, chromium):
    """Stop is pressed while a frame waits for its reading: the timeline, its CSV and the status line end at
    Stop. The frame used to be added after Stop, could say the device's pace over "Stopped", and was
    reported a second time."""
    page = chromium.new_page()
    try:
        engine_ui = open_engine(page, server)
        engine = engine_frame(page)
        engine.evaluate(COUNT_FRAMES_SHOWN)
        engine.evaluate(SLOW_READINGS)
        engine_ui.get_by_role("button", name="Start").click()
        page.get_by_text("Faces now").wait_for()
        wait_until(lambda: frames_analysed(page) >= 20)
        shown_at_stop = engine.evaluate(STOP_DURING_A_READING)
        page.get_by_text("Session summary").wait_for()
        with page.expect_download() as download:
            page.get_by_role("button", name="Download the session (CSV)").click()
        times = {row["t"] for row in csv.DictReader(io.StringIO(Path(download.value.path()).read_text()))}
        assert engine.evaluate("window.framesShown") == shown_at_stop
        assert engine_ui.get_by_text("Stopped. Press Start").is_visible()
    finally:
        page.close()
    assert 0.9 * shown_at_stop <= len(times) <= shown_at_stop, (len(times), shown_at_stop)  # a frame may miss the face


@needs_chromium
def test_a_network_cut_longer_than_the_session_loses_nothing(playwright, camera_video, tmp_path):
    """The browser goes offline for longer than the server keeps its session: the server ends it, and the page
    comes back with a new one that has none of the stream. The engine, which kept the frames, sends the
    whole run again, so the CSV starts at the start and has no gap. The engine counts the frames it shows
    (one face each) and the CSV must hold them all: without the resend, the frames the first session had
    taken (90 or more) would be missing. Counting, not the first frame's time, keeps it true on a slow
    machine, where the first frame can come 2 s after Start."""
    ttl = {"STREAMLIT_SERVER_DISCONNECTED_SESSION_TTL": "12"}  # the app's own is 40 s; ended 10 s before that
    browser = launch_chromium(playwright, camera_video)
    try:
        with streamlit_server(None, tmp_path / "server.log", extra_env=ttl) as (app_url, _pid), \
                cuttable(app_url) as (url, network):
            context = browser.new_context()
            page = context.new_page()
            engine_ui = open_engine(page, url)
            engine = engine_frame(page)
            engine.evaluate(COUNT_FRAMES_SHOWN)
            engine_ui.get_by_role("button", name="Start").click()
            page.get_by_text("Faces now").wait_for()
            wait_until(lambda: frames_analysed(page) >= 90)
            network.cut()  # the engine goes on; its reports wait in the page for the connection to come back
            time.sleep(20)
            network.restore()
            wait_until(lambda: frames_analysed(page) >= 600)
            engine_ui.get_by_role("button", name="Stop").click()
            page.get_by_text("Session summary").wait_for()
            with page.expect_download() as download:
                page.get_by_role("button", name="Download the session (CSV)").click()
            times = [float(row["t"]) for row in csv.DictReader(io.StringIO(Path(download.value.path()).read_text()))]
            shown = engine.evaluate("window.framesShown")
            assert page.get_by_text("did not reach this page").count() == 0
    finally:
        browser.close()
    assert len(set(times)) >= 0.98 * shown, (len(set(times)), shown, times[:5])  # from the start (a missed face or two)
    assert max(b - a for a, b in itertools.pairwise(times)) < 2.0  # and nothing missing in between


@needs_chromium
@pytest.mark.parametrize("phone", ["iPhone 13", "Pixel 7"])
def test_on_a_phone_in_portrait_the_live_view_fits_the_first_screen(server, chromium, playwright, phone):
    """The camera view and its Start button on the first screen, without scrolling (on an iPhone 13 the
    canvas ended about 90 px below it, under Streamlit's top margin and a long paragraph)."""
    context = chromium.new_context(**playwright.devices[phone])
    try:
        page = context.new_page()
        engine_ui = open_engine(page, server)
        engine_ui.get_by_role("button", name="Start").click()
        engine_ui.get_by_text("the video stays on this device").wait_for()
        height = page.viewport_size["height"]
        for element in (engine_ui.locator("canvas"), engine_ui.get_by_role("button", name="Stop")):
            box = element.bounding_box()
            assert box["y"] >= 0 and box["y"] + box["height"] <= height, (phone, box, height)
    finally:
        context.close()
