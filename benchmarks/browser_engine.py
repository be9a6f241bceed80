"""The Live page's browser engine as viewers see it, beside the server engine's figures (app_glass.py,
live_capacity.py): frames shown per second, glass-to-glass latency, and what it costs the server.

    python benchmarks/browser_engine.py [--tabs 1] [--seconds 20] [--faces 1|4]

Debian's headless Chromium with a fake 640x480 camera whose frames carry their number as a barcode
(app_glass.py's camera). Each tab is its own visitor (browser context) on /live, its default engine,
pressing Start. The barcode is read off the camera's own frames when the browser presents them
(requestVideoFrameCallback) and off the engine's canvas right after it drew each frame, so:
- glass-to-glass latency = when a frame was drawn on the canvas - when the camera presented it;
- frames shown per second = distinct camera frames drawn per second, per tab;
- the server's CPU = its process's user + system time over the measured seconds, in cores;
- the server's memory = resident set before the first tab and after each tab started;
- ready = from opening the page to the engine's "Ready" (runtimes and models loaded, a fresh browser
  context: nothing cached).
Everything (server, every tab) shares this machine's cores, as on a laptop running the app locally.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from app_harness.browser import ENGINE_IFRAME, engine_frame, launch_chromium, process_memory_mb, streamlit_server
from benchmarks.app_glass import BITS, CELL, PROBE, STRIP_Y, barcode_video, latencies, shown_per_second
from benchmarks.live_capacity import cpu_seconds

# app_glass's probe records the camera's frames; this adds the engine's canvas, read (mirrored, as the page
# shows it by default) each time the engine has drawn a frame, into a list of its own: the probe's `remote`
# list also reads every <video> mirrored, and the engine's hidden camera <video> is not mirrored, so what it
# reads there is noise that now and then passes the barcode's markers (2026-11-25: 449 "frames" in 10 s).
CANVAS_PROBE = PROBE + f"""
window.__ferFrameShown = (canvas, meta, shownAt) => {{
  const BITS = {BITS}, CELL = {CELL}, Y = {STRIP_Y} + {CELL} / 2;
  if (canvas.width !== 640) return;
  const row = canvas.getContext('2d').getImageData(0, Y, 640, 1).data;
  let value = 0;
  for (let bit = 0; bit < BITS + 2; bit++) {{
    const x = 639 - (CELL * (bit + 1) + CELL / 2), i = 4 * Math.floor(x);
    const on = (row[i] + row[i + 1] + row[i + 2]) / 3 > 128 ? 1 : 0;
    if ((bit === 0 && on !== 1) || (bit === BITS + 1 && on !== 0)) return;
    if (bit >= 1 && bit <= BITS) value = value * 2 + on;
  }}
  (window.__glass.canvas ??= []).push([value, shownAt]);
}};"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tabs", type=int, default=1, help="visitors at once, each in its own browser context")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--faces", type=int, choices=[1, 4], default=1)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        camera = barcode_video(tmp / "barcode.mjpeg", args.faces)
        with sync_playwright() as playwright, streamlit_server(None, tmp / "server.log") as (url, pid):
            browser = launch_chromium(playwright, camera)
            try:
                memory = [process_memory_mb(pid)["VmRSS"]]
                frames, ready = [], []
                for _ in range(args.tabs):
                    context = browser.new_context()
                    context.add_init_script(CANVAS_PROBE)
                    page = context.new_page()
                    page.set_default_timeout(120_000)
                    opened = time.monotonic()
                    page.goto(f"{url}/live")
                    engine = page.frame_locator(ENGINE_IFRAME)
                    engine.get_by_text("Ready").wait_for()
                    ready.append(time.monotonic() - opened)
                    engine.get_by_role("button", name="Start").click()
                    engine.get_by_text("the video stays on this device").wait_for()
                    frames.append(engine_frame(page))
                    time.sleep(3.0)  # its first reports reach the server
                    memory.append(process_memory_mb(pid)["VmRSS"])
                time.sleep(3.0)  # settle
                for frame in frames:
                    frame.evaluate("() => { window.__glass.local.length = 0; window.__glass.canvas = []; }")
                cpu_before, wall_before = cpu_seconds(pid), time.monotonic()
                time.sleep(args.seconds)
                server_cores = (cpu_seconds(pid) - cpu_before) / (time.monotonic() - wall_before)
                glass = [frame.evaluate("() => window.__glass") for frame in frames]
            finally:
                browser.close()
    print(f"{args.tabs} tab(s), {args.faces} face(s), {args.seconds:.0f} s measured")
    for number, seen in enumerate(glass, 1):
        local, remote = seen["local"], seen.get("canvas") or []
        if not local or not remote:
            print(f"tab {number}: no barcodes read (camera {len(local)}, canvas {len(remote)})")
            return 1
        start, end = remote[0][1], remote[-1][1]
        delays = sorted(latencies(local, remote))
        camera_rate = len({(n, round(t)) for n, t in local}) / ((local[-1][1] - local[0][1]) / 1000)
        shown = statistics.mean(shown_per_second(remote, start, end, 1000))
        print(f"tab {number}: camera {camera_rate:.1f} fps; shown {shown:.1f} distinct fps; "
              f"glass-to-glass median {statistics.median(delays):.0f} ms, "
              f"p95 {delays[int(0.95 * (len(delays) - 1))]:.0f} ms over {len(delays)} frames")
    print("page opened to engine ready (runtimes and models loaded), per tab: "
          + ", ".join(f"{seconds:.1f} s" for seconds in ready))
    print(f"server CPU while they ran: {server_cores:.3f} cores")
    print("server memory (resident MB) before the first tab, then after each: "
          + ", ".join(f"{mb:.0f}" for mb in memory))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
