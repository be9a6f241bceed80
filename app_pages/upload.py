"""Upload page: classify every face in several photos (or a camera snapshot) and download results."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from PIL import Image

from app_pages.common import (
    PHOTO_MAX_MB,
    PHOTO_TYPES,
    display_width,
    literal,
    recognizer_or_stop,
    selected_model_path,
)
from app_pages.process_memory import give_back_freed_memory
from fer.commands.records import RecordWriter, records_text
from fer.drawing import color_for, draw_results, face_tag
from fer.explain import FULL_HEAT_DROP, explain_face
from fer.images import ImageError
from fer.recognizer import EmotionRecognizer, FaceResult
from fer.settings import CONFIDENCE_RANGE, DEFAULTS

DISPLAY_MAX_SIDE = 1600  # annotated images are drawn at most this large (a 50 MP photo stays usable)
MAX_EXPLAINED_FACES = 6  # explained unless the user picks others: each costs about a hundred classifications
MIN_FACE_PHOTO_SIDE = 24  # a smaller photo cannot hold a face the detector finds
MAX_FACE_CHARTS = 3  # more faces than this get one heat map of all of them, and one chart on demand


def shrink_for_display(rgb: np.ndarray) -> tuple[np.ndarray, float]:
    scale = min(1.0, DISPLAY_MAX_SIDE / max(rgb.shape[:2]))
    if scale == 1.0:
        return rgb, 1.0
    size = (max(1, round(rgb.shape[1] * scale)), max(1, round(rgb.shape[0] * scale)))
    return np.asarray(Image.fromarray(rgb).resize(size, Image.Resampling.LANCZOS)), scale


def probability_chart(face: FaceResult, title: str) -> go.Figure:
    names = list(face.probabilities)
    values = [face.probabilities[n] for n in names]
    figure = go.Figure(go.Bar(
        x=values, y=names, orientation="h", marker_color=[f"rgb{color_for(n)}" for n in names],
        text=[f"{v:.0%}" for v in values], textposition="outside", cliponaxis=False,
    ))
    figure.update_layout(title=title, height=260, margin=dict(l=10, r=30, t=40, b=10),
                         xaxis=dict(range=[0, 1], tickformat=".0%"), yaxis=dict(autorange="reversed"))
    return figure


def faces_heatmap(faces: list[FaceResult]) -> go.Figure:
    """Every face of a crowd at a glance: a row per face, numbered as on the image, a column per emotion."""
    names = list(faces[0].probabilities)
    rows = [face_tag(face, i + 1) for i, face in enumerate(faces)]
    values = [[face.probabilities[n] for n in names] for face in faces]
    figure = go.Figure(go.Heatmap(z=values, x=names, y=rows, colorscale="Blues", zmin=0, zmax=1,
                                  text=[[f"{v:.0%}" for v in row] for row in values], texttemplate="%{text}",
                                  colorbar=dict(tickformat=".0%")))
    figure.update_layout(height=80 + 24 * len(faces), margin=dict(l=10, r=10, t=30, b=10),
                         title=f"All {len(faces)} faces", yaxis=dict(autorange="reversed"))
    return figure


def explain_faces(recognizer: EmotionRecognizer, photo, index: int) -> None:
    """Heat maps for the faces the user picks (the first few by default): each costs about a hundred
    classifications, so a crowd is not explained all at once unless asked."""
    faces = photo.faces
    numbers = st.multiselect("Explain faces", range(1, len(faces) + 1), default=list(range(1, min(
        len(faces), MAX_EXPLAINED_FACES) + 1)), format_func=lambda n: face_tag(faces[n - 1], n),
        key=f"explain-{index}")
    if len(numbers) < len(faces):
        st.caption(f"{len(numbers)} of {len(faces)} faces explained; add others above (about 0.3 s each).")
    if not numbers:
        return
    with st.spinner("Hiding one patch of each face at a time…"):
        explained = [explain_face(recognizer, photo.rgb, faces[n - 1].box) for n in numbers]
    st.image([overlay for overlay, _ in explained], width=120,
             caption=[f"#{n} {s.label}: up to −{s.drop:.0%}" for n, (_, s) in zip(numbers, explained)])
    st.caption(f"Colour shows how much hiding each part of the face lowers the predicted emotion's probability "
               f"(occlusion sensitivity): none where the face is untouched, red at {FULL_HEAT_DROP:.0%} or more. "
               "The figure is the largest drop one patch caused: a face the model is sure of may show almost no "
               "colour.")


def png_bytes(rgb: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="PNG")
    return buffer.getvalue()


def analyze_photo(recognizer: EmotionRecognizer, index: int, name: str, data: bytes, min_confidence: float,
                  show_bars: bool, tta: str, explain: bool):
    """Analyse the `index`-th photo and show it; returns its rows for the summary table (or None on error).
    Widget keys use the index: two uploads may share a name or be the same file."""
    try:
        photo = recognizer.analyze_photo(data, min_confidence=min_confidence, tta=tta)
    except ImageError as err:
        st.error(f"{literal(name)}: {err}. The other photos are still shown.")
        return None
    faces = photo.faces  # left to right, numbered #1, #2... on the image, the charts and the table
    display, scale = shrink_for_display(photo.rgb)
    annotated = draw_results(display, [f.scaled(scale) for f in faces], show_probabilities=show_bars,
                             numbered=True)
    st.subheader(literal(name))
    left, right = st.columns([3, 2])
    height, width = photo.rgb.shape[:2]
    left.image(annotated, caption=faces_found(len(faces)), width=display_width(annotated.shape[1]))
    if faces:  # a photo without one would download as a copy of itself
        stem = name.rsplit(".", 1)[0]
        left.download_button("Download annotated image", png_bytes(annotated), mime="image/png",
                             file_name=f"{stem}_annotated.png", key=f"download-{index}", on_click="ignore")
    if not faces and min(height, width) < MIN_FACE_PHOTO_SIDE:
        right.info(f"This photo is only {width}x{height} pixels: too small to hold a face the model can read.")
    elif not faces:
        right.info("No face found in this photo. Try a larger, frontal face, or lower the detector "
                   "confidence in the sidebar.")
    elif len(faces) <= MAX_FACE_CHARTS:
        for i, face in enumerate(faces):
            right.plotly_chart(probability_chart(face, f"Face {face_tag(face, i + 1)}"),
                               width="stretch", key=f"chart-{index}-{i}")
    else:  # a crowd: one compact view whose rows match the numbers, and one face's chart on demand
        right.plotly_chart(faces_heatmap(faces), width="stretch", key=f"heatmap-{index}")
        number = right.selectbox("Chart for face", range(1, len(faces) + 1), key=f"chart-face-{index}",
                                 format_func=lambda n: face_tag(faces[n - 1], n))
        right.plotly_chart(probability_chart(faces[number - 1], f"Face {face_tag(faces[number - 1], number)}"),
                           width="stretch", key=f"chart-{index}-one")
    if explain and faces:
        explain_faces(recognizer, photo, index)
    return [face.to_json() for face in photo.faces_in_input_pixels()]


def faces_found(count: int) -> str:
    return "No face found" if count == 0 else f"{count} face found" if count == 1 else f"{count} faces found"


def results_table(photos: list[tuple[str, list[dict]]], class_names: tuple[str, ...]) -> pd.DataFrame:
    """The CSV download's rows: one per face, and one for each photo without a face (0 faces)."""
    writer = RecordWriter(None, io.StringIO(), "csv", class_names)
    return pd.DataFrame([row for name, faces in photos for row in writer.rows(name, faces)], columns=writer.columns)


