"""`fer predict --resume`: finish only the photos an earlier run of the same command did not record.

The earlier results come from the output file itself (a run that ended, or was stopped with Ctrl+C,
SIGTERM or SIGHUP, wrote what it had done) and from the staged files that killed runs left beside it
(`fer.outputs.abandoned_stagings`: SIGKILL, a crash, a lost machine). Only whole records count: a JSON
line that does not parse, or a CSV photo with fewer rows than its `faces` column says, was cut by the
kill, and that photo is analysed again.

The output itself is always whole (it takes its name only when complete), so it must read as results
this tool wrote, every line of it: anything else (another program's JSON, a text file, a CSV with other
columns) is refused, since resuming replaces the file.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path

from fer.outputs import abandoned_stagings, shown


class ResumeError(Exception):
    """The earlier output cannot be resumed (another format, another model's columns)."""


@dataclass
class EarlierResults:
    """What earlier runs recorded: the records, in the order found, and where they came from."""

    records: list[tuple[str, list[dict] | list[list[str]]]] = field(default_factory=list)  # (path, its record)
    paths: set[str] = field(default_factory=set)  # the records' paths
    sources: list[Path] = field(default_factory=list)
    leftovers: list[Path] = field(default_factory=list)  # killed runs' staged files, removed once merged


def earlier_results(target: Path, fmt: str, header: list[str]) -> EarlierResults:
    """The complete records in `target` and in the staged files killed runs left beside it."""
    found = EarlierResults()
    leftovers = abandoned_stagings(target)
    for source in ([target] if target.is_file() else []) + leftovers:
        text = source.read_text(encoding="utf-8", errors="surrogateescape")
        whole = source == target
        records = json_records(text, target, whole) if fmt in ("json", "jsonl") else csv_records(text, header, target)
        found.sources.append(source)
        for path, record in records:
            if path not in found.paths:
                found.paths.add(path)
                found.records.append((path, record))
    found.leftovers = leftovers
    return found


def json_records(text: str, target: Path, whole: bool) -> list[tuple[str, list[dict]]]:
    """The records of a JSON document or of JSON Lines (an image's object a line in both, as
    `fer.commands.records` writes them; either form may be resumed into either). `whole`: the output itself,
    where a line that is not a record means the file is not ours; in a staged file a kill cut short, such
    a line is the one it cut."""
    if whole:  # a results list laid out another way (say, indented by a JSON tool) is still ours
        try:
            document = json.loads(text)
        except json.JSONDecodeError:
            document = None
        if isinstance(document, list) and all(is_record(record) for record in document):
            return [(record["path"], record["faces"]) for record in document]
    records = []
    for line in text.splitlines():
        line = line.strip().removesuffix(",")
        if line in ("", "[", "]"):
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            record = None
        if is_record(record):
            records.append((record["path"], record["faces"]))
        elif whole:
            raise ResumeError(f"{shown(target)} is not a results file written by fer predict (its lines are not one "
                              "record per image): --resume would replace it; write the results elsewhere")
    return records


def is_record(record: object) -> bool:
    """One image's results as `fer predict` writes them: {"path": ..., "faces": [...]}."""
    return isinstance(record, dict) and isinstance(record.get("path"), str) and isinstance(record.get("faces"), list)


def csv_records(text: str, header: list[str], target: Path) -> list[tuple[str, list[list[str]]]]:
    """Each photo's rows, for photos whose rows are all there (as many as its `faces` column says)."""
    if not text.endswith("\n"):
        text = text[: text.rfind("\n") + 1]  # the row a kill cut short
    rows = list(csv.reader(io.StringIO(text, newline="")))
    if not rows:
        return []
    if rows[0] != header:
        raise ResumeError(f"{shown(target)} has other columns than this run writes (not a results file of fer "
                          "predict, another model or an older version): resume it with the same --model, or write "
                          "elsewhere")
    grouped: dict[str, list[list[str]]] = {}
    for row in rows[1:]:
        grouped.setdefault(row[0], []).append(row)
    complete = []
    for path, photo_rows in grouped.items():
        faces = int(photo_rows[0][1]) if photo_rows[0][1].isdigit() else -1
        if len(photo_rows) == max(faces, 1):
            complete.append((path, photo_rows))
    return complete
