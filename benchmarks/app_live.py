"""The running app, measured in a real browser: cold start, live fps, time to first frame, memory.

    python benchmarks/app_live.py [--seconds 20] [--faces 1|4] [--model models/NAME.tflite]

Starts `streamlit run`, opens the live page in Debian's Chromium with a fake 640x480 camera showing
a real face (or four), presses START and prints:
- cold start: server start -> live page rendered with the model loaded (START button visible);
- START -> first annotated frame processed by the callback (server side);
- frames per second processed by the callback over `--seconds` (the camera sends 30);
- the server's resident and peak memory with the model loaded and a stream running.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from skimage import data

from app_harness.browser import (
    launch_chromium,
    process_memory_mb,
    read_stats,
    start_button,
    streamlit_server,
    toggle_live_setting,
    wait_for_stats,
    write_camera_video,
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--faces", type=int, choices=[1, 4], default=1, help="faces in the camera picture")
    parser.add_argument("--model", help="run the live page on this model file instead of the default live model")
    parser.add_argument("--record", action="store_true", help="with 'Record the annotated video' on")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        stats_file = tmp / "stats.json"
        video = write_camera_video(tmp / "faces.mjpeg", data.astronaut(), faces=args.faces)
        env = {}
        if args.model:  # a models folder holding just this model: the live page's only choice
            model = Path(args.model).resolve()
            (tmp / "models").mkdir()
            (tmp / "models" / model.name).symlink_to(model)
            env["FER_MODELS_DIR"] = str(tmp / "models")
        with sync_playwright() as playwright:
            browser = launch_chromium(playwright, video)
            try:
                started = time.monotonic()
                with streamlit_server(stats_file, tmp / "server.log", extra_env=env) as (url, pid):
                    page = browser.new_page()
                    page.set_default_timeout(120_000)
                    page.goto(f"{url}/live?engine=server")
                    start = start_button(page)
                    start.wait_for()
                    cold_start = time.monotonic() - started
                    if args.record:
                        toggle_live_setting(page, "Record the annotated video")
                    clicked = time.monotonic()
                    start.click()
                    first = wait_for_stats(stats_file, lambda s: s.get("frames", 0) >= 1, timeout=60)
                    if not first:
                        print("no frame reached the callback within 60 s")
                        return 1
                    first_frame = time.monotonic() - clicked
                    time.sleep(2.0)  # let the stream settle before counting
                    begin = read_stats(stats_file)
                    process_ms = []
                    deadline = time.monotonic() + args.seconds
                    while time.monotonic() < deadline:
                        time.sleep(0.25)
                        process_ms.append(read_stats(stats_file)["last"]["process_ms"])
                    end = read_stats(stats_file)
                    memory = process_memory_mb(pid)
            finally:
                browser.close()
    frames = end["frames"] - begin["frames"]
    seconds = end["time"] - begin["time"]
    with_faces = end["frames_with_faces"] - begin["frames_with_faces"]
    height, width = end["frame_shape"][:2]
    print(f"live model {end.get('model', '?')}, {args.faces} face(s) in the camera picture"
          + (", recording the annotated video" if args.record else ""))
    print(f"cold start (server start -> live page ready, model loaded): {cold_start:.1f} s")
    print(f"START -> first processed frame: {first_frame:.2f} s")
    print(f"callback: {frames} frames in {seconds:.1f} s = {frames / seconds:.1f} fps at {width}x{height} "
          f"(faces found in {with_faces / max(frames, 1):.0%} of them); the callback's own work: median "
          f"{sorted(process_ms)[len(process_ms) // 2]:.1f} ms per frame, the rest is WebRTC decoding/encoding")
    print(f"server memory with model loaded and a stream running: resident {memory['VmRSS']:.0f} MB "
          f"(private {memory['RssAnon']:.0f} MB + {memory['RssFile']:.0f} MB of libraries mapped from disk), "
          f"peak resident {memory['VmHWM']:.0f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
