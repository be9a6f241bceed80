"""Server memory as visitors upload videos to the Video page and leave: the real app in Chromium.

    python benchmarks/app_video_memory.py [--big-mb 190] [--small 5] [--small-mb 12] [--after 60]

Starts `streamlit run` as the tests do and, one visitor after another, each in a browser context of its
own: opens the Video page, uploads a clip (first one 1080p clip of about 190 MB, then five 720p clips
of about 12 MB; real face photos moving over noise, so they are as large as phone videos of their
length), analyses it, waits for the results and closes the tab. For each it prints the server's peak
resident memory while the clip was uploaded and analysed (the peak is reset before each upload through
/proc/PID/clear_refs), then its resident memory and what Streamlit still holds (uploads, media files)
`--after` seconds after the tab closed, against the idle figure with the model loaded. Goal: back within
50 MB of idle a minute after each visitor leaves.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
from skimage import data

from app_harness.browser import held_bytes, launch_chromium, process_memory_mb, streamlit_server
from fer.video_io import Mp4Writer


def noisy_clip(path: Path, size: tuple[int, int], megabytes: float, noise: int, max_frames: int = 3000) -> Path:
    """Two faces (the astronaut, at two sizes) moving over noise, written until the file is `megabytes` big."""
    width, height = size
    faces = [cv2.resize(data.astronaut()[20:260, 130:330, ::-1], (height // 3, height // 3)),
             cv2.resize(data.astronaut()[20:260, 130:330, ::-1], (height // 4, height // 4))]
    rng = np.random.default_rng(0)
    writer = Mp4Writer(path, crf=18)
    for i in range(max_frames):
        frame = rng.integers(128 - noise, 128 + noise, (height, width, 3), dtype=np.uint8)
        for k, face in enumerate(faces):
            x = (i * (3 + k) + k * width // 2) % (width - face.shape[1])
            y = height // 5 + k * height // 3
            frame[y : y + face.shape[0], x : x + face.shape[1]] = face
        writer.write(frame, i / 30)
        if i % 10 == 9 and path.stat().st_size >= megabytes * 1e6:
            break
    writer.close()
    return path


def reset_peak(pid: int) -> None:
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # resets VmHWM to the current resident size


def visit(browser, url: str, clip: Path) -> float:
    """One visitor: upload, analyse, see the results, close the tab; the seconds it took."""
    started = time.monotonic()
    context = browser.new_context()
    try:
        page = context.new_page()
        page.set_default_timeout(600_000)
        page.goto(f"{url}/video")
        page.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files(str(clip))
        page.get_by_role("button", name="Analyse the video").click()
        page.get_by_role("button", name="Both (ZIP)").wait_for()
    finally:
        context.close()
    return time.monotonic() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--big-mb", type=float, default=190.0, help="size of the first clip (the page takes 200)")
    parser.add_argument("--small", type=int, default=5, help="how many small clips follow")
    parser.add_argument("--small-mb", type=float, default=12.0)
    parser.add_argument("--after", type=float, default=60.0, help="seconds after a tab closes to read memory")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        clips = [noisy_clip(tmp / "big_1080p.mp4", (1920, 1080), args.big_mb, noise=60)]
        clips += [noisy_clip(tmp / f"small_{n}_720p.mp4", (1280, 720), args.small_mb, noise=24)
                  for n in range(1, args.small + 1)]
        with sync_playwright() as playwright, streamlit_server(None, tmp / "server.log") as (url, pid):
            browser = launch_chromium(playwright)
            try:
                visit(browser, url, clips[-1])  # loads the model; then the server is idle as after any visit
                time.sleep(args.after)
                idle = process_memory_mb(pid)["VmRSS"]
                print(f"idle, the model loaded and one visitor gone: {idle:.0f} MB resident", flush=True)
                for clip in clips:
                    reset_peak(pid)
                    seconds = visit(browser, url, clip)
                    peak = process_memory_mb(pid)["VmHWM"]
                    time.sleep(args.after)
                    after, held = process_memory_mb(pid)["VmRSS"], held_bytes(url)
                    still = sum(held.get(k, 0) for k in ("UploadedFileManager", "st_memory_media_file_storage"))
                    print(f"{clip.name} ({clip.stat().st_size / 1e6:.0f} MB): uploaded, analysed and shown in "
                          f"{seconds:.0f} s; peak {peak:.0f} MB resident; {args.after:.0f} s after the tab closed "
                          f"{after:.0f} MB ({after - idle:+.0f} MB against idle), uploads and media still held "
                          f"{still / 1e6:.1f} MB", flush=True)
            finally:
                browser.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
