"""Model dashboard: what the training report says about the shipped model(s), and nothing else."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import streamlit as st

from app_pages.common import (
    PHOTO_MAX_MB,
    PHOTO_TYPES,
    literal,
    model_paths,
    model_problem,
    recognizer_or_stop,
    selected_model_path,
)
from fer.drawing import face_tag
from fer.explain import FULL_HEAT_DROP, explain_face, face_feature_maps, feature_grid
from fer.images import ImageError
from fer.model_file import describe_correction
from fer.report import ModelReport, ReportError

SPLIT_TITLES = {"train": "train", "val": "validation (PublicTest)", "test": "test (PrivateTest)",
                "test_all": "whole test folder"}


def missing(what: str) -> None:
    st.info(f"The report has no {what} (it comes from an older or interrupted run); a model trained with "
            "`python -m training.train` gets a complete report.")


@dataclass(frozen=True)
class FileFigures:
    """Where a report keeps the figures of one model file: the split it was finally scored on, the float
    model's metrics there, the runtime file's own entry (size, weights, its accuracy when it was
    converted) and its latency."""

    final: str
    metrics: dict
    runtime: dict
    own_accuracy: float | None
    latency: float | None


def file_figures(report: ModelReport, model_file: Path) -> FileFigures:
    return FileFigures(report.final_split, report.metrics(), report.runtime(model_file.name),
                       report.own_accuracy(model_file.name), report.latency_ms(model_file.name))


def headline(report: ModelReport, model_file: Path) -> None:
    figures = file_figures(report, model_file)
    final, metrics, runtime_file, latency = figures.final, figures.metrics, figures.runtime, figures.latency
    flip = report.metrics(final, "flip")
    # The file the app runs may have int8 weights: its own accuracy, measured when it was converted.
    accuracy = figures.own_accuracy or metrics.get("accuracy")
    cols = st.columns(5)
    cols[0].metric("Accuracy" if final == "test" else "Validation accuracy",
                   f"{accuracy:.1%}" if accuracy is not None else "n/a",
                   help=f"on {SPLIT_TITLES.get(final, final)}"
                        + (f"; with flip test-time augmentation {flip['accuracy']:.1%}" if flip else ""))
    cols[1].metric("Macro-F1", f"{metrics['macro_f1']:.3f}" if metrics else "n/a")
    cols[2].metric("Parameters", f"{report.parameters:,}" if report.parameters else "n/a")
    cols[3].metric("File size", f"{runtime_file['file_bytes'] / 1e6:.1f} MB" if "file_bytes" in runtime_file else "n/a",
                   help=f"{model_file.name}, the file the app runs"
                        + (f" ({runtime_file['weights']} weights)" if "weights" in runtime_file else ""))
    cols[4].metric("Latency per face", f"{latency:.1f} ms" if latency else "n/a",
                   help="median, batch of 1, one CPU thread (benchmarks/latency.py)")
    plus, plus_flip = metrics.get("ferplus"), flip.get("ferplus")
    if plus:
        on = f"on the {plus['count']:,} {SPLIT_TITLES.get(final, final)} faces with a clear FER+ majority"
        cols = st.columns(5)
        cols[0].metric("FER+ balanced accuracy", f"{plus['balanced_accuracy']:.3f}",
                       help="mean recall of the 7 emotions against the majority of ten people's votes, " + on
                            + (f"; with flip {plus_flip['balanced_accuracy']:.3f}" if plus_flip else ""))
        cols[1].metric("FER+ majority accuracy", f"{plus['accuracy']:.1%}",
                       help=on + (f"; with flip {plus_flip['accuracy']:.1%}" if plus_flip else ""))
        cols[2].metric("Cross-entropy to the votes", f"{plus['cross_entropy_to_votes']:.3f}",
                       help="how far the probabilities are from the share of votes each emotion got (lower is better)")
        cols[3].metric("Calibration error", f"{plus['expected_calibration_error']:.3f}",
                       help="expected calibration error: the gap between confidence and accuracy (0 is perfect)")
        cols[4].metric("Prior correction", describe_correction(report.prior_correction),
                       help="probabilities divided by the training prior to the power tau (negative: part of it "
                            "put back), then made surer or less sure by the temperature T (both chosen on validation)")
    training = report.training
    if report.members:
        st.caption(ensemble_summary(report))
    elif training:
        hardware = report.hardware
        st.caption(
            f"Trained {training.get('epochs_run', '?')} epochs in {training.get('train_seconds', 0) / 60:.0f} min on "
            f"{hardware.get('cpu', hardware.get('devices', 'unknown hardware'))} ({report.precision or '?'}); "
            f"best epoch {training.get('best_epoch', '?')}: the "
            f"{training.get('selection', 'checkpoint with the best validation accuracy')}; "
            f"labels: {'FER+ votes' if training.get('labels') == 'ferplus' else 'FER2013'}. "
            f"Data: {report.data_source or '?'}."
        )


def whose_figures(report: ModelReport, model_file: Path) -> None:
    """One line that says which file each figure is for: a converted copy (int8 weights) predicts a few
    faces differently from the float model its report evaluates."""
    source = Path(report.float_file).name
    if source == model_file.name:
        st.caption(f"Every figure on this page is for `{model_file.name}`, the file the app runs.")
        return
    st.caption(f"Accuracy, file size and latency above are for `{model_file.name}`, the file the app runs; "
               f"every other figure (macro-F1, FER+ scores, curves, confusion matrix) is from the report of "
               f"`{source}`, the float model it was converted from, so the two accuracies can differ a little.")


def comparable_figures(report: ModelReport, model_file: Path) -> dict[str, str]:
    """The figures two models are compared on, as text, each for the file it describes."""
    known = file_figures(report, model_file)
    final, metrics, runtime, own, latency = known.final, known.metrics, known.runtime, known.own_accuracy, known.latency
    plus = metrics.get("ferplus") or {}
    parameters = report.parameters
    figures = {
        "file the app runs": model_file.name,
        "weights": runtime.get("weights", "float"),
        "file size": f"{runtime['file_bytes'] / 1e6:.1f} MB" if "file_bytes" in runtime else "n/a",
        "latency per face": f"{latency:.1f} ms" if latency else "n/a",
        "parameters": f"{parameters:,}" if parameters else "n/a",
        f"accuracy, {SPLIT_TITLES.get(final, final)}, FER2013 labels (this file)":
            f"{own:.2%}" if own is not None else "n/a",
        f"accuracy, {SPLIT_TITLES.get(final, final)}, FER2013 labels (float model)":
            f"{metrics['accuracy']:.2%}" if "accuracy" in metrics else "n/a",
        "macro-F1, FER2013 labels (float model)": f"{metrics['macro_f1']:.3f}" if "macro_f1" in metrics else "n/a",
        "FER+ balanced accuracy (float model)": f"{plus['balanced_accuracy']:.3f}" if plus else "n/a",
        "FER+ majority accuracy (float model)": f"{plus['accuracy']:.2%}" if plus else "n/a",
    }
    per_class = (plus or metrics).get("per_class", {})
    against = "FER+ majority" if plus else "FER2013 labels"
    for name, scores in per_class.items():
        figures[f"recall: {name} ({against})"] = f"{scores['recall']:.3f}"
    return figures


def compare_models(report: ModelReport, chosen: Path, paths: list[Path]) -> None:
    """The chosen model beside another one, figure by figure."""
    others = [p for p in paths if p != chosen]
    if not others:
        st.caption("Only one model is in the models folder: there is nothing to compare it with.")
        return
    other = st.selectbox("Compare with", others, format_func=lambda p: p.name, key="compare_with")
    try:
        other_report = ModelReport.load(other)
    except ReportError as err:
        st.info(f"{other.name}: {err}.")
        return
    mine, theirs = comparable_figures(report, chosen), comparable_figures(other_report, other)
    rows = [{"figure": key, chosen.name: mine.get(key, "n/a"), other.name: theirs.get(key, "n/a")}
            for key in dict.fromkeys([*mine, *theirs])]
    st.dataframe(pd.DataFrame(rows), hide_index=True, height=35 * (len(rows) + 1) + 3)
    st.caption("Each model is scored on its own report's test split; \"this file\" is the copy the app runs, "
               "\"float model\" the trained model its report evaluates.")


def ensemble_summary(report: ModelReport) -> str:
    members = report.members
    parts = []
    for member in members:
        name = member.name or "?"
        accuracy = member.metrics("test").get("accuracy")
        epochs = member.training.get("epochs_run")
        parts.append(f"{name} ({epochs or '?'} epochs"
                     + (f", {accuracy:.1%} alone on PrivateTest)" if accuracy is not None else ")"))
    minutes = report.training.get("train_seconds") or 0
    int8 = [name for name, entry in report.litert.items() if entry.get("weights") == "int8"]
    int8_note = f" {int8[0]} runs them with int8 weights, about four times faster on a CPU." if int8 else ""
    return (f"An ensemble averaging the probabilities of {len(members)} CNNs: {'; '.join(parts)}. "
            f"Training took {minutes / 60:.0f} min in all; each member's checkpoint was chosen on validation "
            f"accuracy. Each face costs {len(members)} CNN passes.{int8_note}")


def member_curves(report: ModelReport) -> None:
    """An ensemble has no curves of its own: show each member's."""
    members = report.members
    names = [m.model.get("name") or f"member {i + 1}" for i, m in enumerate(members)]
    index = st.selectbox("Member", range(len(members)), format_func=lambda i: names[i], key="member")
    curves(members[index])


