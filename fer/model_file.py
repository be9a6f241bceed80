"""Read and write the metadata that travels inside a model file: class names, input size and colour, name.

Two formats carry it, so a model copied anywhere still knows what its outputs mean, with no sidecar to lose:
- `.keras` (training, and models users bring): a zip; Keras reads only its own members, so one more
  JSON member rides along.
- `.tflite` (what the app runs, through LiteRT): a flatbuffer whose `metadata` table holds named
  buffers; ours is one more entry, which the interpreter ignores.
"""

from __future__ import annotations

import json
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

METADATA_MEMBER = "fer_metadata.json"  # the zip member of a .keras file
TFLITE_METADATA_NAME = "fer_metadata"  # the metadata entry of a .tflite file
# Model file suffixes, in the order a folder's copies of one model are preferred: LiteRT needs no TensorFlow.
MODEL_SUFFIXES = (".tflite", ".keras")
# `NAME.int8.tflite` is NAME with int8 weights: a smaller, faster file of the same trained model, which
# NAME's report describes. It is listed as a model of its own, since its predictions differ slightly.
INT8_VARIANT = ".int8"
# What a model's input may be: faces are small, and a side of 100,000 would allocate tens of GB per face.
MIN_IMAGE_SIDE, MAX_IMAGE_SIDE = 8, 1024
# What a stored temperature may be: outside this the probabilities are all but one-hot or all but uniform.
MIN_TEMPERATURE, MAX_TEMPERATURE = 0.1, 10.0
# What a stored prior correction's tau may be, either way: beyond it one class wins whatever the face.
MAX_TAU = 5.0


class ModelFileError(ValueError):
    """The model file is missing, damaged or lacks the metadata we need."""


@dataclass(frozen=True)
class PriorCorrection:
    """How the network's probabilities are corrected before anyone sees them: which class wins, then how sure.

    1. Divide by the training prior to the power tau, then renormalise. A network trained on neutral-heavy
       labels calls a mild but clear expression neutral because neutral was common in training, not because
       the face looks neutral; p / prior**tau takes that bias back out (tau 0: no change, 1: as if every
       class had been equally common). A network trained with a logit-adjusted loss, or distilled from an
       already corrected teacher, can overshoot the other way and call neutral faces sad: a negative tau
       puts part of the prior back.
    2. Temperature scaling (Guo et al. 2017): p ** (1 / temperature), renormalised. It never changes which
       class wins, only how confident the answer says it is, so that "80% happy" is right about 80% of the
       time (temperature 1: no change).
    Stored in the model file and applied by `EmotionClassifier` for every caller; both are chosen on the
    validation split."""

    prior: tuple[float, ...]
    tau: float
    temperature: float = 1.0

    def apply(self, probabilities: np.ndarray) -> np.ndarray:
        scaled = probabilities * np.power(np.asarray(self.prior, np.float64), -self.tau)
        if self.temperature != 1.0:
            scaled = np.power(np.clip(scaled / scaled.sum(axis=-1, keepdims=True), 1e-12, None), 1.0 / self.temperature)
        return (scaled / scaled.sum(axis=-1, keepdims=True)).astype(np.float32)

    def to_json(self) -> dict:
        raw = {"prior": [round(p, 6) for p in self.prior], "tau": self.tau}
        return raw if self.temperature == 1.0 else {**raw, "temperature": self.temperature}

    @classmethod
    def from_json(cls, raw: dict, classes: int) -> PriorCorrection:
        prior = tuple(float(p) for p in raw["prior"])
        tau, temperature = float(raw["tau"]), float(raw.get("temperature", 1.0))
        if len(prior) != classes or not all(0.0 < p <= 1.0 for p in prior) or not -MAX_TAU <= tau <= MAX_TAU:
            raise ValueError(f"prior_correction needs {classes} priors in (0, 1] and tau in "
                             f"[-{MAX_TAU:g}, {MAX_TAU:g}], got {len(prior)} priors and tau {tau}")
        if not MIN_TEMPERATURE <= temperature <= MAX_TEMPERATURE:
            raise ValueError(f"prior_correction's temperature must be in [{MIN_TEMPERATURE}, {MAX_TEMPERATURE}], "
                             f"not {temperature}")
        return cls(prior, tau, temperature)


