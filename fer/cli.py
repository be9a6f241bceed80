"""Command line: `python -m fer predict PATH...`, `python -m fer predict-csv FILE` and `python -m fer video FILE`.

A file (or CSV row) that cannot be read is reported on stderr in one line and skipped; the rest are
still processed, and the exit status is 1 if any failed. Problems that stop the whole run (a missing
model, an output that cannot be written or already exists, a bad option) are one line on stderr and
exit status 2: never a traceback. Outputs follow one rule for every verb (`fer.outputs`): never an
input, never an existing file without `--overwrite`, complete or not there at all. Ctrl+C, SIGTERM and
SIGHUP stop a run with what was done written out, and exit status 128 + the signal's number.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import math
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TextIO

from tqdm import tqdm

from fer.detection import LANDMARK_COLUMNS, landmark_cells
from fer.images import IMAGE_SUFFIXES, ImageError, load_rgb
from fer.interrupts import Interrupted, deferred, interruptible, shielded
from fer.model_file import ModelFileError
from fer.outputs import OutputError, OutputFile, check_writable_folder, refuse_inputs_as_outputs, shown
from fer.parallel import PhotoJob, PhotoOutcome, PhotoPool, analyse_photo_job, default_workers, outcome_with_copy
from fer.pixel_csv import PixelCsvError, iter_pixel_csv
from fer.preprocessing import TTA_MODES
from fer.settings import DEFAULTS, MAX_SMOOTHING

CROP_BATCH = 256  # --cropped classifies this many files per model call
PHOTOS_PER_WORKER = 8  # fewer photos than this per core: no worker processes (see photo_outcomes)
MODEL_HELP = "a .tflite or .keras model from training.train (default: the shipped model for photos)"
OVERWRITE_HELP = "let outputs replace files that exist (never an input)"


class UsageError(Exception):
    """A problem with the command as given; the run stops before any work (exit status 2)."""


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


class RunOutputs:
    """The files one command writes. Each is checked before any work and staged while it is written;
    `finish` puts them in place (also after an interruption: what was done is kept), `discard` removes
    them after an error. `renamed` lists the ones another run's file pushed to a numbered name."""

    def __init__(self, overwrite: bool) -> None:
        self.overwrite = overwrite
        self.files: list[OutputFile] = []
        self.streams: list[TextIO] = []
        self.renamed: list[str] = []

    def file(self, path: str | None, flag: str, **checks) -> OutputFile | None:
        if path is None:
            return None
        output = OutputFile(path, flag, self.overwrite, **checks)
        self.files.append(output)
        return output

    def text(self, path: str | None, flag: str) -> TextIO:
        """A text stream for results: stdout when no path is given."""
        output = self.file(path, flag)
        if output is None:
            return sys.stdout
        stream = output.open_text()
        self.streams.append(stream)
        return stream

    def finish(self, keep: Callable[[OutputFile], bool] = lambda output: True) -> None:
        try:
            for stream in self.streams:
                stream.close()  # the last buffered lines are written here: a full disk shows now
        except OSError:
            self.discard()
            raise
        for output in self.files:
            if not keep(output):
                output.discard()
                continue
            placed = output.commit()
            if placed != output.target:
                self.renamed.append(name_taken_note(output.target, placed))

    def discard(self) -> None:
        for stream in self.streams:
            try:
                stream.close()
            except OSError:  # the error that brought us here, again: the files go anyway
                pass
        for output in self.files:
            output.discard()


class AnnotatedFolder:
    """Where annotated copies go: the input's relative folders mirrored under `root`. Every name is
    planned and checked before any work (never an input, never an existing file unless `overwrite`,
    never two inputs onto one name); each file appears whole or not at all."""

    def __init__(self, root: Path, overwrite: bool, files: list[tuple[Path, Path]]) -> None:
        check_writable_folder(root, "--annotate")
        self.root, self.overwrite, self.renamed = root, overwrite, []
        self.targets: dict[tuple[Path, Path], Path] = {}
        used: set[Path] = set()
        for key in files:
            stem = key[1].parent / (key[1].stem + "_annotated")
            candidate, n = root / f"{stem}.png", 1
            while candidate in used:
                n += 1
                candidate = root / f"{stem}-{n}.png"
            used.add(candidate)
            self.targets[key] = candidate
        refuse_inputs_as_outputs([("--annotate", t) for t in self.targets.values()], [path for path, _ in files])
        existing = [t for t in self.targets.values() if t.exists()]
        if existing and not overwrite:
            raise OutputError(f"--annotate: {len(existing)} annotated file(s) exist already, the first "
                              f"{shown(existing[0])} (add --overwrite to replace them, or choose another folder)")


