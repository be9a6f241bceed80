"""End to end in a real browser: Debian's Chromium, driven by Playwright, against `streamlit run`.

The live test feeds Chromium's fake camera from an MJPEG file of real face frames, so the whole
path runs: browser camera -> WebRTC -> the server's callback (detector + CNN) -> annotated video
back into the page's <video> element.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import zipfile
from pathlib import Path
from urllib.parse import urlsplit

import av
import cv2
import numpy as np
import pytest

from app_harness.browser import (
    CHROMIUM,
    PROCESSED_CORNER_BELOW,
    WEBRTC_IFRAME,
    analyse_video,
    descendants,
    download_from,
    held_bytes,
    launch_chromium,
    process_command,
    processed_frame_corner,
    start_button,
    streamlit_server,
    toggle_live_setting,
    wait_for_stats,
    wait_until_released,
    write_camera_video,
)
from tests.conftest import write_image

playwright_api = pytest.importorskip("playwright.sync_api")
pytestmark = [
    pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (apt-get install chromium)"),
    pytest.mark.timeout(300, method="signal"),  # the signal method still runs fixture teardown
]


@pytest.fixture(scope="module")
def stats_file(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("live") / "stats.json"


@pytest.fixture(scope="module")
def server(stats_file):
    with streamlit_server(stats_file, stats_file.parent / "server.log") as (url, _pid):
        yield url


@pytest.fixture(scope="module")
def camera_video(tmp_path_factory, face_photo) -> Path:
    return write_camera_video(tmp_path_factory.mktemp("camera") / "faces.mjpeg", face_photo)


@pytest.fixture()
def browser(camera_video):
    with playwright_api.sync_playwright() as playwright:
        chromium = launch_chromium(playwright, camera_video)
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
    page.get_by_text("1 face found", exact=True).wait_for()
    page.get_by_text("All photos").wait_for()
    image = page.locator('[data-testid="stImage"] img').first
    image.wait_for()
    assert image.evaluate("img => img.naturalWidth") == face_photo.shape[1]
    page.get_by_role("button", name="Download results (CSV)").wait_for()
    page.get_by_text(re.compile(r"Face #1 \w+ \d+%")).first.wait_for()  # the plotly chart's title
    page.screenshot(path=str(tmp_path / "upload.png"), full_page=True)
    if os.environ.get("FER_SCREENSHOTS"):
        shutil.copy(tmp_path / "upload.png", Path(os.environ["FER_SCREENSHOTS"]) / "upload.png")


def test_file_names_are_shown_as_typed_never_rendered(server, browser, face_photo, tmp_path):
    """A name like `![t](...)` must not make the visitor's browser fetch anything, nor `#` make a heading."""
    names = ["# Heading red .png", "![t](tracker.example.png).png"]
    files = [str(write_image(tmp_path / name, face_photo)) for name in names]
    page = browser.new_page()
    page.set_default_timeout(60_000)
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(f"{server}/upload")
    page.get_by_text("Emotions in photos").wait_for()
    page.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files(files)
    page.get_by_text("All photos").wait_for()
    for name in names:
        page.get_by_text(name, exact=True).first.wait_for()  # the literal name is on the page
    assert page.locator("h1", has_text="Heading red").count() == 0
    assert page.locator('img[alt="t"]').count() == 0
    assert not [url for url in requested if "tracker.example" in url]


def test_live_webcam_over_webrtc(server, browser, stats_file):
    stats_file.unlink(missing_ok=True)
    page = browser.new_page()
    page.set_default_timeout(60_000)
    page.goto(f"{server}/live?engine=server")
    toggle_live_setting(page, "Record the annotated video")  # from this START on
    frame = page.frame_locator(WEBRTC_IFRAME)
    start_button(page).click()
    stats = wait_for_stats(stats_file, lambda s: s.get("frames", 0) >= 30 and s.get("frames_with_faces", 0) >= 10,
                           timeout=90)
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
    corner = processed_frame_corner(page, video)
    assert corner < PROCESSED_CORNER_BELOW, f"no annotated frame came back to the <video> (corner {corner})"

    page.get_by_text("Processing rate").wait_for(timeout=30_000)
    frame.get_by_role("button", name=re.compile("^stop$", re.I)).click()
    page.get_by_text("Session summary").wait_for(timeout=30_000)
    page.get_by_role("button", name="Download the session (CSV)").wait_for(timeout=30_000)
    assert page.get_by_text("Processing rate").count() == 0, "the stopped stream's rate is still shown"
    assert page.get_by_text("Faces now").count() == 0

    # the recording and the timeline, together
    with zipfile.ZipFile(download_from(page, "Download the clip and the timeline (ZIP)")) as archive:
        assert sorted(archive.namelist()) == ["live_session.csv", "live_session.mp4"]
        rows = archive.read("live_session.csv").decode().splitlines()
        clip = archive.read("live_session.mp4")
    assert rows[0].startswith("t,face,label,score") and len(rows) > 10
    with av.open(io.BytesIO(clip)) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    assert len(frames) >= 10 and frames[-1].shape[:2] == (height, width)
    assert frames[-1][:20, :60].mean() < 80  # the fps tag's black corner: the annotated video was recorded


