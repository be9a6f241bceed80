"""What every command shares: the usage error, the files a run writes and how a run ends, number options."""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TextIO

from fer.images import IMAGE_SUFFIXES
from fer.interrupts import Interrupted, shielded
from fer.outputs import OutputError, OutputFile, check_writable_folder, identities, refuse_inputs_as_outputs, shown
from fer.video_jobs import VIDEO_SUFFIXES

MODEL_HELP = "a .tflite or .keras model from training.train (default: the shipped model for photos)"
OVERWRITE_HELP = "let outputs replace files that exist (never an input)"


# Names that promise a format: a file never holds another one under them.
FORMAT_SUFFIXES = frozenset({".json", ".jsonl", ".ndjson", ".csv", ".parquet", *VIDEO_SUFFIXES})


class UsageError(Exception):
    """A problem with the command as given; the run stops before any work (exit status 2)."""


def refuse_misnamed(path: str | None, flag: str, writes: str, suffixes: tuple[str, ...]) -> None:
    """An output whose name promises another format than the one written is refused before any work;
    a name that promises none (`out.txt`, `/dev/stdout`) is fine."""
    suffix = Path(path).suffix.lower() if path else ""
    if suffix in FORMAT_SUFFIXES and suffix not in suffixes:
        raise UsageError(f"{flag} {shown(path)} would hold {writes} under a {suffix} name: name it {suffixes[0]}")


def expand_paths(paths: Iterable[str], suffixes: Iterable[str] = IMAGE_SUFFIXES
                 ) -> tuple[list[tuple[Path, Path]], list[str]]:
    """(file, its path relative to the folder given) for files as given and files with one of `suffixes`
    (images by default) found (recursively, sorted) in the folders given; and a line for each argument or
    link that gives nothing to do (`skipped PATH: why`), so no input is passed over without a word."""
    files, skipped = [], []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found, dangling = [], []
            for p in sorted(path.rglob("*")):
                if p.suffix.lower() not in suffixes:
                    continue
                if p.is_file():
                    found.append((p, p.relative_to(path)))
                elif p.is_symlink() and not p.exists():
                    dangling.append(f"skipped {shown(p)}: a link to a file that does not exist")
            skipped.extend(dangling)
            if not found and not dangling:  # this folder's own: an earlier argument's lines do not count
                kinds = ", ".join(sorted(suffixes))
                skipped.append(f"skipped {shown(raw)}: a folder with no {kinds} file in it")
            files.extend(found)
        elif path.is_file():
            files.append((path, Path(path.name)))
        elif path.is_symlink():
            skipped.append(f"skipped {shown(raw)}: a link to a file that does not exist")
        else:
            skipped.append(f"skipped {shown(raw)}: no such file or folder")
    return files, skipped


class RunOutputs:
    """The files one command writes. Each is checked before any work and staged while it is written;
    `finish` puts them in place (also after an interruption: what was done is kept), `discard` removes
    them after an error. `renamed` lists the ones another run's file pushed to a numbered name."""

    def __init__(self, overwrite: bool) -> None:
        self.overwrite = overwrite
        self.files: list[OutputFile] = []
        self.streams: list[TextIO] = []
        self.renamed: list[str] = []

    def file(self, path: str | None, flag: str, **checks) -> OutputFile | None:
        if path is None:
            return None
        for other in self.files:  # two outputs on one file: the second would only ever take a numbered name
            if not other.direct and identities(Path(path)) & identities(other.target):
                raise OutputError(f"{flag} {shown(path)} is also {other.flag}: give each output its own file")
        output = OutputFile(path, flag, self.overwrite, **checks)
        self.files.append(output)
        return output

    def text(self, path: str | None, flag: str) -> TextIO:
        """A text stream for results: stdout when no path is given."""
        output = self.file(path, flag)
        if output is None:
            return sys.stdout
        stream = output.open_text()
        self.streams.append(stream)
        return stream

    def finish(self, keep: Callable[[OutputFile], bool] = lambda output: True) -> None:
        try:
            for stream in self.streams:
                stream.close()  # the last buffered lines are written here: a full disk shows now
        except OSError:
            self.discard()
            raise
        for output in self.files:
            if not keep(output):
                output.discard()
                continue
            placed = output.commit()
            if placed != output.target:
                self.renamed.append(name_taken_note(output.target, placed))

    def discard(self) -> None:
        for stream in self.streams:
            try:
                stream.close()
            except OSError:  # the error that brought us here, again: the files go anyway
                pass
        for output in self.files:
            output.discard()


