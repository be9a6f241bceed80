"""How much of the face the classifier should read: the crop margin around YuNet's box, on real faces.

    python benchmarks/crop_margin.py [--model M] [--tta none] [--margins -0.1 -0.05 0 0.05] [--real-up-to 0.1]

The app crops a square of side max(box) x (1 + margin) around each face YuNet finds (`fer.recognizer.
CROP_MARGIN`); the models learnt FER2013's own 48 px squares, which frame faces loosely or tightly. Each
PublicTest face (the validation split: this chooses a default, so it never looks at PrivateTest) goes through
YuNet as the app runs it, at 144 px in a mirrored frame so that the box is not cut at the image's edge. Then:

- **framing**: the margin that would reproduce each face's FER2013 square from YuNet's box, and how far the
  two centres are apart (fractions of the square);
- **accuracy per margin** on the faces whose crop at `--real-up-to` (the app's margin by default) stays
  inside their own image, so that every pixel read is real: a wider margin on a tightly framed FER2013 face
  would read pixels that are not there, where a photo has hair, neck and background. The set leans to the
  faces FER2013 framed loosely.

Each margin is set against the app's on the same faces, with the paired bootstrap standard error (1,000
resamples) of the difference in balanced accuracy and in majority accuracy (FER+ majority, clear faces).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import cv2
import numpy as np

from benchmarks.alignment import tilted_photo
from benchmarks.publictest import load_publictest, print_paired_table
from fer.classifier import EmotionClassifier, default_model_path
from fer.detection import Box, default_detector, detect_faces, face_crop
from fer.recognizer import CROP_MARGIN
from fer.settings import DEFAULTS
from training.evaluate import TTA_MODES

ROOT = Path(__file__).resolve().parent.parent
FACE_SIDE, FRAME_BORDER = 144, 72  # alignment.tilted_photo's 48 px face, scaled, and the frame around it


def crop_inside(box: Box, margin: float, shape: tuple[int, int]) -> bool:
    """Whether `face_crop(image, box, margin)` reads only the image's own pixels (to within one of FER2013's 48)."""
    half = max(box.w, box.h) * (1.0 + margin) / 2.0
    cx, cy = box.x + box.w / 2.0, box.y + box.h / 2.0
    return cx - half >= -3 and cy - half >= -3 and cx + half <= shape[1] + 3 and cy + half <= shape[0] + 3


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(default_model_path("live")))
    parser.add_argument("--tta", choices=TTA_MODES, default="none", help="flip for the photos model, as Photos runs it")
    parser.add_argument("--margins", type=float, nargs="+", default=[-0.1, -0.05, 0.0, 0.05])
    parser.add_argument("--real-up-to", type=float, default=CROP_MARGIN,
                        help="the widest margin scored (wider: fewer faces fit inside their image)")
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "fer2013"))
    args = parser.parse_args()
    if args.real_up_to < CROP_MARGIN:
        parser.error(f"--real-up-to must include the app's margin, {CROP_MARGIN}")
    margins = sorted(set(args.margins) | {CROP_MARGIN})
    classifier = EmotionClassifier(args.model)
    names = list(classifier.class_names)
    validation = load_publictest(args.data, classifier)

    # YuNet runs on each face at 144 px in a mirrored frame, so that its box is not cut at the 48 px image's
    # edge; the crops come from the 144 px face alone, the pixels beyond it repeated from its edge.
    detector, found, boxes, faces = default_detector(), [], [], []
    for i, face in enumerate(validation.images[:, :, :, 0]):
        box = detect_faces(detector, tilted_photo(face, 0.0), max_side=DEFAULTS.photo_detection_side,
                           min_confidence=DEFAULTS.min_confidence, max_faces=1)
        if box:
            found.append(i)
            boxes.append(box[0].scaled(1.0, offset=(-FRAME_BORDER, -FRAME_BORDER)))
            faces.append(np.repeat(cv2.resize(face, (FACE_SIDE, FACE_SIDE), interpolation=cv2.INTER_CUBIC)[:, :, None],
                                   3, axis=2))
    print(f"model {Path(args.model).name}, TTA {args.tta}; app margin {CROP_MARGIN}; "
          f"YuNet found {len(found)} of {len(validation.images)} PublicTest faces")

    side = np.array([max(box.w, box.h) for box in boxes])
    native_margin = FACE_SIDE / side - 1.0
    dx = np.array([box.x + box.w / 2 for box in boxes]) / FACE_SIDE - 0.5
    dy = np.array([box.y + box.h / 2 for box in boxes]) / FACE_SIDE - 0.5
    q = np.percentile(native_margin, [10, 25, 50, 75, 90])
    print("framing: the margin that reproduces FER2013's square, percentiles 10/25/50/75/90: "
          + " ".join(f"{v:+.3f}" for v in q))
    print(f"framing: YuNet's box centre minus the square's, median: x {np.median(dx):+.3f}, y {np.median(dy):+.3f} "
          f"(y down); the app's margin is at percentile {100 * (native_margin < CROP_MARGIN).mean():.0f}")

    votes = validation.votes.subset(np.array(found))
    inside = votes.clear & np.array([crop_inside(box, args.real_up_to, (FACE_SIDE, FACE_SIDE)) for box in boxes])
    predictions = {}
    for margin in (m for m in margins if m <= args.real_up_to):
        crops = [face_crop(faces[i], boxes[i], margin) for i in np.flatnonzero(inside)]
        predictions[f"margin {margin:+.2f}"] = classifier.predict_crops(crops, args.tta).argmax(axis=1)
    print_paired_table(f"clear faces whose crop at margin {args.real_up_to:+.2f} lies inside their image",
                       predictions, f"margin {CROP_MARGIN:+.2f}", votes.majority[inside], names)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
