"""How `fer predict` writes its results: JSON Lines, CSV or Parquet."""

from __future__ import annotations

import csv
import json
from typing import TextIO

from fer.detection import LANDMARK_COLUMNS, landmark_cells
from fer.outputs import OutputFile

PARQUET_ROWS_PER_GROUP = 10_000


class RecordWriter:
    """JSON Lines (one object per image), or one row per face: CSV, or Parquet (typed columns, for tools
    that read a cluster's results)."""

    def __init__(self, output: OutputFile | None, stream: TextIO | None, fmt: str,
                 class_names: tuple[str, ...]) -> None:
        self.stream, self.fmt, self.class_names = stream, fmt, class_names
        self.columns = ["path", "faces", "face", "x", "y", "w", "h", "label", "score", *class_names,
                        *LANDMARK_COLUMNS]
        if fmt == "csv":
            self.csv = csv.writer(stream)
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
        if self.fmt == "json":
            self.stream.write(json.dumps({"path": path, "faces": faces}) + "\n")
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

    def replay(self, path: str, record: list) -> None:
        """An earlier run's record, as it was written (JSON: its faces; CSV: its rows)."""
        if self.fmt == "json":
            self.write(path, record)
        else:
            self.csv.writerows(record)

    def flush(self) -> None:
        if self.fmt == "parquet" and self.pending:
            import pyarrow as pa

            columns = list(zip(*self.pending))
            self.parquet.write_table(pa.table({name: list(values) for name, values in zip(self.columns, columns)},
                                              schema=self.schema))
            self.pending = []

    def close(self) -> None:
        """The last rows, and Parquet's footer (a Parquet file without it does not open)."""
        if self.fmt == "parquet":
            self.flush()
            self.parquet.close()
