"""Reading frames from a video file or a camera, and writing annotated frames as an MP4 that browsers play.

Files (and uploads held in memory) are decoded by PyAV, which also counts the frames whose data was
damaged: libav conceals the damage and carries on, and a frame it patched up from its neighbours would
otherwise be analysed as if it were whole. Cameras are read with OpenCV. Annotated frames are written as
H.264 through PyAV, to a file or to memory (the live page's recording is never written to disk).
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import threading
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
import av.logging
import cv2
import numpy as np

TIME_BASE = Fraction(1, 1000)  # timestamps in milliseconds: live frames do not come at a fixed rate

# libav's errors reach Python, where a video being decoded counts them (`EncodedVideo.damaged_frames`);
# any other libav message is dropped, never printed: problems are reported as `VideoError`s and counts.
av.logging.set_level(av.logging.ERROR)
logging.getLogger("libav").addHandler(logging.NullHandler())
logging.getLogger("libav").propagate = False


class VideoError(Exception):
    """A video file or camera that cannot be opened or read."""


class VideoSource:
    """Frames of a video file, or of a camera given by its number ("0" is the first camera).

    A file is decoded by PyAV (`EncodedVideo`), a camera read by OpenCV. OpenCV and the libav inside it
    print their own warnings ("can't open camera by index") straight to stderr; here every problem is a
    `VideoError`, `shortfall()` or `damaged_frames` instead, so those lines are silenced."""

    def __init__(self, source: str | int | os.PathLike) -> None:
        self.is_camera = isinstance(source, int) or str(source).isdigit()
        self.name = f"camera {source}" if self.is_camera else str(source)
        self._file = None
        if not self.is_camera:
            if not Path(source).is_file():
                raise VideoError(f"{self.name}: no such file")
            self._file = EncodedVideo(Path(source), self.name)
            self.fps, self.frame_count = self._file.fps, self._file.frame_count
            return
        os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # AV_LOG_QUIET; read when libav first loads
        with opencv_quiet():
            self._capture = cv2.VideoCapture(int(source))
        if not self._capture.isOpened():
            raise VideoError(f"{self.name} could not be opened as a video")
        fps = self._capture.get(cv2.CAP_PROP_FPS)
        self.fps = fps if 1 <= fps <= 240 else 30.0
        self.frame_count = None
        self._camera_frames = 0

    @property
    def frames_read(self) -> int:
        return self._file.frames_read if self._file else self._camera_frames

    @property
    def damaged_frames(self) -> int:
        """Frames whose data libav found damaged and patched up (0 for a camera)."""
        return self._file.damaged_frames if self._file else 0

    def frames(self) -> Iterator[tuple[np.ndarray, float | None]]:
        """(BGR frame, its time in seconds) for a file; the time is None for a camera (use the clock).
        A file's times are its own timestamps (phones record at a variable rate), else index / fps."""
        if self._file:
            yield from self._file.frames()
            return
        try:
            while True:
                with opencv_quiet():
                    ok, frame = self._capture.read()
                if not ok:
                    if self._camera_frames == 0:
                        raise VideoError(f"{self.name} holds no readable frame")
                    return
                self._camera_frames += 1
                yield frame, None
        finally:
            self._capture.release()

    def shortfall(self) -> int:
        """After reading to the end: how many of the frames the file's container lists could not be read."""
        return self._file.shortfall() if self._file else 0


def later_than(t: float, last_t: float) -> float:
    """A frame's time, at least 1 ms after the previous frame's (a file may repeat or reorder stamps)."""
    return max(t, last_t + 1e-3)