@dataclass(frozen=True)
class ModelInfo:
    name: str
    class_names: tuple[str, ...]
    image_size: tuple[int, int]  # (height, width)
    channels: int  # 1 grayscale, 3 RGB
    prior_correction: PriorCorrection | None = None

    def to_json(self) -> dict:
        raw = {
            "name": self.name,
            "class_names": list(self.class_names),
            "image_size": list(self.image_size),
            "channels": self.channels,
        }
        if self.prior_correction is not None:
            raw["prior_correction"] = self.prior_correction.to_json()
        return raw

    @classmethod
    def from_json(cls, raw: dict) -> ModelInfo:
        """Metadata as stored, checked for types and ranges: a file must not be able to make the app
        allocate gigabytes (image_size 100000) or read a string as a list of one-letter classes."""
        if not isinstance(raw, dict):
            raise ValueError(f"metadata must be a JSON object, not {type(raw).__name__}")
        class_names = raw["class_names"]
        if not (isinstance(class_names, list) and class_names and all(isinstance(n, str) and n.strip()
                                                                      for n in class_names)):
            raise ValueError(f"class_names must be a list of non-empty names, not {str(class_names)[:80]!r}")
        if len(set(class_names)) != len(class_names):
            raise ValueError(f"class_names repeats a name: {class_names}")
        size = raw["image_size"]
        if not (isinstance(size, list) and len(size) == 2 and all(_is_whole(s) for s in size)
                and all(MIN_IMAGE_SIDE <= s <= MAX_IMAGE_SIDE for s in size)):
            raise ValueError(f"image_size must be [height, width], each {MIN_IMAGE_SIDE}-{MAX_IMAGE_SIDE} pixels, "
                             f"not {str(size)[:80]}")
        channels = raw["channels"]
        if not (_is_whole(channels) and channels in (1, 3)):
            raise ValueError(f"channels must be 1 (grayscale) or 3 (RGB), not {str(channels)[:80]}")
        if not isinstance(raw["name"], str):
            raise ValueError(f"name must be text, not {str(raw['name'])[:80]}")
        correction = raw.get("prior_correction")
        return cls(
            name=raw["name"],
            class_names=tuple(class_names),
            image_size=(int(size[0]), int(size[1])),
            channels=int(channels),
            prior_correction=None if correction is None else PriorCorrection.from_json(correction, len(class_names)),
        )

    def check_network(self, path: Path, input_shape: tuple, classes: int) -> None:
        """The metadata must describe the network it travels with: its input (height, width, channels)
        and its number of outputs. A mismatch is caught when the file is opened, in one line."""
        expected = (*self.image_size, self.channels)
        known = tuple(input_shape[-3:])
        if len(input_shape) != 4 or any(d is not None and d != e for d, e in zip(known, expected)):
            raise ModelFileError(f"{path}: its metadata says {self.image_size[0]}x{self.image_size[1]} pixels with "
                                 f"{self.channels} channel(s), but the network reads "
                                 f"{' x '.join('any' if d is None else str(d) for d in input_shape[1:])}")
        if classes != len(self.class_names):
            raise ModelFileError(f"{path} gives {classes} outputs but its metadata names "
                                 f"{len(self.class_names)} classes")


def describe_correction(correction: PriorCorrection | None) -> str:
    """Short enough for a dashboard metric, and the same in logs and benchmarks: "tau 0.1, T 0.62" (T: the
    temperature), "tau 0.1" when the temperature is 1, or "none"."""
    if correction is None:
        return "none"
    return f"tau {correction.tau:g}" + ("" if correction.temperature == 1.0 else f", T {correction.temperature:.2f}")


