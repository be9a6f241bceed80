"""Seconds per training epoch on this machine's CPU: TensorFlow without XLA, TensorFlow with XLA, JAX.

    python benchmarks/training_backends.py [--width 48] [--samples 1536]

Keras leaves XLA off for TensorFlow on a machine without a GPU, `training.train` turns it on by itself
for float32 on an x86-64 CPU (`training.train.choose_xla`), and the GPU path trains on JAX; this says
which is fastest for the CPU runs (hours on 2 cores) on this machine. Each setting trains the
network `training.train` builds, with the same optimizer (AdamW with the weights' moving average), on
random faces for three epochs in a fresh process; the mean of the last two epochs is scaled to
FER2013's 28,709 training faces. Random faces and plain cross-entropy leave out augmentation and the
data set, which `benchmarks/input_pipeline.py` times.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TRAINING_FACES = 28_709
SETTINGS = {  # name: (KERAS_BACKEND, jit_compile)
    "tensorflow, no XLA (--no-xla)": ("tensorflow", False),
    "tensorflow + XLA": ("tensorflow", True),
    "jax": ("jax", True),
}


def seconds_per_epoch(width: int, samples: int, jit_compile: bool) -> float:
    """Train for three epochs in this process; the mean seconds of the last two, per `samples` faces."""
    sys.path.insert(0, str(ROOT))
    import keras
    import numpy as np

    from training.model import build_model

    model = build_model((48, 48, 1), 7, width=width, name="timing")
    model.compile(optimizer=keras.optimizers.AdamW(3e-4, use_ema=True, ema_momentum=0.997),
                  loss="categorical_crossentropy", jit_compile=jit_compile)
    rng = np.random.default_rng(0)
    faces = rng.random((samples, 48, 48, 1), dtype=np.float32)
    labels = keras.utils.to_categorical(rng.integers(0, 7, samples), 7)
    ends: list[float] = []
    keeper = keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: ends.append(time.perf_counter()))
    model.fit(faces, labels, batch_size=128, epochs=3, verbose=0, callbacks=[keeper])
    return (ends[2] - ends[0]) / 2


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=48)
    parser.add_argument("--samples", type=int, default=1536, help="random faces an epoch (multiple of 128)")
    parser.add_argument("--one", choices=list(SETTINGS), help=argparse.SUPPRESS)  # the child process
    args = parser.parse_args()
    if args.one:
        print(seconds_per_epoch(args.width, args.samples, SETTINGS[args.one][1]))
        return 0
    print(f"width {args.width}, {os.cpu_count()} cores, {args.samples} random faces an epoch")
    for name, (backend, _) in SETTINGS.items():
        env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3"}
        child = subprocess.run([sys.executable, __file__, "--width", str(args.width), "--samples",
                                str(args.samples), "--one", name], env=env, capture_output=True, text=True)
        if child.returncode != 0:
            print(f"{name}: failed: {child.stderr.strip().splitlines()[-1:]}")
            continue
        seconds = float(child.stdout.strip().splitlines()[-1])
        print(f"{name}: {seconds:.1f} s -> {seconds * TRAINING_FACES / args.samples:.0f} s a 28,709-face epoch")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