def test_a_wide_camera_keeps_its_shape(server, stats_file, tmp_path, face_photo):
    """A 16:9 camera (1280x720 here) reaches the server as 16:9, not cropped to 4:3."""
    wide = write_camera_video(tmp_path / "wide.mjpeg", face_photo, seconds=2.0, size=(1280, 720))
    stats_file.unlink(missing_ok=True)
    with playwright_api.sync_playwright() as playwright:
        chromium = launch_chromium(playwright, wide)
        try:
            page = chromium.new_page()
            page.set_default_timeout(60_000)
            page.goto(f"{server}/live?engine=server")
            start_button(page).click()
            stats = wait_for_stats(stats_file, lambda s: s.get("frames", 0) >= 10, timeout=90)
        finally:
            chromium.close()
    height, width = stats["frame_shape"][:2]
    assert abs(width / height - 16 / 9) < 0.02, stats["frame_shape"]


def test_video_page_annotates_an_uploaded_clip_that_plays_and_downloads(server, browser, face_photo, tmp_path):
    from tests.test_cli_outputs import write_clip

    clip = write_clip(tmp_path / "interview.mp4", face_photo, 150, size=(640, 480))
    page = browser.new_page()
    page.set_default_timeout(60_000)
    page.goto(f"{server}/video")
    page.get_by_text("Emotions in a video").wait_for()
    page.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files(str(clip))
    page.get_by_role("button", name="Analyse the video").click()
    page.get_by_text(re.compile(r"Frame [\d,]+ of 150")).first.wait_for()  # the progress bar's text
    page.get_by_role("button", name="Both (ZIP)").wait_for(timeout=120_000)
    video = page.locator('[data-testid="stVideo"]').first
    video.wait_for()
    page.wait_for_function("() => { const v = document.querySelector('[data-testid=stVideo]');"
                           " return v && v.readyState >= 2 && v.videoWidth === 640; }", timeout=30_000)
    video.evaluate("v => { v.muted = true; return v.play(); }")  # the browser decodes and plays the H.264 clip
    page.wait_for_function("() => document.querySelector('[data-testid=stVideo]').currentTime > 0.5",
                           timeout=30_000)
    page.get_by_text("Probabilities over time for face").wait_for()
    with zipfile.ZipFile(download_from(page, "Both (ZIP)")) as archive:
        assert sorted(archive.namelist()) == ["interview_annotated.csv", "interview_annotated.mp4"]
        rows = archive.read("interview_annotated.csv").decode().splitlines()
        annotated = archive.read("interview_annotated.mp4")
    assert rows[0].startswith("t,face,label,score") and len(rows) == 151
    with av.open(io.BytesIO(annotated)) as container:
        assert sum(1 for _ in container.decode(video=0)) == 150


def test_the_video_pages_overview_numbers_faces_as_the_video_does(server, browser, face_photo, tmp_path):
    """Two faces: the chart of each face's label over time has ticks #1 and #2 (Plotly once read "#2" as the
    number 2 and drew ticks 1, 1.5, 2)."""
    from fer.video_io import Mp4Writer

    face = cv2.resize(face_photo[30:250, 120:340], (200, 200))[:, :, ::-1]
    clip = tmp_path / "two.mp4"
    writer = Mp4Writer(clip, crf=30)
    for i in range(30):  # the astronaut twice, side by side, on grey
        frame = np.full((480, 640, 3), 128, np.uint8)
        frame[140:340, 60:260], frame[140:340, 380:580] = face, face[:, ::-1]
        writer.write(frame, i / 30)
    writer.close()
    page = browser.new_page()
    page.set_default_timeout(60_000)
    analyse_video(page, server, clip)
    overview = page.locator(".js-plotly-plot").filter(has_text="Each face's label over time")
    overview.locator(".ytick text").first.wait_for(state="attached")
    ticks = [tick.text_content() for tick in overview.locator(".ytick text").all()]
    assert sorted(ticks) == ["#1", "#2"], ticks


