"""Live webcam page: the browser streams over WebRTC, each frame is analysed and drawn on the server."""

from __future__ import annotations

import streamlit as st
from streamlit_webrtc import WebRtcMode, webrtc_streamer

from app_pages.common import load_recognizer, rtc_configuration, selected_model_path
from app_pages.live_session import TIMELINE_SECONDS, LiveSession, LiveSettings, session_summary, timeline_chart

LIVE_PANEL_REFRESH_SECONDS = 2.0

st.title("Live webcam")
st.write("Press **START** and allow the camera. Video goes from your browser to this app's server and straight "
         "back; nothing is recorded or sent anywhere else.")

try:
    recognizer = load_recognizer(str(selected_model_path("video")))
except Exception as err:  # noqa: BLE001
    st.error(f"The model could not be loaded ({err}). Train one with `python -m training.train`.")
    st.stop()

if "live_session" not in st.session_state or st.session_state.live_session.recognizer is not recognizer:
    st.session_state.live_session = LiveSession(recognizer)
session: LiveSession = st.session_state.live_session

with st.sidebar:
    settings = LiveSettings(
        min_confidence=st.slider("Face detector confidence", 0.3, 0.95, 0.6, 0.05),
        smoothing=st.slider("Smoothing over time", 0.0, 0.95, 0.6, 0.05,
                            help="0 shows each frame's own prediction; higher values steady the labels."),
        show_probabilities=st.toggle("Show probability bars", value=False),
        mirror=st.toggle("Mirror the video", value=True),
    )
session.update_settings(settings)

try:
    context = webrtc_streamer(
        key="live-emotions",
        mode=WebRtcMode.SENDRECV,
        rtc_configuration=rtc_configuration(),
        video_frame_callback=session,
        media_stream_constraints={"video": {"width": {"ideal": 640}, "height": {"ideal": 480}}, "audio": False},
        async_processing=True,
    )
except Exception as err:  # noqa: BLE001 - e.g. a runtime without WebRTC support; explain, do not crash
    st.error(f"The webcam stream is not available here ({type(err).__name__}: {err}). "
             "The Photos page and its camera snapshot work without WebRTC.")
    context = None
playing = bool(context and context.state.playing)
if playing and not st.session_state.get("live_was_playing"):
    session.reset()
st.session_state.live_was_playing = playing


# Every script run (this refresh included) makes Streamlit call keras.backend.clear_session(), a full
# garbage collection that pauses the video threads: refresh often enough to feel live, no more.
@st.fragment(run_every=LIVE_PANEL_REFRESH_SECONDS if playing else None)
def live_panel() -> None:
    session.drain()
    error = session.pending_error()
    if error:
        st.session_state.live_error = error
    if st.session_state.get("live_error"):
        st.warning("Processing one frame failed; the stream carries on.\n\n```\n"
                   + st.session_state.live_error + "\n```")
    frame = session.timeline.frame(last_seconds=TIMELINE_SECONDS)
    if frame.empty:
        st.caption("The emotion timeline appears here once a face is in view.")
        return
    latest = session.timeline.latest
    cols = st.columns(3)
    cols[0].metric("Processing rate", f"{latest['fps']:.1f} fps")
    cols[1].metric("Faces now", latest["faces"])
    cols[2].metric("Frames analysed", len(session.timeline))
    st.plotly_chart(timeline_chart(frame, recognizer.class_names), key="timeline")


live_panel()

if not playing and len(session.timeline):
    frame = session.timeline.frame()
    st.subheader("Session summary")
    if frame.empty:
        st.info("No face was seen during the last session.")
    else:
        summary = session_summary(frame, recognizer.class_names)
        st.dataframe(summary, hide_index=True, column_config={
            "share of frames": st.column_config.ProgressColumn(format="percent", min_value=0, max_value=1),
            "mean probability": st.column_config.NumberColumn(format="percent"),
        })
        st.download_button("Download the session (CSV)", frame.to_csv(index=False), "live_session.csv", "text/csv")
