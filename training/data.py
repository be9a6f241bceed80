"""Load a labelled face dataset from whatever a user has: a Kaggle folder, its .zip, or a CSV.

Supported, detected from what the path is:
- FER2013 Kaggle layout: `train/<class>/*` and `test/<class>/*`; files named `PublicTest_*` and
  `PrivateTest_*` split `test/` into validation (model selection) and test (final report).
- Any folder of class folders, with or without `train/`/`test/` (and optional `val/`) folders.
- The same as a `.zip`.
- `fer2013.csv` (`emotion,pixels,Usage`) and the Kaggle challenge's `train.csv` (`emotion,pixels`).
Splits that a dataset lacks are made here: a seeded, stratified validation split of the training data.
Every problem is a `DatasetError` whose message names the file or CSV row.
"""

from __future__ import annotations

import hashlib
import io
import os
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import numpy as np
from PIL import Image

from fer.images import IMAGE_SUFFIXES, ImageError, load_rgb
from fer.model_file import ModelInfo
from fer.pixel_csv import PixelCsvError, csv_records, parse_pixels
from fer.preprocessing import prepare_face

# fer2013.csv label index -> class name (its order is not alphabetical).
FER2013_CSV_CLASSES = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
FER2013_CLASSES = sorted(FER2013_CSV_CLASSES)
MAX_AUTO_SIZE = 96
VAL_DIR_NAMES = {"val", "valid", "validation"}

# Split names used throughout training, evaluation and the report.
TRAIN, VAL, TEST, TEST_ALL = "train", "val", "test", "test_all"


SUBTLE_NEUTRAL_VOTES = 2  # of a FER+ face's ten raters, this many saying neutral make its expression subtle


class DatasetError(ValueError):
    """The dataset cannot be used; the message names the file or row and what is wrong."""


@dataclass
class Votes:
    """Crowd votes for each image of a split (FER+: ten people a face), in the dataset's class order."""

    counts: np.ndarray  # (N, classes) float32 votes for each class; all zero where the image has none
    majority: np.ndarray  # (N,) int64 class with the clear majority of all votes, -1 for a tie or a non-emotion
    trainable: np.ndarray  # (N,) bool: has emotion votes and its majority is not "unknown" or "not a face"

    def subset(self, index: np.ndarray) -> Votes:
        return Votes(self.counts[index], self.majority[index], self.trainable[index])

    @property
    def clear(self) -> np.ndarray:
        """(N,) bool: the images with one clear majority, the ones majority and balanced accuracy score."""
        return self.majority >= 0

    def subtle(self, neutral: int, min_neutral_votes: int = SUBTLE_NEUTRAL_VOTES) -> np.ndarray:
        """(N,) bool: faces whose clear majority is an expression while at least `min_neutral_votes` raters
        saw neutral: the subtle expressions, which faces from other sets show most often read as neutral."""
        return (self.majority >= 0) & (self.majority != neutral) & (self.counts[:, neutral] >= min_neutral_votes)

    def distributions(self) -> np.ndarray:
        """Each image's votes as probabilities over the classes (zero rows stay zero)."""
        totals = self.counts.sum(axis=1, keepdims=True)
        return np.divide(self.counts, totals, out=np.zeros_like(self.counts), where=totals > 0)


@dataclass
class Split:
    images: np.ndarray  # (N, H, W, C) uint8
    labels: np.ndarray  # (N,) int64 class indices
    paths: list[str] | None = None  # each image's path inside the dataset (folders and zips)
    votes: Votes | None = None  # crowd votes joined by path (training.ferplus)

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, index: np.ndarray) -> Split:
        """The images at `index`, with their labels, paths and votes."""
        index = np.asarray(index, dtype=np.int64)
        return Split(self.images[index], self.labels[index],
                     None if self.paths is None else [self.paths[i] for i in index],
                     None if self.votes is None else self.votes.subset(index))

    def class_counts(self, num_classes: int) -> list[int]:
        return np.bincount(self.labels, minlength=num_classes).astype(int).tolist()

    def describe(self, num_classes: int) -> dict:
        """Counts for the report; with votes, also the faces each class has the clear majority of."""
        row = {"count": len(self), "class_counts": self.class_counts(num_classes)}
        if self.votes is not None:
            clear = self.votes.majority[self.votes.clear]
            row["majority_counts"] = np.bincount(clear, minlength=num_classes).astype(int).tolist()
            row["trainable"] = int(self.votes.trainable.sum())
        return row


