"""`fer video INPUT...`: video files or a camera annotated frame by frame, as the live page does."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

from tqdm import tqdm

from fer.commands.common import (
    CONFIDENCE_HELP,
    MIN_CONFIDENCE,
    OVERWRITE_HELP,
    RunOutputs,
    UsageError,
    expand_paths,
    finished,
    name_taken_note,
    number_in,
    refuse_misnamed,
    stopped,
)
from fer.interrupts import Interrupted, deferred, shielded
from fer.outputs import OutputError, OutputFile, check_writable_folder, refuse_inputs_as_outputs, shown
from fer.parallel import WorkerPool, default_workers
from fer.settings import DEFAULTS, MAX_SMOOTHING
from fer.spreadsheet import SafeCsvWriter
from fer.video_jobs import (
    VIDEO_SUFFIXES,
    VideoJob,
    VideoOutcome,
    annotate_video_job,
    damaged_note,
    source_tag,
    video_targets,
    write_frame,
)


def add_parser(sub: argparse._SubParsersAction) -> None:
    video = sub.add_parser("video", help="annotate video files or a camera frame by frame, as the live page does")
    video.add_argument("inputs", nargs="+", metavar="INPUT",
                       help="a video file (MP4, AVI, MOV, WebM...) or a camera number such as 0; or several "
                            "files and folders (searched recursively) with --output-dir")
    video.add_argument("--output", help="write the annotated video here (MP4, H.264)")
    video.add_argument("--csv", help="write the timeline here (one row per face per frame) instead of stdout")
    video.add_argument("--output-dir", metavar="DIR",
                       help="for many videos: each gets its annotated NAME.mp4 and timeline NAME.csv here, written "
                            "when it is done; a video whose outputs an earlier run finished is skipped, so a stopped "
                            "run is finished by running it again (another video with the same name gets NAME-2)")
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


def cmd_video_one(args: argparse.Namespace) -> int:
    """Annotate a video file (or a camera) frame by frame, as the live page does; write the annotated MP4
    and the timeline CSV (one row per face per frame) as the frames go."""
    from fer.classifier import default_model_path
    from fer.recognizer import EmotionRecognizer
    from fer.video import Timeline, source_annotator
    from fer.video_io import Mp4Writer, VideoError, VideoSource

    refuse_inputs_as_outputs({"--output": args.output, "--csv": args.csv}, [Path(args.input)])
    refuse_misnamed(args.output, "--output", "H.264 MP4", (".mp4", ".m4v", ".mov"))
    refuse_misnamed(args.csv, "--csv", "CSV", (".csv",))
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
        table = SafeCsvWriter(timeline_stream)
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
    """The closing line of `fer video`, and its exit status (1 when the file ended before its last frame or
    held damaged frames)."""
    faces = timeline.faces_followed()
    print(f"{len(timeline)} frames, {faces} face(s) followed, {len(timeline.rows)} face readings"
          + (f"; wrote {shown(args.output)}" if args.output and len(timeline) else ""), file=sys.stderr)
    if source.damaged_frames:
        print(f"error: {damaged_note(shown(source.name), source.damaged_frames, source.frames_read)}",
              file=sys.stderr)
    if stopped_early:
        print(f"error: {shown(source.name)} ended at frame {source.frames_read:,} of the {source.frame_count:,} "
              "its container lists: the file is truncated or damaged (the outputs hold the frames read)",
              file=sys.stderr)
    return finished(1 if stopped_early or source.damaged_frames else 0, outputs)


def cmd_video_many(args: argparse.Namespace) -> int:
    """Each video whole, by one process (here, N workers, or Ray actors); its two outputs appear when it is
    done. Videos whose outputs exist are skipped, so running the command again finishes a stopped run."""
    from fer.classifier import default_model_path
    from fer.outputs import abandoned_stagings
    from fer.recognizer import EmotionRecognizer

    files, skipped = expand_paths(args.inputs, VIDEO_SUFFIXES)
    folder = Path(args.output_dir)
    check_writable_folder(folder, "--output-dir")
    tags = {path: source_tag(path) for path, _ in files}
    targets, done = video_targets(files, folder, tags, args.overwrite)
    refuse_inputs_as_outputs([("--output-dir", t) for pair in targets.values() for t in pair], [p for p, _ in files])
    # One of a video's two outputs alone: a run stopped between the two; the video is done again, whole.
    jobs = [VideoJob(path, *targets[path], args.min_confidence, args.smoothing, args.detect_every, args.min_face,
                     args.overwrite or any(t.exists() for t in targets[path]), tags[path])
            for path, _ in files if path not in done]
    for line in skipped:
        print(line, file=sys.stderr)
    if done:
        print(f"{len(done)} of {len(files)} video(s) have their outputs in {shown(folder)} from an earlier run: "
              "skipped (--overwrite does them again)", file=sys.stderr)
    model_path = str(args.model or default_model_path("live"))
    recognizer = EmotionRecognizer(model_path)  # a bad model stops the run here, before any worker starts
    failures, finished_videos, outcomes = len(skipped), 0, None
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
    if outcome.damaged_frames:
        tqdm.write(f"error: {damaged_note(shown(job.path), outcome.damaged_frames, outcome.frames)}",
                   file=sys.stderr)
    if outcome.missing_frames:
        tqdm.write(f"error: {shown(job.path)} ended {outcome.missing_frames:,} frames before the count its "
                   "container lists: the file is truncated or damaged (its outputs hold the frames read)",
                   file=sys.stderr)
    if outcome.missing_frames or outcome.damaged_frames:
        return 1
    return int(outcome.placed != (job.video_to, job.timeline_to))
