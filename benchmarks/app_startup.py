"""How soon the Photos page is usable after a warm `bash scripts/run_app.sh`, started exactly as the README does.

    python benchmarks/app_startup.py [--runs 3]

Each run starts `bash scripts/run_app.sh` (with .venv already set up: no install, no package index),
times until the server answers its health check, opens the Photos page in Debian's Chromium, times
until the uploader is on screen (the model is loaded by then), uploads a real face photo and times
until its result shows. Also prints the server's CPU seconds over the whole run and any noisy line in
its log. Goal: the Photos page usable within 5 s of the command.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from PIL import Image
from skimage import data

from app_harness.browser import STARTUP_NOISE, launch_chromium, streamlit_server


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its waited-for children, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(value) for value in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    rows = []
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as playwright:
        tmp = Path(tmp)
        photo = tmp / "astronaut.jpg"
        Image.fromarray(data.astronaut()).save(photo)
        camera = tmp / "unused.mjpeg"
        camera.write_bytes(b"")
        browser = launch_chromium(playwright, camera)
        try:
            for run in range(args.runs):
                log = tmp / f"server{run}.log"
                started = time.monotonic()
                with streamlit_server(None, log, via_run_app=True) as (url, pid):
                    healthy = time.monotonic() - started
                    page = browser.new_page()
                    page.set_default_timeout(120_000)
                    page.goto(f"{url}/upload")
                    page.locator('[data-testid="stFileUploader"] input[type="file"]').wait_for(state="attached")
                    page.get_by_text("Add photos above to begin").wait_for()
                    usable = time.monotonic() - started
                    page.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files(str(photo))
                    page.get_by_text("1 face found", exact=True).wait_for()
                    result = time.monotonic() - started
                    cpu = cpu_seconds(pid)  # run_app.sh ends in exec: its pid is the server's
                    page.close()
                noisy = [line for line in log.read_text().splitlines() if any(word in line for word in STARTUP_NOISE)]
                rows.append((healthy, usable, result, cpu))
                print(f"run {run + 1}: server up {healthy:.1f} s, Photos page usable {usable:.1f} s, first photo "
                      f"analysed {result:.1f} s after `bash scripts/run_app.sh`; server CPU {cpu:.1f} s; "
                      f"noisy log lines: {len(noisy)}" + "".join(f"\n    {line}" for line in noisy[:5]))
        finally:
            browser.close()
    for index, name in ((0, "server up"), (1, "Photos page usable"), (2, "first photo analysed")):
        values = [row[index] for row in rows]
        print(f"{name}: median {statistics.median(values):.1f} s (range {min(values):.1f}-{max(values):.1f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
