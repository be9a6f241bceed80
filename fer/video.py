"""Video, one frame at a time: the pipeline the live page, `python -m fer video` and library users share.

    annotator = VideoAnnotator(EmotionRecognizer())
    for bgr in frames:                      # OpenCV/webcam order
        drawn, info = annotator.annotate(bgr)

Each frame: the detector runs on every few frames (the boxes in between are the last ones found),
each face is classified and followed from frame to frame, its probabilities are smoothed over time,
and the boxes, labels and the processing rate are drawn. Per-frame predictions jitter (a face between
"neutral" and "sad" flips every frame): each followed face keeps an exponential moving average of its
probabilities, so labels change only when the expression does. `Timeline` keeps every face of every
frame for a chart or a CSV.
"""

from __future__ import annotations

import bisect
import math
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import TextIO

import numpy as np

from fer.detection import Box, overlap_area
from fer.drawing import draw_fps, draw_results, face_tag
from fer.recognizer import EmotionRecognizer, FaceResult
from fer.settings import DEFAULTS
from fer.spreadsheet import SafeCsvWriter


def iou(a: Box, b: Box) -> float:
    inter = overlap_area(a.corners(), b.corners())
    union = a.area() + b.area() - inter
    return inter / union if union > 0 else 0.0


@dataclass
class Track:
    track_id: int
    box: Box
    probabilities: np.ndarray
    last_seen: int


@dataclass
class FaceTracker:
    """Greedy IoU matching of each frame's faces to the previous ones, with smoothed probabilities.

    `smoothing` in [0, 1): 0 shows each frame's raw prediction, 0.8 averages over roughly the
    last 5 frames. A track unseen for `max_missed` frames is dropped from matching, but its number is
    remembered for `remember_frames` (about 10 s at 30 fps): a face that comes back near where it left,
    at about its size, gets its old number back instead of a new one.
    """

    class_names: tuple[str, ...]
    smoothing: float = DEFAULTS.smoothing
    min_iou: float = 0.3
    max_missed: int = 10
    remember_frames: int = 300
    tracks: list[Track] = field(default_factory=list)
    departed: list[Track] = field(default_factory=list)
    frame_index: int = 0
    _next_id: int = 1
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def update(self, results: list[FaceResult]) -> list[tuple[int, FaceResult]]:
        """Feed one frame's results; returns (track id, smoothed result) for each face, in order."""
        with self._lock:
            self.frame_index += 1
            alpha = min(max(self.smoothing, 0.0), 0.99)
            unmatched = set(range(len(self.tracks)))
            pairs = sorted(
                ((iou(r.box, t.box), ri, ti) for ri, r in enumerate(results) for ti, t in enumerate(self.tracks)),
                reverse=True,
            )
            assigned: dict[int, Track] = {}
            for overlap, ri, ti in pairs:
                if overlap < self.min_iou:
                    break
                if ri in assigned or ti not in unmatched:
                    continue
                assigned[ri] = self.tracks[ti]
                unmatched.discard(ti)
            for ri, result in enumerate(results):
                # A face that moved further than its box overlaps between two looks (a slow device, a quick
                # turn) is still the nearest track left unmatched, if it is close and about its size.
                if ri in assigned:
                    continue
                left = sorted(unmatched)
                nearby = _nearest(result.box, [self.tracks[ti].box for ti in left])
                if nearby is not None:
                    assigned[ri] = self.tracks[left[nearby]]
                    unmatched.discard(left[nearby])
            output = []
            for ri, result in enumerate(results):
                probs = np.array([result.probabilities[n] for n in self.class_names], dtype=np.float64)
                track = assigned.get(ri)
                if track is None:
                    track = Track(self._returning_id(result.box), result.box, probs, self.frame_index)
                    self.tracks.append(track)
                else:
                    track.probabilities = alpha * track.probabilities + (1.0 - alpha) * probs
                    track.box, track.last_seen = result.box, self.frame_index
                smoothed = FaceResult.from_probabilities(result.box, self.class_names, track.probabilities)
                output.append((track.track_id, smoothed))
            gone = [t for t in self.tracks if self.frame_index - t.last_seen > self.max_missed]
            self.tracks = [t for t in self.tracks if self.frame_index - t.last_seen <= self.max_missed]
            self.departed = [t for t in self.departed + gone if self.frame_index - t.last_seen <= self.remember_frames]
            return output

    def _returning_id(self, box: Box) -> int:
        """The number of a face that left near `box` at about its size (the nearest), else a new one."""
        nearest = _nearest(box, [t.box for t in self.departed])
        if nearest is not None:
            return self.departed.pop(nearest).track_id
        self._next_id += 1
        return self._next_id - 1

    def reset(self) -> None:
        """Forget every face: the next one seen is #1 again."""
        with self._lock:
            self.tracks.clear()
            self.departed.clear()
            self.frame_index = 0
            self._next_id = 1


