"""Command line: `python -m fer predict PATH...`, `python -m fer predict-csv FILE` and `python -m fer video FILE`.

A file (or CSV row) that cannot be read is reported on stderr in one line and skipped; the rest are
still processed, and the exit status is 1 if any failed. Problems that stop the whole run (a missing
model, an output that cannot be written or already exists, a bad option) are one line on stderr and
exit status 2: never a traceback. Outputs follow one rule for every verb (`fer.outputs`): never an
input, never an existing file without `--overwrite`, complete or not there at all. Ctrl+C, SIGTERM and
SIGHUP stop a run with what was done written out, and exit status 128 + the signal's number.
"""

from __future__ import annotations

import argparse
import sys

from fer.cluster import ClusterError
from fer.commands import predict, predict_csv, video
from fer.commands.common import UsageError
from fer.interrupts import Interrupted, interruptible
from fer.model_file import ModelFileError
from fer.outputs import OutputError, shown


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m fer", description="Recognise facial expressions, offline.")
    sub = parser.add_subparsers(dest="command", required=True)
    for command in (predict, predict_csv, video):
        command.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        with interruptible():
            return args.func(args)
    except (ModelFileError, UsageError, OutputError, ClusterError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except Interrupted as stop:  # before any work was done: nothing to keep
        print(f"interrupted by {stop.name} before any work was done", file=sys.stderr)
        return stop.exit_status
    except BrokenPipeError:
        return 0
    except OSError as err:  # writing the results failed (a full disk, a closed stream): say so in one line
        where = f" ({shown(err.filename)})" if err.filename else ""
        print(f"error: could not write the results{where}: {err.strerror or err}", file=sys.stderr)
        return 2