@dataclass
class Dataset:
    class_names: list[str]
    splits: dict[str, Split]
    image_size: tuple[int, int]
    channels: int
    source: str  # a short description of the format that was detected
    notes: list[str] = field(default_factory=list)  # e.g. how the validation split was made

    def fingerprint(self) -> str:
        """SHA-256 over class names and every split's pixels and labels: same data, same print."""
        digest = hashlib.sha256()
        digest.update(",".join(self.class_names).encode())
        for name in sorted(self.splits):
            split = self.splits[name]
            digest.update(name.encode())
            digest.update(np.ascontiguousarray(split.images).tobytes())
            digest.update(split.labels.astype(np.int64).tobytes())
            if split.votes is not None:
                digest.update(np.ascontiguousarray(split.votes.counts, np.float32).tobytes())
        return digest.hexdigest()

    def describe(self) -> dict:
        return {
            "source": self.source,
            "class_names": self.class_names,
            "image_size": list(self.image_size),
            "channels": self.channels,
            "splits": {name: split.describe(len(self.class_names)) for name, split in self.splits.items()},
            "notes": self.notes,
            "fingerprint": self.fingerprint(),
        }


def load_dataset_for(info: ModelInfo, path: str | os.PathLike) -> Dataset:
    """The dataset at `path` in a trained model's input format (its size and colour), to evaluate it."""
    return load_dataset(path, image_size=info.image_size[0], color="grayscale" if info.channels == 1 else "rgb")


def load_dataset(
    path: str | os.PathLike,
    *,
    image_size: int | None = None,
    color: str = "auto",
    val_fraction: float = 0.1,
    seed: int = 42,
) -> Dataset:
    """Load the dataset at `path`, detecting its format. `image_size=None` and `color="auto"` infer
    both from the images (FER2013: 48x48 grayscale)."""
    path = Path(path)
    if not path.exists():
        raise DatasetError(f"{path}: no such file or folder")
    if path.is_dir():
        files = _DirectoryFiles(path)
    elif path.suffix.lower() == ".zip":
        files = _ZipFiles(path)
    elif path.suffix.lower() == ".csv":
        return _load_csv(path, val_fraction=val_fraction, seed=seed)
    else:
        raise DatasetError(f"{path}: expected a folder, a .zip or a .csv file")
    return _load_folders(files, image_size=image_size, color=color, val_fraction=val_fraction, seed=seed)


# --- folders and zips ---------------------------------------------------------------------------


