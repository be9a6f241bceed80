"""The defaults every entry point shares (library, CLI, pages), so each one is set in one place."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Defaults:
    # The face detector's confidence threshold, 0-1: lower finds more (and smaller) faces, with more false alarms.
    # On real photos YuNet scored every face it found 0.82-0.93 and every false face (a motorcycle, galaxies,
    # the moon, coffee) 0.35-0.76: 0.8 keeps the first and drops the second (benchmarks/detector_threshold.py).
    min_confidence: float = 0.8
    # Rotate each face so its eyes are level (YuNet's landmarks) before the CNN reads it. On PublicTest faces
    # turned by 30 degrees it lifted FER+ majority accuracy by 5-6 points, and upright ones by 0.6
    # (benchmarks/alignment.py).
    align_faces: bool = True
    # Detection works on a copy scaled to this longer side: photos keep small faces, video stays fast.
    photo_detection_side: int = 960
    video_detection_side: int = 320
    # Video: the smallest face worth finding, in the frame's own pixels. Detection runs at the size where
    # such a face is still found (fer.video.detection_side): 320 px for a webcam, larger for 1080p and 4K,
    # whose 200-300 px faces were lost at 320 px (benchmarks/video_detection_size.py).
    min_face: int = 100
    # Encoded photos larger than this are decoded at about this size: faces stay far above the 48 px the
    # model reads, and a 50-megapixel photo costs tens of MB instead of hundreds.
    max_decode_side: int = 4096
    # Photos: each face is also read mirrored and the two predictions averaged (a little more accurate).
    photo_tta: str = "flip"
    # Video: probabilities are averaged over time, 0 (each frame alone) to <1 (very steady).
    smoothing: float = 0.6
    # Video: the detector runs on every n-th frame; in between, the last boxes are classified again. At
    # 30 fps a face moves a few pixels in 0.1 s, and detection is most of a frame's cost.
    detect_every_n_frames: int = 3


DEFAULTS = Defaults()
# The detector threshold a viewer may choose (the pages' sliders): below 0.3 YuNet reports textures as faces;
# above 0.9 clear frontal faces (0.92-0.93) start to vanish and small ones (0.82-0.89) are gone.
CONFIDENCE_RANGE = (0.3, 0.9)
# The most smoothing a viewer may choose (the live page's slider, `fer video --smoothing`): beyond it a
# label lags the face by seconds.
MAX_SMOOTHING = 0.95
