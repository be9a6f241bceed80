"""The one schema every report from the browser engine passes before it touches session state.

A report is the component's value, and any visitor can forge one (the component protocol is a postMessage
from the page; anything a browser can run can send it), so nothing in it is trusted: known fields only,
types, finite numbers in range, probabilities that are probabilities, sequence numbers that only move
forward, and sizes bounded by what a real camera produces (the caps below). A report that fails is
refused whole; the page drops it with one line in the server log (`BrowserSession.take`).
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

# Caps, enforced here whatever the browser sends; the engine receives them with its arguments and keeps to
# them (app_pages/browser_live/__init__.py).
MAX_FRAMES_PER_REPORT = 600  # 20 s of a 30 fps camera: the engine reports about 60 frames every 2 s, and
# sends a backlog (a hidden tab, a reconnect) in reports of this size, one after the other
RESEND_FRAMES = 27_000  # the engine keeps the last 15 minutes (30 fps) of a run in the browser, to send again
# to a page that lost them (a network cut longer than the server keeps a session); older ones are said lost
MAX_FACES_PER_FRAME = 64  # a crowd filling a 1280 px frame with faces of 60 px; a webcam shows a handful
MAX_STREAM_SECONDS = 7 * 24 * 3600.0  # a frame's time since Start: a week-long stream is already absurd
MAX_FPS = 1000.0
MAX_FRAME_MS = 3600_000.0  # how long one frame took in the browser
MAX_PIXELS = 100_000  # box coordinates, in the analysed frame's pixels (at most 1280 px across)
MAX_SEQ = 2**53  # JavaScript's largest exact integer
MAX_CLASSES = 32
PROBABILITY_SUM_TOLERANCE = 0.02  # float32 probabilities rounded in the browser

# Why the engine could not start, as the page words it: the engine reports a kind, never text, and shows the
# same words (it receives them with its arguments), so nothing a browser sends is ever rendered by the page.
ProblemKind = Literal["camera_blocked", "camera_missing", "camera_busy", "camera", "webassembly_off", "runtime"]
PROBLEMS: dict[str, str] = {
    "camera_blocked": "The camera was blocked. Allow it for this site (the camera icon in the address bar), "
                      "then press Start.",
    "camera_missing": "No camera was found. Connect one, or use the Photos and Video pages with files.",
    "camera_busy": "The camera is in use by another program or tab. Close it there, then press Start.",
    "camera": "The camera could not be opened.",
    "webassembly_off": "This browser has WebAssembly turned off, which the in-browser engine needs.",
    "runtime": "The in-browser engine could not start in this browser.",
}
RUNTIME_PROBLEMS = ("webassembly_off", "runtime")  # the page offers the server engine for these

Probability = Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]
Coordinate = Annotated[float, Field(ge=-MAX_PIXELS, le=MAX_PIXELS, allow_inf_nan=False)]


class FaceRecord(BaseModel):
    """One face in one frame: its track number, box (x, y, w, h), detector score and smoothed probabilities."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    face: Annotated[int, Field(ge=1, le=MAX_SEQ)]
    box: Annotated[list[Coordinate], Field(min_length=4, max_length=4)]  # x, y, w, h
    detection: Probability
    probabilities: Annotated[list[Probability], Field(min_length=2, max_length=MAX_CLASSES)]

    @model_validator(mode="after")
    def _a_box_and_probabilities(self) -> FaceRecord:
        if self.box[2] < 0 or self.box[3] < 0:
            raise ValueError("a box's width and height cannot be negative")
        if abs(math.fsum(self.probabilities) - 1.0) > PROBABILITY_SUM_TOLERANCE:
            raise ValueError("probabilities must sum to 1")
        return self


class FrameRecord(BaseModel):
    """One analysed frame: its number in the stream, time since Start, rate, cost and faces."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    seq: Annotated[int, Field(ge=1, le=MAX_SEQ)]
    t: Annotated[float, Field(ge=0.0, le=MAX_STREAM_SECONDS, allow_inf_nan=False)]
    fps: Annotated[float, Field(ge=0.0, le=MAX_FPS, allow_inf_nan=False)]
    ms: Annotated[float, Field(ge=0.0, le=MAX_FRAME_MS, allow_inf_nan=False)]
    faces: Annotated[list[FaceRecord], Field(max_length=MAX_FACES_PER_FRAME)]


class Report(BaseModel):
    """What the engine sends: its stream (run), whether it plays, the frames the page has not
    acknowledged, how many more wait behind them, the oldest frame it could still send again, whether the
    stream was recorded, and a problem kind when it could not start."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    run: Annotated[str, Field(pattern=r"^[a-z0-9]{1,32}$")] | None = None
    state: Literal["ready", "playing", "stopped"]  # ready: loaded, not started yet
    frames: Annotated[list[FrameRecord], Field(max_length=MAX_FRAMES_PER_REPORT)] = []
    more: Annotated[int, Field(ge=0, le=MAX_SEQ)] = 0  # frames still to come after these (a backlog)
    kept_from: Annotated[int, Field(ge=1, le=MAX_SEQ)] = 1  # the oldest frame the engine still holds, to resend
    recorded: bool = False
    error: ProblemKind | None = None

    @model_validator(mode="after")
    def _moves_forward(self) -> Report:
        if self.frames and self.kept_from > self.frames[0].seq:
            raise ValueError("kept_from cannot be after the first frame sent")
        for before, after in zip(self.frames, self.frames[1:]):
            if after.seq <= before.seq or after.t < before.t:
                raise ValueError("frames must be in order: each seq higher and no time earlier than the last")
        return self


def engine_limits() -> dict:
    """The caps the engine keeps to, sent with its arguments (with PROBLEMS, its words for what went wrong)."""
    return {"frames_per_report": MAX_FRAMES_PER_REPORT, "faces_per_frame": MAX_FACES_PER_FRAME,
            "resend_frames": RESEND_FRAMES}


class ReportRejected(ValueError):
    """A report that does not pass the schema; its message is one short line for the server log."""


def parse_report(value: object, class_count: int) -> Report:
    """The report in `value`, checked; raises ReportRejected with a one-line reason."""
    try:
        report = Report.model_validate(value)
    except ValidationError as err:
        first = err.errors(include_url=False, include_input=False)[0]
        where = ".".join(str(part) for part in first["loc"]) or "report"
        raise ReportRejected(f"{err.error_count()} problem(s), first at {where}: {first['msg']}") from None
    for frame in report.frames:
        for face in frame.faces:
            if len(face.probabilities) != class_count:
                raise ReportRejected(f"frame {frame.seq}: {len(face.probabilities)} probabilities for "
                                     f"{class_count} classes")
    return report
