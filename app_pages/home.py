"""Home page: what the app does, what it cannot do, and where images go (nowhere)."""

from pathlib import Path

import streamlit as st

from app_pages.model_figures import headline, in_words
from fer.classifier import default_model_path
from fer.report import ModelReport, ReportError


def how_well(model_file: Path) -> str:
    """One sentence of the photos model's held-out figures, the dashboard's own (empty without them)."""
    try:
        figures = headline(ModelReport.load(model_file), model_file)
    except ReportError:
        return ""
    return f" {in_words(figures, 'the photos model')} The dashboard has the details." if figures else ""


figures = how_well(default_model_path("photos"))
st.title("Facial expression recognition")
st.write(
    "This app finds faces in photos or in your webcam's video and estimates which of seven expressions each "
    "one shows: **angry, disgust, fear, happy, neutral, sad, surprise**. It runs convolutional networks "
    "trained in this project on the FER2013 faces, with the expressions ten people saw in each (FER+), plus "
    "an offline face detector." + figures
)
col_upload, col_live, col_video, col_model = st.columns(4)
with col_upload:
    st.subheader("Photos")
    st.write("Upload several photos with any number of faces, numbered in reading order; see what each label "
             "rests on; download annotated images and a table.")
    st.page_link("app_pages/upload.py", label="Open the photo page", icon=":material/photo_library:")
with col_live:
    st.subheader("Live webcam")
    st.write("Watch labels follow each face in your camera, read in your own browser, with a timeline; "
             "record the annotated clip if you like.")
    st.page_link("app_pages/live.py", label="Open the webcam page", icon=":material/videocam:")
with col_video:
    st.subheader("Video")
    st.write("Upload a recording and get it back annotated, with each face's emotions over the video's own "
             "time and a CSV; no webcam needed.")
    st.page_link("app_pages/video.py", label="Open the video page", icon=":material/movie:")
with col_model:
    st.subheader("The model")
    st.write("Accuracy, confusion matrix, training curves and architecture, from the training report, and the "
             "feature maps of a face you upload.")
    st.page_link("app_pages/dashboard.py", label="Open the dashboard", icon=":material/monitoring:")

st.header("Privacy")
st.write(
    "The live webcam is analysed in your browser by default: its video never leaves your device, and only "
    "each face's box and emotions reach this app, for the charts and the CSV. Photos, uploaded videos and, "
    "on the live page's server engine, video frames are processed in the memory of the machine that runs "
    "this app and are never written to disk or sent to any other service. A live recording, when you ask "
    "for one, and an annotated video are kept in memory (the browser's, for the in-browser engine) for you "
    "to download and are gone when you start again or close the page. There is no telemetry. If you run it "
    "locally, your images never leave your computer."
)
st.header("Limits")
st.markdown(
    "- **An expression is not an emotion.** The model reads facial muscle patterns that people *often* show "
    "with an emotion; it cannot know what anyone feels. Do not use it to judge people: not for hiring, "
    "policing, grading, health or any decision about a person.\n"
    "- **FER2013's limits are the model's limits.** 48x48 grayscale faces collected by web search: mostly "
    "frontal, posed or exaggerated expressions, uneven across ages, skin tones and cultures, and with noisy "
    "labels (human agreement on FER2013 is estimated at about 65%). `disgust` has few examples and is the "
    "least reliable class.\n"
    "- Small, dark, blurred, strongly turned or masked faces may be missed or misread."
)
