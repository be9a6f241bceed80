"""Command line: `python -m fer predict PATH...` and `python -m fer predict-csv FILE`.

A file (or CSV row) that cannot be read is reported on stderr in one line and skipped; the rest are
still processed, and the exit status is 1 if any failed. Problems that stop the whole run (a missing
model, an output that cannot be written) are one line on stderr and exit status 2: never a traceback.
Annotated copies never overwrite an existing file unless `--overwrite` says so.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import os
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from tqdm import tqdm

from fer.images import IMAGE_SUFFIXES, ImageError, load_rgb, load_rgb_scaled
from fer.model_file import ModelFileError
from fer.pixel_csv import PixelCsvError, iter_pixel_csv
from fer.preprocessing import TTA_MODES

CROP_BATCH = 256  # --cropped classifies this many files per model call
MODEL_HELP = "a .tflite or .keras model from training.train (default: the shipped model for photos)"


class UsageError(Exception):
    """A problem with the command as given; the run stops before any work (exit status 2)."""


def shown(path: str | os.PathLike) -> str:
    """A path as text any output can hold: bytes that are not UTF-8 in a file name become escapes."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def expand_paths(paths: Iterable[str]) -> tuple[list[tuple[Path, Path]], list[str]]:
    """(file, its path relative to the folder given) for files as given and image files found
    (recursively, sorted) in the folders given; and the arguments that do not exist."""
    files, missing = [], []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files.extend((p, p.relative_to(path)) for p in sorted(path.rglob("*"))
                         if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        elif path.is_file():
            files.append((path, Path(path.name)))
        else:
            missing.append(raw)
    return files, missing


@contextmanager
def open_output(path: str | None) -> Iterator[TextIO]:
    if path is None:
        yield sys.stdout
        return
    try:
        handle = open(path, "w", newline="", encoding="utf-8")
    except OSError as err:
        raise UsageError(f"cannot write --output {shown(path)}: {err.strerror or err}") from err
    with handle:
        yield handle


class AnnotatedFolder:
    """Where annotated copies go: the input's relative folders mirrored under `root`, never over an
    existing file (unless `overwrite`), and never two inputs onto one name in a run."""

    def __init__(self, root: Path, overwrite: bool) -> None:
        if root.exists() and not root.is_dir():
            raise UsageError(f"--annotate {shown(root)} is a file, not a folder")
        self.root, self.overwrite, self.used = root, overwrite, set()

    def target(self, relative: Path) -> Path:
        stem = relative.parent / (relative.stem + "_annotated")
        candidate, n = self.root / f"{stem}.png", 1
        while candidate in self.used:
            n += 1
            candidate = self.root / f"{stem}-{n}.png"
        self.used.add(candidate)
        if candidate.exists() and not self.overwrite:
            raise FileExistsError(f"{shown(candidate)} exists (add --overwrite to replace it)")
        return candidate

    def save(self, relative: Path, rgb) -> None:
        import cv2

        target = self.target(relative)
        target.parent.mkdir(parents=True, exist_ok=True)
        ok, encoded = cv2.imencode(".png", rgb[:, :, ::-1])
        if not ok:
            raise OSError(f"could not encode {shown(target)}")
        target.write_bytes(encoded.tobytes())


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
    from fer.recognizer import MAX_DECODE_SIDE, EmotionRecognizer

    files, missing = expand_paths(args.paths)
    failures = len(missing)
    for raw in missing:
        print(f"skipped {shown(raw)}: no such file or folder", file=sys.stderr)
    annotated = AnnotatedFolder(Path(args.annotate), args.overwrite) if args.annotate else None
    recognizer = EmotionRecognizer(args.model)
    progress = tqdm(total=len(files), unit="img", disable=len(files) < 20 or args.quiet, file=sys.stderr)
    with open_output(args.output) as stream:
        writer = RecordWriter(stream, args.format, recognizer.class_names)
        step = CROP_BATCH if args.cropped else 1
        for start in range(0, len(files), step):
            chunk = files[start : start + step]
            images, scales = {}, {}
            for path, relative in chunk:
                try:
                    if args.cropped:
                        images[path, relative] = load_rgb(path)
                    else:  # a huge photo is decoded at the size detection needs; boxes map back below
                        images[path, relative], scales[path] = load_rgb_scaled(path, max_side=MAX_DECODE_SIDE)
                except ImageError as err:
                    failures += 1
                    tqdm.write(f"skipped {shown(path)}: {err}", file=sys.stderr)
            if args.cropped:
                results = recognizer.classify_crops(list(images.values()), tta=args.tta) if images else []
                per_image = {key: [result] for key, result in zip(images, results)}
            else:
                per_image = {key: recognizer.analyze(rgb, min_confidence=args.min_confidence, tta=args.tta)
                             for key, rgb in images.items()}
            for (path, relative), faces in per_image.items():
                scale = scales.get(path, 1.0)
                writer.write(shown(path), [face.scaled(1 / scale).to_json() for face in faces])
                if annotated:
                    try:
                        annotated.save(relative, draw_results(images[path, relative], faces))
                    except OSError as err:
                        failures += 1
                        tqdm.write(f"not annotated {shown(path)}: {err.strerror or err}", file=sys.stderr)
            progress.update(len(chunk))
    progress.close()
    return 1 if failures else 0


def cmd_predict_csv(args: argparse.Namespace) -> int:
    from fer.recognizer import EmotionRecognizer

    path = Path(args.csv)
    rows = iter_pixel_csv(path)
    try:
        first = next(rows, None)  # the file and its header are checked before the model loads
    except PixelCsvError as err:
        raise UsageError(str(err)) from err
    recognizer = EmotionRecognizer(args.model)
    names = recognizer.class_names
    batch, failures = [], 0
    with open_output(args.output) as stream:
        out = csv.writer(stream)
        out.writerow(["row", "label", "score", *names])

        def flush() -> None:
            results = recognizer.classify_crops([row.image for row in batch])
            for row, result in zip(batch, results):
                out.writerow([row.line_no, result.label, round(result.score, 4),
                              *[round(result.probabilities[n], 4) for n in names]])
            batch.clear()

        try:
            for row in itertools.chain([first] if first else [], rows):
                if row.image is None:
                    failures += 1
                    print(f"skipped {shown(path)} row {row.line_no}: {row.problem}", file=sys.stderr)
                    continue
                batch.append(row)
                if len(batch) == CROP_BATCH:
                    flush()
        except PixelCsvError as err:  # e.g. bytes that are not text half-way through: keep what was read
            failures += 1
            print(f"stopped reading: {err}", file=sys.stderr)
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
    predict.add_argument("--annotate", metavar="DIR",
                         help="also save annotated copies in DIR, mirroring the folders of the input")
    predict.add_argument("--overwrite", action="store_true", help="let --annotate replace files that exist")
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
    except (ModelFileError, UsageError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0
    except OSError as err:  # writing the results failed (a full disk, a closed stream): say so in one line
        where = f" ({shown(err.filename)})" if err.filename else ""
        print(f"error: could not write the results{where}: {err.strerror or err}", file=sys.stderr)
        return 2
