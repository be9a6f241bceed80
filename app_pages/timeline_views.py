"""Tables, charts and downloads of a video timeline (`fer.video.Timeline`): the Live webcam and Video
pages show a stream's faces over time the same way."""

from __future__ import annotations

import io
import zipfile

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
    """One face's smoothed probabilities over time, one line per emotion: the Video page's chart, and the
    Live page's for each face in view (from `face_table`'s few points, redrawn every 2 s)."""
    rows = table[table["face"] == face]
    figure = go.Figure()
    for name in class_names:
        figure.add_trace(go.Scatter(x=rows["t"], y=rows[name], name=name, mode="lines",
                                    line=dict(color=f"rgb{color_for(name)}", width=2)))
    figure.update_layout(height=height, margin=dict(l=10, r=10, t=30, b=10), title=f"Face #{face}",
                         xaxis_title="seconds", yaxis=dict(range=[0, 1], tickformat=".0%"))
    return figure


# The live charts change every 2 s while video plays in the same page: no hover, zoom or toolbar to build.
LIVE_CHART_CONFIG = {"staticPlot": True, "displayModeBar": False}


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
