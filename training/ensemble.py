"""Average trained models into one `.keras` file:
`python -m training.ensemble --data PATH --members A.keras B.keras ... --output models/NAME.keras`.

Independently seeded CNNs make partly different mistakes on FER2013, so averaging their
probabilities buys accuracy without any new training, at N times the inference work. The result
is an ordinary model file (the members are nested inside it), so the app, the CLI and
`training.evaluate` use it like any other; the report next to it holds every member's own report.
The members' checkpoints were chosen on the validation split; the ensemble adds no choice of its own
beyond the member list, whose validation accuracies this command prints.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np
from keras import layers

from fer.model_file import ModelFileError, ModelInfo, describe_correction, read_model_info
from fer.report import ModelReport, ReportError, build_report, load_report, report_path_for, save_report
from training.data import TRAIN, VAL, Dataset, DatasetError, load_dataset_for
from training.evaluate import choose_output_correction, evaluate_model, predict_probabilities
from training.ferplus import join_votes
from training.report import architecture, evaluate_splits, litert_copy, model_section, save_with_info

MEMBER_REPORT_KEYS = ("model", "config", "precision", "training", "history", "evaluation")


def build_ensemble(members: list[keras.Model], name: str = "ensemble") -> keras.Model:
    """One model whose output is the mean of the members' probabilities (members nested as layers)."""
    inputs = keras.Input(shape=members[0].input_shape[1:], name="pixels")
    outputs = [renamed(member, f"member_{i}")(inputs) for i, member in enumerate(members)]
    averaged = layers.Average(name="probabilities")(outputs) if len(outputs) > 1 else outputs[0]
    return keras.Model(inputs, averaged, name=name)


def renamed(model: keras.Model, name: str) -> keras.Model:
    """A copy under a new name: members trained by the same code share a name, and a model's
    layer names must be unique."""
    clone = keras.Model.from_config({**model.get_config(), "name": name})
    clone.set_weights(model.get_weights())
    return clone


def common_info(paths: list[Path]) -> ModelInfo:
    """The members' shared class list and input format; mixing formats is an error."""
    infos = [read_model_info(path) for path in paths]
    first = infos[0]
    for path, info in zip(paths[1:], infos[1:]):
        if (info.class_names, info.image_size, info.channels) != (first.class_names, first.image_size, first.channels):
            raise ModelFileError(f"{path} has classes {list(info.class_names)}, input {info.image_size} x "
                                 f"{info.channels}; {paths[0]} has {list(first.class_names)}, "
                                 f"{first.image_size} x {first.channels}")
    return first


def member_report(path: Path) -> dict:
    """The parts of a member's own training report the dashboard shows (empty if it has none, with a warning:
    a member copied without its report, as the GPU batch script brings them back, loses its recipe)."""
    try:
        report = load_report(path)
    except ReportError as err:
        print(f"warning: {path.name}: {err}; its training is left out of the ensemble's report", file=sys.stderr)
        return {"model": {"file": path.name}}
    return {key: report[key] for key in MEMBER_REPORT_KEYS if key in report}


def vote_prior(dataset: Dataset) -> np.ndarray:
    """The mean vote distribution of the training faces: the prior an output correction divides out."""
    train = dataset.splits[TRAIN]
    return train.votes.distributions()[train.votes.trainable].mean(axis=0)


def load_members_dataset(member_paths: list[Path], data: str) -> tuple[ModelInfo, Dataset]:
    """The dataset in the members' input format, so their probabilities can be averaged on it;
    members that disagree with each other or with the dataset's classes are an error."""
    info = common_info(member_paths)
    dataset = load_dataset_for(info, data)
    if list(info.class_names) != dataset.class_names:
        raise ModelFileError(f"the members' classes {list(info.class_names)} differ from the dataset's "
                             f"{dataset.class_names}")
    return info, dataset


def make_ensemble(member_paths: list[Path], data: str, output: Path, name: str, votes: str | None = None) -> dict:
    """Average the members. With FER+ votes (`votes`, or ferplus/labels.csv beside the data) the report scores
    both label sets, and when a member learnt from the votes a prior correction is chosen on validation."""
    first, dataset = load_members_dataset(member_paths, data)
    reports = [member_report(path) for path in member_paths]
    # a stored output correction is only chosen for a network that learnt from the votes, report or not
    by_votes = any(ModelReport(r).learnt_from_votes for r in reports) or any(
        read_model_info(path).prior_correction is not None for path in member_paths)
    dataset = join_votes(dataset, data, votes, required=by_votes)
    members = [keras.models.load_model(path, compile=False) for path in member_paths]
    validation = dataset.splits.get(VAL)
    if validation is not None:
        for path, member in zip(member_paths, members):
            metrics = evaluate_model(member, validation.images, validation.labels, dataset.class_names, "none",
                                     validation.votes)
            plus = metrics.get("ferplus")
            print(f"member {path.name}: validation accuracy {metrics['accuracy']:.4f}"
                  + (f", FER+ balanced accuracy {plus['balanced_accuracy']:.4f}" if plus else ""), flush=True)
    model = build_ensemble(members, name)
    correction = None
    if by_votes and validation is not None:
        correction = choose_output_correction(predict_probabilities(model, validation.images), validation.votes,
                                              vote_prior(dataset))
        print(f"output correction chosen on validation: {describe_correction(correction)}", flush=True)
    info = ModelInfo(name, first.class_names, first.image_size, first.channels, correction)
    evaluation = evaluate_splits(model, dataset, correction)
    save_with_info(model, info, output)
    seconds = sum(ModelReport(r).training.get("train_seconds", 0) for r in reports)
    report = build_report(
        model=model_section(model, info, output),
        config={"data": data, "output": str(output), "name": name, "members": [str(path) for path in member_paths]},
        precision="float32",
        training={
            "members": len(members), "train_seconds": round(seconds, 1),
            "hardware": ModelReport(reports[0]).hardware,
            "selection": "each member: its checkpoint chosen on validation (see its report); "
                         "the ensemble: the mean of the members' probabilities, equal weights",
            **({"labels": "ferplus"} if by_votes else {}),
            **({"prior_correction": correction.to_json()} if correction else {}),
        },
        members=reports,
        dataset=dataset.describe(),
        evaluation=evaluation,
        architecture=architecture(model),
        litert=litert_copy(model, info, output, dataset),
    )
    save_report(report_path_for(output), report)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.ensemble", description=__doc__.splitlines()[0])
    parser.add_argument("--members", nargs="+", required=True, help=".keras files written by training.train")
    parser.add_argument("--data", required=True, help="the dataset the members were trained on")
    parser.add_argument("--output", required=True,
                        help="where the ensemble .keras goes (its .tflite copy and .json report go beside it)")
    parser.add_argument("--name", help="model name (default: the output file's stem)")
    parser.add_argument("--votes", help="FER+ labels.csv (default: ferplus/labels.csv beside the data, when there)")
    args = parser.parse_args(argv)
    output = Path(args.output)
    try:
        make_ensemble([Path(p) for p in args.members], args.data, output, args.name or output.stem, args.votes)
    except (ModelFileError, DatasetError, OSError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"wrote {output} and {report_path_for(output).name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
