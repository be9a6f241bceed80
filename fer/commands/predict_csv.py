"""`fer predict-csv FILE`: each row of a Kaggle-style pixels CSV, classified."""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

from fer.commands.common import (
    MODEL_HELP,
    OVERWRITE_HELP,
    RunOutputs,
    UsageError,
    finished,
    refuse_misnamed,
    stopped,
)
from fer.commands.predict import CROP_BATCH
from fer.interrupts import Interrupted, deferred, shielded
from fer.outputs import refuse_inputs_as_outputs, shown
from fer.pixel_csv import PixelCsvError, iter_pixel_csv
from fer.spreadsheet import SafeCsvWriter


def add_parser(sub: argparse._SubParsersAction) -> None:
    pcsv = sub.add_parser("predict-csv", help="classify each row of a Kaggle-style CSV with a pixels column")
    pcsv.add_argument("csv", help="CSV with a 'pixels' column (e.g. fer2013.csv, test.csv)")
    pcsv.add_argument("--output", help="write predictions here instead of stdout")
    pcsv.add_argument("--overwrite", action="store_true", help=OVERWRITE_HELP)
    pcsv.add_argument("--model", help=MODEL_HELP)
    pcsv.set_defaults(func=cmd_predict_csv)


def cmd_predict_csv(args: argparse.Namespace) -> int:
    from fer.recognizer import EmotionRecognizer

    path = Path(args.csv)
    refuse_inputs_as_outputs({"--output": args.output}, [path])
    refuse_misnamed(args.output, "--output", "CSV", (".csv",))
    rows = iter_pixel_csv(path)
    try:
        first = next(rows, None)  # the file and its header are checked before the model loads
    except PixelCsvError as err:
        raise UsageError(str(err)) from err
    outputs = RunOutputs(args.overwrite)
    batch, failures, done = [], 0, 0
    try:
        out = SafeCsvWriter(outputs.text(args.output, "--output"))
        recognizer = EmotionRecognizer(args.model)
        names = recognizer.class_names
        out.writerow(["row", "label", "score", *names])

        def flush() -> None:
            nonlocal done
            results = recognizer.classify_crops([row.image for row in batch])
            with deferred():
                for row, result in zip(batch, results):
                    out.writerow([row.line_no, result.label, round(result.score, 4),
                                  *[round(result.probabilities[n], 4) for n in names]])
                done += len(batch)
                batch.clear()

        try:
            for row in itertools.chain([first] if first else [], rows):
                if row.image is None:
                    failures += 1
                    print(f"skipped {shown(path)} row {row.line_no}: {row.problem}", file=sys.stderr)
                    continue
                batch.append(row)
                if len(batch) == CROP_BATCH:
                    flush()
        except PixelCsvError as err:  # e.g. bytes that are not text half-way through: keep what was read
            failures += 1
            print(f"stopped reading: {err}", file=sys.stderr)
        except Interrupted:
            with shielded():
                flush()  # the rows read are classified and written before stopping
            raise
        flush()
    except Interrupted as stop:
        return stopped(stop, outputs, f"after {done} row(s)", kept=done > 0)
    except BaseException:
        outputs.discard()
        raise
    outputs.finish()
    return finished(1 if failures else 0, outputs)
