"""What the Python page keeps of a browser-engine stream: its timeline, fed from the engine's reports.

The engine sends every frame the page has not acknowledged yet, each with a sequence number, so a report
that two quick script runs skipped is sent again, and a frame is never added twice."""

from __future__ import annotations

from pathlib import Path

from fer.detection import Box
from fer.model_file import read_model_info, trained_model_stem
from fer.recognizer import FaceResult
from fer.video import FrameInfo, Timeline

MODELS = Path(__file__).resolve().parent / "static" / "models"


def browser_models() -> dict[str, Path]:
    """The browser's copy of each trained model that has one, by the trained model's name."""
    return {read_model_info(path).name: path for path in sorted(MODELS.glob("*.tflite"))}


def browser_model_for(selected: Path) -> Path | None:
    """The browser's copy of the model picked in the sidebar, or None where it has none."""
    return browser_models().get(trained_model_stem(selected))


def model_args(path: Path) -> dict:
    """What the engine needs to run a model file: its name under static/models/ and its metadata."""
    info = read_model_info(path)
    raw = info.to_json()
    return {"file": path.name, "name": info.name, "class_names": raw["class_names"],
            "image_size": raw["image_size"], "prior_correction": raw.get("prior_correction")}


class BrowserSession:
    """One browser tab's stream: the run it is on, the last frame taken, and the timeline."""

    def __init__(self, class_names: tuple[str, ...]) -> None:
        self.class_names = class_names
        self.run: str | None = None
        self.last_seq = 0
        self.timeline = Timeline(class_names)
        self.playing = False
        self.recorded = False  # the stream was recorded (in the browser, which keeps the clip)
        self.accelerator: str | None = None

    def acknowledged(self) -> dict:
        return {"run": self.run, "seq": self.last_seq}

    def take(self, report: dict | None) -> int:
        """Add the report's new frames to the timeline (a new run starts a new timeline); how many."""
        if not report:
            return 0
        run = report.get("run")
        if run and run != self.run:
            self.run, self.last_seq, self.timeline = run, 0, Timeline(self.class_names)
        self.playing = report.get("state") == "playing"
        self.recorded = bool(report.get("recorded"))
        self.accelerator = report.get("accelerator") or self.accelerator
        added = 0
        for frame in report.get("frames") or []:
            if frame["seq"] <= self.last_seq:
                continue
            self.timeline.add(self._frame_info(frame))
            self.last_seq = frame["seq"]
            added += 1
        return added

    def _frame_info(self, frame: dict) -> FrameInfo:
        faces = []
        for record in frame["faces"]:
            number, x, y, w, h, score, *probabilities = record
            box = Box(int(x), int(y), int(w), int(h), float(score))
            faces.append((int(number), FaceResult.from_probabilities(box, self.class_names, probabilities)))
        return FrameInfo(frame["seq"], float(frame["t"]), float(frame["fps"]), float(frame["ms"]), tuple(faces))
