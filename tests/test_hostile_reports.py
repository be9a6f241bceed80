"""A hostile visitor against the Live page's browser engine, in Debian's Chromium against `streamlit run`:
forged reports posted into the engine's frame in place of the engine's own (app_harness/forged_reports.py).
Each malformed one is refused with one calm line and no traceback, floods stay within the caps, a poisoned
session does not stop left sessions from being ended, and another visitor's pages keep working."""

from __future__ import annotations

import time

import pytest

from app_harness.browser import (
    CHROMIUM,
    analyse_video,
    frames_analysed,
    held_bytes,
    launch_chromium,
    process_memory_mb,
    streamlit_server,
    wait_until,
    wait_until_released,
)
from app_harness.forged_reports import (
    ENGINE_FRAME,
    POST_FRAMES,
    POST_NESTED,
    POST_VALUE,
    frame,
    malformed_reports,
    report,
)
from app_pages.live import UNREADABLE_REPORT
from tests.conftest import write_image

playwright_api = pytest.importorskip("playwright.sync_api")
pytestmark = [
    pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (apt-get install chromium)"),
    pytest.mark.timeout(600, method="signal"),
]
TRACEBACK = '[data-testid="stException"]'
WARNING = UNREADABLE_REPORT.split(",")[0]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    log = tmp_path_factory.mktemp("hostile") / "server.log"
    with streamlit_server(None, log, extra_env={"STREAMLIT_SERVER_DISCONNECTED_SESSION_TTL": "12"}) as (url, pid):
        yield url, pid, log


@pytest.fixture(scope="module")
def chromium():
    with playwright_api.sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            yield browser
        finally:
            browser.close()


def open_live_page(chromium, url: str):
    """A visitor on the Live page, its engine ready (and never started): only forged reports arrive."""
    context = chromium.new_context()
    page = context.new_page()
    page.set_default_timeout(120_000)
    page.goto(f"{url}/live")
    return context, page, ready_engine(page)


def ready_engine(page):
    """The engine's frame, once its models are loaded."""
    page.frame_locator(f'iframe[title*="{ENGINE_FRAME}"]').get_by_text("Ready").wait_for()
    return next(f for f in page.frames if ENGINE_FRAME in f.url and not f.is_detached())