def name_taken_note(target: Path, placed: Path) -> str:
    return f"{shown(target)} was created by another run meanwhile: wrote {shown(placed)} instead"


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
        for number, face in enumerate(faces, start=1):  # #1 first, as the annotated copy and the app number them
            box = face["box"]
            probs = [face["probabilities"][n] for n in self.class_names]
            self.csv.writerow([path, len(faces), number, box["x"], box["y"], box["w"], box["h"], face["label"],
                               face["score"], *probs, *landmark_cells(face["landmarks"])])


def cmd_predict(args: argparse.Namespace) -> int:
    from fer.recognizer import EmotionRecognizer

    files, missing = expand_paths(args.paths)
    refuse_inputs_as_outputs({"--output": args.output}, [path for path, _ in files])
    annotated = AnnotatedFolder(Path(args.annotate), args.overwrite, files) if args.annotate else None
    outputs = RunOutputs(args.overwrite)
    failures, done = len(missing), 0
    outcomes = None
    try:
        stream = outputs.text(args.output, "--output")
        for raw in missing:
            print(f"skipped {shown(raw)}: no such file or folder", file=sys.stderr)
        recognizer = EmotionRecognizer(args.model)  # here too with workers: a bad model stops the run at once
        progress = tqdm(total=len(files), unit="img", disable=len(files) < 20 or args.quiet, file=sys.stderr)
        writer = RecordWriter(stream, args.format, recognizer.class_names)
        outcomes = photo_outcomes(args, recognizer, files, annotated)
        for (path, relative), outcome in outcomes:
            with deferred():  # a signal waits until this photo's results are written
                progress.update(1)
                done += 1
                if outcome.faces is None:
                    failures += 1
                    tqdm.write(f"skipped {shown(path)}: {outcome.problem}", file=sys.stderr)
                    continue
                writer.write(shown(path), outcome.faces)
                if outcome.annotate_problem:  # e.g. the folder was removed meanwhile
                    failures += 1
                    tqdm.write(f"not annotated {shown(path)}: {outcome.annotate_problem}", file=sys.stderr)
                elif annotated and outcome.annotated_at != annotated.targets[(path, relative)]:
                    annotated.renamed.append(name_taken_note(annotated.targets[(path, relative)], outcome.annotated_at))
        progress.close()
    except Interrupted as stop:
        return stopped(stop, outputs, f"after {done} of {len(files)} file(s)",
                       kept=done > 0, annotated=annotated)
    except BaseException:
        outputs.discard()
        raise
    finally:
        if outcomes is not None:
            outcomes.close()  # with workers: the pool stops (photos not started are dropped)
    outputs.finish()
    return finished(1 if failures else 0, outputs, annotated)


