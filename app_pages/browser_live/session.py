"""What the Python page keeps of a browser-engine stream: its timeline, fed from the engine's reports.

The engine sends every frame the page has not acknowledged yet, each with a sequence number, so a report
that two quick script runs skipped is sent again, and a frame is never added twice. A page that comes back
after a long network cut has a new session, which acknowledges nothing of the engine's run: the engine
then sends the run again from its start (as much as it keeps), and whatever it no longer has is counted
as lost and said on the page."""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path

from app_pages.browser_live.reports import FrameRecord, ReportRejected, parse_report
from fer.detection import Box
from fer.model_file import read_model_info, trained_model_stem
from fer.recognizer import FaceResult
from fer.settings import DEFAULTS
from fer.video import FrameInfo, Timeline

MODELS = Path(__file__).resolve().parent / "static" / "models"
_logger = logging.getLogger(__name__)


def browser_models() -> dict[str, Path]:
    """The browser's copy of each trained model that has one, by the trained model's name."""
    return {read_model_info(path).name: path for path in sorted(MODELS.glob("*.tflite"))}


def browser_model_for(selected: Path) -> Path | None:
    """The browser's copy of the model picked under Settings, or None where it has none."""
    return browser_models().get(trained_model_stem(selected))


def model_args(path: Path) -> dict:
    """What the engine needs to run a model file: its name under static/models/ and its metadata."""
    info = read_model_info(path)
    raw = info.to_json()
    return {"file": path.name, "name": info.name, "class_names": raw["class_names"],
            "image_size": raw["image_size"], "prior_correction": raw.get("prior_correction")}


class BrowserSession:
    """One browser tab's stream: the run it is on, the last frame taken, and the timeline.

    Reports are checked against `reports.Report` first; one that fails is dropped whole, logged in one line
    (at most one every LOG_EVERY_SECONDS per tab, with a count), and `unreadable` says so to the page.
    Frames the page never received (the engine lost them, or was told so by a page whose session ended
    during a long network cut) are counted in `lost_frames`, never hidden."""

    LOG_EVERY_SECONDS = 10.0

    def __init__(self, class_names: tuple[str, ...]) -> None:
        self.class_names = class_names
        self.run: str | None = None
        self.last_seq = 0
        self.timeline = Timeline(class_names, DEFAULTS.live_timeline_rows)
        self.playing = False
        self.ready = False  # loaded and waiting for Start (the engine said so)
        self.recorded = False  # the stream was recorded (in the browser, which keeps the clip)
        self.more = 0  # frames the engine still has to send (a backlog, after a hidden tab or a network cut)
        self.error: str | None = None  # why the engine could not start: a reports.ProblemKind
        self.lost_frames = 0  # frames of this run that never reached the page
        self.lost_seconds = 0.0  # ... and the stream time they covered
        self.unreadable = False  # the last report failed the schema
        self.refused = 0  # reports refused since the last log line
        self._logged_at = -math.inf

    @property
    def complete(self) -> bool:
        """The stream has stopped and every frame the engine had is here: the summary and CSV are whole."""
        return not self.playing and not self.more

    def acknowledged(self) -> dict:
        return {"run": self.run, "seq": self.last_seq}

    def take(self, value: object) -> int:
        """Add the new frames of the engine's latest report (`value`, as the component returned it) to
        the timeline; a new run starts a new timeline. Returns how many frames were added."""
        if value is None:
            return 0
        try:
            report = parse_report(value, len(self.class_names))
        except ReportRejected as err:
            self.refuse(str(err))
            return 0
        self.unreadable = False
        if report.run and report.run != self.run:
            self.run, self.last_seq = report.run, 0
            self.timeline = Timeline(self.class_names, DEFAULTS.live_timeline_rows)
            self.lost_frames, self.lost_seconds = 0, 0.0
        self.playing = report.state == "playing"
        self.ready = report.state == "ready"
        self.recorded = report.recorded
        self.more = report.more
        self.error = report.error
        added = 0
        last_t = self.timeline.latest.t if self.timeline.latest else 0.0
        for frame in report.frames:
            if frame.seq <= self.last_seq:
                continue  # sent again because its acknowledgement had not reached the engine yet
            if frame.seq > self.last_seq + 1:
                if report.kept_from <= self.last_seq + 1:
                    break  # the browser still has the frames in between: acknowledging last_seq asks for them
                # The frames in between will never come.
                self.lost_frames += frame.seq - self.last_seq - 1
                self.lost_seconds += max(0.0, frame.t - last_t)
            self.timeline.add(self._frame_info(frame))
            self.last_seq, last_t = frame.seq, frame.t
            added += 1
        return added

    def refuse(self, reason: str) -> None:
        """Drop a report that could not be read: one log line now and then, never a traceback."""
        self.unreadable = True
        self.refused += 1
        now = time.monotonic()
        if now - self._logged_at >= self.LOG_EVERY_SECONDS:
            _logger.warning("refused %d report(s) from a browser engine: %s", self.refused, reason)
            self._logged_at, self.refused = now, 0

    def _frame_info(self, frame: FrameRecord) -> FrameInfo:
        faces = []
        for record in frame.faces:
            x, y, w, h = (int(v) for v in record.box)
            box = Box(x, y, w, h, record.detection)
            faces.append((record.face, FaceResult.from_probabilities(box, self.class_names, record.probabilities)))
        return FrameInfo(frame.seq, frame.t, frame.fps, frame.ms, tuple(faces))
