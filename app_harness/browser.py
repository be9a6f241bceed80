"""Running the real app for browser tests and benchmarks: a `streamlit run` server, Debian's
Chromium with a fake camera fed from a video of real faces, and the live page's server-side stats."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = next((p for p in ("/usr/lib/chromium/chromium", "/usr/bin/chromium") if Path(p).exists()), None)
CAMERA_BACKGROUND = 128  # mid-grey: the black fps tag stands out on processed frames
START_BUTTON = r"^start$"
WEBRTC_IFRAME = 'iframe[title*="streamlit_webrtc"]'
ENGINE_IFRAME = 'iframe[title*="browser_live"]'  # the Live page's in-browser engine
# What a user should never see in the server's log on a start: errors that are not errors, set-up work on a
# warm start, questions, addresses beyond localhost.
STARTUP_NOISE = ("E0000", "cuInit", "Inotify", "Email:", "Network URL", "External URL", "installing", "Traceback",
                 "WARNING")


# The server started with a stats file writes the live callback's counters there (app_harness.live_stats).
STATS_FILE_VARIABLE = "FER_LIVE_STATS_FILE"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def streamlit_server(stats_file: Path | None, log_path: Path, timeout: float = 90.0,
                     extra_env: dict[str, str] | None = None, via_run_app: bool = False,
                     headless: bool = True) -> Iterator[tuple[str, int]]:
    """The app on a free port in its own process group, ended (group and all) on exit; yields (url, pid).
    By default `streamlit run` with this Python and the repository's .streamlit/config.toml (with a
    `stats_file`, through app_harness/instrumented_app.py); with `via_run_app`, exactly the README's
    `bash scripts/run_app.sh` (its .venv, its checks, its defaults)."""
    if via_run_app and stats_file is not None:
        raise ValueError("run_app.sh starts the plain app, which writes no live counters")
    port = free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    for name in ("ICE_SERVERS", "ICE_TRANSPORT_POLICY", "TWILIO_ACCOUNT_SID", "CLOUDFLARE_TURN_KEY_ID", "HF_TOKEN",
                 "STREAMLIT_SERVER_ADDRESS"):
        env.pop(name, None)  # the machine's own settings do not leak in; a test's extra_env may set them
    env.update(extra_env or {})
    entry = "streamlit_app.py"
    if stats_file is not None:  # the same app, with the live counters written to stats_file
        env[STATS_FILE_VARIABLE], entry = str(stats_file), "app_harness/instrumented_app.py"
    options = ["--server.headless", "true"] if headless else []  # headless: no browser window, no questions
    options += ["--server.port", str(port)]
    command = (["bash", "scripts/run_app.sh", *options] if via_run_app
               else [sys.executable, "-m", "streamlit", "run", entry, "--server.address", "localhost",
                     *options])
    with log_path.open("w") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
        url = f"http://localhost:{port}"
        try:
            deadline = time.monotonic() + timeout
            while not healthy(url):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"streamlit did not start:\n{log_path.read_text()}")
                time.sleep(0.2)
            yield url, process.pid
        finally:
            _stop_group(process)


def healthy(url: str) -> bool:
    """Whether a Streamlit server at `url` answers its health check."""
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def held_bytes(url: str) -> dict[str, int]:
    """What the server's Streamlit holds, in bytes, by kind ("UploadedFileManager",
    "st_memory_media_file_storage", "st_session_state", caches), from its own /_stcore/metrics."""
    with urllib.request.urlopen(f"{url}/_stcore/metrics?families=cache_memory_bytes", timeout=30) as response:
        text = response.read().decode()
    held: dict[str, int] = {}
    for line in text.splitlines():
        if line.startswith("cache_memory_bytes{"):
            kind = line.split('cache_type="', 1)[1].split('"', 1)[0]
            held[kind] = held.get(kind, 0) + int(float(line.rsplit(" ", 1)[1]))
    return held


def wait_until_released(url: str, seconds: float = 60.0) -> None:
    """Wait until the server holds no upload and no media file; fails with what it still holds."""
    deadline = time.monotonic() + seconds
    while (held := held_bytes(url)).get("UploadedFileManager") or held.get("st_memory_media_file_storage"):
        assert time.monotonic() < deadline, f"still held {seconds:.0f} s after the visitor left: {held}"
        time.sleep(1)


def wait_until(condition, timeout: float = 90.0, every: float = 0.5) -> None:
    """Poll `condition` until it holds: browser tests wait for what happens, not for a time."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting for the page"
        time.sleep(every)