def _is_whole(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def write_model_info(path: str | Path, info: ModelInfo) -> None:
    """Store `info` inside the model file at `path` (a .keras or .tflite file), in place."""
    path = Path(path)
    payload = json.dumps(info.to_json(), indent=1)
    if path.suffix == ".tflite":
        _write_tflite_info(path, payload)
        return
    with zipfile.ZipFile(path, "a") as archive:
        if METADATA_MEMBER in archive.namelist():
            raise ModelFileError(f"{path} already has {METADATA_MEMBER}")
        archive.writestr(METADATA_MEMBER, payload)


def read_model_info(path: str | Path) -> ModelInfo:
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"model file not found: {path}")
    raw_json = _read_tflite_info(path) if path.suffix == ".tflite" else _read_keras_info(path)
    try:
        raw = json.loads(raw_json)
        return ModelInfo.from_json(raw)
    except (ValueError, KeyError, TypeError, IndexError) as err:
        raise ModelFileError(f"{path} has damaged metadata ({type(err).__name__}: {err})") from err


def model_files(folder: str | os.PathLike) -> list[Path]:
    """One file per model in `folder`, sorted by name: a model shipped as .tflite and .keras is listed
    once, as its preferred format, and so is a .keras beside its int8 copy (its weights, 4x faster)."""
    by_stem: dict[str, Path] = {}
    for suffix in reversed(MODEL_SUFFIXES):  # later suffixes win
        for path in Path(folder).glob(f"*{suffix}"):
            by_stem[path.stem] = path
    shadowed = [stem for stem, path in by_stem.items() if path.suffix == ".keras" and stem + INT8_VARIANT in by_stem]
    return [by_stem[stem] for stem in sorted(by_stem) if stem not in shadowed]


def trained_model_stem(path: str | os.PathLike) -> str:
    """NAME for NAME.keras, NAME.tflite and NAME.int8.tflite: the one trained model (and report) behind them."""
    path = Path(path)
    return path.stem.removesuffix(INT8_VARIANT) if path.suffix == ".tflite" else path.stem


def _read_keras_info(path: Path) -> bytes:
    try:
        with zipfile.ZipFile(path) as archive:
            return archive.read(METADATA_MEMBER)
    except zipfile.BadZipFile as err:
        raise ModelFileError(f"{path} is not a .keras model file ({err})") from err
    except KeyError as err:
        raise ModelFileError(f"{path} has no class list ({METADATA_MEMBER}); train it with training.train") from err


def _read_tflite_info(path: Path) -> bytes:
    from ai_edge_litert import schema_py_generated as schema

    data = path.read_bytes()
    try:
        if not schema.Model.ModelBufferHasIdentifier(data, 0):
            raise ModelFileError(f"{path} is not a .tflite model file")
        model = schema.Model.GetRootAs(data, 0)
        for j in range(model.MetadataLength()):
            entry = model.Metadata(j)
            if entry.Name() == TFLITE_METADATA_NAME.encode():
                return model.Buffers(entry.Buffer()).DataAsNumpy().tobytes()
    except ModelFileError:
        raise
    except Exception as err:  # flatbuffers raises many types for a damaged file
        raise ModelFileError(f"{path} is not a readable .tflite model file ({type(err).__name__})") from err
    raise ModelFileError(f"{path} has no class list ({TFLITE_METADATA_NAME}); export it with training.export_litert")


def _write_tflite_info(path: Path, payload: str) -> None:
    from ai_edge_litert import schema_py_generated as schema
    from ai_edge_litert.tools import flatbuffer_utils

    model = flatbuffer_utils.read_model_from_bytearray(bytearray(path.read_bytes()))
    if any(entry.name == TFLITE_METADATA_NAME.encode() for entry in model.metadata or []):
        raise ModelFileError(f"{path} already has {TFLITE_METADATA_NAME}")
    buffer = schema.BufferT()
    buffer.data = np.frombuffer(payload.encode(), dtype=np.uint8)
    model.buffers.append(buffer)
    entry = schema.MetadataT()
    entry.name, entry.buffer = TFLITE_METADATA_NAME, len(model.buffers) - 1
    model.metadata = [*(model.metadata or []), entry]
    path.write_bytes(flatbuffer_utils.convert_object_to_bytearray(model))