def curves(report: ModelReport) -> None:
    if report.members:
        return member_curves(report)
    history = report.history
    if not history:
        return missing("training history")
    frame = pd.DataFrame(history)
    left, right = st.columns(2)
    for column, metric, title in ((left, "loss", "Loss"), (right, "accuracy", "Accuracy")):
        figure = go.Figure()
        figure.add_trace(go.Scatter(x=frame["epoch"], y=frame[metric], name="train", mode="lines"))
        figure.add_trace(go.Scatter(x=frame["epoch"], y=frame[f"val_{metric}"], name="validation", mode="lines"))
        best = report.training.get("best_epoch")
        if best:  # the label sits where the curves are not: above falling loss, below rising accuracy
            figure.add_vline(x=best, line_dash="dot", annotation_text=f"selected (epoch {best})",
                             annotation_position="top right" if metric == "loss" else "bottom right")
        figure.update_layout(title=title, height=320, margin=dict(l=10, r=10, t=40, b=10), xaxis_title="epoch")
        column.plotly_chart(figure, key=f"curve-{metric}")
    if "learning_rate" in frame:
        figure = px.line(frame, x="epoch", y="learning_rate", title="Learning rate", height=220)
        figure.update_layout(margin=dict(l=10, r=10, t=40, b=10))
        st.plotly_chart(figure, key="curve-lr")


