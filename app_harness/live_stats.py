"""The live callback's counters in a JSON file, for the browser tests and benchmarks.

The app itself writes nothing: app_harness/instrumented_app.py attaches a `LiveStatsWriter` to
`app_pages.live_session.FRAME_OBSERVERS` in the server it starts. After each frame the writer replaces
the file (and each session's own copy beside it, so a benchmark can tell concurrent streams apart).
"""

from __future__ import annotations

import json
import os
import time

import numpy as np

from app_harness.browser import STATS_FILE_VARIABLE
from app_pages.live_session import FRAME_OBSERVERS, LiveSession
from fer.atomic import write_text_atomic
from fer.video import FrameInfo


class LiveStatsWriter:
    def __init__(self, path: str) -> None:
        self.path = path

    def __call__(self, session: LiveSession, annotated: np.ndarray, info: FrameInfo) -> None:
        last = {"t": round(info.t, 3), "fps": round(info.fps, 1), "faces": len(info.faces),
                "process_ms": round(info.process_ms, 1),
                "tracks": [{"id": track_id, "label": r.label, "score": round(r.score, 4),
                            "probabilities": {k: round(v, 4) for k, v in r.probabilities.items()}}
                           for track_id, r in info.faces]}
        stats = {"frames": session.frames, "frames_with_faces": session.frames_with_faces,
                 "frame_shape": list(annotated.shape), "last": last, "time": time.time(),
                 "model": session.recognizer.classifier.path.name}
        text = json.dumps(stats)
        write_text_atomic(self.path, text)
        write_text_atomic(f"{self.path}.{os.getpid()}-{id(session):x}", text)


def attach_from_environment() -> None:
    """Attach one writer to the file the harness named, once per server process (the entry script runs again
    on every rerun)."""
    path = os.environ.get(STATS_FILE_VARIABLE)
    if path and not any(isinstance(observer, LiveStatsWriter) for observer in FRAME_OBSERVERS):
        FRAME_OBSERVERS.append(LiveStatsWriter(path))
