"""`fer predict --workers N` on a folder of real photos: photos per second against one worker, in one run.

    python benchmarks/cli_workers.py [--photos 300] [--workers 1 2]

Writes `--photos` JPEGs of scikit-image's astronaut at 512-1024 px (a face each, some mirrored), runs
the installed command once per worker count (start-up and model loading included, as a user pays
them) and prints wall time, photos per second and the speed-up; it also checks that every run wrote
the same results.
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
from skimage import data


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=300)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    command = shutil.which("fer", path=str(Path(sys.executable).parent)) or "fer"
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "photos"
        folder.mkdir()
        astronaut = data.astronaut()[:, :, ::-1]
        for i in range(args.photos):
            side = 512 + (i * 37) % 513
            photo = cv2.resize(astronaut, (side, side))
            cv2.imwrite(str(folder / f"p{i:04d}.jpg"), photo if i % 2 else photo[:, ::-1])
        outputs, seconds = {}, {}
        for workers in args.workers:
            start = time.perf_counter()
            out = subprocess.run([command, "predict", str(folder), "--workers", str(workers), "--quiet"],
                                 capture_output=True, text=True)
            seconds[workers] = time.perf_counter() - start
            if out.returncode != 0:
                print(out.stderr)
                return 1
            outputs[workers] = out.stdout
    base = args.workers[0]
    for workers in args.workers:
        print(f"{workers} worker(s): {args.photos} photos in {seconds[workers]:.1f} s = "
              f"{args.photos / seconds[workers]:.1f} photos/s ({seconds[base] / seconds[workers]:.2f}x)")
    same = len({outputs[w] for w in args.workers}) == 1
    print("results identical across worker counts" if same else "RESULTS DIFFER between worker counts")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
