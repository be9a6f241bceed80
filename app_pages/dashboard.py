"""Model dashboard: what the training report says about the shipped model(s), and nothing else."""

from __future__ import annotations

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
from app_pages.model_figures import HELD_OUT, headline, in_words, page_tta
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


def how_good(report: ModelReport, model_file: Path) -> str:
    """The answer first, on the project's yardstick, for the file the app runs: a sentence, four figures in
    one unit, and where they come from. Returns how the visitor chose to read each face (its TTA)."""
    tta = page_tta(model_file)
    reading = st.radio("Read each face", ["flip", "none"], index=0 if tta == "flip" else 1, horizontal=True,
                       format_func=lambda t: {"flip": "and its mirror image (as Photos)",
                                              "none": "once (as live video)"}[t], key="dashboard_tta")
    figures = headline(report, model_file, reading)
    if figures is None:
        st.info(f"The report has no held-out figures for {model_file.name} itself. "
                f"`python benchmarks/accuracy.py --model models/{model_file.name} --update-report` measures and "
                "stores them (it needs FER2013 and the FER+ votes); the sections below show the report's own.")
        return reading
    st.write(in_words(figures))
    cols = st.columns(4)
    cols[0].metric("Agrees with 10 people", f"{figures.majority:.1%}",
                   help="The share of faces whose label is the one most of the ten FER+ voters chose.")
    cols[1].metric("Each expression, on average", f"{figures.balanced:.1%}",
                   help="Balanced accuracy: the mean over the seven expressions of the share of their faces found. "
                        "The yardstick this project chooses models by.")
    if figures.fer2013 is not None:
        cols[2].metric("FER2013's own labels", f"{figures.fer2013:.1%}",
                       help="Against the single label FER2013 gives each face, every PrivateTest face. Those labels "
                            "agree with the FER+ majority on about 66% of faces, so this stays low.")
    if figures.calibration_error is not None:
        cols[3].metric("Calibration error", f"{100 * figures.calibration_error:.1f} points",
                       help="How far confidence is from accuracy, on average: 0 means a 70% answer is right 70% "
                            "of the time (the reliability diagram below).")
    st.caption(f"FER+ figures: the {figures.faces:,} PrivateTest faces with a clear majority of the ten votes; "
               f"FER2013's labels: every PrivateTest face. PrivateTest was used neither to train nor to choose. "
               f"`python benchmarks/accuracy.py --update-report`"
               + (f", measured {figures.measured}." if figures.measured else "."))
    return reading


def file_facts(report: ModelReport, model_file: Path) -> None:
    runtime_file, latency = report.runtime(model_file.name), report.latency_ms(model_file.name)
    cols = st.columns(3)
    cols[0].metric("File size", f"{runtime_file['file_bytes'] / 1e6:.1f} MB" if "file_bytes" in runtime_file else "n/a",
                   help=f"{model_file.name}, the file the app runs"
                        + (f" ({runtime_file['weights']} weights)" if "weights" in runtime_file else ""))
    cols[1].metric("Time per face", f"{latency:.1f} ms" if latency else "n/a",
                   help="median, one face, one CPU thread (benchmarks/latency.py)")
    cols[2].metric("Parameters", f"{report.parameters:,}" if report.parameters else "n/a")
    st.caption(f"Output correction: {describe_correction(report.prior_correction)}. The probabilities are divided by "
               "the training prior to the power tau (negative: part of it put back), then made surer or less sure by "
               "the temperature T; both were chosen on validation (PublicTest).")
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


def per_expression(metrics: dict, names: list[str]) -> None:
    """Recall and precision in words, and where each expression's misses go, from one scored split."""
    matrix = np.array(metrics["confusion_matrix"])
    rows = []
    for i, name in enumerate(names):
        row = matrix[i].astype(float)
        missed = row.copy()
        missed[i] = 0
        worst = int(missed.argmax())
        rows.append({
            "expression": name, "faces": int(row.sum()),
            "found (of the faces people called it)": 100 * metrics["per_class"][name]["recall"],
            "right (when the model says it)": 100 * metrics["per_class"][name]["precision"],
            "misses most often read as": f"{names[worst]} ({missed[worst] / max(row.sum(), 1):.0%} of its faces)"
                                         if missed.sum() else "none",
        })
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch", column_config={
        "found (of the faces people called it)": st.column_config.ProgressColumn(format="%.0f%%", min_value=0,
                                                                                 max_value=100),
        "right (when the model says it)": st.column_config.ProgressColumn(format="%.0f%%", min_value=0,
                                                                          max_value=100)})


