"""The rules the browser engine shares with the server's pipeline, sent with the component's arguments.

Each number is read where the server reads it (fer.settings, fer.detection, fer.recognizer, fer.video,
fer.drawing, the server engine's recording limit), so changing it there changes both engines; the engine's
JavaScript holds none of them (tests/test_engine_parity.py runs its pure parts against the Python ones).
"""

from __future__ import annotations

from app_pages.browser_live.build import LABEL_FONT_FILE
from app_pages.browser_live.yunet_litert import CANVASES, litert_name
from app_pages.live_session import RECORDING_MAX_SECONDS
from fer.detection import MAX_FACES, NMS_THRESHOLD
from fer.drawing import browser_drawing_rules
from fer.recognizer import CROP_MARGIN
from fer.settings import DEFAULTS, Defaults
from fer.video import RELIABLE_FACE_WIDTH, browser_tracking_rules


def engine_rules(defaults: Defaults = DEFAULTS) -> dict:
    """Every shared rule, as JSON for the engine: `defaults` are the pipeline's settings (fer.settings)."""
    return {
        "detection": {
            "every_n_frames": defaults.detect_every_n_frames,
            "nms_threshold": NMS_THRESHOLD,
            "max_faces": MAX_FACES,
            # fer.video.detection_side: the longer side to detect at, from the frame's own size
            "video_side": defaults.video_detection_side,
            "min_face": defaults.min_face,
            "reliable_face_width": RELIABLE_FACE_WIDTH,
            # the detector's files, one per input size (LiteRT.js runs fixed sizes only)
            "canvases": [{"width": w, "height": h, "file": litert_name(w, h)} for w, h in CANVASES],
        },
        "crop": {"margin": CROP_MARGIN, "align": defaults.align_faces},
        "tracking": browser_tracking_rules(),
        "drawing": {**browser_drawing_rules(), "font_file": LABEL_FONT_FILE},
        "recording": {"max_seconds": RECORDING_MAX_SECONDS},
    }
