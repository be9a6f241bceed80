"""The state of one browser's live stream, and the frame callback that streamlit-webrtc calls.

The frame work itself is `fer.video.VideoAnnotator`. This object adds what a page needs around it:
the callback runs in a worker thread, never the page script, so it must not call `st.*`; it hands
each frame's results to the page through a queue, records the annotated video when asked, and
survives an exception in one frame by reporting it once and passing the video through.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable

import av
import numpy as np

from fer.recognizer import EmotionRecognizer
from fer.settings import DEFAULTS
from fer.video import FaceTracker, FrameInfo, Timeline, VideoAnnotator, VideoSettings
from fer.video_io import ClipRecorder

RECORDING_MAX_SECONDS = 120.0  # about 8 MB of video in memory at most
LOG = logging.getLogger(__name__)


# Called after each processed frame with (session, annotated frame, frame info). Empty in the app; the
# browser tests and benchmarks start it through app_harness/instrumented_app.py, which adds a counter writer.
FrameObserver = Callable[["LiveSession", np.ndarray, FrameInfo], None]
FRAME_OBSERVERS: list[FrameObserver] = []


class LiveSession:
    """Created once per browser session; the callback and the page both hold it."""

    def __init__(self, recognizer: EmotionRecognizer) -> None:
        self.recognizer = recognizer
        self.annotator = VideoAnnotator(recognizer, VideoSettings(mirror=True))
        self.results: queue.Queue[FrameInfo] = queue.Queue(maxsize=2000)
        # Filled from the queue by the page: chart and CSV.
        self.timeline = Timeline(recognizer.class_names, DEFAULTS.live_timeline_rows)
        self.recorder: ClipRecorder | None = None
        self.errors: queue.Queue[str] = queue.Queue()
        self._error_shown = False
        self._lock = threading.Lock()
        self.frames = 0
        self.frames_with_faces = 0

    def use_recognizer(self, recognizer: EmotionRecognizer) -> None:
        """Another model from the next frame on. The stream, its face numbers, timeline and recording go
        on; only a model with other classes starts a new timeline (its columns differ)."""
        if recognizer is self.recognizer:
            return
        with self._lock:
            same_classes = recognizer.class_names == self.recognizer.class_names
            self.recognizer = recognizer
            self.annotator.recognizer = recognizer
            if not same_classes:
                smoothing = self.annotator.settings.smoothing
                self.annotator.tracker = FaceTracker(recognizer.class_names, smoothing=smoothing)
                self.timeline = Timeline(recognizer.class_names, DEFAULTS.live_timeline_rows)
                while not self.results.empty():
                    self.results.get_nowait()

    def update_settings(self, settings: VideoSettings) -> None:
        self.annotator.update_settings(settings)

    def reset(self, record: bool = False) -> None:
        """A new stream: a new timeline, faces numbered from #1, and a new recording when asked."""
        with self._lock:
            self.annotator.reset()
            self.timeline = Timeline(self.recognizer.class_names, DEFAULTS.live_timeline_rows)
            self.recorder = ClipRecorder(RECORDING_MAX_SECONDS) if record else None
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
        annotated, info = self.annotator.annotate(bgr)
        self._record(annotated, info.t)
        self.frames += 1
        self.frames_with_faces += bool(info.faces)
        try:
            self.results.put_nowait(info)
        except queue.Full:  # the page is not reading (e.g. a hidden tab): keep the newest
            self.results.get_nowait()
            self.results.put_nowait(info)
        for observe in FRAME_OBSERVERS:
            observe(self, annotated, info)
        return annotated

    def _record(self, annotated: np.ndarray, t: float) -> None:
        """Add the frame to the recording; a recording that fails stops, and the video goes on annotated."""
        recorder = self.recorder
        if recorder is None or recorder.failed:
            return
        try:
            recorder.add(annotated, t)
        except Exception as err:  # noqa: BLE001 - the viewer's stream matters more than the clip
            recorder.failed = True
            self._report_error(err, "Recording stopped (the clip so far can still be downloaded after STOP)")

    def drain(self) -> int:
        """Move queued results into the timeline (called from the page script); how many there were."""
        count = 0
        while True:
            try:
                self.timeline.add(self.results.get_nowait())
            except queue.Empty:
                return count
            count += 1

    def pending_error(self) -> str | None:
        try:
            return self.errors.get_nowait()
        except queue.Empty:
            return None

    def _report_error(self, err: Exception, what: str = "Processing one frame failed") -> None:
        """Once per stream, a line for the viewer (no traceback, no server paths); the traceback goes to
        the server's log for whoever runs it."""
        LOG.warning("%s", what, exc_info=err)
        with self._lock:
            if self._error_shown:
                return
            self._error_shown = True
        self.errors.put(f"{what}: {type(err).__name__}: {str(err)[:200].rstrip('.')}. The stream carries on.")
