"""How many live viewers one app server holds: 1, 2, 3... streams at once, the real app in Chromium.

    python benchmarks/live_capacity.py [--max-streams 6] [--settle 15] [--window 20] [--floor 15]

For each step it opens one more live page (its own Streamlit session and WebRTC stream from the fake
camera: a real face), lets the streams settle, then over `--window` seconds records each stream's
processed frames per second, the server process's CPU time (all its threads: WebRTC decoding and
encoding, detection, the CNN, drawing) and its resident memory. It stops after the first step where a
stream falls under `--floor` fps. From the server's CPU seconds per second per stream it prints the
streams one core carries at full rate, the figure to size servers with (README, "Scaling").
The browser runs on the same machine and takes CPU too: the fps here are a floor, the CPU per stream is
the server's own.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from skimage import data

from app_harness.browser import (
    launch_chromium,
    process_memory_mb,
    session_stats,
    start_live_stream,
    streamlit_server,
    wait_for_stats,
    write_camera_video,
)

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process, all its threads."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS



def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-streams", type=int, default=6)
    parser.add_argument("--settle", type=float, default=15.0)
    parser.add_argument("--window", type=float, default=20.0)
    parser.add_argument("--floor", type=float, default=15.0, help="the lowest acceptable fps of a stream")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    print(f"{os.cpu_count()} cores; the browser shares them with the server")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        stats_file = tmp / "stats.json"
        video = write_camera_video(tmp / "faces.mjpeg", data.astronaut())
        with sync_playwright() as playwright, streamlit_server(stats_file, tmp / "server.log") as (url, pid):
            browser = launch_chromium(playwright, video)
            pages = []
            try:
                for streams in range(1, args.max_streams + 1):
                    pages.append(start_live_stream(browser, url))
                    if streams == 1 and not wait_for_stats(stats_file, lambda s: s.get("frames", 0) >= 30, 90):
                        print("the stream did not start")
                        return 1
                    time.sleep(args.settle)
                    before, cpu_before, t0 = session_stats(stats_file), cpu_seconds(pid), time.monotonic()
                    time.sleep(args.window)
                    after, cpu_after, t1 = session_stats(stats_file), cpu_seconds(pid), time.monotonic()
                    fps = sorted((s["frames"] - before[p]["frames"]) / max(s["time"] - before[p]["time"], 1e-6)
                                 for p, s in after.items() if p in before and s["frames"] > before[p]["frames"])
                    cpu = (cpu_after - cpu_before) / (t1 - t0)  # cores busy in the server process
                    memory = process_memory_mb(pid)["VmRSS"]
                    rows.append((streams, len(fps), fps, cpu, memory))
                    print(f"{streams} stream(s): {len(fps)} processing, fps per stream "
                          f"{' / '.join(f'{f:.1f}' for f in fps) or '-'}; server CPU {cpu:.2f} cores "
                          f"({cpu / max(len(fps), 1):.2f} per stream); {memory:.0f} MB resident", flush=True)
                    if len(fps) < streams or (fps and fps[0] < args.floor):
                        break
            finally:
                browser.close()
    full = [r for r in rows if r[1] == r[0] and r[2] and r[2][0] >= args.floor]
    if full:
        streams, _, fps, cpu, _ = full[-1]
        per_stream = cpu / streams
        rate = sum(fps) / len(fps)
        print(f"held at >= {args.floor:g} fps: {streams} stream(s) (mean {rate:.1f} fps); server CPU per stream "
              f"{per_stream:.2f} cores at {rate:.1f} fps, so one core carries about {1 / per_stream:.1f} streams at "
              f"that rate ({rate / 30 / per_stream:.1f} at 30 fps of camera, scaling CPU with the frame rate)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
