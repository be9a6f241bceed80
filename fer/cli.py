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

from fer.cluster import ClusterError
from fer.detection import LANDMARK_COLUMNS, landmark_cells
from fer.images import IMAGE_SUFFIXES, ImageError, load_rgb
from fer.interrupts import Interrupted, deferred, interruptible, shielded
from fer.model_file import ModelFileError
from fer.outputs import OutputError, OutputFile, check_writable_folder, refuse_inputs_as_outputs, shown
from fer.parallel import PhotoJob, PhotoOutcome, WorkerPool, analyse_photo_job, default_workers, outcome_with_copy
from fer.pixel_csv import PixelCsvError, iter_pixel_csv
from fer.preprocessing import TTA_MODES
from fer.resume import EarlierResults, ResumeError, earlier_results
from fer.settings import DEFAULTS, MAX_SMOOTHING
from fer.video_jobs import VIDEO_SUFFIXES, VideoJob, VideoOutcome, annotate_video_job, video_targets, write_frame

CROP_BATCH = 256  # --cropped classifies this many files per model call
PHOTOS_PER_WORKER = 8  # fewer photos than this per core: no worker processes (see photo_outcomes)
MODEL_HELP = "a .tflite or .keras model from training.train (default: the shipped model for photos)"
OVERWRITE_HELP = "let outputs replace files that exist (never an input)"


class UsageError(Exception):
    """A problem with the command as given; the run stops before any work (exit status 2)."""


def expand_paths(paths: Iterable[str], suffixes: Iterable[str] = IMAGE_SUFFIXES
                 ) -> tuple[list[tuple[Path, Path]], list[str]]:
    """(file, its path relative to the folder given) for files as given and files with one of `suffixes`
    (images by default) found (recursively, sorted) in the folders given; and the arguments that do not exist."""
    files, missing = [], []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files.extend((p, p.relative_to(path)) for p in sorted(path.rglob("*"))
                         if p.is_file() and p.suffix.lower() in suffixes)
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


PARQUET_ROWS_PER_GROUP = 10_000


class RecordWriter:
    """JSON Lines (one object per image), or one row per face: CSV, or Parquet (typed columns, for tools
    that read a cluster's results)."""

    def __init__(self, output: OutputFile | None, stream: TextIO | None, fmt: str,
                 class_names: tuple[str, ...]) -> None:
        self.stream, self.fmt, self.class_names = stream, fmt, class_names
        self.columns = ["path", "faces", "face", "x", "y", "w", "h", "label", "score", *class_names,
                        *LANDMARK_COLUMNS]
        if fmt == "csv":
            self.csv = csv.writer(stream)
            self.csv.writerow(self.columns)
        if fmt == "parquet":
            import pyarrow as pa
            import pyarrow.parquet as pq

            types = {"path": pa.string(), "label": pa.string(), "faces": pa.int64(), "face": pa.int64(),
                     "x": pa.int64(), "y": pa.int64(), "w": pa.int64(), "h": pa.int64()}
            self.schema = pa.schema([(name, types.get(name, pa.float64())) for name in self.columns])
            self.parquet = pq.ParquetWriter(output.path, self.schema)
            self.pending: list[list] = []

    def write(self, path: str, faces: list[dict]) -> None:
        if self.fmt == "json":
            self.stream.write(json.dumps({"path": path, "faces": faces}) + "\n")
            return
        rows = self.rows(path, faces)
        if self.fmt == "csv":
            self.csv.writerows(rows)  # None is written as an empty cell
            return
        self.pending.extend(rows)
        if len(self.pending) >= PARQUET_ROWS_PER_GROUP:
            self.flush()

    def rows(self, path: str, faces: list[dict]) -> list[list]:
        if not faces:
            return [[path, 0, *[None] * (len(self.columns) - 2)]]
        rows = []
        for number, face in enumerate(faces, start=1):  # #1 first, as the annotated copy and the app number them
            box = face["box"]
            probs = [face["probabilities"][n] for n in self.class_names]
            rows.append([path, len(faces), number, box["x"], box["y"], box["w"], box["h"], face["label"],
                         face["score"], *probs, *[None if c == "" else c for c in landmark_cells(face["landmarks"])]])
        return rows

    def replay(self, path: str, record: list) -> None:
        """An earlier run's record, as it was written (JSON: its faces; CSV: its rows)."""
        if self.fmt == "json":
            self.write(path, record)
        else:
            self.csv.writerows(record)

    def flush(self) -> None:
        if self.fmt == "parquet" and self.pending:
            import pyarrow as pa

            columns = list(zip(*self.pending))
            self.parquet.write_table(pa.table({name: list(values) for name, values in zip(self.columns, columns)},
                                              schema=self.schema))
            self.pending = []

    def close(self) -> None:
        """The last rows, and Parquet's footer (a Parquet file without it does not open)."""
        if self.fmt == "parquet":
            self.flush()
            self.parquet.close()