def test_a_visitor_who_leaves_takes_the_upload_and_results_out_of_the_server(face_photo, tmp_path):
    """Streamlit keeps a left session for reconnection and then drops it without ending it; the app ends it
    (app_pages/left_sessions.py): the upload, the annotated clip and the downloads leave memory."""
    from tests.test_cli_outputs import write_clip

    clip = write_clip(tmp_path / "interview.mp4", face_photo, 60, size=(640, 480))
    ttl = {"STREAMLIT_SERVER_DISCONNECTED_SESSION_TTL": "12"}  # the app's own is 40 s
    with playwright_api.sync_playwright() as playwright, \
            streamlit_server(None, tmp_path / "server.log", extra_env=ttl) as (url, _pid):
        chromium = launch_chromium(playwright)
        try:
            visit = chromium.new_context()
            page = visit.new_page()
            page.set_default_timeout(60_000)
            analyse_video(page, url, clip)
            held = held_bytes(url)
            assert held["UploadedFileManager"] >= clip.stat().st_size and held["st_memory_media_file_storage"] > 0
            visit.close()  # the visitor closes the tab
            wait_until_released(url, 60)
        finally:
            chromium.close()


def test_a_video_over_the_upload_limit_is_explained_on_the_page(server, browser, tmp_path):
    huge = tmp_path / "huge.mp4"
    with huge.open("wb") as sparse:  # 230 MB that take no disk: the browser refuses it by its size alone
        sparse.truncate(230 * 1024 * 1024)
    page = browser.new_page()
    page.set_default_timeout(60_000)
    page.goto(f"{server}/video")
    page.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files(str(huge))
    page.get_by_text("File must be 200.0MB or smaller").wait_for(state="attached")  # the uploader's red mark
    page.get_by_text("the uploader marks a larger file in red and refuses it").wait_for()
    assert page.get_by_role("button", name="Analyse the video").count() == 0


def test_video_page_cancel_stops_the_analysis(server, browser, face_photo, tmp_path):
    from tests.test_cli_outputs import write_clip

    clip = write_clip(tmp_path / "long.mp4", face_photo, 3000)
    page = browser.new_page()
    page.set_default_timeout(60_000)
    page.goto(f"{server}/video")
    page.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files(str(clip))
    page.get_by_role("button", name="Analyse the video").click()
    page.get_by_text(re.compile(r"Frame [\d,]+ of 3,000")).first.wait_for()
    page.get_by_role("button", name="Cancel").click()
    page.get_by_text("The last analysis was stopped before it finished.").wait_for()
    page.get_by_role("button", name="Analyse the video").wait_for()
    assert page.get_by_role("button", name="Both (ZIP)").count() == 0


def test_pages_load_nothing_from_other_hosts(server, browser):
    """Everything runs offline: no page asks any host but the app's own (fonts, icons, analytics)."""
    page = browser.new_page()
    page.set_default_timeout(60_000)
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    for path, heading in (("", "Facial expression recognition"), ("upload", "Emotions in photos"),
                          ("live", "Live webcam"), ("video", "Emotions in a video"), ("dashboard", "Model dashboard")):
        page.goto(f"{server}/{path}")
        page.get_by_role("heading", name=heading).first.wait_for()
        page.wait_for_timeout(1500)  # late requests: fonts, favicons
    outside = {urlsplit(url).hostname for url in requested if urlsplit(url).scheme in ("http", "https", "ws", "wss")}
    assert outside <= {"localhost", "127.0.0.1"}, [url for url in requested if "localhost" not in url]
    assert len(requested) > 10


def test_no_chromium_left_behind():
    """Each test closes its browser: no Chromium started by this test run may outlive it (other
    processes on the machine are not ours to judge)."""
    left = [pid for pid in descendants(os.getpid()) if "chromium" in process_command(pid)]
    assert left == [], [process_command(pid) for pid in left]
