"""The defaults every entry point shares (library, CLI, pages) and the environment variables the project
reads, so each one is set, and can be found, in one place."""

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
    # Video: each face once per frame (a mirrored read would halve the frame rate; smoothing steadies it).
    video_tta: str = "none"
    # Video: probabilities are averaged over time, 0 (each frame alone) to <1 (very steady).
    smoothing: float = 0.6
    # Video: the detector runs on every n-th frame; in between, the last boxes are classified again. At
    # 30 fps a face moves a few pixels in 0.1 s, and detection is most of a frame's cost.
    detect_every_n_frames: int = 3
    # Live streams have no end: a stream's timeline (chart, summary, CSV) keeps at most this many rows (one per
    # face per frame; about 35 MB of server memory, 55 minutes of one face at 30 fps). Past it, older parts
    # are kept at a lower rate (fer.video.Timeline), so a long session still has its whole CSV.
    live_timeline_rows: int = 100_000
    # CPU threads for one model call: more than 4 gained nothing on a 48 px face batch.
    model_threads: int = 4


DEFAULTS = Defaults()
# The detector threshold a viewer may choose (the pages' sliders): below 0.3 YuNet reports textures as faces;
# above 0.9 clear frontal faces (0.92-0.93) start to vanish and small ones (0.82-0.89) are gone.
CONFIDENCE_RANGE = (0.3, 0.9)
# The most smoothing a viewer may choose (the live page's slider, `fer video --smoothing`): beyond it a
# label lags the face by seconds.
MAX_SMOOTHING = 0.95

# Environment variables. Each is read in one function, named beside it.
MODELS_DIR_VARIABLE = "FER_MODELS_DIR"  # a folder of your own models instead of models/ (fer.classifier.models_dir)
THREADS_VARIABLE = "FER_THREADS"  # CPU threads per model call, instead of model_threads (fer.runtime.default_threads)
# The app's WebRTC connection, from Streamlit secrets or the environment (app_pages.common.rtc_configuration):
ICE_SERVERS_VARIABLE = "ICE_SERVERS"  # a JSON list of {urls, username, credential}
ICE_TRANSPORT_POLICY_VARIABLE = "ICE_TRANSPORT_POLICY"  # "relay": media only through the TURN servers
# ... or a TURN provider's credentials, which streamlit-webrtc reads under these names.
TURN_PROVIDER_VARIABLES = (
    ("CLOUDFLARE_TURN_KEY_ID", "CLOUDFLARE_TURN_KEY_API_TOKEN"),
    ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN"),
    ("HF_TOKEN",),
)
