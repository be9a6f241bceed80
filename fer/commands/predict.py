"""`fer predict PATH...`: the faces in photos (or face crops), with their expressions."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path

from tqdm import tqdm

from fer.commands.common import (
    CONFIDENCE_HELP,
    MIN_CONFIDENCE,
    MODEL_HELP,
    OVERWRITE_HELP,
    AnnotatedFolder,
    RunOutputs,
    UsageError,
    expand_paths,
    finished,
    name_taken_note,
    number_in,
    stopped,
)
from fer.commands.records import FORMATS, RecordWriter, output_format
from fer.images import ImageError, load_rgb
from fer.interrupts import Interrupted, deferred, shielded
from fer.outputs import refuse_inputs_as_outputs, shown
from fer.parallel import PhotoJob, PhotoOutcome, WorkerPool, analyse_photo_job, default_workers, outcome_with_copy
from fer.preprocessing import TTA_MODES
from fer.resume import EarlierResults, ResumeError, earlier_results
from fer.settings import DEFAULTS

CROP_BATCH = 256  # --cropped classifies this many files per model call
PHOTOS_PER_WORKER = 8  # fewer photos than this per core: no worker processes (see photo_outcomes)


def add_parser(sub: argparse._SubParsersAction) -> None:
    predict = sub.add_parser("predict", help="classify the faces in image files and folders")
    predict.add_argument("paths", nargs="+", metavar="PATH", help="image files or folders (searched recursively)")
    predict.add_argument("--cropped", action="store_true", help="each image is one face crop: skip detection")
    predict.add_argument("--output", help="write results here instead of stdout, in the format its name says: "
                                           ".json (one JSON document), .jsonl (JSON Lines), .csv or .parquet (a row "
                                           "per face)")
    predict.add_argument("--format", choices=FORMATS,
                         help="for stdout or an output whose name says no format (default: jsonl, one JSON object "
                              "per image per line); refused when it contradicts the output's name")
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


def cmd_predict(args: argparse.Namespace) -> int:
    from fer.recognizer import EmotionRecognizer

    args.format = output_format(args.output, args.format)
    if args.format == "parquet" and not args.output:
        raise UsageError("--format parquet writes a file: give --output FILE.parquet")
    if args.ray is not None and args.cropped:
        raise UsageError("--ray analyses whole photos: face crops (--cropped) run here, batched, without it")
    if args.resume and (not args.output or args.format == "parquet"):
        raise UsageError("--resume continues a JSON, JSON Lines or CSV --output file: give the one the earlier run "
                         "wrote")
    files, skipped = expand_paths(args.paths)
    refuse_inputs_as_outputs({"--output": args.output}, [path for path, _ in files])
    replace = args.overwrite or args.resume  # resuming replaces the output with itself plus what was missing
    annotated = AnnotatedFolder(Path(args.annotate), replace, files) if args.annotate else None
    outputs = RunOutputs(replace)
    failures, done = len(skipped), 0
    outcomes = writer = earlier = None
    try:
        if args.format == "parquet":
            output, stream = outputs.file(args.output, "--output", streams_allowed=False), None
        else:
            output, stream = None, outputs.text(args.output, "--output")
        for line in skipped:
            print(line, file=sys.stderr)
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
    remaining = [key for key in files if writer.recorded_as(shown(key[0])) not in earlier.paths]
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
