"""Many video files, each annotated whole by one process: `fer video A.mp4 B.mp4 --output-dir OUT`.

One video is one job: its annotated MP4 and its timeline CSV are staged while it runs and take their names
only when the whole video is done, so an output that exists is finished, and a stopped or killed run is
resumed by running it again (videos whose outputs exist are skipped). Each MP4 records which video it
annotates (full path, size, modification time), so another video with the same name is never taken for
a finished one: it gets its own outputs, `NAME-2.mp4` and `NAME-2.csv`. The frames go through exactly what
`fer video FILE` runs (`fer.video.source_annotator`), in whichever process (here, a worker of
`fer.parallel`, or a Ray actor of `fer.cluster`) runs the job, so the results do not depend on where.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from fer.outputs import shown
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
    source_tag: str | None = None  # what the MP4 records of the video (`source_tag`)


@dataclass(frozen=True)
class VideoOutcome:
    frames: int = 0
    faces: int = 0  # faces followed
    readings: int = 0  # timeline rows
    problem: str | None = None  # why the video gave no outputs (unreadable, stopped)
    missing_frames: int = 0  # frames the container lists but the file did not hold (truncated)
    damaged_frames: int = 0  # frames decoded from damaged data (patched up by the decoder)
    placed: tuple[Path, ...] = ()  # where the outputs went (another name when another run took theirs)


def damaged_note(name: str, damaged: int, read: int) -> str:
    """The one line that says a video's data was damaged, for the CLI and the Video page alike."""
    return (f"{name}: {damaged:,} of the {read:,} frames read were decoded from damaged data (the decoder "
            "patched them up from their neighbours), so their results may be wrong")


def source_tag(path: Path) -> str:
    """What an annotated MP4 records of the video it annotates, to tell it from another with the same name."""
    info = path.stat()
    return f"fer video of {shown(path.resolve())} ({info.st_size} bytes, modified {info.st_mtime_ns})"


def recorded_source(mp4: Path) -> str | None:
    """The `source_tag` an annotated MP4 recorded (None: written before MP4s recorded one, or unreadable)."""
    import av

    try:
        with av.open(str(mp4)) as container:
            return container.metadata.get("comment")
    except (av.error.FFmpegError, OSError, UnicodeDecodeError):
        return None


def video_targets(files: list[tuple[Path, Path]], folder: Path, tags: dict[Path, str], overwrite: bool = False
                  ) -> tuple[dict[Path, tuple[Path, Path]], list[Path]]:
    """Each video's (MP4, CSV) under `folder`, mirroring the input's relative folders (`clip.mp4` gives
    `clip.mp4` and `clip.csv`), and the videos an earlier run finished. A name taken by another input of
    this run, or by another video's finished MP4 (`tags`: each video's `source_tag`), moves on to `-2`,
    `-3`...; with `overwrite`, only the first."""
    targets, done, used = {}, [], set()
    for path, relative in files:
        stem, n = relative.parent / relative.stem, 0
        while True:
            n += 1
            name = stem if n == 1 else stem.with_name(f"{stem.name}-{n}")
            mp4, table = folder / f"{name}.mp4", folder / f"{name}.csv"
            if name in used:
                continue
            if overwrite or not mp4.exists():
                break
            recorded = recorded_source(mp4)
            if recorded in (None, tags[path]):  # this video's outputs (or ones too old to say)
                if table.exists():
                    done.append(path)
                break
        used.add(name)
        targets[path] = (mp4, table)
    return targets, done


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
    writer = Mp4Writer(video.path, comment=job.source_tag)
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
                        missing_frames=source.shortfall(), damaged_frames=source.damaged_frames, placed=placed)


def write_frame(drawn, info, timeline, table, writer) -> None:
    """One annotated frame into the timeline, its CSV rows and the MP4 (`fer video`, one file or many)."""
    before = len(timeline.rows)
    timeline.add(info)
    table.writerows(timeline.rows[before:])
    if writer:
        writer.write(drawn, info.t)
