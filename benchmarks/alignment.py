"""What levelling the eyes before classification does to accuracy on tilted faces.

    python benchmarks/alignment.py [--model M] [--faces 600] [--data ../shared/data/fer2013]

Real faces: `--faces` drawn at random (seed 0) from FER2013's PublicTest (the validation split: this
measurement chooses a default, so it never looks at PrivateTest), each scaled to 144 px in a 288 px frame
with a mirrored border and rotated by -30 to 30 degrees. Each tilted photo goes through
`EmotionRecognizer.analyze` as the app runs it, with `align=False` (today's crop) and `align=True`
(rotated by YuNet's eye landmarks), and, as an upper bound, a crop levelled by the true angle. Scores:
faces found, accuracy against the FER2013 label and against the FER+ majority where it is clear, and how
far YuNet's eye angle is from the true tilt.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import cv2
import numpy as np

from fer import EmotionRecognizer
from fer.classifier import default_model_path
from fer.detection import Box, aligned_face_crop
from fer.recognizer import CROP_MARGIN
from training.data import VAL, load_dataset
from training.ferplus import join_votes

ANGLES = (-30, -15, 0, 15, 30)
ROOT = Path(__file__).resolve().parent.parent


def tilted_photo(face: np.ndarray, angle: float) -> np.ndarray:
    """A 48 px grayscale face at 144 px inside a 288 px frame (mirrored border), turned by `angle` degrees
    (counter-clockwise on screen)."""
    big = cv2.resize(face, (144, 144), interpolation=cv2.INTER_CUBIC)
    frame = cv2.copyMakeBorder(big, 72, 72, 72, 72, cv2.BORDER_REFLECT)
    frame = cv2.warpAffine(frame, cv2.getRotationMatrix2D((144, 144), angle, 1.0), (288, 288),
                           borderMode=cv2.BORDER_REFLECT)
    return np.ascontiguousarray(np.repeat(frame[:, :, None], 3, axis=2))


def scores(predicted: list[int], truth: np.ndarray, majority: np.ndarray) -> str:
    """'FER2013 accuracy / FER+ majority accuracy' (the latter on the faces with a clear majority)."""
    predicted = np.array(predicted)
    clear = majority >= 0
    fer_plus = (predicted[clear] == majority[clear]).mean() if clear.any() else float("nan")
    return f"{(predicted == truth).mean():.3f} / {fer_plus:.3f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(default_model_path("live")))
    parser.add_argument("--faces", type=int, default=600)
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "fer2013"))
    args = parser.parse_args()
    dataset = load_dataset(args.data, image_size=48, color="grayscale")
    join_votes(dataset, args.data)
    pick = np.random.default_rng(0).permutation(len(dataset.splits[VAL]))[: args.faces]  # all classes
    validation = dataset.splits[VAL].subset(np.sort(pick))
    recognizer = EmotionRecognizer(args.model)
    names = list(recognizer.class_names)
    print(f"model {Path(args.model).name}; {args.faces} PublicTest faces; detector threshold as the app uses it")
    print(f"{'angle':>6}{'found':>7}{'eye angle error':>17}   accuracy FER2013 / FER+ majority")
    print(f"{'':>30}{'plain crop':>18}{'aligned (YuNet)':>20}{'aligned (true angle)':>22}")
    for angle in ANGLES:
        hits = {"plain": [], "aligned": [], "oracle": []}
        truth, majority, errors = [], [], []
        for i, face in enumerate(validation.images[:, :, :, 0]):
            photo = tilted_photo(face, angle)
            plain = recognizer.analyze(photo, align=False)
            if not plain:
                continue
            box = plain[0].box
            aligned = recognizer.classify_boxes(photo, [box], align=True)[0]
            # The true eye line: level eyes turned by the known angle (screen y points down).
            t = np.radians(angle)
            oracle_box = Box(box.x, box.y, box.w, box.h, box.score, ((0.0, 0.0), (np.cos(t), -np.sin(t))))
            crop = aligned_face_crop(photo, oracle_box, CROP_MARGIN)
            oracle = recognizer.classify_crops([crop])[0]
            for key, result in (("plain", plain[0]), ("aligned", aligned), ("oracle", oracle)):
                hits[key].append(names.index(result.label))
            truth.append(validation.labels[i])
            majority.append(validation.votes.majority[i] if validation.votes is not None else -1)
            errors.append(abs(box.eye_angle() - (-angle)))
        truth, majority = np.array(truth), np.array(majority)
        plain, aligned, oracle = (scores(hits[key], truth, majority) for key in ("plain", "aligned", "oracle"))
        print(f"{angle:>6}{len(truth):>7}{np.median(errors):>14.1f} deg{plain:>18}{aligned:>20}{oracle:>22}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