def engine_frame(page):
    """The Live page's in-browser engine as a frame, to run script in (`page.frame_locator(ENGINE_IFRAME)`
    finds its elements)."""
    return next(f for f in page.frames if "browser_live" in f.url)


ENGINE_LARGE_FILE = re.compile(r"\.(wasm\.gz|onnx|tflite|ttf)$")  # runtimes, models, the label font


def engine_files_fetched(frame) -> list[str]:
    """The names of the engine's large files that this visit fetched over the network (a file the engine
    took from its Cache Storage leaves no Resource Timing entry)."""
    names = frame.evaluate("() => performance.getEntriesByType('resource').map(r => r.name)")
    return sorted(name.rsplit("/", 1)[-1] for name in names if ENGINE_LARGE_FILE.search(name))


def engine_network_reasons(frame) -> dict[str, str]:
    """Why the engine says each file it fetched came over the network (its 'fer-engine-network' marks):
    not in the cache, the cache refused or ran out of patience, or no cache or version to look it up by."""
    marks = frame.evaluate("() => performance.getEntriesByName('fer-engine-network').map(m => m.detail)")
    return {mark["path"].rsplit("/", 1)[-1]: mark["why"] for mark in marks}


def wait_for_engine_cache(frame, files: int) -> None:
    """Until the engine's Cache Storage holds `files` files: it stores what it fetched while it goes on, so a
    page closed at once can leave a write unfinished."""
    frame.wait_for_function("async (n) => (await (await caches.open('fer-engine')).keys()).length >= n", arg=files)


def frames_analysed(page) -> int:
    """The Live page's "Frames analysed" figure, once the page shows it."""
    text = page.get_by_test_id("stMetric").filter(has_text="Frames analysed").inner_text()
    return int(text.split()[-1].replace(",", ""))


def analyse_video(page, url: str, clip: Path, timeout: float = 120_000) -> None:
    """The Video page: upload `clip`, press Analyse and wait for the results' downloads."""
    page.goto(f"{url}/video")
    page.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files(str(clip))
    page.get_by_role("button", name="Analyse the video").click()
    page.get_by_role("button", name="Both (ZIP)").wait_for(timeout=timeout)


def _stop_group(process: subprocess.Popen) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
            process.wait(timeout=15)
            return
        except ProcessLookupError:
            return
        except subprocess.TimeoutExpired:
            continue


def camera_face(face_photo: np.ndarray, side: int) -> np.ndarray:
    """The photo's face region (the astronaut's head with a little margin), `side` pixels square, RGB: what
    every fake camera shows."""
    return cv2.resize(face_photo[30:250, 120:340], (side, side))


def write_camera_video(path: Path, face_photo: np.ndarray, seconds: float = 4.0, fps: int = 30,
                       faces: int = 1, size: tuple[int, int] = (640, 480)) -> Path:
    """MJPEG (concatenated JPEG frames) of `size` (width, height), 640x480 by default: a real face (or a
    2x2 group of `faces=4`) drifting slowly over a grey background. Chromium loops it as its fake camera."""
    side = 200 if faces == 1 else 150
    face = camera_face(face_photo, side)
    spots = [(140, 220)] if faces == 1 else [(40, 130), (40, 330), (260, 130), (260, 330)][:faces]
    with path.open("wb") as handle:
        for i in range(int(seconds * fps)):
            frame = np.full((size[1], size[0], 3), CAMERA_BACKGROUND, np.uint8)
            drift = int(30 * np.sin(i / 20))
            for top, left in spots:
                frame[top : top + side, left + drift : left + drift + side] = face
            ok, encoded = cv2.imencode(".jpg", frame[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, 90])
            if not ok:
                raise RuntimeError("could not encode a camera frame")
            handle.write(encoded.tobytes())
    return path


def start_button(page):
    """The live page's START button, inside streamlit-webrtc's iframe."""
    return page.frame_locator(WEBRTC_IFRAME).get_by_role("button", name=re.compile(START_BUTTON, re.I))