def class_distribution(report: ModelReport) -> None:
    splits = report.splits
    names = report.class_names
    if not splits or not names:
        return missing("class distribution")
    key = "class_counts"
    if any("majority_counts" in info for info in splits.values()):
        labels = st.radio("Labels", ["FER2013 labels", "FER+ majority of ten votes"], horizontal=True,
                          key="distribution_labels")
        key = "majority_counts" if labels.startswith("FER+") else key
    figure = go.Figure()
    for split, info in splits.items():
        label = f"{SPLIT_TITLES.get(split, split)} ({sum(info[key])})"
        figure.add_trace(go.Bar(x=names, y=info[key], name=label))
    figure.update_layout(barmode="group", height=340, margin=dict(l=10, r=10, t=30, b=10), yaxis_title="images")
    st.plotly_chart(figure, key="distribution")


def confusion_and_metrics(report: ModelReport) -> None:
    evaluation = report.evaluation
    if not evaluation:
        return missing("evaluation")
    names = report.class_names
    splits = list(evaluation)
    default = splits.index("test") if "test" in splits else 0
    col_split, col_tta, col_norm = st.columns(3)
    split = col_split.selectbox("Split", splits, index=default, format_func=lambda s: SPLIT_TITLES.get(s, s))
    tta = col_tta.selectbox("Test-time augmentation", list(evaluation[split]), key="tta")
    normalised = col_norm.toggle("Row-normalised", value=True)
    metrics = report.metrics(split, tta)
    if "ferplus" in metrics:
        labels = st.radio("Scored against", ["FER+ majority of ten votes", "FER2013 labels"], horizontal=True,
                          key="confusion_labels")
        metrics = metrics["ferplus"] if labels.startswith("FER+") else metrics
    matrix = np.array(metrics["confusion_matrix"], dtype=float)
    shown = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1) if normalised else matrix
    text = [[f"{v:.0%}" if normalised else f"{int(v)}" for v in row] for row in shown]
    figure = go.Figure(go.Heatmap(z=shown, x=names, y=names, text=text, texttemplate="%{text}", colorscale="Blues",
                                  hovertemplate="true %{y}, predicted %{x}: %{text}<extra></extra>"))
    figure.update_layout(height=480, margin=dict(l=10, r=10, t=30, b=10), xaxis_title="predicted",
                         yaxis_title="true", yaxis=dict(autorange="reversed"))
    left, right = st.columns([3, 2])
    left.plotly_chart(figure, key="confusion")
    table = pd.DataFrame([{"emotion": n, **metrics["per_class"][n]} for n in names])
    right.metric("Accuracy", f"{metrics['accuracy']:.2%}", help=f"of {report.float_file}, the float model")
    right.metric("Macro-F1", f"{metrics['macro_f1']:.3f}")
    if "balanced_accuracy" in metrics:
        right.metric("Balanced accuracy", f"{metrics['balanced_accuracy']:.3f}", help="mean recall of the classes")
    right.dataframe(table, hide_index=True, column_config={
        c: st.column_config.NumberColumn(format="%.3f") for c in ("precision", "recall", "f1")})


