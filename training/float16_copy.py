"""A trained model's `.keras` file with its weights stored as float16: half the size, so the float weights
of a shipped network fit in the repository (models/float/).

    python -m training.float16_copy IN.keras --output OUT.keras

The copy is an ordinary `.keras` file of the same float32 network: Keras converts each stored float16
array to the layer's float32 weight as it loads, so the app, `training.train --init` and
`training.ensemble` read it as they read the original. Only the weights' precision changes (about three
significant digits); the copy's probabilities are checked against the original's on random faces before
it is written, and it is not written when they differ by more than `TOLERANCE`. The model's report (NAME.json
beside it) goes with it, or is updated where it is shared: `model.file_bytes` is the copy's, and
`model.stored_weights` says "float16".
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import zipfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import h5py
import keras
import numpy as np

from fer.atomic import staged_path
from fer.report import load_report, report_path_for, save_report

WEIGHTS = "model.weights.h5"  # where a .keras archive keeps its weights
TOLERANCE = 0.01  # largest probability difference accepted between the copy and the original


def halve(source: h5py.Group, target: h5py.Group) -> None:
    """Copy the HDF5 group `source` into `target`, float32 arrays as float16, everything else as it is."""
    for key, value in source.attrs.items():
        target.attrs[key] = value
    for name, item in source.items():
        if isinstance(item, h5py.Group):
            halve(item, target.create_group(name))
        else:
            data = item[()]
            target.create_dataset(name, data=data.astype(np.float16) if data.dtype == np.float32 else data)
            for key, value in item.attrs.items():
                target[name].attrs[key] = value


def write_float16_copy(source: Path, output: Path) -> None:
    """`source` (a .keras archive) rewritten with float16 weights at `output`, whole or not at all."""
    with zipfile.ZipFile(source) as archive, tempfile.TemporaryDirectory() as folder:
        original, halved = Path(folder) / "original.h5", Path(folder) / "halved.h5"
        original.write_bytes(archive.read(WEIGHTS))
        with h5py.File(original, "r") as weights, h5py.File(halved, "w") as copy:
            halve(weights, copy)
        with staged_path(output) as staged, zipfile.ZipFile(staged, "w") as copy:
            for info in archive.infolist():
                copy.writestr(info, halved.read_bytes() if info.filename == WEIGHTS else archive.read(info))


def carry_report(source: Path, output: Path) -> Path | None:
    """The source's report, with the copy's size and weight storage, beside the copy; None where it has none."""
    report_path = report_path_for(source)
    if not report_path.exists():
        return None
    report = load_report(report_path)
    report["model"].update(file_bytes=output.stat().st_size, stored_weights="float16")
    target = report_path_for(output)
    save_report(target, report)
    return target


def largest_difference(first: Path, second: Path, faces: int = 64, seed: int = 0) -> float:
    """The largest probability difference between two models on the same random faces."""
    models = [keras.models.load_model(path, compile=False) for path in (first, second)]
    shape = (faces, *models[0].input_shape[1:])
    images = np.random.default_rng(seed).integers(0, 256, shape).astype(np.float32)
    outputs = [np.asarray(model.predict(images, verbose=0)) for model in models]
    return float(np.abs(outputs[0] - outputs[1]).max())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.float16_copy", description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path, help="a .keras file written by training.train")
    parser.add_argument("--output", type=Path, required=True, help="where the float16 copy goes")
    args = parser.parse_args(argv)
    if args.output.resolve() == args.model.resolve():
        print("error: --output must differ from the model (the original is kept)", file=sys.stderr)
        return 2
    try:
        with tempfile.TemporaryDirectory() as folder:
            candidate = Path(folder) / args.output.name
            write_float16_copy(args.model, candidate)
            difference = largest_difference(args.model, candidate)
            if not difference <= TOLERANCE:  # NaN included
                print(f"error: the float16 copy's probabilities differ by {difference:.1e} (more than "
                      f"{TOLERANCE}); nothing written", file=sys.stderr)
                return 1
            with staged_path(args.output) as staged:
                staged.write_bytes(candidate.read_bytes())
        report = carry_report(args.model, args.output)
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as err:
        print(f"error: {args.model}: {err}", file=sys.stderr)
        return 1
    print(f"wrote {args.output} ({args.output.stat().st_size / 1e6:.1f} MB, from {args.model.stat().st_size / 1e6:.1f} "
          f"MB): probabilities within {difference:.1e} of the original's on random faces"
          + (f"; its report: {report}" if report else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
