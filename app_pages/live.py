"""Live webcam page. Two engines analyse the same camera with the same models:
- in this browser (the default): a custom component runs YuNet and the live model in the visitor's browser;
  no video leaves the device and no TURN server is needed (app_pages/browser_live);
- on the server: the browser streams over WebRTC, each frame is analysed and drawn on the server and sent
  back (streamlit-webrtc; app_pages/live_session.py)."""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd
import streamlit as st
from streamlit_webrtc import WebRtcMode, webrtc_streamer

from app_pages.browser_live import BrowserSession, browser_engine
from app_pages.browser_live.reports import PROBLEMS, RUNTIME_PROBLEMS
from app_pages.browser_live.session import browser_model_for, model_args
from app_pages.common import recognizer_or_stop, rtc_configuration, selected_model_path
from app_pages.live_session import RECORDING_MAX_SECONDS, LiveSession
from app_pages.timeline_views import (
    LIVE_CHART_CONFIG,
    face_chart,
    face_table,
    timeline_csv,
    timeline_table,
    video_zip,
)
from fer.classifier import default_model_path
from fer.settings import CONFIDENCE_RANGE, DEFAULTS, MAX_SMOOTHING
from fer.video import Timeline, VideoSettings

LIVE_PANEL_REFRESH_SECONDS = 2.0  # each refresh is a script run: often enough to feel live, no more
TIMELINE_SECONDS = 60  # the live chart shows the last minute
MAX_CHARTS = 3  # faces on screen charted side by side; more are in the CSV
CHART_POINTS = 120  # points per line in the live charts: every half second of the last minute
CONNECT_SECONDS = 10  # the server engine's WebRTC connection: after this long, offer the browser engine
IN_BROWSER, ON_SERVER = "in this browser", "on the server"
ENGINE_PARAMETER = {"browser": IN_BROWSER, "server": ON_SERVER}  # /live?engine=server opens on that engine


def session_summary(table: pd.DataFrame, class_names: tuple[str, ...]) -> pd.DataFrame:
    """Per emotion, in percent: the share of face readings it labelled and its mean probability."""
    counts = table["label"].value_counts(normalize=True)
    return pd.DataFrame({
        "emotion": list(class_names),
        "share of frames": [100 * float(counts.get(n, 0.0)) for n in class_names],
        "mean probability": [100 * float(table[n].mean()) for n in class_names],
    })


UNREADABLE_REPORT = "The live engine sent data this page cannot read, so it was left out. Stop and restart the stream."


def lost_note(session: BrowserSession) -> str:
    """Frames that never reached this page (a network cut the engine could not make good), in words."""
    return (f"{session.lost_frames:,} analysed frames (about {session.lost_seconds:.0f} s of the stream) did not "
            "reach this page while the connection was down: the charts, summary and CSV have a gap there.")


def use_browser_engine() -> None:
    st.session_state.live_engine = IN_BROWSER


def use_server_engine() -> None:
    st.session_state.live_engine = ON_SERVER


def timeline_panel(timeline: Timeline, class_names: tuple[str, ...]) -> None:
    """While a stream plays: the rate, the faces in view and their charts over the last minute."""
    table = timeline_table(timeline, TIMELINE_SECONDS)
    if table.empty:
        st.caption("The emotion timeline appears here once a face is in view.")
        return
    latest = timeline.latest
    cols = st.columns(3)
    cols[0].metric("Processing rate", f"{latest.fps:.1f} fps",
                   help="Frames analysed per second over the last two seconds: the figure in the video's corner.")
    cols[1].metric("Faces now", len(latest.faces))
    cols[2].metric("Frames analysed", len(timeline))
    on_screen = [number for number, _ in latest.faces][:MAX_CHARTS]
    if not on_screen:
        st.caption("No face in view now; a face that comes back where it left keeps its number.")
        return
    for column, number in zip(st.columns(len(on_screen)), on_screen):  # the faces in view, as numbered in the video
        column.plotly_chart(face_chart(face_table(table, number, CHART_POINTS), number, class_names, height=260),
                            key=f"live-chart-{number}", config=LIVE_CHART_CONFIG, width="stretch")