class _DirectoryFiles:
    """Image files under a folder, as relative POSIX paths, plus their bytes on demand."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.label = str(root)
        self.paths: list[PurePosixPath] = []
        self.dirs: set[PurePosixPath] = set()
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            rel_dir = PurePosixPath(Path(dirpath).relative_to(root).as_posix())
            if str(rel_dir) != ".":
                self.dirs.add(rel_dir)
            for name in sorted(filenames):
                if Path(name).suffix.lower() in IMAGE_SUFFIXES and not name.startswith("."):
                    self.paths.append(rel_dir / name if str(rel_dir) != "." else PurePosixPath(name))

    def read(self, rel: PurePosixPath) -> bytes:
        return (self.root / Path(*rel.parts)).read_bytes()


class _ZipFiles:
    def __init__(self, path: Path) -> None:
        self.label = str(path)
        try:
            self.zip = zipfile.ZipFile(path)
        except zipfile.BadZipFile as err:
            raise DatasetError(f"{path}: not a valid zip file ({err})") from err
        self.paths = []
        self.dirs = set()
        for info in self.zip.infolist():
            rel = PurePosixPath(info.filename)
            if any(part.startswith((".", "__MACOSX")) for part in rel.parts):
                continue
            for parent in list(rel.parents)[:-1]:
                self.dirs.add(parent)
            if info.is_dir():
                self.dirs.add(rel)
            elif rel.suffix.lower() in IMAGE_SUFFIXES:
                self.paths.append(rel)
        self.paths.sort()

    def read(self, rel: PurePosixPath) -> bytes:
        return self.zip.read(str(rel))


def _strip_wrappers(files) -> PurePosixPath:
    """Kaggle zips and hand-made folders often wrap everything in one folder: find the real root."""
    root = PurePosixPath(".")
    while True:
        children = {p.relative_to(root).parts[0] for p in files.paths if _is_under(p, root)}
        subdirs = {d.relative_to(root).parts[0] for d in files.dirs if _is_under(d, root) and d != root}
        has_files_here = any(len(p.relative_to(root).parts) == 1 for p in files.paths if _is_under(p, root))
        if len(subdirs) == 1 and not has_files_here and len(children) <= 1:
            only = next(iter(subdirs))
            if only.lower() == "train":
                return root
            root = root / only
            continue
        return root


def _is_under(path: PurePosixPath, root: PurePosixPath) -> bool:
    return str(root) == "." or path.parts[: len(root.parts)] == root.parts


def _child_dirs(files, root: PurePosixPath) -> dict[str, PurePosixPath]:
    out = {}
    for d in files.dirs:
        if _is_under(d, root) and d != root and len(d.relative_to(root).parts) == 1:
            out[d.name] = d
    return out


def _load_folders(files, *, image_size, color, val_fraction, seed) -> Dataset:
    if not files.paths:
        raise DatasetError(f"{files.label}: no image files found")
    root = _strip_wrappers(files)
    top = _child_dirs(files, root)
    lower = {name.lower(): d for name, d in top.items()}
    split_dirs: dict[str, PurePosixPath] = {}
    if "train" in lower:
        split_dirs[TRAIN] = lower["train"]
        if "test" not in lower:
            raise DatasetError(f"{files.label}: missing split: found train/ but no test/ folder beside it")
        split_dirs[TEST] = lower["test"]
        val_name = next((n for n in VAL_DIR_NAMES if n in lower), None)
        if val_name:
            split_dirs[VAL] = lower[val_name]
    elif "test" in lower:
        raise DatasetError(f"{files.label}: missing split: found test/ but no train/ folder beside it")

    if split_dirs:
        class_names = _class_names(files, split_dirs[TRAIN])
        lists = {name: _labelled_paths(files, d, class_names) for name, d in split_dirs.items()}
    else:
        class_names = _class_names(files, root)
        lists = {TRAIN: _labelled_paths(files, root, class_names)}

    size, channels = _infer_format(files, lists[TRAIN], image_size, color)
    notes: list[str] = []
    if not split_dirs:
        source = "class folders"
    else:
        source = "train/val/test folders" if VAL in lists else "train/test folders"
    test_list = lists.get(TEST)
    if test_list and VAL not in lists:
        public = [(p, y) for p, y in test_list if p.name.startswith("PublicTest")]
        private = [(p, y) for p, y in test_list if p.name.startswith("PrivateTest")]
        if public and private:
            source = "FER2013 Kaggle layout (PublicTest/PrivateTest)"
            lists[VAL], lists[TEST], lists[TEST_ALL] = public, private, test_list
            notes.append("validation = test/PublicTest_*, test = test/PrivateTest_*, test_all = all of test/")

    splits = {name: _read_split(files, items, size, channels) for name, items in lists.items()}
    if VAL not in splits:
        splits[TRAIN], splits[VAL] = stratified_split(splits[TRAIN], val_fraction, seed)
        notes.append(f"validation = seeded stratified {val_fraction:.0%} of train (seed {seed})")
    label = "zip of " if isinstance(files, _ZipFiles) else ""
    return Dataset(class_names, splits, size, channels, label + source, notes)


def _class_names(files, parent: PurePosixPath) -> list[str]:
    classes = sorted(_child_dirs(files, parent))
    if not classes:
        raise DatasetError(f"{files.label}: no class folders under {parent}/ (expected <class>/image files)")
    for name in classes:
        if not any(_is_under(p, parent / name) for p in files.paths):
            raise DatasetError(f"{files.label}: class folder {parent / name}/ is empty")
    if len(classes) < 2:
        raise DatasetError(f"{files.label}: only one class folder ({classes[0]}); need at least two")
    return classes


def _labelled_paths(files, parent: PurePosixPath, class_names: list[str]) -> list[tuple[PurePosixPath, int]]:
    present = _child_dirs(files, parent)
    unknown = sorted(set(present) - set(class_names))
    if unknown:
        raise DatasetError(f"{files.label}: {parent}/ has class folders not in train/: {', '.join(unknown)}")
    items = []
    for index, name in enumerate(class_names):
        folder = parent / name
        members = [p for p in files.paths if _is_under(p, folder)]
        if name in present and not members:
            raise DatasetError(f"{files.label}: class folder {folder}/ is empty")
        items.extend((p, index) for p in members)
    if not items:
        raise DatasetError(f"{files.label}: no images under {parent}/")
    return items


def _infer_format(files, items, image_size, color) -> tuple[tuple[int, int], int]:
    if color not in ("auto", "grayscale", "rgb"):
        raise DatasetError(f"color must be auto, grayscale or rgb, not {color!r}")
    if image_size is not None and color != "auto":
        return (image_size, image_size), 1 if color == "grayscale" else 3
    rng = np.random.default_rng(0)
    sample = [items[i][0] for i in rng.choice(len(items), size=min(200, len(items)), replace=False)]
    sides, gray = [], True
    for rel in sample:
        try:
            with Image.open(io.BytesIO(files.read(rel))) as img:
                sides.append(min(img.size))
                if img.mode not in ("L", "1", "I;16", "I", "LA"):
                    rgb = np.asarray(img.convert("RGB"))
                    if not (np.array_equal(rgb[..., 0], rgb[..., 1]) and np.array_equal(rgb[..., 1], rgb[..., 2])):
                        gray = False
        except Exception as err:
            raise DatasetError(f"{files.label}: cannot read image {rel} ({err})") from err
    size = image_size or int(min(np.median(sides), MAX_AUTO_SIZE))
    channels = {"auto": 1 if gray else 3, "grayscale": 1, "rgb": 3}[color]
    return (size, size), channels


def _read_split(files, items, size, channels) -> Split:
    images = np.empty((len(items), size[0], size[1], channels), dtype=np.uint8)
    labels = np.empty(len(items), dtype=np.int64)
    for i, (rel, label) in enumerate(items):
        try:
            rgb = load_rgb(files.read(rel))
        except ImageError as err:
            raise DatasetError(f"{files.label}: cannot read image {rel}: {err}") from err
        images[i] = prepare_face(rgb, size, channels)
        labels[i] = label
    return Split(images, labels, [str(rel) for rel, _ in items])


def stratified_split(split: Split, fraction: float, seed: int) -> tuple[Split, Split]:
    """Seeded split keeping each class's share: the same seed always gives the same split."""
    if not 0.0 < fraction < 1.0:
        raise DatasetError(f"validation fraction must be between 0 and 1, not {fraction}")
    rng = np.random.default_rng(seed)
    keep, held = [], []
    for label in np.unique(split.labels):
        idx = np.flatnonzero(split.labels == label)
        idx = idx[rng.permutation(len(idx))]
        n_val = int(round(fraction * len(idx)))
        if len(idx) >= 2:
            n_val = min(max(n_val, 1), len(idx) - 1)
        held.extend(idx[:n_val])
        keep.extend(idx[n_val:])
    return split.subset(np.sort(np.array(keep, dtype=int))), split.subset(np.sort(np.array(held, dtype=int)))