def photo_outcomes(args: argparse.Namespace, recognizer, files: list[tuple[Path, Path]],
                   annotated: AnnotatedFolder | None) -> Iterator[tuple[tuple[Path, Path], PhotoOutcome]]:
    """(file, what became of it) in input order: face crops in batches here; photos here or, with more
    than one worker, on a pool of processes (fer.parallel) that gives the same results."""
    if args.cropped:
        yield from crop_outcomes(recognizer, files, args.tta, annotated, args.overwrite)
        return
    jobs = [PhotoJob(path, args.min_confidence, args.tta, annotated.targets[(path, relative)] if annotated else None,
                     args.overwrite) for path, relative in files]
    # A worker first starts Python and loads its own model: by default one per core, but no more than one
    # per PHOTOS_PER_WORKER photos, so a handful of photos runs here at once.
    workers = min(args.workers or min(default_workers(), len(files) // PHOTOS_PER_WORKER), len(files))
    if workers <= 1:
        for key, job in zip(files, jobs):
            yield key, analyse_photo_job(job, recognizer)
        return
    pool = PhotoPool(workers, args.model)
    try:
        yield from zip(files, pool.run(jobs))
    finally:
        pool.close()


def stopped(stop: Interrupted, outputs: RunOutputs, progress: str, kept: bool,
            annotated: AnnotatedFolder | None = None, keep: Callable[[OutputFile], bool] | None = None) -> int:
    """An interrupted run: what was done is written out (or nothing, if nothing was done), then one line."""
    with shielded():
        if kept:
            outputs.finish(keep or (lambda output: True))
        else:
            outputs.discard()
    written = [shown(f.target) for f in outputs.files if kept and (keep is None or keep(f))]
    if annotated and kept:
        written.append(f"the annotated copies in {shown(annotated.root)}")
    holds = f": {' and '.join(written)} {'holds' if len(written) == 1 else 'hold'} what was done" if written else ""
    print(f"interrupted by {stop.name} {progress}{holds}", file=sys.stderr)
    for line in outputs.renamed + (annotated.renamed if annotated else []):
        print(line, file=sys.stderr)
    return stop.exit_status


def finished(status: int, outputs: RunOutputs, annotated: AnnotatedFolder | None = None) -> int:
    """The exit status of a run that ended: 1 also when an output had to take a numbered name."""
    renamed = outputs.renamed + (annotated.renamed if annotated else [])
    for line in renamed:
        print(line, file=sys.stderr)
    return 1 if renamed else status


def crop_outcomes(recognizer, files: list[tuple[Path, Path]], tta: str, annotated: AnnotatedFolder | None,
                  overwrite: bool) -> Iterator[tuple[tuple[Path, Path], PhotoOutcome]]:
    """Face crops, CROP_BATCH per model call, each one face: what became of each file, in order."""
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
            if isinstance(image, ImageError):
                yield key, PhotoOutcome(None, str(image))
                continue
            yield key, outcome_with_copy([by_key[key].to_json()], image, [by_key[key]],
                                         annotated.targets[key] if annotated else None, overwrite)


def cmd_predict_csv(args: argparse.Namespace) -> int:
    from fer.recognizer import EmotionRecognizer

    path = Path(args.csv)
    refuse_inputs_as_outputs({"--output": args.output}, [path])
    rows = iter_pixel_csv(path)
    try:
        first = next(rows, None)  # the file and its header are checked before the model loads
    except PixelCsvError as err:
        raise UsageError(str(err)) from err
    outputs = RunOutputs(args.overwrite)
    batch, failures, done = [], 0, 0
    try:
        out = csv.writer(outputs.text(args.output, "--output"))
        recognizer = EmotionRecognizer(args.model)
        names = recognizer.class_names
        out.writerow(["row", "label", "score", *names])

        def flush() -> None:
            nonlocal done
            results = recognizer.classify_crops([row.image for row in batch])
            with deferred():
                for row, result in zip(batch, results):
                    out.writerow([row.line_no, result.label, round(result.score, 4),
                                  *[round(result.probabilities[n], 4) for n in names]])
                done += len(batch)
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
        except Interrupted:
            with shielded():
                flush()  # the rows read are classified and written before stopping
            raise
        flush()
    except Interrupted as stop:
        return stopped(stop, outputs, f"after {done} row(s)", kept=done > 0)
    except BaseException:
        outputs.discard()
        raise
    outputs.finish()
    return finished(1 if failures else 0, outputs)


def cmd_video(args: argparse.Namespace) -> int:
    """Annotate a video file (or a camera) frame by frame, as the live page does; write the annotated MP4
    and the timeline CSV (one row per face per frame) as the frames go."""
    from fer.classifier import default_model_path
    from fer.recognizer import EmotionRecognizer
    from fer.video import Timeline, source_annotator
    from fer.video_io import Mp4Writer, VideoError, VideoSource

    refuse_inputs_as_outputs({"--output": args.output, "--csv": args.csv}, [Path(args.input)])
    outputs = RunOutputs(args.overwrite)
    video_file = outputs.file(args.output, "--output", streams_allowed=False)  # MP4 needs a seekable file
    try:
        timeline_stream = outputs.text(args.csv, "--csv")
        try:
            source = VideoSource(args.input)
        except VideoError as err:
            raise UsageError(str(err)) from err
        recognizer = EmotionRecognizer(args.model or default_model_path("live"))
        timeline = Timeline(recognizer.class_names)
        table = csv.writer(timeline_stream)
        try:  # a CSV that cannot be written (/dev/full) stops the run before the first frame
            table.writerow(timeline.columns)
            timeline_stream.flush()
        except OSError as err:
            raise OutputError(f"cannot write {f'--csv {shown(args.csv)}' if args.csv else 'the timeline to stdout'}: "
                              f"{err.strerror or err}") from err
    except BaseException:
        outputs.discard()
        raise
    annotator = source_annotator(recognizer, is_camera=source.is_camera, min_confidence=args.min_confidence,
                                 smoothing=args.smoothing, detect_every=args.detect_every, min_face=args.min_face)
    total = min(filter(None, (source.frame_count, args.max_frames)), default=None)
    writer = Mp4Writer(video_file.path) if video_file else None
    keep_video: Callable[[OutputFile], bool] = lambda output: output is not video_file or writer.frames > 0  # noqa: E731
    progress = tqdm(total=total, unit="frame", disable=args.quiet, file=sys.stderr)
    try:
        try:
            for bgr, t in source.frames():
                drawn, info = annotator.annotate(bgr, t)
                with deferred():  # a frame goes into the MP4 and the CSV whole, or not at all
                    before = len(timeline.rows)
                    timeline.add(info)
                    table.writerows(timeline.rows[before:])
                    if writer:
                        writer.write(drawn, info.t)
                    progress.update(1)
                if args.max_frames is not None and info.index >= args.max_frames:
                    break
        finally:
            progress.close()
            if writer:
                with shielded():
                    writer.close()
    except Interrupted as stop:
        if source.is_camera and stop.signum == 2:  # Ctrl+C is how a camera run is meant to end
            outputs.finish(keep_video)
            return video_summary(timeline, source, args, outputs, stopped_early=False)
        where = f"after {len(timeline)} of {total} frames" if total else f"after {len(timeline)} frames"
        return stopped(stop, outputs, where, kept=len(timeline) > 0, keep=keep_video)
    except VideoError as err:
        outputs.discard()
        raise UsageError(str(err)) from err
    except BaseException:
        outputs.discard()
        raise
    outputs.finish(keep_video)
    ended_early = args.max_frames is None or len(timeline) < args.max_frames
    return video_summary(timeline, source, args, outputs, stopped_early=ended_early and source.shortfall() > 0)


def video_summary(timeline, source, args: argparse.Namespace, outputs: RunOutputs, stopped_early: bool) -> int:
    """The closing line of `fer video`, and its exit status (1 when the file ended before its last frame)."""
    faces = len({row[1] for row in timeline.rows})
    print(f"{len(timeline)} frames, {faces} face(s) followed, {len(timeline.rows)} face readings"
          + (f"; wrote {shown(args.output)}" if args.output and len(timeline) else ""), file=sys.stderr)
    if stopped_early:
        print(f"error: {shown(source.name)} ended at frame {source.frames_read:,} of the {source.frame_count:,} "
              "its container lists: the file is truncated or damaged (the outputs hold the frames read)",
              file=sys.stderr)
    return finished(1 if stopped_early else 0, outputs)


def number_in(kind: type, low: float, high: float | None = None, *, low_open: bool = False,
              high_open: bool = False) -> Callable[[str], float]:
    """An argparse type: a finite `kind` within [low, high] (open ends where asked)."""
    ends = (f"{'more than' if low_open else 'at least'} {low}" if high is None else
            f"{'above' if low_open else 'from'} {low} {'to below' if high_open else 'to'} {high}")
    what = "a whole number" if kind is int else "a number"

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {what} {ends}, not {text!r}") from None
        if (not math.isfinite(value) or value < low or (low_open and value == low)
                or (high is not None and (value > high or (high_open and value == high)))):
            raise argparse.ArgumentTypeError(f"must be {what} {ends}, not {text!r}")
        return value

    parse.__name__ = kind.__name__
    return parse


MIN_CONFIDENCE = number_in(float, 0.0, 1.0, low_open=True, high_open=True)
CONFIDENCE_HELP = "face detector threshold, above 0 to below 1 (real faces score about 0.8-0.95)"


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
    predict.add_argument("--overwrite", action="store_true", help=OVERWRITE_HELP)
    predict.add_argument("--model", help=MODEL_HELP)
    predict.add_argument("--min-confidence", type=MIN_CONFIDENCE, default=DEFAULTS.min_confidence,
                         help=CONFIDENCE_HELP)
    predict.add_argument("--tta", choices=TTA_MODES, default=DEFAULTS.photo_tta,
                         help="test-time augmentation: flip averages each face with its mirror image")
    predict.add_argument("--workers", type=number_in(int, 1), metavar="N",
                         help=f"processes analysing photos, one model each (default: every core, {default_workers()} "
                              f"here, for {PHOTOS_PER_WORKER}+ photos a core); the results are the same, in input "
                              "order, whatever N")
    predict.add_argument("--quiet", action="store_true", help="no progress bar")
    predict.set_defaults(func=cmd_predict)
    pcsv = sub.add_parser("predict-csv", help="classify each row of a Kaggle-style CSV with a pixels column")
    pcsv.add_argument("csv", help="CSV with a 'pixels' column (e.g. fer2013.csv, test.csv)")
    pcsv.add_argument("--output", help="write predictions here instead of stdout")
    pcsv.add_argument("--overwrite", action="store_true", help=OVERWRITE_HELP)
    pcsv.add_argument("--model", help=MODEL_HELP)
    pcsv.set_defaults(func=cmd_predict_csv)
    video = sub.add_parser("video", help="annotate a video file or a camera frame by frame, as the live page does")
    video.add_argument("input", help="a video file (MP4, AVI, MOV, WebM...) or a camera number such as 0")
    video.add_argument("--output", help="write the annotated video here (MP4, H.264)")
    video.add_argument("--csv", help="write the timeline here (one row per face per frame) instead of stdout")
    video.add_argument("--overwrite", action="store_true", help=OVERWRITE_HELP)
    video.add_argument("--model", help="a .tflite or .keras model (default: the shipped model for live video)")
    video.add_argument("--min-confidence", type=MIN_CONFIDENCE, default=DEFAULTS.min_confidence,
                       help=CONFIDENCE_HELP)
    video.add_argument("--smoothing", type=number_in(float, 0.0, MAX_SMOOTHING), default=DEFAULTS.smoothing,
                       help=f"0 shows each frame's own prediction; up to {MAX_SMOOTHING} steadies labels over time")
    video.add_argument("--min-face", type=number_in(int, 8), default=DEFAULTS.min_face, metavar="PIXELS",
                       help="the smallest face worth finding, in the video's pixels: detection runs at the size "
                            "where it is found (larger for 1080p and 4K; smaller values cost more per frame)")
    video.add_argument("--detect-every", type=number_in(int, 1), default=DEFAULTS.detect_every_n_frames,
                       metavar="N", help="run the face detector on every N-th frame (1: every frame)")
    video.add_argument("--max-frames", type=number_in(int, 1), metavar="N",
                       help="stop after N frames (a camera: or Ctrl+C)")
    video.add_argument("--quiet", action="store_true", help="no progress bar")
    video.set_defaults(func=cmd_video)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        with interruptible():
            return args.func(args)
    except (ModelFileError, UsageError, OutputError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except Interrupted as stop:  # before any work was done: nothing to keep
        print(f"interrupted by {stop.name} before any work was done", file=sys.stderr)
        return stop.exit_status
    except BrokenPipeError:
        return 0
    except OSError as err:  # writing the results failed (a full disk, a closed stream): say so in one line
        where = f" ({shown(err.filename)})" if err.filename else ""
        print(f"error: could not write the results{where}: {err.strerror or err}", file=sys.stderr)
        return 2