def cmd_predict(args: argparse.Namespace) -> int:
    from fer.recognizer import EmotionRecognizer

    if args.format == "parquet" and not args.output:
        raise UsageError("--format parquet writes a file: give --output FILE.parquet")
    if args.ray is not None and args.cropped:
        raise UsageError("--ray analyses whole photos: face crops (--cropped) run here, batched, without it")
    if args.resume and (not args.output or args.format == "parquet"):
        raise UsageError("--resume continues a JSON or CSV --output file: give the one the earlier run wrote")
    files, missing = expand_paths(args.paths)
    refuse_inputs_as_outputs({"--output": args.output}, [path for path, _ in files])
    replace = args.overwrite or args.resume  # resuming replaces the output with itself plus what was missing
    annotated = AnnotatedFolder(Path(args.annotate), replace, files) if args.annotate else None
    outputs = RunOutputs(replace)
    failures, done = len(missing), 0
    outcomes = writer = earlier = None
    try:
        if args.format == "parquet":
            output, stream = outputs.file(args.output, "--output", streams_allowed=False), None
        else:
            output, stream = None, outputs.text(args.output, "--output")
        for raw in missing:
            print(f"skipped {shown(raw)}: no such file or folder", file=sys.stderr)
        recognizer = EmotionRecognizer(args.model)  # here too with workers: a bad model stops the run at once
        writer = RecordWriter(output, stream, args.format, recognizer.class_names)
        if args.resume:
            earlier, files = resume_from(Path(args.output), writer, files)
        progress = tqdm(total=len(files), unit="img", disable=len(files) < 20 or args.quiet, file=sys.stderr)
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
        writer.close()
    except Interrupted as stop:
        if writer is not None:
            with shielded():
                writer.close()
        kept = done > 0 or bool(earlier and earlier.records)
        status = stopped(stop, outputs, f"after {done} of {len(files)} file(s)", kept=kept, annotated=annotated)
        if earlier and kept:
            remove_leftovers(earlier)
        return status
    except BaseException:
        outputs.discard()
        raise
    finally:
        if outcomes is not None:
            outcomes.close()  # with workers: the pool stops (photos not started are dropped)
    outputs.finish()
    if earlier:
        remove_leftovers(earlier)
    return finished(1 if failures else 0, outputs, annotated)


def resume_from(target: Path, writer: RecordWriter,
                files: list[tuple[Path, Path]]) -> tuple[EarlierResults, list[tuple[Path, Path]]]:
    """Copy the earlier runs' complete records into the new output; the files still to do."""
    try:
        earlier = earlier_results(target, writer.fmt, writer.columns)
    except ResumeError as err:
        raise UsageError(str(err)) from err
    for path, record in earlier.records:
        writer.replay(path, record)
    remaining = [key for key in files if shown(key[0]) not in earlier.paths]
    left = f" (with {len(earlier.leftovers)} file(s) killed runs left)" if earlier.leftovers else ""
    print(f"resuming {shown(target)}: {len(earlier.records)} photo(s) recorded by earlier runs{left}; "
          f"{len(remaining)} of {len(files)} to do", file=sys.stderr)
    return earlier, remaining


def remove_leftovers(earlier: EarlierResults) -> None:
    """Killed runs' staged files, now merged into the output."""
    for leftover in earlier.leftovers:
        leftover.unlink(missing_ok=True)


