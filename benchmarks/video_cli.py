"""`fer video` on a real-face clip: frames per second end to end (decode, analyse, draw, encode H.264).

    python benchmarks/video_cli.py [--seconds 20] [--faces 1 4]

Writes a 640x480, 30 fps clip of the astronaut's face drifting over grey (or four of them), runs the
installed `fer video CLIP --output OUT.mp4 --csv TIMELINE.csv --quiet` on it and prints frames per
second and what the timeline holds. Detection runs on every third frame, as on the live page.
"""

from __future__ import annotations

import argparse
import csv
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from skimage import data

from app_harness.browser import write_camera_video
from fer.video_io import Mp4Writer, VideoSource


def clip(path: Path, seconds: float, faces: int) -> Path:
    """The browser tests' fake-camera frames (MJPEG), re-encoded as the H.264 MP4 a user would have."""
    mjpeg = write_camera_video(path.with_suffix(".mjpeg"), data.astronaut(), seconds=seconds, faces=faces)
    writer = Mp4Writer(path, crf=18)
    for index, (bgr, _) in enumerate(VideoSource(mjpeg).frames()):
        writer.write(bgr, index / 30)
    writer.close()
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--faces", type=int, nargs="+", default=[1, 4])
    args = parser.parse_args()
    command = shutil.which("fer", path=str(Path(sys.executable).parent)) or "fer"
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for faces in args.faces:
            source = clip(tmp / f"faces{faces}.mp4", args.seconds, faces)
            started = time.perf_counter()
            subprocess.run([command, "video", str(source), "--output", str(tmp / "out.mp4"), "--csv",
                            str(tmp / "timeline.csv"), "--quiet", "--overwrite"], check=True, capture_output=True)
            seconds = time.perf_counter() - started
            rows = list(csv.DictReader((tmp / "timeline.csv").open()))
            frames = len({row["t"] for row in rows})
            print(f"{faces} face(s): {frames} frames with faces of {int(args.seconds * 30)} in {seconds:.1f} s = "
                  f"{args.seconds * 30 / seconds:.1f} fps end to end (model loading included); "
                  f"{len({row['face'] for row in rows})} face number(s) in the timeline")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
