"""The one answer to "how good is it?", for the Home page and the dashboard alike: the figures of the file the
app runs, read the way a page reads faces (mirrored too on the Photos page, once in video), on the faces held
out from training and choice (FER2013's PrivateTest) whose ten FER+ votes have a clear majority. Stored in the
model's report by `python benchmarks/accuracy.py --model FILE --update-report`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fer.classifier import default_model_path
from fer.report import ModelReport
from fer.settings import DEFAULTS

HELD_OUT = "test"  # PrivateTest: never used to train or choose
TTA_WORDS = {"flip": "reading each face and its mirror image, as the Photos page does",
             "none": "reading each face once, as live video does"}


@dataclass(frozen=True)
class Headline:
    file: str
    tta: str
    faces: int  # PrivateTest faces with a clear FER+ majority
    majority: float  # agreement with the majority of the ten votes
    balanced: float  # the mean of the seven expressions' recalls against that majority
    fer2013: float | None  # accuracy against FER2013's own labels, every PrivateTest face
    calibration_error: float | None
    measured: str | None


def page_tta(model_file: Path) -> str:
    """How the app reads faces with this file: once for the live model (video), mirrored too otherwise."""
    return DEFAULTS.video_tta if model_file.name == default_model_path("live").name else DEFAULTS.photo_tta


def headline(report: ModelReport, model_file: Path, tta: str | None = None) -> Headline | None:
    """The file's held-out figures, or None where its report has no FER+ scores for it."""
    tta = tta or page_tta(model_file)
    scores = report.scores(model_file.name, HELD_OUT, tta)
    plus = scores.get("ferplus")
    if not plus:
        return None
    return Headline(model_file.name, tta, plus["count"], plus["accuracy"], plus["balanced_accuracy"],
                    scores.get("accuracy"), plus.get("expected_calibration_error"),
                    report.scores_measured(model_file.name))


def in_words(figures: Headline, subject: str | None = None) -> str:
    """The headline as a sentence; `subject` names the model (its file name by default)."""
    return (f"On {figures.faces:,} faces held out from training (FER2013's PrivateTest), {subject or figures.file}, "
            f"{TTA_WORDS.get(figures.tta, figures.tta)}, agreed with the majority of ten people on "
            f"{figures.majority:.1%} of them, and found {figures.balanced:.1%} of each expression on average "
            "(the mean over the seven, so rare ones such as disgust count as much as happy).")
