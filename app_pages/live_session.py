"""The state of one live webcam stream and the per-frame callback that streamlit-webrtc calls.

The callback runs in a worker thread, never the page script: it must not call `st.*`. It hands
results to the page through a queue, keeps its settings in this object (the page updates them on
every rerun) and survives an exception in one frame by showing it once and passing video through.
"""

from __future__ import annotations

import bisect
import json
import os
import queue
import tempfile
import threading
import time
import traceback
from dataclasses import dataclass

import av
import cv2
import numpy as np
import pandas as pd
import plotly.graph_objects as go

from fer.drawing import color_for, draw_results
from fer.recognizer import VIDEO_DETECTION_SIDE, EmotionRecognizer
from fer.video import FaceTracker, FpsMeter

# Tests set this to a file path; the callback then writes its counters there (atomically).
STATS_FILE_VARIABLE = "FER_LIVE_STATS_FILE"
# The detector runs on every third frame; in between, the last boxes are classified again. At 30 fps
# a face moves a few pixels in 0.1 s, and detection is most of the callback's cost.
DETECT_EVERY_N_FRAMES = 3


@dataclass
class LiveSettings:
    min_confidence: float = 0.6
    smoothing: float = 0.6
    show_probabilities: bool = False
    mirror: bool = True


class LiveSession:
    """Created once per browser session; the callback and the page both hold it."""

    def __init__(self, recognizer: EmotionRecognizer) -> None:
        self.recognizer = recognizer
        self.settings = LiveSettings()
        self.tracker = FaceTracker(recognizer.class_names, smoothing=self.settings.smoothing)
        self.fps = FpsMeter()
        self.results: queue.Queue[dict] = queue.Queue(maxsize=2000)
        self.timeline = Timeline(recognizer.class_names)  # filled from the queue by the page: chart and CSV
        self.errors: queue.Queue[str] = queue.Queue()
        self._error_shown = False
        self._lock = threading.Lock()
        self._started = time.monotonic()
        self.frames = 0
        self.frames_with_faces = 0
        self._boxes: list = []
        self._frames_since_detection = DETECT_EVERY_N_FRAMES
        self.stats_path = os.environ.get(STATS_FILE_VARIABLE)
        # ... and each session's own copy beside it, so a benchmark can tell concurrent streams apart.
        self.session_stats_path = f"{self.stats_path}.{os.getpid()}-{id(self):x}" if self.stats_path else None

    def update_settings(self, settings: LiveSettings) -> None:
        with self._lock:
            self.settings = settings
            self.tracker.smoothing = settings.smoothing

    def reset(self) -> None:
        """A new stream starts a new timeline."""
        with self._lock:
            self.tracker.reset()
            self.timeline = Timeline(self.recognizer.class_names)
            self._frames_since_detection = DETECT_EVERY_N_FRAMES
            self._started = time.monotonic()
            self._error_shown = False
            while not self.results.empty():
                self.results.get_nowait()

    def __call__(self, frame: av.VideoFrame) -> av.VideoFrame:
        image = frame.to_ndarray(format="bgr24")
        try:
            annotated = self.process(image)
        except Exception as err:  # noqa: BLE001 - one bad frame must not end the stream
            self._report_error(err)
            annotated = image
        return av.VideoFrame.from_ndarray(annotated, format="bgr24")

    def process(self, bgr: np.ndarray) -> np.ndarray:
        started = time.perf_counter()
        settings = self.settings
        if settings.mirror:
            bgr = np.ascontiguousarray(bgr[:, ::-1])
        if self._frames_since_detection >= DETECT_EVERY_N_FRAMES:
            faces = self.recognizer.analyze(
                bgr, bgr=True, min_confidence=settings.min_confidence, detection_side=VIDEO_DETECTION_SIDE
            )
            self._boxes = [face.box for face in faces]
            self._frames_since_detection = 1
        else:
            faces = self.recognizer.classify_boxes(np.ascontiguousarray(bgr[:, :, ::-1]), self._boxes)
            self._frames_since_detection += 1
        tracked = self.tracker.update(faces)
        results = [result for _, result in tracked]
        labels = [f"#{tid} {r.label} {r.score:.0%}" for tid, r in tracked]
        annotated = draw_results(bgr, results, bgr=True, show_probabilities=settings.show_probabilities, labels=labels)
        fps = self.fps.tick()
        self._draw_fps(annotated, fps)
        self.frames += 1
        self.frames_with_faces += bool(results)
        record = {"t": round(time.monotonic() - self._started, 3), "fps": round(fps, 1), "faces": len(results),
                  "process_ms": round((time.perf_counter() - started) * 1000, 1),
                  "tracks": [{"id": tid, "label": r.label, "score": round(r.score, 4),
                              "probabilities": {k: round(v, 4) for k, v in r.probabilities.items()}}
                             for tid, r in tracked]}
        try:
            self.results.put_nowait(record)
        except queue.Full:  # the page is not reading (e.g. a hidden tab): keep the newest
            self.results.get_nowait()
            self.results.put_nowait(record)
        if self.stats_path:
            self._write_stats(annotated.shape, record)
        return annotated

    def drain(self) -> list[dict]:
        """Move queued results into the timeline (called from the page script)."""
        new = []
        while True:
            try:
                new.append(self.results.get_nowait())
            except queue.Empty:
                break
        for record in new:
            self.timeline.add(record)
        return new

    def pending_error(self) -> str | None:
        try:
            return self.errors.get_nowait()
        except queue.Empty:
            return None

    def _report_error(self, err: Exception) -> None:
        with self._lock:
            if self._error_shown:
                return
            self._error_shown = True
        self.errors.put(f"{type(err).__name__}: {err}\n{traceback.format_exc(limit=3)}")

    @staticmethod
    def _draw_fps(image: np.ndarray, fps: float) -> None:
        scale = max(0.5, image.shape[0] / 720)
        text = f"{fps:4.1f} fps"
        (w, h), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
        cv2.rectangle(image, (0, 0), (w + 12, h + base + 12), (0, 0, 0), -1)
        cv2.putText(image, text, (6, h + 6), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1, cv2.LINE_AA)

    def _write_stats(self, shape: tuple[int, ...], record: dict) -> None:
        stats = {"frames": self.frames, "frames_with_faces": self.frames_with_faces, "frame_shape": list(shape),
                 "last": record, "time": time.time(), "model": self.recognizer.classifier.path.name}
        for path in (self.stats_path, self.session_stats_path):
            folder = os.path.dirname(path) or "."
            with tempfile.NamedTemporaryFile("w", dir=folder, delete=False, suffix=".tmp") as handle:
                json.dump(stats, handle)
            os.replace(handle.name, path)


