"""Many video files, each annotated whole by one process: `fer video A.mp4 B.mp4 --output-dir OUT`.

One video is one job: its annotated MP4 and its timeline CSV are staged while it runs and take their names
only when the whole video is done, so an output that exists is finished, and a stopped or killed run is
resumed by running it again (videos whose outputs exist are skipped). The frames go through exactly what
`fer video FILE` runs (`fer.video.source_annotator`), in whichever process (here, a worker of
`fer.parallel`, or a Ray actor of `fer.cluster`) runs the job, so the results do not depend on where.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from fer.settings import DEFAULTS

VIDEO_SUFFIXES = frozenset({".mp4", ".mov", ".m4v", ".avi", ".mkv", ".webm", ".mpg", ".mpeg", ".wmv", ".flv"})


@dataclass(frozen=True)
class VideoJob:
    path: Path
    video_to: Path  # the annotated MP4
    timeline_to: Path  # the timeline CSV (one row per face per frame)
    min_confidence: float = DEFAULTS.min_confidence
    smoothing: float = DEFAULTS.smoothing
    detect_every: int = DEFAULTS.detect_every_n_frames
    min_face: int = DEFAULTS.min_face
    overwrite: bool = False  # replace outputs that exist (else a name taken meanwhile gives NAME-2)


@dataclass(frozen=True)
class VideoOutcome:
    frames: int = 0
    faces: int = 0  # faces followed
    readings: int = 0  # timeline rows
    problem: str | None = None  # why the video gave no outputs (unreadable, stopped)
    missing_frames: int = 0  # frames the container lists but the file did not hold (truncated)
    placed: tuple[Path, ...] = ()  # where the outputs went (another name when another run took theirs)


def video_targets(files: list[tuple[Path, Path]], folder: Path) -> dict[Path, tuple[Path, Path]]:
    """Each video's (MP4, CSV) under `folder`, mirroring the input's relative folders: `clip.mp4` gives
    `clip.mp4` and `clip.csv`; two inputs with one name get `-2`, `-3`..."""
    targets, used = {}, set()
    for path, relative in files:
        stem, n = relative.parent / relative.stem, 1
        while (name := stem if n == 1 else stem.with_name(f"{stem.name}-{n}")) in used:
            n += 1
        used.add(name)
        targets[path] = (folder / f"{name}.mp4", folder / f"{name}.csv")
    return targets


def annotate_video_job(job: VideoJob, recognizer, stop: Callable[[], bool] = lambda: False) -> VideoOutcome:
    """Annotate one video into its two outputs, which appear only when it is done (none if it fails or
    `stop()` turns true between two frames)."""
    from fer.outputs import OutputError, OutputFile
    from fer.spreadsheet import SafeCsvWriter
    from fer.video import Timeline, source_annotator
    from fer.video_io import Mp4Writer, VideoError, VideoSource

    try:
        source = VideoSource(str(job.path))
    except VideoError as err:
        return VideoOutcome(problem=str(err))
    try:
        job.video_to.parent.mkdir(parents=True, exist_ok=True)
        video = OutputFile(job.video_to, "--output-dir", job.overwrite, streams_allowed=False, refuse_existing=False)
        table_file = OutputFile(job.timeline_to, "--output-dir", job.overwrite, refuse_existing=False)
    except (OSError, OutputError) as err:
        return VideoOutcome(problem=f"cannot write its outputs: {getattr(err, 'strerror', None) or err}")
    annotator = source_annotator(recognizer, is_camera=False, min_confidence=job.min_confidence,
                                 smoothing=job.smoothing, detect_every=job.detect_every, min_face=job.min_face)
    timeline = Timeline(recognizer.class_names)
    writer = Mp4Writer(video.path)
    try:
        with table_file.open_text() as stream:
            table = SafeCsvWriter(stream)
            table.writerow(timeline.columns)
            for bgr, t in source.frames():
                if stop():
                    raise InterruptedError("stopped before the end")
                drawn, info = annotator.annotate(bgr, t)
                write_frame(drawn, info, timeline, table, writer)
            writer.close()
        placed = (video.commit(), table_file.commit())
    except BaseException as err:  # no half outputs, also after Ctrl+C in a one-process run
        video.discard()
        table_file.discard()
        if isinstance(err, (VideoError, InterruptedError, OSError)):
            return VideoOutcome(len(timeline), problem=str(err))
        raise
    return VideoOutcome(len(timeline), timeline.faces_followed(), len(timeline.rows),
                        missing_frames=source.shortfall(), placed=placed)


def write_frame(drawn, info, timeline, table, writer) -> None:
    """One annotated frame into the timeline, its CSV rows and the MP4 (`fer video`, one file or many)."""
    before = len(timeline.rows)
    timeline.add(info)
    table.writerows(timeline.rows[before:])
    if writer:
        writer.write(drawn, info.t)
