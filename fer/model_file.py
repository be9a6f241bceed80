"""Read and write the metadata that travels inside a `.keras` file: class names, colour, model name.

A `.keras` file is a zip; Keras reads only its own members, so one more JSON member rides along.
That way a model copied anywhere still knows what its outputs mean, with no sidecar to lose.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

METADATA_MEMBER = "fer_metadata.json"


class ModelFileError(ValueError):
    """The model file is missing, damaged or lacks the metadata we need."""


@dataclass(frozen=True)
class ModelInfo:
    name: str
    class_names: tuple[str, ...]
    image_size: tuple[int, int]  # (height, width)
    channels: int  # 1 grayscale, 3 RGB

    def to_json(self) -> dict:
        return {
            "name": self.name,
            "class_names": list(self.class_names),
            "image_size": list(self.image_size),
            "channels": self.channels,
        }


def write_model_info(path: str | Path, info: ModelInfo) -> None:
    with zipfile.ZipFile(path, "a") as archive:
        if METADATA_MEMBER in archive.namelist():
            raise ModelFileError(f"{path} already has {METADATA_MEMBER}")
        archive.writestr(METADATA_MEMBER, json.dumps(info.to_json(), indent=1))


def read_model_info(path: str | Path) -> ModelInfo:
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"model file not found: {path}")
    try:
        with zipfile.ZipFile(path) as archive:
            raw = json.loads(archive.read(METADATA_MEMBER))
    except zipfile.BadZipFile as err:
        raise ModelFileError(f"{path} is not a .keras model file ({err})") from err
    except KeyError as err:
        raise ModelFileError(f"{path} has no class list ({METADATA_MEMBER}); train it with training.train") from err
    return ModelInfo(
        name=str(raw["name"]),
        class_names=tuple(raw["class_names"]),
        image_size=(int(raw["image_size"][0]), int(raw["image_size"][1])),
        channels=int(raw["channels"]),
    )
