"""Export the best checkpoint as a float32 model plus the JSON report the dashboard reads.

The report holds everything the dashboard shows and nothing it has to guess: configuration,
per-epoch history, class counts per split, validation/test metrics with and without test-time
augmentation, architecture, size, training time, hardware and a dataset fingerprint.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import keras
import numpy as np

from fer.atomic import staged_path
from fer.model_file import ModelInfo, PriorCorrection, describe_correction, write_model_info
from fer.report import build_report, report_path_for, save_report
from training.config import selection_keys
from training.data import TEST, TEST_ALL, VAL, Dataset
from training.distill import teacher_name
from training.evaluate import choose_output_correction, evaluate_model, predict_probabilities
from training.model import average_heads


def architecture(model: keras.Model) -> list[dict]:
    rows = []
    for layer in model.layers:
        try:
            shape = list(layer.output.shape)
        except (AttributeError, ValueError):
            shape = None
        rows.append({"name": layer.name, "type": layer.__class__.__name__, "output_shape": shape,
                     "params": int(layer.count_params())})
    return rows


def float32_copy(model: keras.Model) -> keras.Model:
    """The same network computing in float32: mixed-precision checkpoints run slowly (or not at
    all) on CPUs without bf16 units, so the shipped file is always float32."""
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("float32")
    try:
        config = model.get_config()
        for layer in config["layers"]:
            layer["config"].pop("dtype", None)
        clone = keras.Model.from_config(config)
    finally:
        keras.mixed_precision.set_global_policy(previous)
    clone.set_weights(model.get_weights())
    return clone


def export_model(config, state: dict, dataset: Dataset, best_checkpoint: Path, hardware: dict,
                 prior: np.ndarray | None = None, averaged_epochs: list[int] | None = None) -> Path:
    """`prior`: the mean training target; with FER+ labels, a correction for it is chosen on validation.
    `averaged_epochs`: the model is the mean of these epochs' weights (training.average_weights), not the
    checkpoint validation chose."""
    output = Path(config.output)
    model = float32_copy(average_heads(keras.models.load_model(best_checkpoint)))
    correction = None
    if config.labels == "ferplus" and prior is not None:
        validation = dataset.splits[VAL]
        correction = choose_output_correction(predict_probabilities(model, validation.images), validation.votes, prior)
        print(f"output correction chosen on validation: {describe_correction(correction)}", flush=True)
    info = ModelInfo(config.name, tuple(dataset.class_names), dataset.image_size, dataset.channels, correction)
    evaluation = evaluate_splits(model, dataset, correction)
    save_with_info(model, info, output)
    report = build_report(
        model=model_section(model, info, output),
        config=asdict(config),
        precision=state["precision"],
        training={
            "epochs_run": state["epoch"], "best_epoch": state["best_epoch"],
            "best_val_accuracy": state["best_val_accuracy"], "stopped_early": state["stopped_early"],
            "train_seconds": round(state["train_seconds"], 1), "hardware": hardware,
            "selection": selection(config, averaged_epochs),
            **({"averaged_epochs": averaged_epochs} if averaged_epochs else {}),
            "labels": config.labels,
            **({"prior_correction": correction.to_json()} if correction else {}),
            **({"distilled_from": teacher_name(config.teacher), "distill_weight": config.distill_weight,
                "temperature": config.temperature, "teacher_reads_batches": config.consistent_teacher}
               if config.teacher else {}),
        },
        history=state["history"],
        dataset=dataset.describe(),
        evaluation=evaluation,
        architecture=architecture(model),
        litert=litert_copy(model, info, output, dataset),
    )
    save_report(report_path_for(output), report)
    return output


def selection(config, averaged_epochs: list[int] | None) -> str:
    """How the exported weights were chosen, in words, for the report."""
    if averaged_epochs:
        return (f"mean of the weights at the end of epochs {averaged_epochs[0]}-{averaged_epochs[-1]}, batch-norm "
                "statistics measured again on the training faces; no epoch chosen on validation")
    return ("checkpoint with the best " + " then ".join(
        key.removeprefix("val_").replace("_", " ") for key in selection_keys(config))
        + (" (FER+ majority of PublicTest)" if config.labels == "ferplus" else "") + " on validation")


def litert_copy(model: keras.Model, info: ModelInfo, output: Path, dataset: Dataset) -> dict:
    """Write the `.tflite` copy the app runs beside `output`; the report's `litert` section, by file name
    (empty when this backend cannot convert: the model is saved, and `training.export_litert` converts it later)."""
    from training.export_litert import check_splits, export_litert, litert_path_for

    if keras.backend.backend() != "tensorflow":
        print(f"no .tflite written on the {keras.backend.backend()} backend: run "
              f"`python -m training.export_litert {output}` where TensorFlow is installed", flush=True)
        return {}
    try:
        section = export_litert(model, info, litert_path_for(output), check_splits=check_splits(dataset))
    except (ValueError, RuntimeError, OSError) as err:  # the .keras model is saved: do not lose the run
        print(f"the .tflite copy could not be written ({err}); retry with "
              f"`python -m training.export_litert {output}`", flush=True)
        return {}
    return {section["file"]: section}


def evaluate_splits(model: keras.Model, dataset: Dataset, correction: PriorCorrection | None = None) -> dict:
    """Metrics on validation, test and the whole test folder, without and with flip TTA: against the
    dataset's labels, and against the FER+ votes where they were joined."""
    evaluation = {}
    for split in (VAL, TEST, TEST_ALL):
        if split in dataset.splits:
            data = dataset.splits[split]
            evaluation[split] = {
                tta: evaluate_model(model, data.images, data.labels, dataset.class_names, tta, data.votes, correction)
                for tta in ("none", "flip")
            }
            none, flip = evaluation[split]["none"], evaluation[split]["flip"]
            line = (f"{split}: accuracy {none['accuracy']:.4f} (flip TTA {flip['accuracy']:.4f}), "
                    f"macro-F1 {none['macro_f1']:.4f}")
            if "ferplus" in none:
                line += (f"; FER+ majority {none['ferplus']['accuracy']:.4f} (flip {flip['ferplus']['accuracy']:.4f}),"
                         f" balanced {none['ferplus']['balanced_accuracy']:.4f} "
                         f"(flip {flip['ferplus']['balanced_accuracy']:.4f})")
            print(line, flush=True)
    return evaluation


def save_with_info(model: keras.Model, info: ModelInfo, output: Path) -> None:
    """Save atomically, with the class list inside the file, so no reader ever sees half a model."""
    with staged_path(output) as staged:
        model.save(staged)
        write_model_info(staged, info)


def model_section(model: keras.Model, info: ModelInfo, output: Path) -> dict:
    return {**info.to_json(), "file": output.name, "file_bytes": output.stat().st_size,
            "parameters": int(model.count_params()), "input_shape": list(model.input_shape[1:])}