def photo_outcomes(args: argparse.Namespace, recognizer, files: list[tuple[Path, Path]],
                   annotated: AnnotatedFolder | None) -> Iterator[tuple[tuple[Path, Path], PhotoOutcome]]:
    """(file, what became of it) in input order: face crops in batches here; photos here or, with more
    than one worker, on a pool of processes (fer.parallel) that gives the same results."""
    if args.cropped:
        yield from crop_outcomes(recognizer, files, args.tta, annotated, args.overwrite)
        return
    jobs = [PhotoJob(path, args.min_confidence, args.tta, annotated.targets[(path, relative)] if annotated else None,
                     args.overwrite) for path, relative in files]
    if args.ray is not None:  # "" (the flag alone): a Ray started here; else the cluster at that address
        from fer.cluster import ray_photo_outcomes

        outcomes = ray_photo_outcomes(jobs, args.model, args.ray or None, actors=args.workers)
        try:
            yield from zip(files, outcomes)
        finally:
            outcomes.close()
        return
    # A worker first starts Python and loads its own model: by default one per core, but no more than one
    # per PHOTOS_PER_WORKER photos, so a handful of photos runs here at once.
    workers = min(args.workers or min(default_workers(), len(files) // PHOTOS_PER_WORKER), len(files))
    if workers <= 1:
        for key, job in zip(files, jobs):
            yield key, analyse_photo_job(job, recognizer)
        return
    pool = WorkerPool(workers, args.model)
    try:
        yield from zip(files, pool.photos(jobs))
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
    """One video file or camera (`--output`, `--csv`), or many files into a folder (`--output-dir`)."""
    many = len(args.inputs) > 1 or Path(args.inputs[0]).is_dir() or args.output_dir is not None
    if not many:
        if args.ray is not None or args.workers is not None:
            raise UsageError("--workers and --ray spread many videos (each one whole) over processes: "
                             "give several videos or a folder, and --output-dir")
        args.input = args.inputs[0]
        return cmd_video_one(args)
    if args.output is not None or args.csv is not None or args.max_frames is not None:
        raise UsageError("with several videos, give --output-dir (each video gets NAME.mp4 and NAME.csv there); "
                         "--output, --csv and --max-frames are for one video")
    if args.output_dir is None:
        raise UsageError("several videos need --output-dir: each gets its annotated NAME.mp4 and NAME.csv there")
    return cmd_video_many(args)


def cmd_video_many(args: argparse.Namespace) -> int:
    """Each video whole, by one process (here, N workers, or Ray actors); its two outputs appear when it is
    done. Videos whose outputs exist are skipped, so running the command again finishes a stopped run."""
    from fer.classifier import default_model_path
    from fer.outputs import abandoned_stagings
    from fer.recognizer import EmotionRecognizer

    files, missing = expand_paths(args.inputs, VIDEO_SUFFIXES)
    folder = Path(args.output_dir)
    check_writable_folder(folder, "--output-dir")
    targets = video_targets(files, folder)
    refuse_inputs_as_outputs([("--output-dir", t) for pair in targets.values() for t in pair], [p for p, _ in files])
    done = [path for path, pair in targets.items() if not args.overwrite and all(t.exists() for t in pair)]
    # One of a video's two outputs alone: a run stopped between the two; the video is done again, whole.
    jobs = [VideoJob(path, *targets[path], args.min_confidence, args.smoothing, args.detect_every, args.min_face,
                     args.overwrite or any(t.exists() for t in targets[path])) for path, _ in files if path not in done]
    for raw in missing:
        print(f"skipped {shown(raw)}: no such file or folder", file=sys.stderr)
    if done:
        print(f"{len(done)} of {len(files)} video(s) have their outputs in {shown(folder)} from an earlier run: "
              "skipped (--overwrite does them again)", file=sys.stderr)
    model_path = str(args.model or default_model_path("live"))
    recognizer = EmotionRecognizer(model_path)  # a bad model stops the run here, before any worker starts
    failures, finished_videos, outcomes = len(missing), 0, None
    progress = tqdm(total=len(jobs), unit="video", disable=args.quiet or len(jobs) < 2, file=sys.stderr)
    try:
        outcomes = video_outcomes(args, recognizer, model_path, jobs)
        for job, outcome in zip(jobs, outcomes):
            with deferred():
                progress.update(1)
                finished_videos += 1
                failures += report_video(job, outcome)
    except Interrupted as stop:
        progress.close()
        print(f"interrupted by {stop.name} after {finished_videos} of {len(jobs)} video(s): each finished video "
              "has its outputs, the others none; run the same command again to do the rest", file=sys.stderr)
        return stop.exit_status
    finally:
        if outcomes is not None:
            with shielded():
                outcomes.close()
        for job in jobs[finished_videos:]:  # what stopped workers or actors left half-written
            for target in (job.video_to, job.timeline_to):
                for leftover in abandoned_stagings(target):
                    leftover.unlink(missing_ok=True)
    progress.close()
    return 1 if failures else 0


def video_outcomes(args: argparse.Namespace, recognizer, model_path: str,
                   jobs: list[VideoJob]) -> Iterator[VideoOutcome]:
    """Each job's outcome in order: on Ray, on a pool of workers (by default one per core), or here."""
    if args.ray is not None:
        from fer.cluster import ray_video_outcomes

        yield from ray_video_outcomes(jobs, model_path, args.ray or None, actors=args.workers)  # closed with us
        return
    workers = min(args.workers or default_workers(), len(jobs))
    if workers <= 1:
        for job in jobs:
            yield annotate_video_job(job, recognizer)
        return
    pool = WorkerPool(workers, model_path)
    try:
        yield from pool.videos(jobs)
    finally:
        pool.close()


def report_video(job: VideoJob, outcome: VideoOutcome) -> int:
    """One line for a finished video (stdout: it is the run's result) or its problem (stderr); 1 if it failed."""
    if outcome.problem:
        tqdm.write(f"skipped {shown(job.path)}: {outcome.problem}", file=sys.stderr)
        return 1
    video, timeline = outcome.placed
    tqdm.write(f"{shown(job.path)}: {outcome.frames} frames, {outcome.faces} face(s) followed, "
               f"{outcome.readings} face readings -> {shown(video)}, {shown(timeline)}")
    for target, placed in zip((job.video_to, job.timeline_to), outcome.placed):
        if placed != target:
            tqdm.write(name_taken_note(target, placed), file=sys.stderr)
    if outcome.missing_frames:
        tqdm.write(f"error: {shown(job.path)} ended {outcome.missing_frames:,} frames before the count its "
                   "container lists: the file is truncated or damaged (its outputs hold the frames read)",
                   file=sys.stderr)
        return 1
    return int(outcome.placed != (job.video_to, job.timeline_to))


def cmd_video_one(args: argparse.Namespace) -> int:
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
                    write_frame(drawn, info, timeline, table, writer)
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
    faces = timeline.faces_followed()
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
    predict.add_argument("--format", choices=["json", "csv", "parquet"], default="json",
                         help="json: one object per line per image; csv or parquet (needs --output): one row per face")
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
    predict.add_argument("--resume", action="store_true",
                         help="finish what an earlier run into the same --output left undone (stopped, killed or "
                              "crashed): photos it recorded are kept and skipped, the rest are analysed")
    predict.add_argument("--ray", nargs="?", const="", metavar="ADDRESS",
                         help="run on Ray (pip install 'fer-app[cluster]'): the cluster at ADDRESS ('auto': the one "
                              "this machine is part of), or without ADDRESS a Ray started here on every core; "
                              "--workers then counts Ray actors")
    predict.add_argument("--quiet", action="store_true", help="no progress bar")
    predict.set_defaults(func=cmd_predict)
    pcsv = sub.add_parser("predict-csv", help="classify each row of a Kaggle-style CSV with a pixels column")
    pcsv.add_argument("csv", help="CSV with a 'pixels' column (e.g. fer2013.csv, test.csv)")
    pcsv.add_argument("--output", help="write predictions here instead of stdout")
    pcsv.add_argument("--overwrite", action="store_true", help=OVERWRITE_HELP)
    pcsv.add_argument("--model", help=MODEL_HELP)
    pcsv.set_defaults(func=cmd_predict_csv)
    video = sub.add_parser("video", help="annotate video files or a camera frame by frame, as the live page does")
    video.add_argument("inputs", nargs="+", metavar="INPUT",
                       help="a video file (MP4, AVI, MOV, WebM...) or a camera number such as 0; or several "
                            "files and folders (searched recursively) with --output-dir")
    video.add_argument("--output", help="write the annotated video here (MP4, H.264)")
    video.add_argument("--csv", help="write the timeline here (one row per face per frame) instead of stdout")
    video.add_argument("--output-dir", metavar="DIR",
                       help="for many videos: each gets its annotated NAME.mp4 and timeline NAME.csv here, written "
                            "when it is done; videos whose outputs exist are skipped, so a stopped run is finished "
                            "by running it again")
    video.add_argument("--workers", type=number_in(int, 1), metavar="N",
                       help=f"with --output-dir: videos annotated at once, one process and model each (default: "
                            f"every core, {default_workers()} here)")
    video.add_argument("--ray", nargs="?", const="", metavar="ADDRESS",
                       help="with --output-dir: annotate the videos on Ray (see predict --ray); the folder must be "
                            "one every machine of the cluster sees")
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
    except (ModelFileError, UsageError, OutputError, ClusterError) as err:
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
