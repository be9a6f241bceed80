"""FER+ crowd votes for FER2013, joined to the Kaggle folder layout by file path.

FER+ (Barsoum et al., 2016; MIT licence) had ten people label every FER2013 face. FER2013's own
label agrees with their majority on only two faces in three, so the votes are both a cleaner
yardstick and a softer training target ("six said sad, four said neutral"). Its `labels.csv`
(see `../shared/data/ferplus/SOURCE.md`) names each file as `train/<class>/Training_*.jpg`, the path
the Kaggle download has, so the join needs nothing but the dataset's own paths.

Contempt is not one of our seven emotions: its votes are dropped from the targets, and a face whose
majority is contempt, a tie, "unknown" or "not a face" has no clear label to score against.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np

from training.data import Dataset, DatasetError, Votes

# FER+ column -> our class name; contempt, unknown and NF are counted but are no emotion of ours.
EMOTION_COLUMNS = {"anger": "angry", "disgust": "disgust", "fear": "fear", "happiness": "happy",
                   "neutral": "neutral", "sadness": "sad", "surprise": "surprise"}
OTHER_COLUMNS = ("contempt", "unknown", "NF")
NOT_AN_EMOTION = ("unknown", "NF")  # a face whose majority is one of these is left out of training
MIN_MATCHED_SHARE = 0.95  # FER+ has votes for 35,706 of FER2013's 35,887 files (99.5%)
LABELS_FILE = Path("ferplus") / "labels.csv"


def default_votes_path(data: str | os.PathLike) -> Path:
    """Where the votes sit when FER2013 and FER+ were unpacked side by side: `<data>/../ferplus/labels.csv`."""
    return Path(data).resolve().parent / LABELS_FILE


def join_votes(dataset: Dataset, data: str | os.PathLike, votes: str | os.PathLike | None = None,
               required: bool = False) -> Dataset:
    """`dataset` with FER+ votes joined from `votes`, or from `default_votes_path(data)`. Asked for (`required`,
    or a `votes` path given), a file that is missing or does not fit is an error; found by chance beside the
    data, it is joined if it fits and otherwise left out with a printed line, so other data still works."""
    path = Path(votes) if votes else default_votes_path(data)
    if required or votes:
        return attach_votes(dataset, path)
    if path.is_file():
        try:
            return attach_votes(dataset, path)
        except DatasetError as err:
            print(f"FER+ votes not used: {err}", flush=True)
    return dataset


def read_votes(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """{relative file path: the 10 vote counts in `EMOTION_COLUMNS` then `OTHER_COLUMNS` order}."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: FER+ votes not found (labels.csv with a file column and ten vote columns)")
    columns = [*EMOTION_COLUMNS, *OTHER_COLUMNS]
    votes = {}
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            missing = [c for c in ("file", *columns) if c not in (reader.fieldnames or [])]
            if missing:
                raise DatasetError(f"{path}: not a FER+ labels file (no column {', '.join(missing)})")
            for line_no, row in enumerate(reader, start=2):
                try:
                    counts = np.array([float(row[c]) for c in columns], dtype=np.float32)
                except (TypeError, ValueError):
                    raise DatasetError(f"{path}, row {line_no}: vote counts must be numbers") from None
                if not np.all(np.isfinite(counts)) or counts.min() < 0 or counts.sum() <= 0:
                    raise DatasetError(f"{path}, row {line_no}: vote counts must be non-negative, not all zero")
                votes[row["file"]] = counts
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise DatasetError(f"{path}: cannot read the FER+ votes ({type(err).__name__}: {err})") from err
    return votes


def attach_votes(dataset: Dataset, path: str | os.PathLike) -> Dataset:
    """Give every split of `dataset` its FER+ votes, joined by the last three parts of each file's path
    (`train/angry/Training_10118481.jpg`), so a wrapper folder around the Kaggle layout still joins."""
    table = read_votes(path)
    missing_classes = sorted(set(EMOTION_COLUMNS.values()) - set(dataset.class_names))
    if missing_classes or len(dataset.class_names) != len(EMOTION_COLUMNS):
        raise DatasetError(f"{path}: FER+ votes are for the 7 FER2013 emotions; the dataset has classes "
                           f"{dataset.class_names}")
    order = [list(EMOTION_COLUMNS.values()).index(name) for name in dataset.class_names]
    seen: set[str] = set()
    found: set[str] = set()
    for split in dataset.splits.values():
        if split.paths is None:
            raise DatasetError(f"{path}: FER+ votes join by file path; the dataset ({dataset.source}) has none: "
                               "use FER2013 in the Kaggle folder layout (train/<class>/Training_*.jpg)")
        raw = np.zeros((len(split), len(EMOTION_COLUMNS) + len(OTHER_COLUMNS)), np.float32)
        for i, file in enumerate(split.paths):
            key = "/".join(Path(file).parts[-3:])
            seen.add(key)
            if key in table:
                raw[i] = table[key]
                found.add(key)
        split.votes = votes_from_counts(raw, order)
    matched, total = len(found), len(seen)
    if total == 0 or matched / total < MIN_MATCHED_SHARE:
        raise DatasetError(f"{path}: the votes match only {matched:,} of the dataset's {total:,} files; they are "
                           "for FER2013 in the Kaggle folder layout (train/<class>/Training_*.jpg)")
    dataset.notes.append(f"FER+ votes joined by file path for {matched:,} of {total:,} images ({Path(path).name})")
    return dataset


def votes_from_counts(raw: np.ndarray, order: list[int]) -> Votes:
    """`Votes` from (N, 10) FER+ counts: emotions reordered to the dataset's classes by `order`."""
    emotions = len(EMOTION_COLUMNS)
    top = raw.max(axis=1, keepdims=True)
    winners = (raw == top) & (top > 0)
    sole = winners.sum(axis=1) == 1
    winner = raw.argmax(axis=1)
    position = np.argsort(order)  # FER+ emotion column -> class index
    majority = np.where(sole & (winner < emotions), position[np.minimum(winner, emotions - 1)], -1)
    not_emotion = [emotions + OTHER_COLUMNS.index(name) for name in NOT_AN_EMOTION]
    trainable = (raw[:, :emotions].sum(axis=1) > 0) & ~(sole & np.isin(winner, not_emotion))
    return Votes(raw[:, :emotions][:, order].astype(np.float32), majority.astype(np.int64), trainable)
