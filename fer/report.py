"""A model's report: the NAME.json beside NAME.keras / NAME.tflite / NAME.int8.tflite.

Training writes it; the ensemble, the LiteRT export and the latency benchmark add their sections;
the Model dashboard reads it. This module is the one place that knows where it lives, which
version it is and how it is saved.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fer.atomic import write_text_atomic
from fer.model_file import PriorCorrection, trained_model_stem

REPORT_VERSION = 1


class ReportError(Exception):
    """A report that is missing, unreadable, or written by a newer version of this project."""


def report_path_for(model_path: str | Path) -> Path:
    """NAME.json beside NAME.keras, NAME.tflite and NAME.int8.tflite."""
    path = Path(model_path)
    return path.with_name(trained_model_stem(path) + ".json")


def load_report(model_path: str | Path) -> dict:
    """The report of a model file (or a report path itself), checked to be one this code understands."""
    path = Path(model_path)
    path = path if path.suffix == ".json" else report_path_for(path)
    if not path.exists():
        raise ReportError(f"no report found beside the model (expected {path.name})")
    try:
        report = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ReportError(f"the report {path.name} could not be read ({type(err).__name__}: {err})") from err
    if not isinstance(report, dict):
        raise ReportError(f"the report {path.name} is not a JSON object")
    version = report.get("report_version")
    if not isinstance(version, int) or version > REPORT_VERSION:
        raise ReportError(f"the report {path.name} has version {version!r}; this code reads version "
                          f"{REPORT_VERSION} and older: update the project")
    return report


def save_report(path: str | Path, report: dict) -> None:
    """Write atomically, stamped with the current version."""
    report = {"report_version": REPORT_VERSION, **{k: v for k, v in report.items() if k != "report_version"}}
    write_text_atomic(path, json.dumps(report, indent=1, default=_json_default))


def add_entries(model_path: str | Path, section_name: str, entries: dict, *, replace: bool = False) -> Path:
    """Merge `entries` (by file name) into one section of a model's existing report: the LiteRT copies
    under "litert", the latency benchmark's figures under "benchmarks". `replace`: the section holds
    these entries alone (the copy that ships, not the others written beside it)."""
    path = report_path_for(model_path)
    report = load_report(path)
    report[section_name] = {**({} if replace else report.get(section_name) or {}), **entries}
    save_report(path, report)
    return path


def build_report(*, model: dict, config: dict, precision: str, training: dict, dataset: dict, evaluation: dict,
                 architecture: list[dict], litert: dict, history: list[dict] | None = None,
                 members: list[dict] | None = None) -> dict:
    """The one shape of a report, for a trained model (with `history`) and an ensemble (with `members`, each
    member's own report). Sections: model (ModelInfo plus file, file_bytes, parameters, input_shape), config,
    precision, training (epochs_run, best_epoch, train_seconds, hardware, selection, labels, prior_correction),
    history (one row per epoch), members, dataset (source, class_names, splits with class_counts and
    majority_counts, fingerprint), evaluation[split][tta] (the metrics of training.evaluate), architecture,
    litert[file name] (weights, file_bytes, agreement[split]) and, added later, benchmarks[file name] and
    scores[file name][split][tta] (the file's own metrics, as the app runs it)."""
    report = {"report_version": REPORT_VERSION, "model": model,
              "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "config": config,
              "precision": precision, "training": training}
    if history is not None:
        report["history"] = history
    if members is not None:
        report["members"] = members
    return {**report, "dataset": dataset, "evaluation": evaluation, "architecture": architecture, "litert": litert}


def section(report: dict, *keys: str):
    """The nested value at `keys`, or None when the report lacks it (an older or partial report)."""
    value = report
    for key in keys:
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


@dataclass(frozen=True)
class ModelReport:
    """A report read through names instead of key paths; every accessor copes with an older or partial
    report (None, or an empty list or dict, where a section is missing)."""

    raw: dict

    @classmethod
    def load(cls, model_path: str | Path) -> ModelReport:
        return cls(load_report(model_path))

    # The model and how it was made.
    @property
    def model(self) -> dict:
        """ModelInfo's fields plus file, file_bytes, parameters and input_shape."""
        return self.raw.get("model") or {}

    @property
    def class_names(self) -> list[str]:
        return self.model.get("class_names") or section(self.raw, "dataset", "class_names") or []

    @property
    def parameters(self) -> int | None:
        return self.model.get("parameters")

    @property
    def float_file(self) -> str:
        """The file the evaluation describes: the float model the app's copies were converted from."""
        return self.model.get("file") or f"{self.model.get('name') or 'the model'}.keras"

    @property
    def name(self) -> str | None:
        return self.model.get("name") or self.model.get("file")

    @property
    def config(self) -> dict:
        return self.raw.get("config") or {}

    @property
    def precision(self) -> str | None:
        return self.raw.get("precision")

    @property
    def training(self) -> dict:
        """epochs_run, best_epoch, train_seconds, hardware, selection, labels, prior_correction, distilled_from."""
        return self.raw.get("training") or {}

    @property
    def hardware(self) -> dict:
        return self.training.get("hardware") or {}

    @property
    def prior_correction(self) -> PriorCorrection | None:
        """The output correction the model file stores; None without one, or when the report's is unreadable."""
        raw = self.training.get("prior_correction")
        try:
            return PriorCorrection.from_json(raw, classes=len(raw["prior"])) if raw else None
        except (KeyError, TypeError, ValueError):
            return None

    @property
    def learnt_from_votes(self) -> bool:
        return self.config.get("labels") == "ferplus" or self.training.get("labels") == "ferplus"

    @property
    def history(self) -> list[dict]:
        return self.raw.get("history") or []

    @property
    def members(self) -> list[ModelReport]:
        """An ensemble's members, each its own report (empty for a single model)."""
        return [ModelReport(member) for member in self.raw.get("members") or []]

    @property
    def architecture(self) -> list[dict]:
        return self.raw.get("architecture") or []

    # The data.
    @property
    def dataset(self) -> dict:
        return self.raw.get("dataset") or {}

    @property
    def data_source(self) -> str | None:
        return self.dataset.get("source")

    @property
    def splits(self) -> dict[str, dict]:
        """Per split: count, class_counts and, with FER+ votes, majority_counts."""
        return self.dataset.get("splits") or {}

    # The figures.
    @property
    def evaluation(self) -> dict[str, dict]:
        return self.raw.get("evaluation") or {}

    @property
    def final_split(self) -> str:
        """The split the model is finally scored on: test where there is one, else validation."""
        return "test" if "test" in self.evaluation else "val"

    def metrics(self, split: str | None = None, tta: str = "none") -> dict:
        """accuracy, macro_f1, per_class, confusion_matrix and, with FER+ votes, a "ferplus" dict of the same."""
        return section(self.evaluation, split or self.final_split, tta) or {}

    def ferplus(self, split: str | None = None, tta: str = "none") -> dict:
        """The figures against the FER+ majority (empty when the votes were not joined)."""
        return self.metrics(split, tta).get("ferplus") or {}

    @property
    def litert(self) -> dict[str, dict]:
        """The LiteRT copies by file name: weights, file_bytes and agreement[split] with the float model."""
        return self.raw.get("litert") or {}

    def runtime(self, file_name: str) -> dict:
        """What the report knows of the file the app runs: its LiteRT entry, or the float model's section."""
        return self.litert.get(file_name) or self.model

    def scored_splits(self, file_name: str) -> dict[str, dict]:
        """The metrics of the file itself, as the app runs it (int8 weights, output correction), by split
        and TTA (benchmarks/accuracy.py --update-report); {} when not measured."""
        entry = section(self.raw, "scores", file_name) or {}
        return {split: ttas for split, ttas in entry.items() if isinstance(ttas, dict)}

    def scores(self, file_name: str, split: str = "test", tta: str = "none") -> dict:
        """The file's own metrics on `split` with `tta`; {} when not measured."""
        return section(self.scored_splits(file_name), split, tta) or {}

    def scores_measured(self, file_name: str) -> str | None:
        """The date the file's own metrics were measured."""
        return section(self.raw, "scores", file_name, "measured")

    def latency_ms(self, file_name: str) -> float | None:
        """Median time to classify one face with this file (benchmarks/latency.py --update-report)."""
        return section(self.raw, "benchmarks", file_name, "classify_one_face", "median_ms")


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
