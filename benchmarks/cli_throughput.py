"""`python -m fer predict --cropped` on the FER2013 test folder: images per second and accuracy.

    python benchmarks/cli_throughput.py [--model M] [--data ../shared/data/fer2013]

The accuracy must equal `training.evaluate` on the same images (test_all, no TTA): the CLI and the
training module share one preprocessing function. This script checks that and says so.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

from fer.classifier import default_model_path  # light: no TensorFlow until a model loads
from fer.preprocessing import TTA_MODES


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None)
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "fer2013"))
    parser.add_argument("--tta", choices=TTA_MODES, default="none")
    args = parser.parse_args()
    test_dir = Path(args.data) / "test"
    model_args = ["--model", args.model] if args.model else []
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "predictions.jsonl"
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "fer", "predict", "--cropped", "--quiet", str(test_dir),
                        "--tta", args.tta, "--output", str(out), *model_args], cwd=ROOT, check=True)
        seconds = time.perf_counter() - start
        records = [json.loads(line) for line in out.read_text().splitlines()]
        evaluation = Path(tmp) / "evaluate.json"
        subprocess.run([sys.executable, "-m", "training.evaluate", "--data", args.data, "--split", "test_all",
                        "--tta", args.tta, "--json", str(evaluation),
                        *(model_args or ["--model", str(default_model_path())])],
                       cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
        reference = json.loads(evaluation.read_text())["results"]["test_all"]["accuracy"]
    correct = sum(Path(r["path"]).parent.name == r["faces"][0]["label"] for r in records)
    accuracy = correct / len(records)
    print(f"CLI --cropped --tta {args.tta}: {len(records)} images in {seconds:.1f} s "
          "(process start and model load included): "
          f"{len(records) / seconds:.0f} images/s")
    print(f"CLI accuracy on the whole test folder: {accuracy:.4f}; training.evaluate: {reference:.4f}; "
          f"{'equal' if abs(accuracy - reference) < 0.5 / len(records) else 'DIFFERENT'}")
    return 0 if abs(accuracy - reference) < 0.5 / len(records) else 1


if __name__ == "__main__":
    raise SystemExit(main())
