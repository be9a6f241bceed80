"""What a prediction rests on: occlusion sensitivity over a face, and the CNN's feature maps.

Occlusion sensitivity hides one patch of the face at a time and measures how much the predicted
class's probability drops: regions whose hiding costs the most are what the label rests on. It needs
forward passes only, so it works for any model file (LiteRT or Keras, single CNN or ensemble), and
costs about a hundred extra face classifications, computed only when a user asks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import cv2
import numpy as np

from fer.classifier import EmotionClassifier
from fer.detection import Box
from fer.preprocessing import prepare_face
from fer.recognizer import EmotionRecognizer
from fer.runtime import inspecting_interpreter

# A patch of a quarter of the face's side, moved a twelfth at a time: ten by ten positions on 48 px.
PATCH_FRACTION = 0.25
STRIDE_FRACTION = 1 / 12
# The heat map's scale is absolute: full colour where hiding the patches over a pixel lowers the probability by
# this much on average, so a face whose largest effect is 1% shows almost nothing (scaling each map to its own
# maximum drew a 1% effect as bright red as a 60% one).
FULL_HEAT_DROP = 0.15


@dataclass(frozen=True)
class Saliency:
    heat: np.ndarray  # (height, width) at the model's input size, 0 (no effect) to 1 (a drop of FULL_HEAT_DROP)
    label: str  # the class whose probability was followed: the face's prediction
    drop: float  # the largest drop in that probability one patch caused


def occlusion_saliency(classifier: EmotionClassifier, rgb_crop: np.ndarray) -> Saliency:
    """How much hiding each region of a face crop lowers the probability of its predicted class."""
    face = prepare_face(rgb_crop, classifier.info.image_size, classifier.info.channels)
    height, width = face.shape[:2]
    patch = max(2, round(height * PATCH_FRACTION))
    stride = max(1, round(height * STRIDE_FRACTION))
    fill = face.reshape(-1, face.shape[2]).mean(axis=0).astype(np.uint8)  # the face's own mean: no new edges
    positions = [(y, x) for y in range(0, height - patch + 1, stride) for x in range(0, width - patch + 1, stride)]
    hidden = np.repeat(face[None], len(positions) + 1, axis=0)
    for i, (y, x) in enumerate(positions, start=1):
        hidden[i, y : y + patch, x : x + patch] = fill
    probabilities = classifier.predict_prepared(hidden)
    target = int(np.argmax(probabilities[0]))
    drops = probabilities[0, target] - probabilities[1:, target]
    total = np.zeros((height, width), np.float64)
    count = np.zeros((height, width), np.float64)
    for drop, (y, x) in zip(drops, positions):
        total[y : y + patch, x : x + patch] += drop
        count[y : y + patch, x : x + patch] += 1
    heat = np.clip(total / np.maximum(count, 1), 0, None)
    largest = float(drops.max(initial=0.0))
    return Saliency(np.clip(heat / FULL_HEAT_DROP, 0, 1), classifier.class_names[target], largest)


def explain_face(recognizer: EmotionRecognizer, rgb: np.ndarray, box: Box) -> tuple[np.ndarray, Saliency]:
    """The face in `box` as the model saw it (the same crop), with its occlusion heat map laid over it."""
    crop = recognizer.face_crop(rgb, box)
    saliency = occlusion_saliency(recognizer.classifier, crop)
    return heat_overlay(crop, saliency.heat), saliency


def heat_overlay(rgb_crop: np.ndarray, heat: np.ndarray, opacity: float = 0.6) -> np.ndarray:
    """The crop with the heat map laid over it, as strong as the effect: red where hiding the region lowered
    the prediction by FULL_HEAT_DROP or more, the face untouched where it changed nothing."""
    heat = cv2.resize(heat.astype(np.float32), rgb_crop.shape[1::-1])
    colours = cv2.applyColorMap(np.uint8(255 * heat), cv2.COLORMAP_JET)[:, :, ::-1].astype(np.float32)
    crop = (rgb_crop if rgb_crop.ndim == 3 else cv2.cvtColor(rgb_crop, cv2.COLOR_GRAY2RGB)).astype(np.float32)
    weight = opacity * heat[:, :, None]
    return np.uint8(np.clip(crop * (1 - weight) + colours * weight + 0.5, 0, 255))


@dataclass(frozen=True)
class FeatureMaps:
    layer: str  # e.g. "b1_relu0" (an ensemble's layers start with the member's name)
    maps: np.ndarray  # (height, width, channels) activations of one face


def face_feature_maps(recognizer: EmotionRecognizer, rgb: np.ndarray, box: Box) -> list[FeatureMaps]:
    """The feature maps of the face in `box`, read from the crop the recognizer classifies."""
    return feature_maps(recognizer.classifier, recognizer.face_crop(rgb, box))


def feature_maps(classifier: EmotionClassifier, rgb_crop: np.ndarray) -> list[FeatureMaps]:
    """The activations of every convolution and pooling layer for one face crop, in network order.
    Reads a `.tflite` file with a one-off interpreter that keeps its intermediate tensors. The interpreter
    has no public list of its operations, so the layers are found by what they are: the named image-shaped
    tensors (batch of one, height x width x channels) whose values depend on the face. Weights do not;
    the converter's unnamed temporaries are not layers."""
    if classifier.path.suffix != ".tflite":
        raise ValueError("feature maps are read from .tflite models; convert this one with "
                         "`python -m training.export_litert`")
    interpreter = inspecting_interpreter(classifier.path)
    face = prepare_face(rgb_crop, classifier.info.image_size, classifier.info.channels)[None].astype(np.float32)
    input_index = interpreter.get_input_details()[0]["index"]
    candidates = [d for d in interpreter.get_tensor_details() if d["name"] and d["index"] != input_index
                  and len(d["shape"]) == 4 and d["shape"][0] == 1 and d["dtype"] == np.float32]

    def activations(image: np.ndarray) -> dict[int, np.ndarray]:
        interpreter.set_tensor(input_index, image)
        interpreter.invoke()
        return {d["index"]: interpreter.get_tensor(d["index"]).copy() for d in candidates}

    other = activations(255.0 - face)  # another face: what stays the same is not an activation
    values = activations(face)
    return [FeatureMaps(layer_name(d["name"]), values[d["index"]][0])
            for d in sorted(candidates, key=lambda d: d["index"])
            if not np.array_equal(values[d["index"]], other[d["index"]])]


