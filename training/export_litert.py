"""Write the LiteRT copy of a trained model, the file the app runs:
`python -m training.export_litert models/NAME.keras [--data PATH] [--weights float16] [--batch-size 1] [--alone]`.

The `.tflite` file goes beside the `.keras` one (`NAME.int8.tflite` for int8 weights), with the same
metadata inside (class list, input size and colour, name), so the app, the CLI and `EmotionRecognizer()`
can classify faces without importing TensorFlow. `training.train` and `training.ensemble` call this after
saving a model; run it by hand for a model trained on the JAX backend (LiteRT conversion needs
TensorFlow) or for another weight format. With a dataset, the LiteRT copy's predictions are compared
with Keras' on the validation and test splits, and the comparison goes into the model's report.

Weights: `float16` (the default) halves the file and gave the same predictions as Keras on all of
FER2013's test images; `float32` keeps the trained weights as they are; `int8` (dynamic range) quarters the
file and runs about 4x faster on a CPU, at the cost of a handful of changed predictions.

`--batch-size 1` fixes the batch dimension, which is otherwise open: LiteRT.js, which runs the Live page's
browser engine, refuses a model whose batch size is not fixed. The browser's copies are written with
`--batch-size 1 --output app_pages/browser_live/static/models/NAME.b1[.int8].tflite`, in the weight format of
the file they stand for (models/README.md gives each command).

`--alone` leaves this copy as the only one the report describes: the shipped int8 file's report must not
list the float copy that `training.train` or `training.ensemble` wrote beside the model and that does not ship.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np

from fer.atomic import staged_path
from fer.classifier import EmotionClassifier
from fer.model_file import INT8_VARIANT, ModelFileError, ModelInfo, PriorCorrection, read_model_info, write_model_info
from fer.report import ReportError, add_entries, report_path_for

WEIGHT_FORMATS = ("float16", "float32", "int8")
DEFAULT_WEIGHTS = "float16"


def litert_path_for(model_path: str | Path, weights: str = DEFAULT_WEIGHTS) -> Path:
    """NAME.tflite for float weights, NAME.int8.tflite for int8 ones, beside NAME.keras."""
    path = Path(model_path)
    return path.with_name(path.stem + (INT8_VARIANT if weights == "int8" else "") + ".tflite")


def convert(model: keras.Model, output: Path, weights: str = DEFAULT_WEIGHTS, batch_size: int | None = None) -> None:
    """Convert `model` to a `.tflite` file at `output` with the given weight format; `batch_size` fixes
    the batch dimension (None leaves it open)."""
    import tensorflow as tf

    options: dict = {}
    if weights == "float16":
        options = {"optimizations": [tf.lite.Optimize.DEFAULT], "target_spec": {"supported_types": [tf.float16]}}
    elif weights == "int8":
        options = {"optimizations": [tf.lite.Optimize.DEFAULT]}
    elif weights != "float32":
        raise ValueError(f"weights must be one of {WEIGHT_FORMATS}, not {weights!r}")
    if batch_size is not None:  # the converter otherwise leaves the batch open, whatever the model's input says
        options["input_signature"] = [tf.TensorSpec((batch_size, *model.input_shape[1:]), tf.float32)]
    model.export(str(output), format="litert", verbose=False, **options)


def export_litert(model: keras.Model, info: ModelInfo, output: Path, weights: str = DEFAULT_WEIGHTS,
                  check_splits: dict[str, tuple[np.ndarray, np.ndarray]] | None = None,
                  batch_size: int | None = None) -> dict:
    """Write `output` (.tflite) atomically and return its section of the report. `check_splits` maps split
    names to (uint8 images, labels) on which LiteRT and Keras predictions are compared."""
    if keras.backend.backend() != "tensorflow":
        raise ModelFileError(f"LiteRT conversion needs the TensorFlow backend, not {keras.backend.backend()}; "
                             "run `python -m training.export_litert` on the .keras file with TensorFlow installed")
    with staged_path(output) as staged:
        convert(model, staged, weights, batch_size)
        write_model_info(staged, info)
        agreement = {split: compare(model, staged, *data, info.prior_correction)
                     for split, data in (check_splits or {}).items()}
    for split, figures in agreement.items():
        print(f"LiteRT ({weights}) vs Keras on {split}: {figures['same_predictions']} of {figures['images']} "
              f"predictions the same, largest probability difference {figures['max_abs_difference']:.1e}; "
              f"accuracy {figures['accuracy']:.4f} (Keras {figures['keras_accuracy']:.4f})", flush=True)
    return {"file": output.name, "file_bytes": output.stat().st_size, "weights": weights, "agreement": agreement,
            **({"batch_size": batch_size} if batch_size else {})}


def compare(model: keras.Model, litert_file: Path, images: np.ndarray, labels: np.ndarray,
            correction: PriorCorrection | None = None) -> dict:
    """How closely the LiteRT file, run as the app runs it (with its prior correction), reproduces the Keras
    model, and both accuracies."""
    from training.evaluate import predict_probabilities

    if len(images) == 0:
        return {"images": 0, "same_predictions": 0, "max_abs_difference": 0.0, "accuracy": 0.0, "keras_accuracy": 0.0}
    keras_probs = predict_probabilities(model, images, correction=correction)
    litert = EmotionClassifier(litert_file).predict_prepared(images)
    return {"images": len(images), "same_predictions": int(np.sum(keras_probs.argmax(1) == litert.argmax(1))),
            "max_abs_difference": float(np.abs(keras_probs - litert).max()),
            "accuracy": float(np.mean(litert.argmax(1) == labels)),
            "keras_accuracy": float(np.mean(keras_probs.argmax(1) == labels))}


def check_splits(dataset) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The held-out images and labels to compare LiteRT with Keras on: validation and test, where they exist."""
    from training.data import TEST, VAL

    return {name: (dataset.splits[name].images, dataset.splits[name].labels) for name in (VAL, TEST)
            if name in dataset.splits}