def wait_for_text(page, text: str, present: bool = True, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while (page.get_by_text(text).count() > 0) != present:
        assert page.locator(TRACEBACK).count() == 0, page.locator(TRACEBACK).first.inner_text()
        assert time.monotonic() < deadline, f"{text!r} {'never appeared' if present else 'stayed'}"
        time.sleep(0.2)


def photos_page_reads_a_face(chromium, url: str, photo) -> None:
    """Another visitor's Photos page works: a photo uploaded there gets its face."""
    visit = chromium.new_context()
    visitor = visit.new_page()
    visitor.set_default_timeout(120_000)
    visitor.goto(f"{url}/upload")
    visitor.locator('[data-testid="stFileUploader"] input[type="file"]').first.set_input_files(str(photo))
    visitor.get_by_text("1 face").first.wait_for()
    visit.close()


def test_every_malformed_report_is_refused_calmly(server, chromium):
    """Each shape is dropped with one calm line on the page and none of it kept; a good report after it is
    taken. Never a traceback, and the server's log gets short lines, not tracebacks."""
    url, _pid, log = server
    context, page, engine = open_live_page(chromium, url)
    try:
        seq = 0
        for name, value in malformed_reports().items():
            engine.evaluate(POST_VALUE, value)
            wait_for_text(page, WARNING)
            seq += 1
            engine.evaluate(POST_VALUE, report([frame(seq)]))
            wait_for_text(page, WARNING, present=False)
            assert page.locator(TRACEBACK).count() == 0, name
        page.get_by_text("Faces now").wait_for()
        assert frames_analysed(page) == seq
        for depth in (500, 1000, 2000):  # decoded and refused; too deep for Python to decode at all
            engine.evaluate(POST_NESTED, depth)
            wait_for_text(page, WARNING)
            seq += 1
            engine.evaluate(POST_VALUE, report([frame(seq)]))
            wait_for_text(page, WARNING, present=False)
        assert page.locator('img[src*="127.0.0.1:9"]').count() == 0  # no Markdown from the browser rendered
    finally:
        context.close()
    text = log.read_text()
    assert "Traceback" not in text, text[-3000:]
    assert 0 < text.count("refused") <= 10, text[-3000:]  # one line, at most one every 10 s


def test_a_flooding_visitor_stays_within_the_caps_and_others_keep_working(server, chromium, face_photo, tmp_path):
    """Reports at the largest size the schema takes (600 frames of 64 faces), sent as fast as the page takes
    them: the timeline keeps its cap, the server's memory stays bounded, another visitor's Photos page works
    meanwhile, and the memory comes back after the flooder leaves."""
    url, pid, _log = server
    photo = write_image(tmp_path / "face.jpg", face_photo)
    context, page, engine = open_live_page(chromium, url)
    before = process_memory_mb(pid)["VmRSS"]
    try:
        first, peak = 1, before
        for _ in range(12):  # 460,800 face rows: more than four times the cap
            engine.evaluate(POST_FRAMES, ["flood1", first, 600, 64])
            first += 600
            wait_until(lambda last=first - 1: frames_analysed(page) == last, timeout=120, every=0.2)
            peak = max(peak, process_memory_mb(pid)["VmRSS"])
        photos_page_reads_a_face(chromium, url, photo)
    finally:
        context.close()
    assert peak - before < 400, f"{before:.0f} MB before, {peak:.0f} MB at the peak of the flood"
    deadline = time.monotonic() + 90
    while held_bytes(url).get("st_session_state", 0) > 5e6:  # the flooder's session is ended and freed
        assert time.monotonic() < deadline, held_bytes(url)
        time.sleep(1)


def test_a_poisoned_session_does_not_stop_the_next_visitors_upload_from_leaving(server, chromium, face_photo,
                                                                               tmp_path):
    """A report nested past Python's recursion limit, then the tab closed: the thread that ends left sessions
    (app_pages/left_sessions.py) once died on that session, and no later visitor's upload ever left the
    server. Now that session ends like any other, and the next visitor's upload leaves within a minute."""
    from tests.test_cli_outputs import write_clip

    url, _pid, log = server
    context, page, engine = open_live_page(chromium, url)
    engine.evaluate(POST_NESTED, 1000)
    wait_for_text(page, WARNING)
    context.close()  # the hostile visitor leaves; the server ends their session about 2 s later (TTL 12 s)
    time.sleep(15)
    clip = write_clip(tmp_path / "interview.mp4", face_photo, 60, size=(640, 480))
    visit = chromium.new_context()
    page = visit.new_page()
    page.set_default_timeout(120_000)
    analyse_video(page, url, clip, timeout=180_000)
    assert held_bytes(url)["UploadedFileManager"] >= clip.stat().st_size
    visit.close()
    wait_until_released(url, 60)
    assert "Traceback" not in log.read_text()


def test_a_report_over_the_message_limit_closes_only_that_tab(server, chromium, face_photo, tmp_path):
    """Over server.maxMessageSize (8 MB) the message is refused before it is decoded (that tab's connection
    closes; its browser sends the value again with every message, so that tab stays cut off until it is
    reloaded), the server does not grow by it, and another visitor's Photos page works."""
    url, pid, _log = server
    context, page, engine = open_live_page(chromium, url)
    before = process_memory_mb(pid)["VmRSS"]
    try:
        engine.evaluate(POST_VALUE, report([frame(1)], run="big1", note="x" * 10_000_000))
        page.wait_for_timeout(5000)  # nothing on the page tells when the server refused it
    finally:
        context.close()
    photos_page_reads_a_face(chromium, url, write_image(tmp_path / "face.jpg", face_photo))
    assert process_memory_mb(pid)["VmRSS"] - before < 100