def _nearest(box: Box, boxes: list[Box]) -> int | None:
    """Which of `boxes` (a track's last) is nearest `box`, if within one box width, centre to centre, and
    half to twice its size: most likely the same face. None if none is."""
    def distance(old: Box) -> float:
        dx = (box.x + box.w / 2) - (old.x + old.w / 2)
        dy = (box.y + box.h / 2) - (old.y + old.h / 2)
        return math.sqrt(dx * dx + dy * dy) / max(old.w, 1)

    near = [i for i, old in enumerate(boxes) if distance(old) <= 1.0 and 0.5 <= box.w / max(old.w, 1) <= 2.0]
    return min(near, key=lambda i: distance(boxes[i])) if near else None


def browser_tracking_rules() -> dict:
    """FaceTracker's thresholds, for the browser engine's copy of it (frontend/src/tracker.js)."""
    return {"min_iou": FaceTracker.min_iou, "max_missed": FaceTracker.max_missed,
            "remember_frames": FaceTracker.remember_frames}


class FpsMeter:
    """Frames per second over a sliding window of recent frames; thread-safe."""

    def __init__(self, window_seconds: float = 2.0) -> None:
        self.window = window_seconds
        self._times: deque[float] = deque()
        self._lock = threading.Lock()

    def tick(self, now: float | None = None) -> float:
        now = time.monotonic() if now is None else now
        with self._lock:
            self._times.append(now)
            while self._times and now - self._times[0] > self.window:
                self._times.popleft()
            return self._fps_locked()

    @property
    def fps(self) -> float:
        with self._lock:
            return self._fps_locked()

    def _fps_locked(self) -> float:
        if len(self._times) < 2:
            return 0.0
        span = self._times[-1] - self._times[0]
        return (len(self._times) - 1) / span if span > 0 else 0.0


# YuNet finds a face reliably when it is at least this wide at the size detection runs at; the faces
# it missed at 320 px in 4K frames were 17-25 px there (benchmarks/video_detection_size.py).
RELIABLE_FACE_WIDTH = 32


def detection_side(height: int, width: int, min_face: int = DEFAULTS.min_face) -> int:
    """The longer side to detect faces at in frames of this size: large enough that a face `min_face`
    pixels wide in the frame is still `RELIABLE_FACE_WIDTH` wide there, never below the video default
    (320 px: a webcam's faces) nor above the frame itself."""
    longer = max(height, width)
    wanted = math.ceil(longer * RELIABLE_FACE_WIDTH / max(1, min_face))
    return max(1, min(longer, max(DEFAULTS.video_detection_side, wanted)))


@dataclass(frozen=True)
class VideoSettings:
    """What a viewer may change while a video runs; swap in a new object at any time."""

    min_confidence: float = DEFAULTS.min_confidence
    min_face: int = DEFAULTS.min_face  # the smallest face worth finding, in the frame's pixels
    smoothing: float = DEFAULTS.smoothing
    show_probabilities: bool = False
    mirror: bool = False  # a webcam feels natural mirrored; a video file does not
    show_fps: bool = True


@dataclass(frozen=True)
class FrameInfo:
    """What one frame held, without its pixels: for timelines, summaries and CSVs."""

    index: int  # 1 for the first frame since the start (or the last reset)
    t: float  # seconds since the start: the video's own time for a file, the clock's for a camera
    fps: float  # frames processed per second, over the last two seconds
    process_ms: float
    faces: tuple[tuple[int, FaceResult], ...]  # (track number, smoothed result), left to right