def main(argv: list[str] | None = None) -> int:
    from training.data import DatasetError, load_dataset_for

    parser = argparse.ArgumentParser(prog="python -m training.export_litert", description=__doc__.splitlines()[0])
    parser.add_argument("model", help="a .keras file written by training.train or training.ensemble")
    parser.add_argument("--weights", choices=WEIGHT_FORMATS, default=DEFAULT_WEIGHTS)
    parser.add_argument("--data", help="compare LiteRT with Keras on this dataset's splits (e.g. FER2013)")
    parser.add_argument("--output", help="where the .tflite goes (default: beside the model)")
    parser.add_argument("--batch-size", type=int, choices=range(1, 257), metavar="N",
                        help="fix the batch dimension at N faces (LiteRT.js in a browser needs 1); default: open")
    parser.add_argument("--alone", action="store_true",
                        help="the report describes this copy alone: the one that ships (training wrote a float "
                             "copy beside the model too, which stays out of models/)")
    args = parser.parse_args(argv)
    source = Path(args.model)
    output = Path(args.output) if args.output else litert_path_for(source, args.weights)
    try:
        info = read_model_info(source)
        model = keras.models.load_model(source, compile=False)
        splits = {}
        if args.data:
            dataset = load_dataset_for(info, args.data)
            splits = check_splits(dataset)
        section = export_litert(model, info, output, args.weights, splits, args.batch_size)
    except (ModelFileError, DatasetError, OSError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    report_path = report_path_for(source)
    if output.parent != source.parent or not report_path.exists():
        print(f"wrote {output}")
        return 0
    try:
        add_entries(source, "litert", {section["file"]: section}, replace=args.alone)
    except ReportError as err:
        print(f"warning: {err}; its litert section was not updated", file=sys.stderr)
        print(f"wrote {output}")
        return 0
    print(f"wrote {output} and its section of {report_path.name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
