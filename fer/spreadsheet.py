"""CSV that a spreadsheet opens as data: a text cell that starts like a formula (`=`, `+`, `-`, `@`, or a
tab or carriage return before one) is written with a leading apostrophe, as OWASP advises against CSV
injection, so a file named `=HYPERLINK(...).jpg` shows as its name instead of running. Numbers are left
alone; the cells every results CSV holds as text are file names and labels.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import Any, TextIO

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(cell: Any) -> Any:
    """`cell` as a spreadsheet should see it: text that would start a formula gets a leading apostrophe."""
    if isinstance(cell, str) and cell.startswith(FORMULA_STARTS):
        return "'" + cell
    return cell


class SafeCsvWriter:
    """`csv.writer` whose text cells are `spreadsheet_safe`. `raw` writes rows read back from such a file
    (already safe) as they are."""

    def __init__(self, stream: TextIO) -> None:
        self.raw = csv.writer(stream)

    def writerow(self, row: Iterable[Any]) -> None:
        self.raw.writerow([spreadsheet_safe(cell) for cell in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        self.raw.writerows([spreadsheet_safe(cell) for cell in row] for row in rows)
