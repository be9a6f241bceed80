"""The live page as a viewer sees it: frames shown per second and glass-to-glass latency, in Chromium.

    python benchmarks/app_glass.py [--seconds 30] [--faces 1|4]

The fake camera plays frames that carry their own number as a barcode (a strip of black and white
cells, away from the faces). In the page, the camera's own track is shown in a hidden <video> and
each frame's number is read off it when the browser presents it; the same number is read off the
annotated video that comes back from the server (mirrored, as the page shows it by default). So:
- glass-to-glass latency = when a frame came back on screen - when the camera presented it, per frame;
- frames shown per second = distinct returned frames presented per second, also in 0.5 s windows
  around the live panel's refreshes (every 2 s), where the issue saw a dip.
Both run on this machine with the browser on the same cores as the server, as a user's laptop would.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
from skimage import data

from app_harness.browser import launch_chromium, start_live_stream, streamlit_server, wait_for_stats

BITS = 12  # frame numbers 0-4095; a 4 s loop at 30 fps uses 0-119
CELL = 24  # px per barcode cell: survives JPEG and the VP8/H.264 round trip
STRIP_Y = 440  # the barcode's top row in the 640x480 frame

# Runs in every frame of the page before its scripts: keeps the camera track, and reads barcodes off the
# camera's presented frames and the returned video's, with their presentation times (performance.now()).
PROBE = f"""(() => {{
  const BITS = {BITS}, CELL = {CELL}, Y = {STRIP_Y} + {CELL} / 2;
  window.__glass = {{local: [], remote: []}};
  const canvas = document.createElement('canvas'); canvas.width = 640; canvas.height = 480;
  const g = canvas.getContext('2d', {{willReadFrequently: true}});
  function read(video, mirrored) {{
    if (video.videoWidth !== 640) return -1;
    g.drawImage(video, 0, 0, 640, 480);
    const row = g.getImageData(0, Y, 640, 1).data;
    let value = 0;
    for (let bit = 0; bit < BITS + 2; bit++) {{
      let x = CELL * (bit + 1) + CELL / 2; if (mirrored) x = 639 - x;
      const i = 4 * Math.floor(x);
      const on = (row[i] + row[i + 1] + row[i + 2]) / 3 > 128 ? 1 : 0;
      if (bit === 0 && on !== 1) return -1;      // start marker: white
      if (bit === BITS + 1 && on !== 0) return -1; // end marker: black
      if (bit >= 1 && bit <= BITS) value = value * 2 + on;
    }}
    return value;
  }}
  function watch(video, list, mirrored) {{
    const step = (now) => {{ const n = read(video, mirrored); if (n >= 0) list.push([n, now]);
                             video.requestVideoFrameCallback(step); }};
    video.requestVideoFrameCallback(step);
  }}
  if (navigator.mediaDevices && navigator.mediaDevices.getUserMedia) {{
    const original = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
    navigator.mediaDevices.getUserMedia = async (constraints) => {{
      const stream = await original(constraints);
      const local = document.createElement('video'); local.muted = true; local.playsInline = true;
      local.srcObject = new MediaStream(stream.getVideoTracks()); local.play();
      watch(local, window.__glass.local, false);
      return stream;
    }};
  }}
  const seen = new WeakSet();
  setInterval(() => document.querySelectorAll('video').forEach(v => {{
    if (!seen.has(v) && v.srcObject) {{ seen.add(v); watch(v, window.__glass.remote, true); }}
  }}), 200);
}})();"""


def barcode_video(path: Path, faces: int, seconds: float = 4.0, fps: int = 30) -> Path:
    """The browser tests' camera (a real face drifting over grey), with each frame's number as a barcode."""
    face = cv2.resize(data.astronaut()[30:250, 120:340], (150 if faces > 1 else 200,) * 2)
    spots = [(60, 220)] if faces == 1 else [(20, 130), (20, 330), (230, 130), (230, 330)]
    with path.open("wb") as handle:
        for i in range(int(seconds * fps)):
            frame = np.full((480, 640, 3), 128, np.uint8)
            drift = int(30 * np.sin(i / 20))
            for top, left in spots:
                frame[top : top + face.shape[0], left + drift : left + drift + face.shape[1]] = face
            cells = [1] + [(i >> (BITS - 1 - b)) & 1 for b in range(BITS)] + [0]
            for b, on in enumerate(cells):
                x = CELL * (b + 1)
                frame[STRIP_Y : STRIP_Y + CELL, x : x + CELL] = 255 if on else 0
            ok, encoded = cv2.imencode(".jpg", frame[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, 92])
            assert ok
            handle.write(encoded.tobytes())
    return path


def latencies(local: list, remote: list) -> list[float]:
    """For each returned frame: its time on screen minus when the camera first showed it (the camera's
    file loops every 4 s, so only a showing less than 2 s earlier counts)."""
    by_number: dict[int, list[float]] = {}
    for number, shown in local:
        by_number.setdefault(number, []).append(shown)
    found = []
    for number, shown in remote:
        earlier = [t for t in by_number.get(number, []) if t <= shown and shown - t < 2000]
        if earlier:
            found.append(shown - min(earlier))
    return found


def shown_per_second(remote: list, start: float, end: float, window: float) -> list[float]:
    """Distinct returned frames presented in each `window` ms between start and end, per second."""
    rates, t = [], start
    while t + window <= end:
        numbers = {n for n, shown in remote if t <= shown < t + window}
        rates.append(len(numbers) * 1000 / window)
        t += window
    return rates


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--faces", type=int, choices=[1, 4], default=1)
    parser.add_argument("--windows", action="store_true", help="print every 0.5 s window's rate")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        camera = barcode_video(tmp / "barcode.mjpeg", args.faces)
        with sync_playwright() as playwright, streamlit_server(tmp / "stats.json", tmp / "server.log") as (url, _):
            browser = launch_chromium(playwright, camera)
            try:
                page = start_live_stream(browser, url, init_script=PROBE)
                wait_for_stats(tmp / "stats.json", lambda s: s.get("frames", 0) >= 30, timeout=90)
                time.sleep(3.0)  # settle
                frame = next(f for f in page.frames if "streamlit_webrtc" in f.url)
                frame.evaluate("() => { window.__glass.local.length = 0; window.__glass.remote.length = 0; }")
                time.sleep(args.seconds)
                glass = frame.evaluate("() => window.__glass")
            finally:
                browser.close()
    local, remote = glass["local"], glass["remote"]
    if not remote or not local:
        print(f"no barcodes read (camera {len(local)}, returned {len(remote)}): is the page's video visible?")
        return 1
    start, end = remote[0][1], remote[-1][1]
    delays = sorted(latencies(local, remote))
    halves = shown_per_second(remote, start, end, 500)
    camera_rate = len({(n, round(t)) for n, t in local}) / ((local[-1][1] - local[0][1]) / 1000)
    print(f"{args.faces} face(s), {args.seconds:.0f} s measured; the camera presented {camera_rate:.1f} fps")
    print(f"frames shown: {statistics.mean(shown_per_second(remote, start, end, 1000)):.1f} distinct per second; "
          f"in 0.5 s windows median {statistics.median(halves):.1f}, lowest {min(halves):.1f}, "
          f"{sum(rate < 20 for rate in halves)} of {len(halves)} windows under 20 fps")
    if args.windows:
        print("0.5 s windows:", " ".join(f"{rate:.0f}" for rate in halves))
    print(f"glass-to-glass latency over {len(delays)} frames: median {statistics.median(delays):.0f} ms, "
          f"p95 {delays[int(0.95 * (len(delays) - 1))]:.0f} ms, min {delays[0]:.0f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