TIMELINE_SECONDS = 60  # the live chart shows the last minute


class Timeline:
    """Every face of every analysed frame of one stream, for the live chart, the summary and the CSV.

    Kept as one tuple per (frame, face): an hour at 27 fps is about 100,000 of them, and the frame
    records as they leave the callback (nested dicts) took about 3 KB each, which made the server grow
    by 50 MB every ten minutes of video.
    """

    def __init__(self, class_names: tuple[str, ...]) -> None:
        self.class_names = class_names
        self.rows: list[tuple] = []
        self.frames = 0
        self.latest: dict | None = None  # the newest frame's fps and face count

    def add(self, record: dict) -> None:
        self.frames += 1
        self.latest = {"fps": record["fps"], "faces": record["faces"]}
        for track in record["tracks"]:
            probabilities = track["probabilities"]
            self.rows.append((record["t"], track["id"], track["label"], track["score"],
                              *(probabilities[name] for name in self.class_names)))

    def frame(self, last_seconds: float | None = None) -> pd.DataFrame:
        """One row per (frame, face): time, track, label, score and every probability."""
        rows = self.rows
        if last_seconds is not None and rows:
            rows = rows[bisect.bisect_left(rows, rows[-1][0] - last_seconds, key=lambda row: row[0]):]
        return pd.DataFrame.from_records(rows, columns=["t", "face", "label", "score", *self.class_names])

    def __len__(self) -> int:
        return self.frames


def timeline_chart(frame: pd.DataFrame, class_names: tuple[str, ...]) -> go.Figure:
    """Smoothed probabilities of the most-seen face over time, one line per emotion."""
    main_face = frame["face"].value_counts().idxmax()
    face = frame[frame["face"] == main_face]
    face = face[face["t"] >= face["t"].max() - TIMELINE_SECONDS]
    figure = go.Figure()
    for name in class_names:
        figure.add_trace(go.Scatter(x=face["t"], y=face[name], name=name, mode="lines",
                                    line=dict(color=f"rgb{color_for(name)}", width=2)))
    figure.update_layout(height=300, margin=dict(l=10, r=10, t=30, b=10), title=f"Face #{main_face}",
                         xaxis_title="seconds", yaxis=dict(range=[0, 1], tickformat=".0%"))
    return figure


def session_summary(frame: pd.DataFrame, class_names: tuple[str, ...]) -> pd.DataFrame:
    counts = frame["label"].value_counts(normalize=True)
    return pd.DataFrame({
        "emotion": list(class_names),
        "share of frames": [float(counts.get(n, 0.0)) for n in class_names],
        "mean probability": [float(frame[n].mean()) for n in class_names],
    })
