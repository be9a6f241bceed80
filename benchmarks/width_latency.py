"""Latency per face of the network at several widths, before training one: what fits the live budget?

    python benchmarks/width_latency.py [--widths 32 40 48 64]

Builds each width with `training.model.build_model` (untrained weights cost the same as trained ones)
and times one 48x48 face through `predict_on_batch`, the call the app makes, on ONE CPU thread
(median and p95 after warm-up). The live page's budget is 5 ms a face.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from latency import summary, timed  # first: importing it pins every library to one thread

# isort: split
import numpy as np

from training.model import build_model


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--widths", type=int, nargs="+", default=[32, 40, 48, 64])
    parser.add_argument("--repeats", type=int, default=300)
    args = parser.parse_args()
    face = np.random.default_rng(0).integers(0, 256, (1, 48, 48, 1)).astype(np.float32)
    print("width  parameters  one face, 1 thread")
    for width in args.widths:
        model = build_model((48, 48, 1), 7, width=width)
        figures = summary(timed(lambda model=model: model.predict_on_batch(face), args.repeats))
        print(f"{width:5d}  {model.count_params():10,d}  median {figures['median_ms']:.2f} ms, "
              f"p95 {figures['p95_ms']:.2f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
