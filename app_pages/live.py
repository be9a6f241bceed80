"""Live webcam page: the browser streams over WebRTC, each frame is analysed and drawn on the server."""

from __future__ import annotations

import pandas as pd
import streamlit as st
from streamlit_webrtc import WebRtcMode, webrtc_streamer

from app_pages.common import recognizer_or_stop, rtc_configuration, selected_model_path
from app_pages.live_session import RECORDING_MAX_SECONDS, LiveSession
from app_pages.timeline_views import face_chart_image, face_table, timeline_csv, timeline_table, video_zip
from fer.settings import CONFIDENCE_RANGE, DEFAULTS, MAX_SMOOTHING
from fer.video import VideoSettings

LIVE_PANEL_REFRESH_SECONDS = 2.0  # each refresh is a script run: often enough to feel live, no more
TIMELINE_SECONDS = 60  # the live chart shows the last minute


MAX_CHARTS = 3  # faces on screen charted side by side; more are in the CSV
CHART_POINTS = 120  # points per line in the live charts: every half second of the last minute


def session_summary(table: pd.DataFrame, class_names: tuple[str, ...]) -> pd.DataFrame:
    """Per emotion, in percent: the share of face readings it labelled and its mean probability."""
    counts = table["label"].value_counts(normalize=True)
    return pd.DataFrame({
        "emotion": list(class_names),
        "share of frames": [100 * float(counts.get(n, 0.0)) for n in class_names],
        "mean probability": [100 * float(table[n].mean()) for n in class_names],
    })


st.title("Live webcam")
st.write("Press **START** and allow the camera. Video goes from your browser to this app's server and straight "
         "back; nothing is stored unless you ask for a recording, which stays in memory for you to download.")

recognizer = recognizer_or_stop(selected_model_path("live"))

if "live_session" not in st.session_state:
    st.session_state.live_session = LiveSession(recognizer)
session: LiveSession = st.session_state.live_session
session.use_recognizer(recognizer)  # another model mid-stream: the same stream, timeline and recording go on

with st.sidebar:
    settings = VideoSettings(
        min_confidence=st.slider("Face detector confidence", *CONFIDENCE_RANGE, DEFAULTS.min_confidence, 0.05),
        smoothing=st.slider("Smoothing over time", 0.0, MAX_SMOOTHING, DEFAULTS.smoothing, 0.05,
                            help="0 shows each frame's own prediction; higher values steady the labels."),
        show_probabilities=st.toggle("Show probability bars", value=False),
        mirror=st.toggle("Mirror the video", value=True),
    )
    record = st.toggle("Record the annotated video", value=False,
                       help=f"From the next START, up to {RECORDING_MAX_SECONDS / 60:.0f} minutes are kept in "
                            "this server's memory; after STOP, download the clip and the timeline together.")
session.update_settings(settings)

try:
    context = webrtc_streamer(
        key="live-emotions",
        mode=WebRtcMode.SENDRECV,
        rtc_configuration=rtc_configuration(),
        video_frame_callback=session,
        # A width only: the browser keeps the camera's own shape (a 16:9 camera is not cropped to 4:3).
        media_stream_constraints={"video": {"width": {"ideal": 640}}, "audio": False},
        async_processing=True,
    )
except Exception as err:  # noqa: BLE001 - e.g. a runtime without WebRTC support; explain, do not crash
    st.error(f"The webcam stream is not available here ({type(err).__name__}: {err}). "
             "The Photos page and its camera snapshot work without WebRTC.")
    context = None
playing = bool(context and context.state.playing)
if playing and not st.session_state.get("live_was_playing"):
    session.reset(record=record)
    st.session_state.pop("live_error", None)  # a new stream starts without the last one's problems
st.session_state.live_was_playing = playing


@st.fragment(run_every=LIVE_PANEL_REFRESH_SECONDS if playing else None)
def live_panel() -> None:
    """While the stream plays: the rate, the faces in view and the timeline. Nothing once it stops, so
    no figure on screen describes video that is no longer running."""
    session.drain()
    error = session.pending_error()
    if error:
        st.session_state.live_error = error
    if st.session_state.get("live_error"):
        st.warning(st.session_state.live_error)
    if not playing:
        return
    if session.recorder is not None:
        st.caption(f":red[●] Recording: {session.recorder.seconds:.0f} s"
                   + (" (full: the first two minutes are kept)" if session.recorder.full else ""))
    table = timeline_table(session.timeline, TIMELINE_SECONDS)
    if table.empty:
        st.caption("The emotion timeline appears here once a face is in view.")
        return
    latest = session.timeline.latest
    cols = st.columns(3)
    cols[0].metric("Processing rate", f"{latest.fps:.1f} fps",
                   help="Frames analysed per second over the last two seconds: the figure in the video's corner.")
    cols[1].metric("Faces now", len(latest.faces))
    cols[2].metric("Frames analysed", len(session.timeline))
    on_screen = [number for number, _ in latest.faces][:MAX_CHARTS]
    if not on_screen:
        st.caption("No face in view now; a face that comes back where it left keeps its number.")
        return
    for column, number in zip(st.columns(len(on_screen)), on_screen):  # the faces in view, as numbered in the video
        column.image(face_chart_image(face_table(table, number, CHART_POINTS), number, recognizer.class_names),
                     width="stretch")


live_panel()

if not playing and len(session.timeline):
    table = timeline_table(session.timeline)
    st.subheader("Session summary")
    if table.empty:
        st.info("No face was seen during the last session.")
    else:
        summary = session_summary(table, recognizer.class_names)
        st.dataframe(summary, hide_index=True, column_config={
            "share of frames": st.column_config.ProgressColumn(format="%.0f%%", min_value=0, max_value=100),
            "mean probability": st.column_config.NumberColumn(format="%.0f%%"),
        })
    csv_text = timeline_csv(session.timeline)
    clip = session.recorder.finish() if session.recorder is not None else b""
    left, right = st.columns(2)
    left.download_button("Download the session (CSV)", csv_text, "live_session.csv", "text/csv")
    if clip:
        right.download_button("Download the clip and the timeline (ZIP)",
                              lambda: video_zip(clip, csv_text, "live_session"),  # made on click: no copy held
                              "live_session.zip", "application/zip")
        st.video(clip, format="video/mp4")