def layer_name(tensor_name: str) -> str:
    """"fer2013_vgg32_1/b0_relu0_1/Relu;..." -> "b0_relu0": the model's own name (whatever it is) goes, an
    ensemble member's name is kept in front ("member_0/b0_relu0")."""
    first = tensor_name.split(";")[0].split("/")
    parts = [re.sub(r"_\d+$", "", part) for part in first[:-1]]
    return "/".join(parts[1:] if len(parts) > 1 else parts) or first[0]


def feature_grid(maps: np.ndarray, columns: int = 8, channels: int = 32, cell: int = 64) -> np.ndarray:
    """The first `channels` maps of a layer as one RGB image, each scaled to its own range (viridis)."""
    shown = maps[:, :, :channels]
    rows = -(-shown.shape[2] // columns)
    grid = np.full((rows * (cell + 2), columns * (cell + 2), 3), 255, np.uint8)
    for i in range(shown.shape[2]):
        channel = shown[:, :, i].astype(np.float32)
        span = channel.max() - channel.min()
        scaled = np.uint8(255 * (channel - channel.min()) / span) if span > 0 else np.zeros_like(channel, np.uint8)
        tile = cv2.applyColorMap(cv2.resize(scaled, (cell, cell), interpolation=cv2.INTER_NEAREST),
                                 cv2.COLORMAP_VIRIDIS)[:, :, ::-1]
        y, x = (i // columns) * (cell + 2), (i % columns) * (cell + 2)
        grid[y : y + cell, x : x + cell] = tile
    return grid
