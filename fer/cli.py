"""Command line: `python -m fer predict PATH...` and `python -m fer predict-csv FILE`.

A file that cannot be read is reported on stderr and skipped; the rest are still processed, and the
exit status is 1 if any file failed (2 for a usage error such as a missing model).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from tqdm import tqdm

from fer.images import IMAGE_SUFFIXES, ImageError, load_rgb
from fer.model_file import ModelFileError
from fer.preprocessing import TTA_MODES

CROP_BATCH = 256  # --cropped classifies this many files per model call
MODEL_HELP = "a .tflite or .keras model from training.train (default: the shipped model for photos)"


def expand_paths(paths: Iterable[str]) -> tuple[list[Path], list[str]]:
    """Files as given plus image files found (recursively, sorted) in the folders given."""
    files, missing = [], []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files.extend(p for p in sorted(path.rglob("*")) if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        elif path.is_file():
            files.append(path)
        else:
            missing.append(raw)
    return files, missing


@contextmanager
def open_output(path: str | None) -> Iterator[TextIO]:
    if path is None:
        yield sys.stdout
    else:
        with open(path, "w", newline="", encoding="utf-8") as handle:
            yield handle


class RecordWriter:
    """JSON Lines (one object per image) or CSV (one row per face; a face-less image gets one row)."""

    def __init__(self, stream: TextIO, fmt: str, class_names: tuple[str, ...]) -> None:
        self.stream, self.fmt, self.class_names = stream, fmt, class_names
        if fmt == "csv":
            self.csv = csv.writer(stream)
            self.csv.writerow(["path", "faces", "face", "x", "y", "w", "h", "label", "score", *class_names])

    def write(self, path: str, faces: list[dict]) -> None:
        if self.fmt == "json":
            self.stream.write(json.dumps({"path": path, "faces": faces}) + "\n")
            return
        if not faces:
            self.csv.writerow([path, 0, "", "", "", "", "", "", "", *[""] * len(self.class_names)])
        for i, face in enumerate(faces):
            box = face["box"]
            probs = [face["probabilities"][n] for n in self.class_names]
            self.csv.writerow([path, len(faces), i, box["x"], box["y"], box["w"], box["h"], face["label"],
                               face["score"], *probs])


def cmd_predict(args: argparse.Namespace) -> int:
    from fer.drawing import draw_results
    from fer.recognizer import EmotionRecognizer

    files, missing = expand_paths(args.paths)
    failures = len(missing)
    for raw in missing:
        print(f"skipped {raw}: no such file or folder", file=sys.stderr)
    recognizer = EmotionRecognizer(args.model)
    annotate_dir = Path(args.annotate) if args.annotate else None
    if annotate_dir:
        annotate_dir.mkdir(parents=True, exist_ok=True)
    progress = tqdm(total=len(files), unit="img", disable=len(files) < 20 or args.quiet, file=sys.stderr)
    with open_output(args.output) as stream:
        writer = RecordWriter(stream, args.format, recognizer.class_names)
        step = CROP_BATCH if args.cropped else 1
        for start in range(0, len(files), step):
            chunk = files[start : start + step]
            images = {}
            for path in chunk:
                try:
                    images[path] = load_rgb(path)
                except ImageError as err:
                    failures += 1
                    tqdm.write(f"skipped {path}: {err}", file=sys.stderr)
            if args.cropped:
                results = recognizer.classify_crops(list(images.values()), tta=args.tta) if images else []
                per_image = {path: [result] for path, result in zip(images, results)}
            else:
                per_image = {path: recognizer.analyze(rgb, min_confidence=args.min_confidence, tta=args.tta)
                             for path, rgb in images.items()}
            for path, faces in per_image.items():
                writer.write(str(path), [face.to_json() for face in faces])
                if annotate_dir:
                    _save_annotated(annotate_dir, path, draw_results(images[path], faces))
            progress.update(len(chunk))
    progress.close()
    return 1 if failures else 0


def _save_annotated(folder: Path, source: Path, rgb) -> None:
    import cv2

    target = folder / (source.stem + "_annotated.png")
    cv2.imwrite(str(target), rgb[:, :, ::-1])


def cmd_predict_csv(args: argparse.Namespace) -> int:
    from fer.recognizer import EmotionRecognizer
    from training.data import DatasetError, iter_pixel_csv

    recognizer = EmotionRecognizer(args.model)
    names = recognizer.class_names
    rows, failures = [], 0
    with open_output(args.output) as stream:
        out = csv.writer(stream)
        out.writerow(["row", "label", "score", *names])

        def flush() -> None:
            results = recognizer.classify_crops([image for _, image in rows])
            for (line_no, _), result in zip(rows, results):
                out.writerow([line_no, result.label, round(result.score, 4),
                              *[round(result.probabilities[n], 4) for n in names]])
            rows.clear()

        try:
            for line_no, image in iter_pixel_csv(Path(args.csv)):
                rows.append((line_no, image))
                if len(rows) == CROP_BATCH:
                    flush()
        except DatasetError as err:
            failures += 1
            print(f"error: {err}", file=sys.stderr)
        flush()
    return 1 if failures else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m fer", description="Recognise facial expressions, offline.")
    sub = parser.add_subparsers(dest="command", required=True)
    predict = sub.add_parser("predict", help="classify the faces in image files and folders")
    predict.add_argument("paths", nargs="+", metavar="PATH", help="image files or folders (searched recursively)")
    predict.add_argument("--cropped", action="store_true", help="each image is one face crop: skip detection")
    predict.add_argument("--format", choices=["json", "csv"], default="json",
                         help="json: one object per line per image; csv: one row per face")
    predict.add_argument("--output", help="write results here instead of stdout")
    predict.add_argument("--annotate", metavar="DIR", help="also save annotated copies of the images in DIR")
    predict.add_argument("--model", help=MODEL_HELP)
    predict.add_argument("--min-confidence", type=float, default=0.6, help="face detector threshold, 0-1")
    predict.add_argument("--tta", choices=TTA_MODES, default="none",
                         help="test-time augmentation: flip averages each face with its mirror image")
    predict.add_argument("--quiet", action="store_true", help="no progress bar")
    predict.set_defaults(func=cmd_predict)
    pcsv = sub.add_parser("predict-csv", help="classify each row of a Kaggle-style CSV with a pixels column")
    pcsv.add_argument("csv", help="CSV with a 'pixels' column (e.g. fer2013.csv, test.csv)")
    pcsv.add_argument("--output", help="write predictions here instead of stdout")
    pcsv.add_argument("--model", help=MODEL_HELP)
    pcsv.set_defaults(func=cmd_predict_csv)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ModelFileError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0
