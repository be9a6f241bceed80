"""Training input pipeline: augmented images per second by worker threads, and seconds per epoch.

    python benchmarks/input_pipeline.py [--data ../shared/data/fer2013] [--samples 6144] [--widths 32 64]

1. Augmentation alone (what `AugmentedBatches` does for each batch of 128) on FER2013's training
   images, with 1, 2, 4 and 8 threads: the ceiling the pipeline puts on training speed.
2. `model.fit` as training runs it, on `--samples` training images for two epochs, with one batch
   worker and with the default (one per core), at each width: the second epoch's seconds, scaled to a
   full 28,709-image epoch. The batches are the same either way; only the time differs.
3. The per-epoch checkpoint at each width: serialising the model (every epoch) against copying that
   file as the best epoch's (on epochs that improve), which is what training does.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import cv2
import keras
import numpy as np

from training.batches import AugmentedBatches, batch_workers
from training.config import TrainConfig
from training.data import TRAIN, load_dataset
from training.model import build_model
from training.train import choose_precision, choose_xla, copy_atomic, save_atomic

FULL_EPOCH = 28709


def augmentation_rate(images: np.ndarray, labels: np.ndarray, threads: int, batches: int = 64) -> float:
    data = AugmentedBatches(images, labels, 7, TrainConfig(data="x", workers=threads))
    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(lambda i: data[i], range(batches)))
    return batches * 128 / (time.perf_counter() - started)


def epoch_seconds(images: np.ndarray, labels: np.ndarray, width: int, workers: int) -> float:
    """The second epoch's seconds of `model.fit` as training runs it (same model, optimizer, precision, XLA
    or not, batches), scaled to a full FER2013 epoch."""
    precision = choose_precision("auto")
    keras.mixed_precision.set_global_policy(precision)
    config = TrainConfig(data="x", width=width, workers=workers)
    model = build_model((*images.shape[1:3], images.shape[3]), 7, width=width)
    model.compile(optimizer=keras.optimizers.AdamW(1e-3, weight_decay=0.01),
                  loss=keras.losses.CategoricalCrossentropy(label_smoothing=0.1), metrics=["accuracy"],
                  jit_compile=True if choose_xla(None, precision) else "auto")
    times: list[float] = []
    timer = keras.callbacks.LambdaCallback(on_epoch_begin=lambda epoch, logs: times.append(time.perf_counter()),
                                           on_epoch_end=lambda epoch, logs: times.append(time.perf_counter()))
    model.fit(AugmentedBatches(images, labels, 7, config), epochs=2, verbose=0, callbacks=[timer])
    return (times[3] - times[2]) * FULL_EPOCH / len(labels)


def checkpoint_seconds(images: np.ndarray, labels: np.ndarray, width: int,
                       repeats: int = 3) -> tuple[float, float, int]:
    """Median seconds to save a trained model with its optimizer state, and to copy that file; its bytes."""
    keras.mixed_precision.set_global_policy(choose_precision("auto"))
    model = build_model((*images.shape[1:3], images.shape[3]), 7, width=width)
    model.compile(optimizer=keras.optimizers.AdamW(1e-3), loss="categorical_crossentropy")
    model.fit(images[:256].astype(np.float32), keras.utils.to_categorical(labels[:256], 7), verbose=0)
    saves, copies = [], []
    with tempfile.TemporaryDirectory() as folder:
        checkpoint, best = Path(folder) / "checkpoint.keras", Path(folder) / "best.keras"
        for _ in range(repeats):
            started = time.perf_counter()
            save_atomic(model, checkpoint)
            saves.append(time.perf_counter() - started)
            started = time.perf_counter()
            copy_atomic(checkpoint, best)
            copies.append(time.perf_counter() - started)
        size = checkpoint.stat().st_size
    return statistics.median(saves), statistics.median(copies), size


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared" / "data" / "fer2013"))
    parser.add_argument("--samples", type=int, default=6144)
    parser.add_argument("--widths", type=int, nargs="+", default=[32, 64])
    args = parser.parse_args()
    cv2.setNumThreads(1)  # as training.train does: parallel batches, not a thread pool per 48 px warp
    dataset = load_dataset(args.data)
    images, labels = dataset.splits[TRAIN].images, dataset.splits[TRAIN].labels
    print(f"{os.cpu_count()} cores; default batch workers: {batch_workers(0)}")
    for threads in (1, 2, 4, 8):
        print(f"augmentation, {threads} thread(s): {augmentation_rate(images, labels, threads):,.0f} images/s")
    subset = np.random.default_rng(0).permutation(len(labels))[: args.samples]
    for width in args.widths:
        for workers in sorted({1, batch_workers(0)}):
            seconds = epoch_seconds(images[subset], labels[subset], width, workers)
            print(f"width {width}, {workers} batch worker(s): {seconds:.0f} s per full epoch "
                  f"(measured on {args.samples} images, second epoch)", flush=True)
        save, copy, size = checkpoint_seconds(images, labels, width)
        print(f"width {width}, checkpoint of {size / 1e6:.0f} MB: saving it {save:.2f} s, copying it as the best "
              f"epoch's {copy:.2f} s", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