class VideoAnnotator:
    """Detection cadence, tracking, smoothing and drawing for one video stream (one per stream: it
    keeps the faces it follows). `annotate` is called from one thread at a time; `update_settings`
    may be called from any."""

    def __init__(self, recognizer: EmotionRecognizer, settings: VideoSettings | None = None,
                 detect_every: int = DEFAULTS.detect_every_n_frames) -> None:
        self.recognizer = recognizer
        self.settings = settings or VideoSettings()
        self.detect_every = max(1, detect_every)
        self.tracker = FaceTracker(recognizer.class_names, smoothing=self.settings.smoothing)
        self.fps = FpsMeter()
        self.reset()

    def update_settings(self, settings: VideoSettings) -> None:
        self.settings = settings
        self.tracker.smoothing = settings.smoothing

    def reset(self) -> None:
        """A new stream: faces are numbered from #1 again and time starts at 0."""
        self.tracker.reset()
        self.frames = 0
        self._boxes: list[Box] = []
        self._frames_since_detection = self.detect_every
        self._started = time.monotonic()

    def annotate(self, bgr: np.ndarray, t: float | None = None) -> tuple[np.ndarray, FrameInfo]:
        """Analyse one BGR frame and return it drawn (a new array) with what it held. `t`: the frame's
        time in seconds (a file's timestamp); by default the time since the start."""
        started = time.perf_counter()
        settings = self.settings
        if settings.mirror:
            bgr = np.ascontiguousarray(bgr[:, ::-1])
        if self._frames_since_detection >= self.detect_every:
            faces = self.recognizer.analyze(bgr, bgr=True, min_confidence=settings.min_confidence,
                                            detection_side=detection_side(*bgr.shape[:2], settings.min_face))
            self._boxes = [face.box for face in faces]
            self._frames_since_detection = 1
        else:
            faces = self.recognizer.classify_boxes(bgr, self._boxes, bgr=True)
            self._frames_since_detection += 1
        tracked = self.tracker.update(faces)
        drawn = draw_results(bgr, [result for _, result in tracked], bgr=True,
                             show_probabilities=settings.show_probabilities,
                             labels=[face_tag(result, track_id) for track_id, result in tracked])
        fps = self.fps.tick()
        if settings.show_fps and fps > 0:  # the first frame has no rate yet: no "0.0 fps"
            draw_fps(drawn, fps)
        self.frames += 1
        info = FrameInfo(self.frames, time.monotonic() - self._started if t is None else t, fps,
                         (time.perf_counter() - started) * 1000, tuple(tracked))
        return drawn, info


def source_annotator(recognizer: EmotionRecognizer, *, is_camera: bool = False,
                     min_confidence: float = DEFAULTS.min_confidence, smoothing: float = DEFAULTS.smoothing,
                     detect_every: int = DEFAULTS.detect_every_n_frames,
                     min_face: int = DEFAULTS.min_face) -> VideoAnnotator:
    """How `fer video` and the Video page annotate a source, so both give the same frames and timeline: a
    camera mirrored with its processing rate drawn, a file as it was filmed."""
    settings = VideoSettings(min_confidence=min_confidence, min_face=min_face, smoothing=smoothing,
                             mirror=is_camera, show_fps=is_camera)
    return VideoAnnotator(recognizer, settings, detect_every=detect_every)


class Timeline:
    """Every face of every analysed frame of one stream: for a live chart, a summary and a CSV.

    One tuple per (frame, face): an hour at 27 fps is about 100,000 of them, where nested dicts per
    frame took about 3 KB each and grew a server by 50 MB every ten minutes of video.
    """

    def __init__(self, class_names: tuple[str, ...], max_rows: int | None = None) -> None:
        self.class_names = class_names
        self.columns = ("t", "face", "label", "score", *class_names)
        self.rows: list[tuple] = []
        self.frames = 0
        self.latest: FrameInfo | None = None
        self.max_rows = max_rows  # a live stream has no end: past this, older rows are thinned (`_thin`)
        self.thinned_before = 0.0  # rows older than this time (s) are no longer at the full frame rate

    def add(self, info: FrameInfo) -> None:
        self.frames += 1
        self.latest = info
        t = round(info.t, 3)
        for track_id, result in info.faces:
            self.rows.append((t, track_id, result.label, round(result.score, 4),
                              *(round(result.probabilities[name], 4) for name in self.class_names)))
        if self.max_rows is not None and len(self.rows) > self.max_rows:
            self._thin()

    def _thin(self) -> None:
        """Keep every other frame of the older half of the rows: the whole stream stays in the CSV within
        `max_rows`, the last part at the full rate and each older part at half the rate of the one after it."""
        half = len(self.rows) // 2
        older = self.rows[:half]
        kept_times = set(sorted({row[0] for row in older})[::2])
        self.rows = [row for row in older if row[0] in kept_times] + self.rows[half:]
        self.thinned_before = max(self.thinned_before, older[-1][0])

    def last(self, seconds: float | None = None) -> list[tuple]:
        """The rows of the last `seconds` of video (all of them for None)."""
        if seconds is None or not self.rows:
            return self.rows
        return self.rows[bisect.bisect_left(self.rows, self.rows[-1][0] - seconds, key=lambda row: row[0]):]

    def faces_followed(self) -> int:
        """How many faces (tracks) appeared."""
        return len({row[1] for row in self.rows})

    def write_csv(self, stream: TextIO) -> None:
        writer = SafeCsvWriter(stream)
        writer.writerow(self.columns)
        writer.writerows(self.rows)

    def __len__(self) -> int:
        return self.frames
