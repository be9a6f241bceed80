"""Latency of the real call path on ONE CPU thread: per face, per 640x480 frame, and batch throughput.

    python benchmarks/latency.py [--model M] [--tta flip] [--update-report]

Prints median and p95 after warm-up for:
- classification of one face crop (EmotionClassifier.predict_crops, batch of 1: what the app does;
  with `--tta flip` the face and its mirror image in one batch of 2, as the Photos page runs it);
- throughput for a batch of 64 crops;
- EmotionRecognizer.analyze() on a 640x480 frame with 1 and with 4 faces, at the live page's
  detection size, split into detection and classification.
`--update-report` stores the figures in the model's report, under the file's name, where the dashboard
shows them.
"""

from __future__ import annotations

import os

# One thread everywhere, set before NumPy, OpenCV, LiteRT or TensorFlow start their pools.
for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "TF_NUM_INTRAOP_THREADS",
                 "TF_NUM_INTEROP_THREADS", "FER_THREADS"):
    os.environ[variable] = "1"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import argparse
import json
import platform
import time

import cv2
import numpy as np

cv2.setNumThreads(1)

from fer.detection import detect_faces, face_crop
from fer.preprocessing import TTA_MODES
from fer.recognizer import CROP_MARGIN, EmotionRecognizer
from fer.report import add_entries
from fer.settings import DEFAULTS


def timed(function, repeats: int, warmup: int = 20) -> np.ndarray:
    for _ in range(warmup):
        function()
    times = np.empty(repeats)
    for i in range(repeats):
        start = time.perf_counter()
        function()
        times[i] = time.perf_counter() - start
    return times * 1000.0


def summary(times_ms: np.ndarray) -> dict:
    return {"median_ms": round(float(np.median(times_ms)), 3), "p95_ms": round(float(np.percentile(times_ms, 95)), 3)}


def frame_with_faces(face_photo: np.ndarray, count: int) -> np.ndarray:
    """A 640x480 frame with `count` copies of a real face (160 px, like a person at a webcam)."""
    frame = np.full((480, 640, 3), 110, np.uint8)
    face = cv2.resize(face_photo[30:250, 120:340], (160, 160))
    spots = [(80, 240), (80, 40), (280, 240), (280, 440)] if count > 1 else [(160, 240)]
    for y, x in spots[:count]:
        frame[y : y + 160, x : x + 160] = face
    return frame


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="a .tflite or .keras model (default: the shipped one for photos)")
    parser.add_argument("--tta", choices=TTA_MODES, default="none", help="test-time augmentation per face")
    parser.add_argument("--repeats", type=int, default=300)
    parser.add_argument("--update-report", action="store_true", help="write the figures into the model's report")
    args = parser.parse_args()
    if args.update_report and args.tta != "none":
        parser.error("--update-report stores the figures without TTA (what the dashboard shows); leave out --tta")
    if args.model and args.model.endswith(".keras"):
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(1)

    from skimage import data

    recognizer = EmotionRecognizer(args.model)
    classifier = recognizer.classifier
    photo = data.astronaut()
    crop = face_crop(photo, recognizer.analyze(photo)[0].box, CROP_MARGIN)
    results: dict = {"model": classifier.path.name, "threads": 1, "tta": args.tta,
                     "cpu": platform.processor() or platform.machine()}

    one = timed(lambda: classifier.predict_crops([crop], args.tta), args.repeats)
    results["classify_one_face"] = summary(one)
    batch = [crop] * 64
    batch_times = timed(lambda: classifier.predict_crops(batch, args.tta), max(20, args.repeats // 10), warmup=5)
    results["batch_64_faces_per_second"] = round(64 / (np.median(batch_times) / 1000.0), 1)

    side = DEFAULTS.video_detection_side
    for count in (1, 4):
        frame = frame_with_faces(photo, count)
        found = recognizer.analyze(frame, detection_side=DEFAULTS.video_detection_side)
        boxes = [f.box for f in found]
        detect = timed(lambda frame=frame: detect_faces(recognizer.detector, frame, max_side=side,
                                                        min_confidence=DEFAULTS.min_confidence), args.repeats)
        classify = timed(lambda frame=frame, boxes=boxes: recognizer.classify_boxes(frame, boxes, tta=args.tta),
                         args.repeats)
        total = timed(lambda frame=frame: recognizer.analyze(frame, detection_side=side, tta=args.tta), args.repeats)
        results[f"frame_640x480_{count}_faces"] = {
            "faces_found": len(found), "detection": summary(detect), "classification": summary(classify),
            "analyze_total": summary(total),
        }

    print(f"model {results['model']}, TTA {args.tta}, 1 thread, {results['cpu']}")
    print(f"classify one face (batch of 1): median {results['classify_one_face']['median_ms']:.2f} ms, "
          f"p95 {results['classify_one_face']['p95_ms']:.2f} ms")
    print(f"classify a batch of 64: {results['batch_64_faces_per_second']:.0f} faces/s")
    for count in (1, 4):
        row = results[f"frame_640x480_{count}_faces"]
        print(f"analyze() 640x480 with {count} face(s) (found {row['faces_found']}): "
              f"total median {row['analyze_total']['median_ms']:.2f} ms (p95 {row['analyze_total']['p95_ms']:.2f}); "
              f"detection {row['detection']['median_ms']:.2f} ms, classification "
              f"{row['classification']['median_ms']:.2f} ms")
    print(json.dumps(results))

    if args.update_report:
        print(f"updated {add_entries(classifier.path, 'benchmarks', {classifier.path.name: results})}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
