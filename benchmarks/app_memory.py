"""Server memory while the Photos page analyses very large photos, and after: the real app in Chromium.

    python benchmarks/app_memory.py [--rounds 2] [--settle 12]

Starts `streamlit run` as the tests do, opens the Photos page in Debian's Chromium and uploads, one
at a time, a 50-megapixel JPEG and a 63-megapixel PNG of a real face photo. For each it prints the
server's peak resident memory while the photo was analysed (the peak is reset before each upload
through /proc/PID/clear_refs) and its resident memory 12 s after the upload is removed, against the idle
figure with the model loaded. Goals: peak under 1 GB, back within 50 MB of idle.
"""

from __future__ import annotations

import argparse
import re
import tempfile
import time
from pathlib import Path

import cv2
from PIL import Image
from skimage import data

from app_harness.browser import launch_chromium, process_memory_mb, streamlit_server


def big_photo(path: Path, width: int, height: int) -> Path:
    """A real face photo scaled up to width x height (the face stays findable)."""
    Image.fromarray(cv2.resize(data.astronaut(), (width, height), interpolation=cv2.INTER_LINEAR)).save(path)
    return path


def reset_peak(pid: int) -> None:
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # resets VmHWM to the current resident size


def settle(pid: int, seconds: float = 12.0) -> dict:
    """Memory once the app had time to hand freed memory back (it trims its heap every 10 s)."""
    time.sleep(seconds)
    return process_memory_mb(pid)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2, help="upload each photo this many times")
    parser.add_argument("--settle", type=float, default=12.0, help="seconds to wait before reading 'after'")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        photos = [big_photo(tmp / "50mp.jpg", 8660, 5774), big_photo(tmp / "63mp.png", 9700, 6500)]
        camera = tmp / "unused.mjpeg"
        camera.write_bytes(b"")
        with sync_playwright() as playwright, streamlit_server(tmp / "stats.json", tmp / "server.log") as (url, pid):
            browser = launch_chromium(playwright, camera)
            try:
                page = browser.new_page()
                page.set_default_timeout(180_000)
                page.goto(f"{url}/upload")
                page.get_by_text("Add photos above to begin").wait_for()
                idle = settle(pid)
                print(f"idle, Photos page open with the model loaded: {idle['VmRSS']:.0f} MB resident")
                uploader = page.locator('[data-testid="stFileUploader"] input[type="file"]')
                for round_no in range(1, args.rounds + 1):
                    for photo in photos:
                        reset_peak(pid)
                        started = time.monotonic()
                        uploader.set_input_files(str(photo))
                        page.get_by_text(re.compile(r"^(No face|\d+ faces?) found$")).wait_for()
                        seconds = time.monotonic() - started
                        during = process_memory_mb(pid)
                        page.get_by_role("button", name=f"Remove {photo.name}").click()
                        page.get_by_text("Add photos above to begin").wait_for()
                        after = settle(pid, args.settle)
                        megapixels = Image.open(photo).size
                        print(f"round {round_no}, {photo.name} ({megapixels[0]}x{megapixels[1]}, "
                              f"{photo.stat().st_size / 1e6:.0f} MB file): shown in {seconds:.1f} s, "
                              f"peak {during['VmHWM']:.0f} MB resident, {after['VmRSS']:.0f} MB after removing "
                              f"it ({after['VmRSS'] - idle['VmRSS']:+.0f} MB against idle)")
            finally:
                browser.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
