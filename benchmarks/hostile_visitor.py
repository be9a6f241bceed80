"""Server memory while one visitor floods the Live page with forged reports, and after they leave.

    python benchmarks/hostile_visitor.py [--seconds 60] [--after 60] [--visitors 2]

Starts `streamlit run` as the tests do (sessions kept 40 s after a tab closes, the app's own setting) and
opens the Live page in Chromium without starting the camera; then, in place of the engine, posts into its
frame (app_harness/forged_reports.py), one after the other for `--seconds` each:
1. the largest reports the schema takes (600 frames of 64 faces: 38,400 face rows each) as fast as the
   page takes them;
2. reports of 100,000 frames (refused: over the 600-frame cap) as fast as they go;
3. malformed reports (each shape the tests use, round and round).
It prints the server's resident memory (idle, then every 10 s, the peak of each phase) and the frames the
page took, closes the tab and prints the memory `--after` seconds later; then the next of `--visitors`
flooders does the same on the same server. Also how many lines the server's log got. Goal: bounded during
a flood whatever it sends, and no growth from one flooder to the next.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from app_harness.browser import frames_analysed, launch_chromium, process_memory_mb, streamlit_server
from app_harness.forged_reports import ENGINE_FRAME, POST_FRAMES, POST_VALUE, malformed_reports
from app_pages.browser_live.reports import MAX_FACES_PER_FRAME, MAX_FRAMES_PER_REPORT
from fer.settings import DEFAULTS


def flood_once(page, engine, pid: int, idle: float, seconds: float, run: str) -> None:
    """One flooder's three phases, each `seconds` long."""

    def flood(name: str, post) -> None:
        started = last_print = time.monotonic()
        peak, reports = idle, 0
        while time.monotonic() - started < seconds:
            post()
            reports += 1
            peak = max(peak, process_memory_mb(pid)["VmRSS"])
            if time.monotonic() - last_print >= 10:
                last_print = time.monotonic()
                print(f"  {name}: {last_print - started:4.0f} s, {reports} reports, resident "
                      f"{process_memory_mb(pid)['VmRSS']:.0f} MB")
        print(f"{name}: {reports} reports in {seconds:.0f} s; peak resident {peak:.0f} MB "
              f"(+{peak - idle:.0f} MB over idle)")

    state = {"first": 1}

    def largest_valid() -> None:
        engine.evaluate(POST_FRAMES, [run, state["first"], MAX_FRAMES_PER_REPORT, MAX_FACES_PER_FRAME])
        state["first"] += MAX_FRAMES_PER_REPORT
        deadline = time.monotonic() + 60
        while frames_analysed(page) < state["first"] - 1 and time.monotonic() < deadline:
            time.sleep(0.1)

    def oversized() -> None:
        engine.evaluate(POST_FRAMES, [run + "x", 1, 100_000, 1])
        page.wait_for_timeout(300)

    shapes = list(malformed_reports().values())

    def malformed() -> None:
        engine.evaluate(POST_VALUE, shapes[state["first"] % len(shapes)])
        state["first"] += 1
        page.wait_for_timeout(50)

    flood(f"largest valid reports ({MAX_FRAMES_PER_REPORT} frames x {MAX_FACES_PER_FRAME} faces)", largest_valid)
    print(f"  frames the page took: {frames_analysed(page):,}")
    flood("reports of 100,000 frames (refused)", oversized)
    flood(f"malformed reports ({len(shapes)} shapes, refused)", malformed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="how long each phase floods")
    parser.add_argument("--after", type=float, default=60.0, help="seconds after the tab closes")
    parser.add_argument("--visitors", type=int, default=2, help="flooders, one after the other")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    log = Path(tempfile.mkdtemp()) / "server.log"
    with sync_playwright() as playwright, streamlit_server(None, log) as (url, pid):
        browser = launch_chromium(playwright)
        idle = None
        for visitor in range(1, args.visitors + 1):
            context = browser.new_context()
            page = context.new_page()
            page.set_default_timeout(120_000)
            page.goto(f"{url}/live")
            page.frame_locator(f'iframe[title*="{ENGINE_FRAME}"]').get_by_text("Ready").wait_for()
            engine = next(f for f in page.frames if ENGINE_FRAME in f.url)
            if idle is None:
                idle = process_memory_mb(pid)["VmRSS"]
                print(f"caps: {MAX_FRAMES_PER_REPORT} frames a report, {MAX_FACES_PER_FRAME} faces a frame, "
                      f"{DEFAULTS.live_timeline_rows:,} timeline rows")
                print(f"server resident, Live page open, idle: {idle:.0f} MB")
            print(f"flooder {visitor}:")
            flood_once(page, engine, pid, idle, args.seconds, f"v{visitor}")
            context.close()
            time.sleep(args.after)
            after = process_memory_mb(pid)["VmRSS"]
            print(f"server resident {args.after:.0f} s after flooder {visitor} left: {after:.0f} MB "
                  f"(+{after - idle:.0f} MB over idle)")
        browser.close()
    lines = log.read_text().splitlines()
    print(f"server log: {len(lines)} lines, {sum('Traceback' in line for line in lines)} tracebacks, "
          f"{sum('refused' in line for line in lines)} 'refused' lines")


if __name__ == "__main__":
    main()