def main() -> None:
    """The page, top to bottom, in a function rather than at module level, so the photos a run holds go
    with the run: functions a page defines (a face picker's `format_func`) stay alive with the session's
    widgets, and with them the page's globals."""
    st.title("Emotions in photos")
    st.write("Upload one or more photos. Every face is found, boxed and classified; nothing is stored.")
    model_path = selected_model_path("photos")
    with st.sidebar:
        min_confidence = st.slider("Face detector confidence", *CONFIDENCE_RANGE, DEFAULTS.min_confidence, 0.05,
                                   help="Lower finds more (and smaller) faces, with more false alarms.")
        show_bars = st.toggle("Probability bars on the image", value=False)
        flip_tta = st.toggle("Also read each face mirrored", value=DEFAULTS.photo_tta == "flip",
                             help="Averages the prediction for each face and its mirror image (test-time "
                                  "augmentation): slightly more accurate, twice the classification work.")
        explain = st.toggle("Show what each label rests on", value=False,
                            help="A heat map over each face: the regions whose hiding changes the prediction most "
                                 "(occlusion sensitivity). About 0.3 s per face.")

    recognizer = recognizer_or_stop(model_path)

    upload_tab, camera_tab = st.tabs(["Upload photos", "Camera snapshot"])
    with upload_tab:
        uploads = st.file_uploader("Photos (JPEG, PNG, WebP, BMP, TIFF)", type=PHOTO_TYPES, accept_multiple_files=True,
                                   max_upload_size=PHOTO_MAX_MB)
    with camera_tab:
        snapshot = st.camera_input("Take a snapshot. It goes to the server that runs this app, is read in memory "
                                   "there and is never stored.")

    photos = [(u.name, u) for u in uploads or []]
    if snapshot is not None:
        photos.append(("camera snapshot.jpg", snapshot))

    read: list[tuple[str, list[dict]]] = []  # each photo that could be read, with its faces (maybe none)
    for index, (name, upload) in enumerate(photos):  # each photo's bytes and pixels live only during its call
        faces = analyze_photo(recognizer, index, name, upload.getvalue(), min_confidence, show_bars,
                              "flip" if flip_tta else "none", explain)
        if faces is not None:
            read.append((name, faces))

    if photos:
        st.divider()
        st.subheader("All photos")
        if read:
            names = recognizer.class_names
            st.caption(f"{len(read)} photo{'s' if len(read) != 1 else ''} read; "
                       f"{faces_found(sum(len(faces) for _, faces in read)).lower()}. A photo without a face has "
                       "a row of its own, with 0 faces: the same files `fer predict` writes.")
            st.dataframe(results_table(read, names), hide_index=True, width="stretch")
            col_csv, col_json = st.columns(2)
            col_csv.download_button("Download results (CSV)", records_text(read, "csv", names), "emotions.csv",
                                    "text/csv", on_click="ignore")
            col_json.download_button("Download results (JSON)", records_text(read, "json", names), "emotions.json",
                                     "application/json", on_click="ignore")
        else:
            st.info("None of these photos could be read.")
    else:
        st.info("Add photos above to begin. Try a group photo: every face gets its own result.")


main()
give_back_freed_memory()  # after main(): its photos are gone by now
