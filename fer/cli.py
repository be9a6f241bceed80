"""Command line: `python -m fer predict PATH...`, `python -m fer predict-csv FILE` and `python -m fer video FILE`.

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

from fer.detection import LANDMARK_COLUMNS, landmark_cells
from fer.drawing import draw_results
from fer.images import IMAGE_SUFFIXES, ImageError, load_rgb
from fer.model_file import ModelFileError
from fer.pixel_csv import PixelCsvError, iter_pixel_csv
from fer.preprocessing import TTA_MODES
from fer.settings import DEFAULTS

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


def refuse_inputs_as_outputs(outputs: dict[str, str | None], inputs: Iterable[Path]) -> None:
    """An output that is one of the inputs (the same file by resolved path or by inode, links included)
    would destroy it: refused before anything is read or written, --overwrite or not."""
    inputs = list(inputs)
    for flag, output in outputs.items():
        if output is None:
            continue
        for source in inputs:
            if same_file(Path(output), source):
                raise UsageError(f"{flag} {shown(output)} is the input {shown(source)}: write the results elsewhere")


def same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve() or (a.exists() and b.exists() and os.path.samefile(a, b))
    except OSError:
        return False


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
            self.csv.writerow(["path", "faces", "face", "x", "y", "w", "h", "label", "score", *class_names,
                               *LANDMARK_COLUMNS])

    def write(self, path: str, faces: list[dict]) -> None:
        if self.fmt == "json":
            self.stream.write(json.dumps({"path": path, "faces": faces}) + "\n")
            return
        if not faces:
            self.csv.writerow([path, 0, "", "", "", "", "", "", "", *[""] * len(self.class_names),
                               *[""] * len(LANDMARK_COLUMNS)])
        for i, face in enumerate(faces):
            box = face["box"]
            probs = [face["probabilities"][n] for n in self.class_names]
            self.csv.writerow([path, len(faces), i, box["x"], box["y"], box["w"], box["h"], face["label"],
                               face["score"], *probs, *landmark_cells(face["landmarks"])])


def cmd_predict(args: argparse.Namespace) -> int:
    from fer.recognizer import EmotionRecognizer

    files, missing = expand_paths(args.paths)
    refuse_inputs_as_outputs({"--output": args.output}, [path for path, _ in files])
    failures = len(missing)
    for raw in missing:
        print(f"skipped {shown(raw)}: no such file or folder", file=sys.stderr)
    annotated = AnnotatedFolder(Path(args.annotate), args.overwrite) if args.annotate else None
    recognizer = EmotionRecognizer(args.model)
    progress = tqdm(total=len(files), unit="img", disable=len(files) < 20 or args.quiet, file=sys.stderr)
    with open_output(args.output) as stream:
        writer = RecordWriter(stream, args.format, recognizer.class_names)
        batches = predict_crop_files(recognizer, files, args.tta) if args.cropped else \
            predict_photo_files(recognizer, files, args.min_confidence, args.tta)
        for (path, relative), outcome in batches:
            progress.update(1)
            if isinstance(outcome, ImageError):
                failures += 1
                tqdm.write(f"skipped {shown(path)}: {outcome}", file=sys.stderr)
                continue
            rgb, faces, scale = outcome
            writer.write(shown(path), [face.scaled(1 / scale).to_json() for face in faces])
            if annotated:
                try:
                    annotated.save(relative, draw_results(rgb, faces, numbered=True))
                except OSError as err:
                    failures += 1
                    tqdm.write(f"not annotated {shown(path)}: {err.strerror or err}", file=sys.stderr)
    progress.close()
    return 1 if failures else 0


def predict_photo_files(recognizer, files: list[tuple[Path, Path]], min_confidence: float, tta: str):
    """Each photo in turn: (its paths, (decoded pixels, faces in them, decode scale) or the ImageError)."""
    for path, relative in files:
        try:
            photo = recognizer.analyze_photo(path, min_confidence=min_confidence, tta=tta)
        except ImageError as err:
            yield (path, relative), err
            continue
        yield (path, relative), (photo.rgb, photo.faces, photo.scale)


def predict_crop_files(recognizer, files: list[tuple[Path, Path]], tta: str):
    """Face crops, CROP_BATCH per model call: (paths, (pixels, [the crop's result], 1.0) or the ImageError)."""
    for start in range(0, len(files), CROP_BATCH):
        images: dict[tuple[Path, Path], object] = {}
        for key in files[start : start + CROP_BATCH]:
            try:
                images[key] = load_rgb(key[0])
            except ImageError as err:
                images[key] = err
        readable = [key for key, image in images.items() if not isinstance(image, ImageError)]
        results = recognizer.classify_crops([images[key] for key in readable], tta=tta) if readable else []
        by_key = dict(zip(readable, results))
        for key, image in images.items():
            yield key, image if isinstance(image, ImageError) else (image, [by_key[key]], 1.0)


def cmd_predict_csv(args: argparse.Namespace) -> int:
    from fer.recognizer import EmotionRecognizer

    path = Path(args.csv)
    refuse_inputs_as_outputs({"--output": args.output}, [path])
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


def cmd_video(args: argparse.Namespace) -> int:
    """Annotate a video file (or a camera) frame by frame, as the live page does; write the annotated MP4
    and the timeline CSV (one row per face per frame)."""
    from fer.classifier import default_model_path
    from fer.recognizer import EmotionRecognizer
    from fer.video import Timeline, VideoAnnotator, VideoSettings
    from fer.video_io import Mp4Writer, VideoError, VideoSource

    refuse_inputs_as_outputs({"--output": args.output, "--csv": args.csv}, [Path(args.input)])
    if args.output and Path(args.output).exists() and not args.overwrite:
        raise UsageError(f"{shown(args.output)} exists (add --overwrite to replace it)")
    try:
        source = VideoSource(args.input)
    except VideoError as err:
        raise UsageError(str(err)) from err
    recognizer = EmotionRecognizer(args.model or default_model_path("live"))
    annotator = VideoAnnotator(recognizer, VideoSettings(min_confidence=args.min_confidence,
                                                         smoothing=args.smoothing, mirror=source.is_camera,
                                                         show_fps=source.is_camera),
                               detect_every=args.detect_every)
    timeline = Timeline(recognizer.class_names)
    total = min(filter(None, (source.frame_count, args.max_frames)), default=None)
    writer = Mp4Writer(args.output) if args.output else None
    progress = tqdm(total=total, unit="frame", disable=args.quiet, file=sys.stderr)
    try:
        for bgr, t in source.frames():
            drawn, info = annotator.annotate(bgr, t)
            timeline.add(info)
            if writer:
                writer.write(drawn, info.t)
            progress.update(1)
            if args.max_frames is not None and info.index >= args.max_frames:
                break
    except VideoError as err:
        raise UsageError(str(err)) from err
    except KeyboardInterrupt:  # a camera runs until Ctrl+C: keep what was recorded
        tqdm.write("stopped", file=sys.stderr)
    finally:
        progress.close()
        if writer:
            writer.close()
    with open_output(args.csv) as stream:
        timeline.write_csv(stream)
    faces = len({row[1] for row in timeline.rows})
    print(f"{len(timeline)} frames, {faces} face(s) followed, {len(timeline.rows)} face readings"
          + (f"; wrote {shown(args.output)}" if args.output else ""), file=sys.stderr)
    return 0


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
    predict.add_argument("--min-confidence", type=float, default=DEFAULTS.min_confidence,
                         help="face detector threshold, 0-1")
    predict.add_argument("--tta", choices=TTA_MODES, default="none",
                         help="test-time augmentation: flip averages each face with its mirror image")
    predict.add_argument("--quiet", action="store_true", help="no progress bar")
    predict.set_defaults(func=cmd_predict)
    pcsv = sub.add_parser("predict-csv", help="classify each row of a Kaggle-style CSV with a pixels column")
    pcsv.add_argument("csv", help="CSV with a 'pixels' column (e.g. fer2013.csv, test.csv)")
    pcsv.add_argument("--output", help="write predictions here instead of stdout")
    pcsv.add_argument("--model", help=MODEL_HELP)
    pcsv.set_defaults(func=cmd_predict_csv)
    video = sub.add_parser("video", help="annotate a video file or a camera frame by frame, as the live page does")
    video.add_argument("input", help="a video file (MP4, AVI, MOV, WebM...) or a camera number such as 0")
    video.add_argument("--output", help="write the annotated video here (MP4, H.264)")
    video.add_argument("--csv", help="write the timeline here (one row per face per frame) instead of stdout")
    video.add_argument("--overwrite", action="store_true", help="let --output replace a file that exists")
    video.add_argument("--model", help="a .tflite or .keras model (default: the shipped model for live video)")
    video.add_argument("--min-confidence", type=float, default=DEFAULTS.min_confidence,
                       help="face detector threshold, 0-1")
    video.add_argument("--smoothing", type=float, default=DEFAULTS.smoothing,
                       help="0 shows each frame's own prediction; up to 0.95 steadies labels over time")
    video.add_argument("--detect-every", type=int, default=DEFAULTS.detect_every_n_frames, metavar="N",
                       help="run the face detector on every N-th frame (1: every frame)")
    video.add_argument("--max-frames", type=int, metavar="N", help="stop after N frames (a camera: or Ctrl+C)")
    video.add_argument("--quiet", action="store_true", help="no progress bar")
    video.set_defaults(func=cmd_video)
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
