"""Long use of the live page: one stream for ten minutes, then three at once; the real app in Chromium.

    python benchmarks/app_soak.py [--minutes 10] [--streams 3] [--concurrent-seconds 60]

Phase 1 streams the fake camera (a real face) into one live page and records, every 30 s, the server's
resident memory and the frames per second the callback processed since the last sample. Goals: memory
flat within 50 MB from the first sample to the last, fps at the end within 10% of the start.
Phase 2 opens `--streams` more pages in the same browser, each its own Streamlit session and WebRTC
stream, and reports each session's processed fps and whether annotated video reached its <video>,
with the server's memory. Everything runs on this machine's loopback; the browser shares the CPU.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from skimage import data

from app_harness.browser import (
    PROCESSED_CORNER_BELOW,
    WEBRTC_IFRAME,
    launch_chromium,
    process_memory_mb,
    processed_frame_corner,
    read_stats,
    session_stats,
    start_live_stream,
    streamlit_server,
    wait_for_stats,
    write_camera_video,
)

SAMPLE_SECONDS = 30

def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--streams", type=int, default=3)
    parser.add_argument("--concurrent-seconds", type=float, default=60.0)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        stats_file = tmp / "stats.json"
        video = write_camera_video(tmp / "faces.mjpeg", data.astronaut())
        with sync_playwright() as playwright, streamlit_server(stats_file, tmp / "server.log") as (url, pid):
            browser = launch_chromium(playwright, video)
            try:
                first = start_live_stream(browser, url)
                if not wait_for_stats(stats_file, lambda s: s.get("frames", 0) >= 30, timeout=90):
                    print("the stream did not start")
                    return 1
                print(f"phase 1: one stream for {args.minutes:g} min, a sample every {SAMPLE_SECONDS} s")
                samples = []
                previous = read_stats(stats_file)
                deadline = time.monotonic() + args.minutes * 60
                while time.monotonic() < deadline:
                    time.sleep(SAMPLE_SECONDS)
                    now = read_stats(stats_file)
                    fps = (now["frames"] - previous["frames"]) / max(now["time"] - previous["time"], 1e-6)
                    memory = process_memory_mb(pid)["VmRSS"]
                    samples.append((fps, memory))
                    print(f"  {len(samples) * SAMPLE_SECONDS:4d} s: {fps:5.1f} fps, server {memory:.0f} MB resident",
                          flush=True)
                    previous = now
                fps_start, fps_end = samples[0][0], samples[-1][0]
                memories = [m for _, m in samples]
                print(f"memory from first to last sample: {memories[-1] - memories[0]:+.0f} MB "
                      f"(range {min(memories):.0f}-{max(memories):.0f} MB); fps {fps_start:.1f} -> {fps_end:.1f} "
                      f"({(fps_end - fps_start) / fps_start:+.0%})")

                print(f"phase 2: {args.streams} more streams at once, {args.concurrent_seconds:g} s")
                first.close()
                pages = [start_live_stream(browser, url) for _ in range(args.streams)]
                arrived = [processed_frame_corner(page, page.frame_locator(WEBRTC_IFRAME).locator("video"))
                           < PROCESSED_CORNER_BELOW for page in pages]
                before = session_stats(stats_file)
                time.sleep(args.concurrent_seconds)
                after = session_stats(stats_file)
                memory = process_memory_mb(pid)
                active = [(p, s) for p, s in after.items() if p in before and s.get("frames", 0) > before[p]["frames"]]
                for i, (path, stats) in enumerate(active, 1):
                    old = before[path]
                    fps = (stats["frames"] - old["frames"]) / max(stats["time"] - old["time"], 1e-6)
                    print(f"  session {i}: {fps:.1f} fps processed, faces in {stats['frames_with_faces']} of "
                          f"{stats['frames']} frames")
                print(f"  annotated video reached {sum(arrived)} of {len(pages)} pages; {len(active)} sessions "
                      f"processing; server {memory['VmRSS']:.0f} MB resident (peak {memory['VmHWM']:.0f} MB)")
            finally:
                browser.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