def reliability_diagram(metrics: dict) -> None:
    """Confidence against accuracy per bin: on the diagonal, a "70%" is right 70% of the time."""
    points = metrics.get("reliability")
    if not points:
        return missing("reliability diagram (older scores)")
    figure = go.Figure()
    figure.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="calibrated",
                                line=dict(dash="dot", color="#9aa3b5")))
    figure.add_trace(go.Scatter(
        x=[p["confidence"] for p in points], y=[p["accuracy"] for p in points], mode="lines+markers",
        name="this model", marker=dict(size=[6 + 18 * (p["faces"] / max(q["faces"] for q in points)) ** 0.5
                                             for p in points], color="#2176ff"),
        text=[f"{p['faces']:,} faces" for p in points],
        hovertemplate="confidence %{x:.0%}: right %{y:.0%} (%{text})<extra></extra>"))
    figure.update_layout(height=360, margin=dict(l=10, r=10, t=30, b=10), xaxis_title="confidence of the top label",
                         yaxis_title="how often it was right", xaxis=dict(range=[0, 1], tickformat=".0%"),
                         yaxis=dict(range=[0, 1], tickformat=".0%"))
    st.plotly_chart(figure, key="reliability")
    st.caption("Faces grouped by the probability of their top label (dot size: how many faces). Points on the "
               "dotted line mean the probabilities can be taken at their word.")


def whose_figures(report: ModelReport, model_file: Path, own_scores: bool) -> None:
    """One line that says which file each figure is for: a converted copy (int8 weights) predicts a few
    faces differently from the float model its report evaluates."""
    source = Path(report.float_file).name
    if source == model_file.name:
        st.caption(f"Every figure on this page is for `{model_file.name}`, the file the app runs.")
        return
    st.caption((f"The figures above are for `{model_file.name}`, the file the app runs; " if own_scores else
                f"File size and time per face are for `{model_file.name}`, the file the app runs; ")
               + f"training curves and the architecture come from the report of `{source}`, the float model it "
                 "was converted from.")


COMPARED_TTA = "flip"  # two models are compared reading faces the same way: mirrored too, as Photos does


def comparable_figures(report: ModelReport, model_file: Path) -> dict[str, str]:
    """The figures two models are compared on, as text, each for the file the app runs: the held-out
    yardstick read the same way for both, then cost."""
    runtime, latency = report.runtime(model_file.name), report.latency_ms(model_file.name)
    figures = headline(report, model_file, COMPARED_TTA)
    not_measured = "not measured (benchmarks/accuracy.py --update-report)"
    scores = report.scores(model_file.name, HELD_OUT, COMPARED_TTA)
    rows = {
        "agrees with the majority of ten people (PrivateTest, FER+)":
            f"{figures.majority:.1%}" if figures else not_measured,
        "each expression found, on average (PrivateTest, FER+)": f"{figures.balanced:.1%}" if figures else not_measured,
        "FER2013's own labels (PrivateTest)": f"{figures.fer2013:.1%}" if figures and figures.fer2013 else not_measured,
        "calibration error (PrivateTest, FER+)":
            f"{100 * figures.calibration_error:.1f} points" if figures and figures.calibration_error is not None
            else not_measured,
    }
    for name, values in (scores.get("ferplus") or {}).get("per_class", {}).items():
        rows[f"{name}: found (PrivateTest, FER+)"] = f"{values['recall']:.0%}"
    rows.update({
        "trained on": "FER+ votes" if report.learnt_from_votes else "FER2013's labels",
        "file the app runs": model_file.name,
        "weights": runtime.get("weights", "float"),
        "file size": f"{runtime['file_bytes'] / 1e6:.1f} MB" if "file_bytes" in runtime else "n/a",
        "time per face": f"{latency:.1f} ms" if latency else "n/a",
        "parameters": f"{report.parameters:,}" if report.parameters else "n/a",
    })
    return rows


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
    st.caption("Both files as the app runs them, on the same faces (PrivateTest), reading each face and its "
               "mirror image; FER+ figures against the majority of ten votes.")


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


def confusion_and_metrics(report: ModelReport, file_scores: dict, model_file: Path) -> None:
    """Every split, reading and label set: the file's own scores where measured, else its report's."""
    evaluation = file_scores or report.evaluation
    whose = model_file.name if file_scores else f"{Path(report.float_file).name}, the float model"
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
    right.metric("Accuracy", f"{metrics['accuracy']:.1%}", help=f"of {whose}")
    right.metric("Macro-F1", f"{metrics['macro_f1']:.1%}", help="the mean of the classes' F1 scores")
    if "balanced_accuracy" in metrics:
        right.metric("Each class, on average", f"{metrics['balanced_accuracy']:.1%}",
                     help="balanced accuracy: the mean recall of the classes")
    right.dataframe(table.assign(**{c: 100 * table[c] for c in ("precision", "recall", "f1")}), hide_index=True,
                    column_config={c: st.column_config.NumberColumn(format="%.1f%%") for c in ("precision", "recall",
                                                                                                "f1")})


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
st.header("How good is it?")
reading = how_good(report, chosen)
file_scores = report.scored_splits(chosen.name)
held_out = report.scores(chosen.name, HELD_OUT, reading)
if held_out.get("ferplus"):
    st.header("Per expression")
    st.caption("Against the FER+ majority of ten votes, PrivateTest, read as chosen above.")
    per_expression(held_out["ferplus"], report.class_names)
    st.header("Calibration")
    reliability_diagram(held_out["ferplus"])
st.header("The file")
file_facts(report, chosen)
whose_figures(report, chosen, bool(file_scores))
st.header("Training curves")
curves(report)
st.header("Class distribution")
class_distribution(report)
st.header("Confusion matrix, every split")
confusion_and_metrics(report, file_scores, chosen)
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
