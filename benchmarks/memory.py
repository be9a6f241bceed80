"""Peak memory of loading each shipped model, and both (with one analysed photo), and of training.

    python benchmarks/memory.py [--data ../shared/data/fer2013] [--width 32] [--skip-training]

Each measurement runs in a fresh process and reads its peak resident set size (ru_maxrss). Models are
measured as the app runs them (LiteRT, .tflite) and, for comparison, through Keras (.keras). The
training figure is one epoch over 3,000 training images with the full data set loaded (the loaded
arrays and the model, not the epoch count, set the peak), at the given network width (default 32, the live model's).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

from PIL import Image
from skimage import data

from fer.classifier import PURPOSES, default_model_path
from fer.report import report_path_for

LOAD = """
import resource, json, sys
from fer import EmotionRecognizer
photo, paths = sys.argv[1], sys.argv[2:]
for path in paths:
    EmotionRecognizer(path).analyze(photo)
status = dict(l.split(':', 1) for l in open('/proc/self/status').read().splitlines() if ':' in l)
print(json.dumps({'peak_mb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  'private_mb': int(status['RssAnon'].split()[0]) / 1024,
                  'tensorflow_loaded': 'tensorflow' in sys.modules}))
"""

TRAIN = """
import resource, json, sys
from training.train import main
main(sys.argv[1:])
print(json.dumps({'peak_mb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def run(code: str, *args: str) -> dict:
    out = subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "fer2013"))
    parser.add_argument("--width", type=int, default=32, help="channels of the first block of the trained network")
    parser.add_argument("--skip-training", action="store_true", help="measure inference only")
    args = parser.parse_args()
    photos, video = (default_model_path(purpose) for purpose in PURPOSES)
    with tempfile.TemporaryDirectory() as tmp:
        photo = Path(tmp) / "astronaut.png"  # written here, so the measured process imports no scikit-image
        Image.fromarray(data.astronaut()).save(photo)
        for suffix in (".tflite", ".keras"):
            runtime = "LiteRT" if suffix == ".tflite" else "Keras + TensorFlow"
            for paths, what in [([photos], "the photos model"), ([video], "the live-video model"),
                                ([photos, video], "both models (a server whose users opened both pages)")]:
                files = [p if suffix == ".tflite" else report_path_for(p).with_suffix(".keras") for p in paths]
                if not all(p.exists() for p in files):
                    print(f"{runtime}: {', '.join(p.name for p in files)} not in models/, skipped")
                    continue
                loaded = run(LOAD, str(photo), *map(str, files))
                what = f"{what} ({', '.join(p.name for p in files)})"
                print(f"{runtime}: load {what} + detector and analyse one photo: peak {loaded['peak_mb']:.0f} MB "
                      f"resident ({loaded['private_mb']:.0f} MB private); TensorFlow imported: "
                      f"{loaded['tensorflow_loaded']}")
    if args.skip_training:
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        trained = run(TRAIN, "--data", args.data, "--epochs", "1", "--max-train-samples", "3000",
                      "--width", str(args.width), "--run-dir", f"{tmp}/run", "--output", f"{tmp}/model.keras")
    print(f"training (FER2013 loaded, width-{args.width} model, batch 128): peak {trained['peak_mb']:.0f} MB resident")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
