"""Helpers for live video: follow faces across frames, smooth their probabilities, measure fps.

Per-frame predictions jitter (a face between "neutral" and "sad" flips every frame). Each tracked
face keeps an exponential moving average of its probabilities, so labels change only when the
expression does.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from fer.detection import Box
from fer.recognizer import FaceResult


def iou(a: Box, b: Box) -> float:
    x0, y0 = max(a.x, b.x), max(a.y, b.y)
    x1, y1 = min(a.x + a.w, b.x + b.w), min(a.y + a.h, b.y + b.h)
    inter = max(0, x1 - x0) * max(0, y1 - y0)
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
    last 5 frames. A track unseen for `max_missed` frames is dropped.
    """

    class_names: tuple[str, ...]
    smoothing: float = 0.6
    min_iou: float = 0.3
    max_missed: int = 10
    tracks: list[Track] = field(default_factory=list)
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
            output = []
            for ri, result in enumerate(results):
                probs = np.array([result.probabilities[n] for n in self.class_names], dtype=np.float64)
                track = assigned.get(ri)
                if track is None:
                    track = Track(self._next_id, result.box, probs, self.frame_index)
                    self._next_id += 1
                    self.tracks.append(track)
                else:
                    track.probabilities = alpha * track.probabilities + (1.0 - alpha) * probs
                    track.box, track.last_seen = result.box, self.frame_index
                smoothed = FaceResult.from_probabilities(result.box, self.class_names, track.probabilities)
                output.append((track.track_id, smoothed))
            self.tracks = [t for t in self.tracks if self.frame_index - t.last_seen <= self.max_missed]
            return output

    def reset(self) -> None:
        with self._lock:
            self.tracks.clear()
            self.frame_index = 0


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
