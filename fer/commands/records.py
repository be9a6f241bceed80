"""How `fer predict` writes its results, in the format its output's name says.

`.json` is one JSON document (a list of one object per image) that `json.load` reads; `.jsonl` (and
stdout) JSON Lines, one such object per line, for streams and tools that read line by line; `.csv` and
`.parquet` one row per face. Either JSON form keeps each image's object on a line of its own, so
`fer.resume` can read the whole images from a file a kill cut short.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import TextIO

from fer.commands.common import UsageError, refuse_misnamed
from fer.detection import LANDMARK_COLUMNS, landmark_cells
from fer.outputs import OutputFile, shown
from fer.spreadsheet import SafeCsvWriter, spreadsheet_safe

PARQUET_ROWS_PER_GROUP = 10_000
FORMATS = ("json", "jsonl", "csv", "parquet")
FORMAT_OF_SUFFIX = {".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".parquet": "parquet"}


def output_format(output: str | None, requested: str | None) -> str:
    """The format the output's name says (`--format` where the name says none; JSON Lines by default).
    A `--format` that contradicts the name is refused: a file must hold what its name promises."""
    implied = FORMAT_OF_SUFFIX.get(Path(output).suffix.lower()) if output else None
    if implied is None:  # a video's name, say
        refuse_misnamed(output, "--output", "results (JSON, JSON Lines, CSV or Parquet)", tuple(FORMAT_OF_SUFFIX))
    if requested and implied and requested != implied:
        raise UsageError(f"--format {requested} contradicts --output {shown(output)}, which names a {implied} file: "
                         f"leave out --format, or name the output .{requested}")
    return requested or implied or "jsonl"


class RecordWriter:
    """One object per image (a JSON document or JSON Lines), or one row per face: CSV, or Parquet (typed
    columns, for tools that read a cluster's results)."""

    def __init__(self, output: OutputFile | None, stream: TextIO | None, fmt: str,
                 class_names: tuple[str, ...]) -> None:
        self.stream, self.fmt, self.class_names = stream, fmt, class_names
        self.records, self.closed = 0, False
        self.columns = ["path", "faces", "face", "x", "y", "w", "h", "label", "score", *class_names,
                        *LANDMARK_COLUMNS]
        if fmt == "json":
            stream.write("[")
        if fmt == "csv":
            self.csv = SafeCsvWriter(stream)
            self.csv.writerow(self.columns)
        if fmt == "parquet":
            import pyarrow as pa
            import pyarrow.parquet as pq

            types = {"path": pa.string(), "label": pa.string(), "faces": pa.int64(), "face": pa.int64(),
                     "x": pa.int64(), "y": pa.int64(), "w": pa.int64(), "h": pa.int64()}
            self.schema = pa.schema([(name, types.get(name, pa.float64())) for name in self.columns])
            self.parquet = pq.ParquetWriter(output.path, self.schema)
            self.pending: list[list] = []

    def write(self, path: str, faces: list[dict]) -> None:
        if self.fmt in ("json", "jsonl"):
            record = json.dumps({"path": path, "faces": faces})
            if self.fmt == "jsonl":
                self.stream.write(record + "\n")
            else:  # "[", then "\n{...}", ",\n{...}"...: an image a line; "]" comes with close()
                self.stream.write(("," if self.records else "") + "\n" + record)
            self.records += 1
            return
        rows = self.rows(path, faces)
        if self.fmt == "csv":
            self.csv.writerows(rows)  # None is written as an empty cell
            return
        self.pending.extend(rows)
        if len(self.pending) >= PARQUET_ROWS_PER_GROUP:
            self.flush()

    def rows(self, path: str, faces: list[dict]) -> list[list]:
        if not faces:
            return [[path, 0, *[None] * (len(self.columns) - 2)]]
        rows = []
        for number, face in enumerate(faces, start=1):  # #1 first, as the annotated copy and the app number them
            box = face["box"]
            probs = [face["probabilities"][n] for n in self.class_names]
            rows.append([path, len(faces), number, box["x"], box["y"], box["w"], box["h"], face["label"],
                         face["score"], *probs, *[None if c == "" else c for c in landmark_cells(face["landmarks"])]])
        return rows

    def recorded_as(self, path: str) -> str:
        """How this format records the path `path`: the key that tells an earlier run's record of it."""
        return spreadsheet_safe(path) if self.fmt == "csv" else path

    def replay(self, path: str, record: list) -> None:
        """An earlier run's record, as it was written (JSON: its faces; CSV: its rows)."""
        if self.fmt in ("json", "jsonl"):
            self.write(path, record)
        else:
            self.csv.raw.writerows(record)

    def flush(self) -> None:
        if self.fmt == "parquet" and self.pending:
            import pyarrow as pa

            columns = list(zip(*self.pending))
            self.parquet.write_table(pa.table({name: list(values) for name, values in zip(self.columns, columns)},
                                              schema=self.schema))
            self.pending = []

    def close(self) -> None:
        """What makes the file whole: the JSON list's end, or the last rows and Parquet's footer (a Parquet
        file without it does not open). Once: a signal during close leads to close again."""
        if self.closed:
            return
        self.closed = True
        if self.fmt == "json":
            self.stream.write("\n]\n")
        if self.fmt == "parquet":
            self.flush()
            self.parquet.close()


def records_text(images: list[tuple[str, list[dict]]], fmt: str, class_names: tuple[str, ...]) -> str:
    """What `fer predict` writes for these (name, faces) pairs as `fmt` ("json", "jsonl" or "csv"), in
    memory: the Photos page's downloads, the same files the command line writes. An image without a face
    is a record too (an object with no faces; a CSV row with 0 faces), so every image read is accounted for."""
    text = io.StringIO()
    writer = RecordWriter(None, text, fmt, class_names)
    for name, faces in images:
        writer.write(name, faces)
    writer.close()
    return text.getvalue()