# --- CSV ----------------------------------------------------------------------------------------


def _load_csv(path: Path, *, val_fraction: float, seed: int) -> Dataset:
    reorder = np.array([FER2013_CLASSES.index(name) for name in FER2013_CSV_CLASSES])
    rows: dict[str, tuple[list[np.ndarray], list[int]]] = {}
    side = None
    has_usage = False
    for line_no, record in _csv_records(path):
        if line_no == 1:
            header = [h.strip().lower() for h in record]
            if header[:2] != ["emotion", "pixels"] or len(header) not in (2, 3) or (
                len(header) == 3 and header[2] != "usage"
            ):
                raise DatasetError(
                    f"{path}: unexpected CSV header {','.join(record)!r}; expected "
                    "'emotion,pixels,Usage' (fer2013.csv) or 'emotion,pixels' (Kaggle train.csv)"
                )
            has_usage = len(header) == 3
            continue
        if not any(cell.strip() for cell in record):
            continue
        if len(record) != (3 if has_usage else 2):
            raise DatasetError(f"{path}, row {line_no}: expected {3 if has_usage else 2} columns, got {len(record)}")
        try:
            label = int(record[0])
        except ValueError:
            raise DatasetError(f"{path}, row {line_no}: emotion {record[0]!r} is not a number 0-6") from None
        if not 0 <= label <= 6:
            raise DatasetError(f"{path}, row {line_no}: emotion {label} is outside 0-6")
        try:
            image = parse_pixels(record[1], side)
        except PixelCsvError as err:
            raise DatasetError(f"{path}, row {line_no}: {err}") from None
        side = image.shape[0]
        usage = record[2].strip() if has_usage else "Training"
        if usage not in ("Training", "PublicTest", "PrivateTest"):
            raise DatasetError(
                f"{path}, row {line_no}: Usage {usage!r} is not Training, PublicTest or PrivateTest"
            )
        bucket = rows.setdefault(usage, ([], []))
        bucket[0].append(image[:, :, None])
        bucket[1].append(int(reorder[label]))
    if "Training" not in rows:
        raise DatasetError(f"{path}: no training rows")

    def as_split(usage: str) -> Split:
        images, labels = rows[usage]
        return Split(np.stack(images), np.array(labels, dtype=np.int64))

    splits = {TRAIN: as_split("Training")}
    notes = []
    if has_usage:
        missing = [u for u in ("PublicTest", "PrivateTest") if u not in rows]
        if missing:
            raise DatasetError(f"{path}: missing split: no rows with Usage {' or '.join(missing)}")
        splits[VAL], splits[TEST] = as_split("PublicTest"), as_split("PrivateTest")
        splits[TEST_ALL] = Split(
            np.concatenate([splits[VAL].images, splits[TEST].images]),
            np.concatenate([splits[VAL].labels, splits[TEST].labels]),
        )
        notes.append("validation = Usage PublicTest, test = Usage PrivateTest, test_all = both")
        source = "fer2013.csv"
    else:
        splits[TRAIN], splits[VAL] = stratified_split(splits[TRAIN], val_fraction, seed)
        notes.append(f"validation = seeded stratified {val_fraction:.0%} of train (seed {seed}); no test split")
        source = "Kaggle train.csv"
    return Dataset(list(FER2013_CLASSES), splits, (side, side), 1, source, notes)


def _csv_records(path: Path) -> Iterator[tuple[int, list[str]]]:
    try:
        yield from csv_records(path)
    except PixelCsvError as err:
        raise DatasetError(str(err)) from err
