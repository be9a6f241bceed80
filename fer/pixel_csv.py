"""Kaggle-style CSV files of face images, one row per face with a `pixels` column of space-separated
grey levels (fer2013.csv, train.csv, test.csv).

The reading rules live here, once: `python -m fer predict-csv` uses them for inference, and
`training.data` for loading a data set. A row counts only if it holds a square image of whole numbers
0-255; anything else (NaN, 300, 12.5, a short row) is a bad row, reported with its line number.
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MIN_SIDE = 8


class PixelCsvError(ValueError):
    """The CSV file, its header or one of its rows cannot be used; the message says which and why."""


@dataclass(frozen=True)
class PixelRow:
    line_no: int
    image: np.ndarray | None  # (side, side) uint8, or None for a bad row
    problem: str | None = None  # why the row is bad


def csv_records(path: Path) -> Iterator[tuple[int, list[str]]]:
    """(line number, cells) for each row, with a clear error for a file that is missing, a folder,
    unreadable, or not a text CSV."""
    if not path.exists():
        raise PixelCsvError(f"{path}: no such file")
    if path.is_dir():
        raise PixelCsvError(f"{path}: is a folder, not a CSV file")
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))  # a 96x96 row is longer than csv's 128 KB default
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            yield from enumerate(csv.reader(handle), start=1)
    except UnicodeDecodeError as err:
        raise PixelCsvError(f"{path}: not a text CSV file ({err})") from err
    except csv.Error as err:
        raise PixelCsvError(f"{path}: malformed CSV ({err})") from err
    except OSError as err:
        raise PixelCsvError(f"{path}: cannot be read ({err.strerror or err})") from err


def parse_pixels(text: str, side: int | None = None) -> np.ndarray:
    """A (side, side) uint8 image from a row's pixel string; `side` fixes the expected size."""
    tokens = text.split()
    try:
        numbers = [int(token) for token in tokens]  # Python ints: 99999999999999999999 is just out of range
    except ValueError:
        bad = next(t for t in tokens if not _is_int(t))
        raise PixelCsvError(f"pixel value {bad[:20]!r} is not a whole number 0-255") from None
    if numbers and (min(numbers) < 0 or max(numbers) > 255):
        low, high = (str(v) if len(str(v)) <= 20 else f"{str(v)[:17]}..." for v in (min(numbers), max(numbers)))
        raise PixelCsvError(f"pixel values must be within 0-255 (found {low} to {high})")
    values = np.array(numbers, dtype=np.uint8)
    found = int(round(len(values) ** 0.5))
    if side is None:
        if found * found != len(values) or found < MIN_SIDE:
            raise PixelCsvError(f"{len(values)} pixel values is not a square image (48x48 = 2304)")
        side = found
    if len(values) != side * side:
        raise PixelCsvError(f"{len(values)} pixel values, expected {side * side} ({side}x{side})")
    return values.astype(np.uint8).reshape(side, side)


def iter_pixel_csv(path: Path) -> Iterator[PixelRow]:
    """Every non-empty data row of a CSV with a `pixels` column (other columns ignored). Bad rows come
    back with `image=None` and the reason, so a caller can report them and go on."""
    column = None
    for line_no, record in csv_records(path):
        if line_no == 1:
            header = [h.strip().lower() for h in record]
            if "pixels" not in header:
                raise PixelCsvError(f"{path}: no 'pixels' column in header {','.join(record)[:200]!r}")
            column = header.index("pixels")
            continue
        if not any(cell.strip() for cell in record):
            continue
        if column >= len(record):
            yield PixelRow(line_no, None, f"only {len(record)} columns, no pixels")
            continue
        try:
            yield PixelRow(line_no, parse_pixels(record[column]))
        except PixelCsvError as err:
            yield PixelRow(line_no, None, str(err))


def _is_int(token: str) -> bool:
    try:
        int(token)
    except ValueError:
        return False
    return True