def waiting_chart(class_names: tuple[str, ...]) -> None:
    """Before Start, once the engine is ready: where each face's chart will be. Drawing it now also loads the
    charting library (4.7 MB of JavaScript, seconds of a phone's CPU) before the video runs, not during
    its first seconds, when it held an emulated phone's engine at 10 frames a second."""
    empty = pd.DataFrame({"face": [], "t": [], **{name: [] for name in class_names}})
    figure = face_chart(empty, 1, class_names, height=260)
    figure.update_layout(title="Each face's emotions over the last minute: press Start")
    st.plotly_chart(figure, key="live-chart-waiting", config=LIVE_CHART_CONFIG, width="stretch")


def summary_and_downloads(timeline: Timeline, class_names: tuple[str, ...], clip: bytes = b"") -> None:
    """After a stream stops: what each emotion's share was, and the timeline (and clip) to download."""
    table = timeline_table(timeline)
    st.subheader("Session summary")
    if table.empty:
        st.info("No face was seen during the last session.")
    else:
        st.dataframe(session_summary(table, class_names), hide_index=True, column_config={
            "share of frames": st.column_config.ProgressColumn(format="%.0f%%", min_value=0, max_value=100),
            "mean probability": st.column_config.NumberColumn(format="%.0f%%"),
        })
    if timeline.thinned_before:
        st.caption(f"A long session: to keep the server's memory bounded, the first {timeline.thinned_before:,.0f} s "
                   "are kept at a lower frame rate, halved again for each older part (the summary counts the rows "
                   "kept); the rest is every frame.")
    csv_text = timeline_csv(timeline)
    left, right = st.columns(2)
    left.download_button("Download the session (CSV)", csv_text, "live_session.csv", "text/csv",
                         on_click="ignore")
    if clip:
        right.download_button("Download the clip and the timeline (ZIP)",
                              lambda: video_zip(clip, csv_text, "live_session"),  # made on click: no copy held
                              "live_session.zip", "application/zip", on_click="ignore")
        st.video(clip, format="video/mp4")


def browser_section(selected: Path, settings: VideoSettings, record: bool) -> None:
    model = browser_model_for(selected)
    if model is None:
        model = browser_model_for(default_model_path("live"))
        st.info(f"{selected.name} has no in-browser copy, so this engine runs {model.name}; choose "
                f"**{ON_SERVER}** to use {selected.name}.")
    session: BrowserSession | None = st.session_state.get("browser_session")
    class_names = tuple(model_args(model)["class_names"])
    if session is None or session.class_names != class_names:
        session = st.session_state.browser_session = BrowserSession(class_names)
    engine_settings = {"min_confidence": settings.min_confidence, "smoothing": settings.smoothing,
                       "show_probabilities": settings.show_probabilities, "mirror": settings.mirror,
                       "record": record}

    @st.fragment
    def engine_and_panel() -> None:
        """The engine's reports rerun only this fragment (every 2 s while it plays), not the page."""
        was_complete = session.complete
        session.take(browser_engine(model, engine_settings, session))
        # The page's own words: text from the browser is never rendered here (the engine says its details).
        if session.unreadable:
            st.warning(UNREADABLE_REPORT)
        if session.error:
            st.error(PROBLEMS[session.error])
        if session.error in RUNTIME_PROBLEMS:
            if st.button(f"Analyse the video {ON_SERVER} instead", on_click=use_server_engine):
                st.rerun(scope="app")
        if session.lost_frames:
            st.warning(lost_note(session))
        if session.playing:
            timeline_panel(session.timeline, class_names)
        elif session.ready:
            waiting_chart(class_names)
        elif session.more:
            st.info(f"Receiving the last {session.more:,} analysed frames from your browser; the summary and "
                    "CSV follow.")
        if was_complete != session.complete:
            st.rerun(scope="app")  # the summary below appears (or goes) once the stream has stopped and all came

    engine_and_panel()
    if session.complete and len(session.timeline):
        summary_and_downloads(session.timeline, class_names)


