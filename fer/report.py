"""A model's report: the NAME.json beside NAME.keras / NAME.tflite / NAME.int8.tflite.

Training writes it; the ensemble, the LiteRT export and the latency benchmark add their sections;
the Model dashboard reads it. This module is the one place that knows where it lives, which
version it is and how it is saved.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from fer.atomic import write_text_atomic
from fer.model_file import INT8_VARIANT

REPORT_VERSION = 1


class ReportError(Exception):
    """A report that is missing, unreadable, or written by a newer version of this project."""


def report_path_for(model_path: str | Path) -> Path:
    """NAME.json beside NAME.keras, NAME.tflite and NAME.int8.tflite."""
    path = Path(model_path)
    stem = path.stem.removesuffix(INT8_VARIANT) if path.suffix == ".tflite" else path.stem
    return path.with_name(stem + ".json")


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


def update_report(model_path: str | Path, section: str, entries: dict) -> Path:
    """Merge `entries` into `section` of a model's existing report (e.g. benchmarks by file name)."""
    path = report_path_for(model_path)
    report = load_report(path)
    report[section] = {**(report.get(section) or {}), **entries}
    save_report(path, report)
    return path


def section(report: dict, *keys: str):
    """The nested value at `keys`, or None when the report lacks it (an older or partial report)."""
    value = report
    for key in keys:
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