def architecture(report: ModelReport) -> None:
    layers = report.architecture
    if not layers:
        return missing("architecture")
    frame = pd.DataFrame(layers)
    frame["output_shape"] = frame["output_shape"].map(
        lambda shape: " x ".join("batch" if d is None else str(d) for d in shape) if shape else "")
    st.dataframe(frame, hide_index=True, height=min(400, 35 * (len(frame) + 1) + 3))  # no empty rows


def what_the_network_sees(model_path: Path) -> None:
    """Feature maps of each layer and the occlusion heat map, for a face from a photo the user gives."""
    upload = st.file_uploader("A photo with a face (processed in memory, never stored)", type=PHOTO_TYPES,
                              max_upload_size=PHOTO_MAX_MB, key="feature_photo")
    if upload is None:
        st.caption("Upload a photo to see the activations of each convolution layer for its face, and which "
                   "regions of the face the prediction rests on.")
        return
    recognizer = recognizer_or_stop(model_path)  # the last section: stopping here hides nothing below
    try:
        photo = recognizer.analyze_photo(upload.getvalue())
    except ImageError as err:
        st.error(f"{literal(upload.name)}: {err}")
        return
    if not photo.faces:
        st.info("No face found in this photo.")
        return
    number = st.selectbox("Face", range(1, len(photo.faces) + 1), format_func=lambda n: face_tag(photo.faces[n - 1], n))
    face = photo.faces[number - 1]
    overlay, saliency = explain_face(recognizer, photo.rgb, face.box)
    left, right = st.columns([1, 3])
    left.image(overlay, width=200, caption=f"{saliency.label}: coloured regions, when hidden, lower its probability "
                                           f"(red: by {FULL_HEAT_DROP:.0%} or more; largest drop {saliency.drop:.0%})")
    try:
        layers = face_feature_maps(recognizer, photo.rgb, face.box)
    except ValueError as err:
        right.info(str(err))
        return
    names = [f"{layer.layer} ({' x '.join(map(str, layer.maps.shape))})" for layer in layers]
    index = right.select_slider("Layer", range(len(layers)), format_func=lambda i: names[i], key="feature_layer")
    right.image(feature_grid(layers[index].maps), width="stretch",
                caption="The first 32 channels, each scaled to its own range (yellow: strongest). Early layers "
                        "find edges; later ones respond to parts such as the mouth and the eyes.")


st.title("Model dashboard")
paths = model_paths()
if not paths:
    st.warning("There is no model in `models/` yet. Train one with `python -m training.train --data PATH`.")
    st.stop()
chosen = selected_model_path("photos", where=st, key="model_choice_dashboard")
problem = model_problem(chosen)
if problem:
    st.error(f"The model file {literal(chosen.name)} does not open, so no page can run it: {problem}. "
             "Train or export it again, or pick another model. What follows is its training report only.")
try:
    report = ModelReport.load(chosen)
except ReportError as err:
    st.warning(f"{chosen.name}: {err}. The dashboard shows only what the training report holds; "
               "`python -m training.train` writes it next to the model.")
    st.stop()

st.caption(f"{chosen.name}: {', '.join(report.class_names)}")
headline(report, chosen)
whose_figures(report, chosen)
st.header("Training curves")
curves(report)
st.header("Class distribution")
class_distribution(report)
st.header("Confusion matrix and per-class metrics")
confusion_and_metrics(report)
st.header("Architecture")
architecture(report)
with st.expander("Full training configuration"):
    st.json(report.config)
st.header("Compare two models")
compare_models(report, chosen, paths)
st.header("What the network sees")
if problem:
    st.info("Not available: the model file does not open.")
else:
    what_the_network_sees(chosen)
