"""Video page: upload a recording, annotate every frame as `fer video` does, watch and download the result.

The upload is decoded in memory (PyAV) and the annotated MP4 is encoded in memory: no file is written,
so nothing is left behind when the user leaves, cancels or closes the tab. Results live in this
browser session's state until another video is analysed or the session ends.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from app_pages.common import literal, recognizer_or_stop, selected_model_path
from app_pages.timeline_views import face_chart, face_summary, faces_overview, timeline_csv, timeline_table, video_zip
from fer.recognizer import EmotionRecognizer
from fer.settings import CONFIDENCE_RANGE, DEFAULTS, MAX_SMOOTHING
from fer.video import Timeline, source_annotator
from fer.video_io import ClipRecorder, EncodedVideo, VideoError
from fer.video_jobs import damaged_note

VIDEO_TYPES = ["mp4", "mov", "m4v", "webm", "mkv", "avi"]
VIDEO_MAX_MB = 200  # about 3 minutes of 1080p from a phone; the annotated copy is kept in memory too
MAX_VIDEO_SECONDS = 30 * 60.0  # the in-memory clip's limit: longer recordings belong to `fer video`
PROGRESS_EVERY = 10  # frames between progress updates (each one is also where Cancel takes effect)


def analyse(data: bytes, name: str, recognizer: EmotionRecognizer, min_confidence: float, smoothing: float,
            detect_every: int, min_face: int) -> dict:
    """Every frame through the live model, as `fer video` runs it; the annotated clip and the timeline."""
    source = EncodedVideo(data, name)
    annotator = source_annotator(recognizer, min_confidence=min_confidence, smoothing=smoothing,
                                 detect_every=detect_every, min_face=min_face)
    timeline = Timeline(recognizer.class_names)
    clip = ClipRecorder(MAX_VIDEO_SECONDS, crf=23)
    total = source.frame_count
    progress = st.progress(0.0, text="Reading the video…")
    st.button("Cancel", key="cancel_video")  # any click reruns the page, which stops this run
    for bgr, t in source.frames():
        drawn, info = annotator.annotate(bgr, t)
        timeline.add(info)
        clip.add(drawn, info.t)
        if len(timeline) % PROGRESS_EVERY == 0:
            done = min(1.0, len(timeline) / total) if total else 0.0
            progress.progress(done, text=f"Frame {len(timeline):,}" + (f" of {total:,}" if total else "")
                              + f" ({info.t:.1f} s of video)")
    progress.empty()
    return {"clip": clip.finish(), "timeline": timeline, "fps": source.fps, "shortfall": source.shortfall(),
            "damaged": source.damaged_frames,
            "frames_listed": total, "cut_at": clip.max_seconds if clip.full else None}


def show_results(result: dict, name: str, class_names: tuple[str, ...]) -> None:
    timeline: Timeline = result["timeline"]
    if result["damaged"]:
        st.warning(damaged_note(literal(name), result["damaged"], len(timeline)) + ".")
    if result["shortfall"]:
        st.warning(f"{literal(name)} ended at frame {len(timeline):,} of the {result['frames_listed']:,} its "
                   "container lists: the file looks truncated or damaged. The results cover the frames read.")
    if result["cut_at"]:
        st.warning(f"Only the first {result['cut_at'] / 60:.0f} minutes were analysed here; `fer video` has no "
                   "limit.")
    table = timeline_table(timeline)
    st.video(result["clip"], format="video/mp4")
    stem = Path(name).stem or "video"
    csv_text = timeline_csv(timeline)
    cols = st.columns(3)
    cols[0].download_button("Annotated video (MP4)", result["clip"], f"{stem}_annotated.mp4", "video/mp4",
                            on_click="ignore")
    cols[1].download_button("Timeline (CSV)", csv_text, f"{stem}_timeline.csv", "text/csv", on_click="ignore")
    cols[2].download_button("Both (ZIP)", lambda: video_zip(result["clip"], csv_text, f"{stem}_annotated"),
                            f"{stem}_annotated.zip", "application/zip",  # made on click: no second copy held
                            on_click="ignore")
    if table.empty:
        st.info(f"No face was found in {literal(name)} ({len(timeline):,} frames). Faces smaller than about "
                "30 pixels, strongly turned or in the dark are missed; try a lower detector confidence.")
        return
    st.subheader("Faces")
    st.dataframe(face_summary(table), hide_index=True, column_config={
        "share of its frames": st.column_config.ProgressColumn(format="%.0f%%", min_value=0, max_value=100)})
    faces = sorted(table["face"].unique())
    if len(faces) > 1:
        st.plotly_chart(faces_overview(table, class_names), key="faces_overview")
    face = st.selectbox("Probabilities over time for face", faces, format_func=lambda f: f"#{f}")
    st.plotly_chart(face_chart(table, face, class_names), key="face_chart")


def main() -> None:
    """The page, top to bottom, in a function rather than at module level: what a run holds (the upload,
    its results) then goes with the run. Functions a page defines (the face picker's `format_func`) stay
    alive with the session's widgets, and with them the page's globals: an upload held there outlived
    the visitor's session."""
    st.title("Emotions in a video")
    st.write(f"Upload a recording ({', '.join(t.upper() for t in VIDEO_TYPES)}; up to {VIDEO_MAX_MB} MB). Every "
             "frame is analysed as the live page does it (faces found every few frames, followed and smoothed); you "
             "get the annotated video, each face's emotions over time and downloads. The video is processed in "
             "memory and never stored.")
    recognizer = recognizer_or_stop(selected_model_path("live"))
    with st.sidebar:
        min_confidence = st.slider("Face detector confidence", *CONFIDENCE_RANGE, DEFAULTS.min_confidence, 0.05,
                                   key="video_confidence")
        smoothing = st.slider("Smoothing over time", 0.0, MAX_SMOOTHING, DEFAULTS.smoothing, 0.05,
                              key="video_smoothing",
                              help="0 shows each frame's own prediction; higher values steady the labels.")
        min_face = st.select_slider("Smallest face to find (pixels of the video)", [40, 60, 80, 100, 150, 200, 300],
                                    DEFAULTS.min_face, key="video_min_face",
                                    help="Detection runs at the size where a face this wide is still found: "
                                         "smaller faces in 1080p or 4K video cost more time per frame.")
        detect_every = st.slider("Find faces every n-th frame", 1, 6, DEFAULTS.detect_every_n_frames,
                                 key="video_detect_every", help="In between, the faces found last are classified "
                                 "again: faster, and faces move little in a tenth of a second.")

    upload = st.file_uploader("A video", type=VIDEO_TYPES, max_upload_size=VIDEO_MAX_MB, key="video_upload")
    if upload is None:
        st.session_state.pop("video_result", None)
        st.info(f"Add a video above to begin (up to {VIDEO_MAX_MB} MB: the uploader marks a larger file in red and "
                "refuses it; `fer video` on the command line takes any size). No webcam needed; the Live webcam page "
                "analyses a camera instead.")
        st.stop()

    job = (upload.file_id, recognizer.model_name, min_confidence, smoothing, detect_every, min_face)
    result = st.session_state.get("video_result")
    if result is None or result["job"] != job:
        st.session_state.pop("video_result", None)  # results for other settings or another file are gone
        if st.session_state.pop("video_running", False):
            st.info("The last analysis was stopped before it finished.")
        if not st.button("Analyse the video", type="primary"):
            st.stop()
        st.session_state.video_running = True  # still set on the next run if this one is cut short
        try:
            result = analyse(upload.getvalue(), upload.name, recognizer, min_confidence, smoothing, detect_every,
                             min_face)
        except VideoError:
            st.session_state.video_running = False
            st.error(f"{literal(upload.name)} could not be read as a video: it may be damaged, incomplete or another "
                     f"kind of file. The formats read are {', '.join(VIDEO_TYPES)}.")
            st.stop()
        st.session_state.video_running = False
        st.session_state.video_result = {**result, "job": job}
        st.rerun()  # show the results without the Cancel button and progress of this run
    show_results(result, upload.name, recognizer.class_names)


main()