def missing_frames(frame_count: int | None, frames_read: int) -> int:
    """Frames a container lists that could not be read (a truncated or damaged file); containers that
    only estimate their count (from duration and rate) are allowed to be off by 1%."""
    if frame_count is None:
        return 0
    missing = frame_count - frames_read
    return missing if missing > max(2, frame_count // 100) else 0


class EncodedVideo:
    """Frames of a video file, or of one held in memory (an upload: nothing is written to disk), decoded
    by PyAV: BGR frames with their own timestamps, turned upright as the file's rotation says.
    `damaged_frames` counts the frames during whose decoding libav reported damaged data."""

    is_camera = False

    def __init__(self, data: bytes | Path, name: str = "the video") -> None:
        self.name = name
        self.damaged_frames = 0
        try:
            self._container = av.open(str(data) if isinstance(data, Path) else io.BytesIO(data), mode="r")
            self._stream = self._container.streams.video[0]
        except (av.error.FFmpegError, IndexError, ValueError, UnicodeDecodeError) as err:
            raise VideoError(f"{name} could not be opened as a video") from err
        self._stream.thread_type = "AUTO"
        rate = self._stream.average_rate or self._stream.guessed_rate
        self.fps = float(rate) if rate and 1 <= rate <= 240 else 30.0
        count = self._stream.frames
        if not count and self._container.duration:  # WebM and others: estimated, as OpenCV does
            count = round(self._container.duration / av.time_base * self.fps)
        self.frame_count = count or None
        self.frames_read = 0

    def frames(self) -> Iterator[tuple[np.ndarray, float]]:
        first_t, last_t = None, -1.0
        # libav reports damaged data as error messages (its decoder threads too, hence not only this
        # thread's); a frame during whose decoding one came counts as damaged.
        seen = 0
        try:
            with av.logging.Capture(local=False) as errors:
                for frame in self._container.decode(self._stream):
                    image = frame.to_ndarray(format="bgr24")
                    turns = (frame.rotation // 90) % 4 if frame.rotation else 0
                    if turns:
                        image = np.ascontiguousarray(np.rot90(image, turns))
                    self.frames_read += 1
                    if len(errors) > seen:
                        self.damaged_frames += 1
                        seen = len(errors)
                    stamp = frame.time
                    if stamp is not None and first_t is None:
                        first_t = stamp
                    last_t = later_than(stamp - first_t if stamp is not None else (self.frames_read - 1) / self.fps,
                                        last_t)
                    yield image, last_t
        except av.error.FFmpegError as err:  # damaged data part-way: what was read stands (see shortfall)
            if self.frames_read == 0:
                raise VideoError(f"{self.name} holds no readable frame") from err
        finally:
            # Decoder threads still working on damaged data log errors through PyAV's callback, which needs
            # the GIL; PyAV frees the decoder holding the GIL and waits for those threads: a deadlock that
            # freezes the whole process. Flushing first (without the GIL) lets them finish.
            self._stream.codec_context.flush_buffers()
            self._container.close()
        if self.frames_read == 0:
            raise VideoError(f"{self.name} holds no readable frame")

    def shortfall(self) -> int:
        return missing_frames(self.frame_count, self.frames_read)


@contextlib.contextmanager
def opencv_quiet() -> Iterator[None]:
    """OpenCV's own log lines off for the duration (it has one process-wide level)."""
    previous = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    try:
        yield
    finally:
        cv2.utils.logging.setLogLevel(previous)


class Mp4Writer:
    """H.264 in MP4 (libx264; MPEG-4 part 2 where a PyAV build lacks it), to a path or a binary stream.
    The file is created, and the frame size taken (cropped to even sides, as H.264 needs), at the first
    frame: a video that yields none leaves no empty file behind."""

    def __init__(self, target: str | os.PathLike | io.BufferedIOBase, crf: int = 23, comment: str | None = None
                 ) -> None:
        """`comment`: stored in the file's metadata (`fer.video_jobs` records there which video it annotates)."""
        self._target = target if isinstance(target, io.IOBase) else str(target)
        self._comment = comment
        self._container = None
        self._crf = crf
        self._stream = None
        self._last_pts = -1
        self.frames = 0

    def write(self, bgr: np.ndarray, t: float) -> None:
        """Add one frame shown at `t` seconds; a frame not later than the previous one is shown 1 ms later."""
        height, width = bgr.shape[0] // 2 * 2, bgr.shape[1] // 2 * 2
        if self._stream is None:
            self._stream = self._open_stream(width, height)
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(bgr[: self._stream.height, : self._stream.width]),
                                           format="bgr24")
        frame.pts = self._last_pts = max(round(t / TIME_BASE), self._last_pts + 1)
        frame.time_base = TIME_BASE
        for packet in self._stream.encode(frame):
            self._container.mux(packet)
        self.frames += 1

    def close(self) -> None:
        if self._stream is None:
            return
        for packet in self._stream.encode():
            self._container.mux(packet)
        self._container.close()

    def _open_stream(self, width: int, height: int):
        self._container = av.open(self._target, mode="w", format="mp4")
        if self._comment:
            self._container.metadata["comment"] = self._comment
        try:
            stream = self._container.add_stream("libx264", rate=30)
            stream.options = {"preset": "veryfast", "tune": "zerolatency", "crf": str(self._crf)}
        except (av.error.FFmpegError, ValueError):  # a PyAV build without libx264
            stream = self._container.add_stream("mpeg4", rate=30)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.time_base = TIME_BASE
        stream.codec_context.time_base = TIME_BASE  # the encoder too: at 1/30 s, frames 10 ms apart collide
        return stream


class ClipRecorder:
    """Records annotated frames into an in-memory MP4, up to `max_seconds`; thread-safe (the video thread
    writes, the page finishes). Nothing touches the disk; the clip is gone when the recorder is."""

    def __init__(self, max_seconds: float = 120.0, crf: int = 28) -> None:
        self.max_seconds = max_seconds
        self._buffer = io.BytesIO()
        self._writer = Mp4Writer(self._buffer, crf=crf)
        self._lock = threading.Lock()
        self._first_t: float | None = None
        self.seconds = 0.0
        self.full = False
        self.failed = False  # set by a caller whose `add` raised: the clip so far is kept, nothing more is added
        self._data: bytes | None = None

    def add(self, bgr: np.ndarray, t: float) -> None:
        with self._lock:
            if self._data is not None or self.full:
                return
            self._first_t = t if self._first_t is None else self._first_t
            self.seconds = t - self._first_t
            if self.seconds > self.max_seconds:
                self.full = True
                return
            self._writer.write(bgr, self.seconds)

    @property
    def frames(self) -> int:
        return self._writer.frames

    def finish(self) -> bytes:
        """The MP4 so far (empty bytes when no frame came); later frames are ignored."""
        with self._lock:
            if self._data is None:
                try:
                    self._writer.close()  # with no frame, nothing was written: empty bytes
                    self._data = self._buffer.getvalue()
                except (av.error.FFmpegError, ValueError, OSError):  # a recording that broke: no clip
                    self._data = b""
                self._buffer = io.BytesIO()
            return self._data
