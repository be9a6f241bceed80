"""Tables, charts and downloads of a video timeline (`fer.video.Timeline`): the Live webcam and Video
pages show a stream's faces over time the same way."""

from __future__ import annotations

import io
import zipfile

import cv2
import numpy as np
import pandas as pd
import plotly.graph_objects as go

from fer.drawing import color_for
from fer.video import Timeline


def timeline_table(timeline: Timeline, last_seconds: float | None = None) -> pd.DataFrame:
    """One row per (frame, face): time, face number, label, score and every probability."""
    return pd.DataFrame.from_records(timeline.last(last_seconds), columns=list(timeline.columns))


def face_table(table: pd.DataFrame, face: int, max_points: int | None = None) -> pd.DataFrame:
    """One face's rows; with `max_points`, averaged over equal slices of time down to that many."""
    rows = table[table["face"] == face]
    if max_points and len(rows) > max_points:
        step = (rows["t"].iloc[-1] - rows["t"].iloc[0]) / max_points or 1.0
        numeric = rows.drop(columns=["label"])
        rows = numeric.groupby(((rows["t"] - rows["t"].iloc[0]) // step).astype(int)).mean()
        rows["face"] = face
    return rows


def face_chart(table: pd.DataFrame, face: int, class_names: tuple[str, ...], height: int = 300) -> go.Figure:
    """One face's smoothed probabilities over time, one line per emotion."""
    rows = table[table["face"] == face]
    figure = go.Figure()
    for name in class_names:
        figure.add_trace(go.Scatter(x=rows["t"], y=rows[name], name=name, mode="lines",
                                    line=dict(color=f"rgb{color_for(name)}", width=2)))
    figure.update_layout(height=height, margin=dict(l=10, r=10, t=30, b=10), title=f"Face #{face}",
                         xaxis_title="seconds", yaxis=dict(range=[0, 1], tickformat=".0%"))
    return figure


def face_chart_image(table: pd.DataFrame, face: int, class_names: tuple[str, ...], width: int = 560,
                     height: int = 240) -> np.ndarray:
    """The same chart as `face_chart`, drawn by OpenCV into an RGB image: the live panel redraws it every
    2 s while the browser plays video, and an <img> costs the browser almost nothing where re-drawing a
    Plotly chart made the shown video drop from 30 to 10-20 frames per second for half a second
    (benchmarks/app_glass.py). Hover is no loss on a chart that changes every 2 s."""
    rows = table[table["face"] == face]
    image = np.full((height, width, 3), 255, np.uint8)
    left, right, top, bottom = 44, width - 10, 28, height - 24
    font, small = cv2.FONT_HERSHEY_SIMPLEX, 0.38
    for level in (0.0, 0.25, 0.5, 0.75, 1.0):
        y = round(bottom - level * (bottom - top))
        cv2.line(image, (left, y), (right, y), (225, 225, 225), 1)
        cv2.putText(image, f"{level:.0%}", (4, y + 4), font, small, (90, 90, 90), 1, cv2.LINE_AA)
    cv2.putText(image, f"Face #{face}", (left, 18), font, 0.5, (30, 30, 30), 1, cv2.LINE_AA)
    if len(rows) >= 2:
        times = rows["t"].to_numpy(float)
        t0, t1 = times[0], max(times[-1], times[0] + 1e-3)
        xs = left + (times - t0) / (t1 - t0) * (right - left)
        for tick in np.linspace(t0, t1, 4):
            x = round(left + (tick - t0) / (t1 - t0) * (right - left))
            cv2.putText(image, f"{tick:.0f} s", (min(x, right - 30), height - 8), font, small, (90, 90, 90), 1,
                        cv2.LINE_AA)
        for name in class_names:
            ys = bottom - rows[name].to_numpy(float) * (bottom - top)
            points = np.stack([xs, ys], axis=1).round().astype(np.int32)
            cv2.polylines(image, [points], False, color_for(name), 2, cv2.LINE_AA)
    x = left + 90
    for name in class_names:  # the legend, in the lines' colours
        cv2.putText(image, name, (x, 18), font, small, color_for(name), 1, cv2.LINE_AA)
        x += cv2.getTextSize(name, font, small, 1)[0][0] + 10
    return image


def faces_overview(table: pd.DataFrame, class_names: tuple[str, ...]) -> go.Figure:
    """Every face on one chart: a row per face, coloured by its label at each moment."""
    figure = go.Figure()
    for name in class_names:
        rows = table[table["label"] == name]
        if rows.empty:
            continue
        figure.add_trace(go.Scattergl(x=rows["t"], y=[f"#{f}" for f in rows["face"]], name=name, mode="markers",
                                      marker=dict(color=f"rgb{color_for(name)}", size=6, symbol="square")))
    faces = sorted(table["face"].unique())
    figure.update_layout(height=80 + 28 * len(faces), margin=dict(l=10, r=10, t=30, b=10),
                         title="Each face's label over time", xaxis_title="seconds",
                         # A category axis said outright: Plotly reads "#2" as the number 2 (it strips "#", "$"
                         # and "%"), which gave ticks 1, 1.5, 2 for faces #1 and #2.
                         yaxis=dict(type="category", categoryorder="array",
                                    categoryarray=[f"#{f}" for f in reversed(faces)]))
    return figure


def face_summary(table: pd.DataFrame) -> pd.DataFrame:
    """A row per face: when it was seen, for how many frames, and the label it wore most."""
    rows = []
    for face, frames in table.groupby("face", sort=True):
        shares = frames["label"].value_counts(normalize=True)
        rows.append({"face": f"#{face}", "from (s)": round(float(frames["t"].min()), 2),
                     "to (s)": round(float(frames["t"].max()), 2), "frames": len(frames),
                     "most often": shares.index[0], "share of its frames": round(100 * float(shares.iloc[0]))})
    return pd.DataFrame(rows)


def timeline_csv(timeline: Timeline) -> str:
    """The same CSV as `fer video --csv`."""
    buffer = io.StringIO()
    timeline.write_csv(buffer)
    return buffer.getvalue()


def video_zip(clip: bytes, timeline_text: str, stem: str) -> bytes:
    """The annotated clip and its timeline in one download (the MP4 is already compressed: stored as is)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(f"{stem}.mp4", clip, compress_type=zipfile.ZIP_STORED)
        archive.writestr(f"{stem}.csv", timeline_text, compress_type=zipfile.ZIP_DEFLATED)
    return buffer.getvalue()
