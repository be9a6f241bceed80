"""`fer predict` and `fer video` on one worker, N workers and Ray: photos and video frames per second, in one run.

    python benchmarks/cli_workers.py [--photos 300] [--videos 4 --frames 300] [--workers 1 2] [--ray]

Writes `--photos` JPEGs of scikit-image's astronaut at 512-1024 px (a face each, some mirrored) and
`--videos` 640x480 clips of `--frames` frames with the face moving, then runs the installed command once
per worker count (and once on a local Ray with `--ray`): start-up and model loading included, as a user
pays them. Prints wall time, photos or frames per second and the speed-up over the first worker count,
and checks that every way wrote the same results (photo JSON lines; video timelines).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
from skimage import data

FER = shutil.which("fer", path=str(Path(sys.executable).parent)) or "fer"


def write_photos(folder: Path, count: int) -> None:
    folder.mkdir()
    astronaut = data.astronaut()[:, :, ::-1]
    for i in range(count):
        side = 512 + (i * 37) % 513
        photo = cv2.resize(astronaut, (side, side))
        cv2.imwrite(str(folder / f"p{i:04d}.jpg"), photo if i % 2 else photo[:, ::-1])


def write_videos(folder: Path, count: int, frames: int) -> None:
    folder.mkdir()
    face = cv2.resize(data.astronaut()[:, :, ::-1], (300, 300))
    for k in range(count):
        writer = cv2.VideoWriter(str(folder / f"clip{k}.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), 30, (640, 480))
        for i in range(frames):
            frame = np.full((480, 640, 3), 90, np.uint8)
            x = 40 + int(150 + 140 * np.sin(i / 20 + k))
            frame[90:390, x : x + 300] = face
            writer.write(frame)
        writer.release()


def timed(command: list[str]) -> tuple[float, subprocess.CompletedProcess]:
    start = time.perf_counter()
    out = subprocess.run(command, capture_output=True, text=True)
    return time.perf_counter() - start, out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=300)
    parser.add_argument("--videos", type=int, default=4)
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--ray", action="store_true", help="also run each on a local Ray (pip install ray[data])")
    args = parser.parse_args()
    ways = [(f"{w} worker(s)", ["--workers", str(w)]) for w in args.workers]
    ways += [("Ray", ["--ray"])] if args.ray else []
    same = True
    with tempfile.TemporaryDirectory() as tmp:
        photos, videos = Path(tmp) / "photos", Path(tmp) / "videos"
        write_photos(photos, args.photos)
        write_videos(videos, args.videos, args.frames)
        results, seconds = {}, {}
        for name, flags in ways:
            seconds[name], out = timed([FER, "predict", str(photos), *flags, "--quiet"])
            if out.returncode != 0:
                print(out.stderr)
                return 1
            results[name] = out.stdout
        base = ways[0][0]
        for name, _ in ways:
            print(f"photos, {name}: {args.photos} in {seconds[name]:.1f} s = {args.photos / seconds[name]:.1f} "
                  f"photos/s ({seconds[base] / seconds[name]:.2f}x)")
        same &= len(set(results.values())) == 1
        frames = args.videos * args.frames
        for i, (name, flags) in enumerate(ways):
            out_dir = Path(tmp) / f"out{i}"
            seconds[name], out = timed([FER, "video", str(videos), "--output-dir", str(out_dir), *flags, "--quiet"])
            if out.returncode != 0:
                print(out.stderr)
                return 1
            results[name] = [p.read_text() for p in sorted(out_dir.glob("*.csv"))]
        for name, _ in ways:
            print(f"video, {name}: {args.videos} clips of {args.frames} frames (640x480) in {seconds[name]:.1f} s = "
                  f"{frames / seconds[name]:.1f} frames/s ({seconds[base] / seconds[name]:.2f}x)")
        same &= all(results[name] == results[base] for name, _ in ways)
    print("results identical every way" if same else "RESULTS DIFFER between ways")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