def toggle_live_setting(page, label: str) -> None:
    """Flip one of the Live page's settings: they sit in its Settings popover, closed again afterwards so that
    it does not cover the video."""
    settings = page.get_by_role("button", name="Settings")
    settings.click()
    page.get_by_text(label).click()
    settings.click()
    page.get_by_text(label).wait_for(state="hidden")


def download_from(page, button_name: str, timeout_ms: float = 60_000) -> Path:
    """Click a Streamlit download button and return the downloaded file's path; when no download comes,
    fail with the message Streamlit showed under the button (a deferred file it could not make)."""
    try:
        with page.expect_download(timeout=timeout_ms) as download:
            page.get_by_role("button", name=button_name).click()
        return Path(download.value.path())
    except Exception as error:
        shown = page.locator("[data-testid=stDownloadButtonError]").all_inner_texts()
        raise AssertionError(f"no download from {button_name!r}; under the button: {shown or 'nothing'}") from error


def start_live_stream(browser, url: str, *, init_script: str | None = None, timeout_ms: int = 120_000):
    """A new browser context on the live page with its stream started (its own Streamlit session and
    WebRTC connection); `init_script` runs in every frame of it before the page's own scripts."""
    context = browser.new_context()
    if init_script:
        context.add_init_script(init_script)
    page = context.new_page()
    page.set_default_timeout(timeout_ms)
    page.goto(f"{url}/live?engine=server")
    start_button(page).click()
    return page


def launch_chromium(playwright, camera_video: Path | None = None):
    """Debian's Chromium, headless; with `camera_video`, a fake camera that plays it (and asks no permission)."""
    camera = ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
              f"--use-file-for-fake-video-capture={camera_video}"] if camera_video else []
    return playwright.chromium.launch(
        executable_path=CHROMIUM,
        args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
              "--disable-sync", "--no-first-run", *camera],
    )


def process_command(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def descendants(pid: int) -> list[int]:
    """Every living process started (directly or not) by `pid`, from /proc (Linux)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def read_stats(path: Path) -> dict:
    """The live callback's counters, written atomically by the server (see app_harness/live_stats.py)."""
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return {}


def session_stats(stats_file: Path) -> dict[Path, dict]:
    """Each live session's own counters, written beside `stats_file` (app_harness/live_stats.py)."""
    return {p: read_stats(p) for p in stats_file.parent.glob(stats_file.name + ".*") if not p.name.endswith(".tmp")}


def wait_for_stats(path: Path, condition, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    stats = read_stats(path)
    while not condition(stats) and time.monotonic() < deadline:
        time.sleep(0.1)
        stats = read_stats(path)
    return stats


def process_memory_mb(pid: int) -> dict:
    """Resident (VmRSS), peak resident (VmHWM), private (RssAnon) and file-backed (RssFile: shared
    libraries mapped from disk, which the kernel can drop and re-read) memory of a process, in MB."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
            values[key] = int(rest.split()[0]) / 1024
    return values


# The callback draws a black fps tag in the top-left corner of every processed frame; the fake camera's
# frames are grey there (CAMERA_BACKGROUND). Mean brightness of that corner in a <video>'s current frame:
_CORNER_BRIGHTNESS = """v => { if (!v.videoWidth) return 255; const c = document.createElement('canvas');
  c.width = v.videoWidth; c.height = v.videoHeight; const g = c.getContext('2d'); g.drawImage(v, 0, 0);
  const d = g.getImageData(2, 2, Math.floor(v.videoWidth / 12), Math.floor(v.videoHeight / 40)).data;
  let s = 0; for (let i = 0; i < d.length; i += 4) s += (d[i] + d[i+1] + d[i+2]) / 3; return s / (d.length / 4); }"""
PROCESSED_CORNER_BELOW = 40


def processed_frame_corner(page, video, attempts: int = 40) -> float:
    """Poll the <video> until a processed frame shows (its corner darker than PROCESSED_CORNER_BELOW) or
    `attempts` polls 250 ms apart have passed; returns the last corner brightness."""
    corner = 255.0
    for _ in range(attempts):
        corner = video.evaluate(_CORNER_BRIGHTNESS)
        if corner < PROCESSED_CORNER_BELOW:
            break
        page.wait_for_timeout(250)
    return corner