def server_section(selected: Path, settings: VideoSettings, record: bool) -> None:
    recognizer = recognizer_or_stop(selected, chooser="under Settings")
    if "live_session" not in st.session_state:
        st.session_state.live_session = LiveSession(recognizer)
    session: LiveSession = st.session_state.live_session
    session.use_recognizer(recognizer)  # another model mid-stream: the same stream, timeline and recording go on
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
                 f"Choose **{IN_BROWSER}** above, or use the Photos page's camera snapshot.")
        context = None
    playing = bool(context and context.state.playing)
    connecting = bool(context and context.state.signalling and not playing)
    if playing and not st.session_state.get("live_was_playing"):
        session.reset(record=record)
        st.session_state.pop("live_error", None)  # a new stream starts without the last one's problems
    st.session_state.live_was_playing = playing
    if connecting:
        st.session_state.setdefault("live_connecting_since", time.monotonic())
    else:
        st.session_state.pop("live_connecting_since", None)

    @st.fragment(run_every=1.0 if connecting else None)
    def connection_watch() -> None:
        """Started but no video after CONNECT_SECONDS: most often a network that needs a TURN server."""
        since = st.session_state.get("live_connecting_since")
        if since is None or time.monotonic() - since < CONNECT_SECONDS:
            return
        st.warning(f"The video has not connected to the server after {CONNECT_SECONDS} s. Networks that block "
                   "direct connections need a TURN server (docs/deployment.md); the in-browser engine needs none.")
        if st.button(f"Analyse the video {IN_BROWSER}", type="primary", on_click=use_browser_engine):
            st.rerun(scope="app")

    connection_watch()

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
        timeline_panel(session.timeline, recognizer.class_names)

    live_panel()
    if not playing and len(session.timeline):
        clip = session.recorder.finish() if session.recorder is not None else b""
        summary_and_downloads(session.timeline, recognizer.class_names, clip)


st.title("Live webcam")
if "live_engine" not in st.session_state:
    st.session_state.live_engine = ENGINE_PARAMETER.get(st.query_params.get("engine", ""), IN_BROWSER)
# The settings sit in a popover beside the engine choice, not in the sidebar: a closed popover's widgets are not
# drawn, so the page reaches the engine sooner (about 0.5 s on an emulated phone, where Streamlit's widget
# code is most of the wait before the engine starts), and on a phone they are one tap from the video.
engine_row = st.container(horizontal=True, vertical_alignment="bottom")
engine = engine_row.radio("Analyse the video", (IN_BROWSER, ON_SERVER), key="live_engine", horizontal=True,
                          help="In this browser: the video never leaves your device and needs no TURN server. On "
                               "the server: frames travel to this app's server over WebRTC and back, annotated.")
with engine_row.popover("Settings", icon=":material/tune:"):
    selected = selected_model_path("live", where=st)
    settings = VideoSettings(
        min_confidence=st.slider("Face detector confidence", *CONFIDENCE_RANGE, DEFAULTS.min_confidence, 0.05),
        smoothing=st.slider("Smoothing over time", 0.0, MAX_SMOOTHING, DEFAULTS.smoothing, 0.05,
                            help="0 shows each frame's own prediction; higher values steady the labels."),
        show_probabilities=st.toggle("Show probability bars", value=False),
        mirror=st.toggle("Mirror the video", value=True),
    )
    record = st.toggle("Record the annotated video", value=False,
                       help=f"From the next start, up to {RECORDING_MAX_SECONDS / 60:.0f} minutes are kept "
                            "(in this browser, or in the server's memory) for you to download after stopping.")
# One short caption: on a phone in portrait the live view must fit on the first screen.
if engine == IN_BROWSER:
    st.caption("Press **Start** and allow the camera. The video never leaves your device: only each face's "
               "emotions reach this page, for the charts and the CSV.")
else:
    st.caption("Press **START** and allow the camera. Video goes to this app's server and straight back; "
               "nothing is stored unless you ask for a recording, kept in memory for you to download.")

if engine == IN_BROWSER:
    browser_section(selected, settings, record)
else:
    server_section(selected, settings, record)