class AnnotatedFolder:
    """Where annotated copies go: the input's relative folders mirrored under `root`. Every name is
    planned and checked before any work (never an input, never an existing file unless `overwrite`,
    never two inputs onto one name); each file appears whole or not at all."""

    def __init__(self, root: Path, overwrite: bool, files: list[tuple[Path, Path]]) -> None:
        check_writable_folder(root, "--annotate")
        self.root, self.overwrite, self.renamed = root, overwrite, []
        self.targets: dict[tuple[Path, Path], Path] = {}
        used: set[Path] = set()
        for key in files:
            stem = key[1].parent / (key[1].stem + "_annotated")
            candidate, n = root / f"{stem}.png", 1
            while candidate in used:
                n += 1
                candidate = root / f"{stem}-{n}.png"
            used.add(candidate)
            self.targets[key] = candidate
        refuse_inputs_as_outputs([("--annotate", t) for t in self.targets.values()], [path for path, _ in files])
        existing = [t for t in self.targets.values() if t.exists()]
        if existing and not overwrite:
            raise OutputError(f"--annotate: {len(existing)} annotated file(s) exist already, the first "
                              f"{shown(existing[0])} (add --overwrite to replace them, or choose another folder)")


def name_taken_note(target: Path, placed: Path) -> str:
    return f"{shown(target)} was created by another run meanwhile: wrote {shown(placed)} instead"


def stopped(stop: Interrupted, outputs: RunOutputs, progress: str, kept: bool,
            annotated: AnnotatedFolder | None = None, keep: Callable[[OutputFile], bool] | None = None) -> int:
    """An interrupted run: what was done is written out (or nothing, if nothing was done), then one line."""
    with shielded():
        if kept:
            outputs.finish(keep or (lambda output: True))
        else:
            outputs.discard()
    written = [shown(f.target) for f in outputs.files if kept and (keep is None or keep(f))]
    if annotated and kept:
        written.append(f"the annotated copies in {shown(annotated.root)}")
    holds = f": {' and '.join(written)} {'holds' if len(written) == 1 else 'hold'} what was done" if written else ""
    print(f"interrupted by {stop.name} {progress}{holds}", file=sys.stderr)
    for line in outputs.renamed + (annotated.renamed if annotated else []):
        print(line, file=sys.stderr)
    return stop.exit_status


def finished(status: int, outputs: RunOutputs, annotated: AnnotatedFolder | None = None) -> int:
    """The exit status of a run that ended: 1 also when an output had to take a numbered name."""
    renamed = outputs.renamed + (annotated.renamed if annotated else [])
    for line in renamed:
        print(line, file=sys.stderr)
    return 1 if renamed else status


def number_in(kind: type, low: float, high: float | None = None, *, low_open: bool = False,
              high_open: bool = False) -> Callable[[str], float]:
    """An argparse type: a finite `kind` within [low, high] (open ends where asked)."""
    ends = (f"{'more than' if low_open else 'at least'} {low}" if high is None else
            f"{'above' if low_open else 'from'} {low} {'to below' if high_open else 'to'} {high}")
    what = "a whole number" if kind is int else "a number"

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {what} {ends}, not {text!r}") from None
        if (not math.isfinite(value) or value < low or (low_open and value == low)
                or (high is not None and (value > high or (high_open and value == high)))):
            raise argparse.ArgumentTypeError(f"must be {what} {ends}, not {text!r}")
        return value

    parse.__name__ = kind.__name__
    return parse


MIN_CONFIDENCE = number_in(float, 0.0, 1.0, low_open=True, high_open=True)
CONFIDENCE_HELP = "face detector threshold, above 0 to below 1 (real faces score about 0.8-0.95)"
