"""Entry point: `streamlit run streamlit_app.py`."""

from pathlib import Path

import streamlit as st

# Import WebRTC before TensorFlow, in every server process. TensorFlow bundles BoringSSL, and
# pylibsrtp (aiortc's SRTP binding) crashes the whole process in srtp_init() when it loads after it.
import streamlit_webrtc  # noqa: F401

from app_pages.common import loaded_model_count
from app_pages.left_sessions import close_left_sessions_once
from app_pages.process_memory import freeze_when_more_models_loaded, tune_memory_once
from app_pages.streamlit_internals import guard_widget_value_decoding_once

tune_memory_once()  # process-wide memory settings: here, once, not as a side effect of importing a page
close_left_sessions_once()  # what a visitor uploaded and made leaves the server soon after they do
guard_widget_value_decoding_once()  # a forged component value too deep to decode is refused, not a traceback

PAGES = Path(__file__).resolve().parent / "app_pages"  # absolute: the harness runs this file from elsewhere
ICON = PAGES / "icon.png"
# The tab icon is a file of ours: a ":material/...:" icon would be fetched from Google's font server.
st.set_page_config(page_title="Facial expression recognition", page_icon=str(ICON), layout="wide")

# On a phone in portrait Streamlit's 6rem top margin alone pushed the Live page's camera view below the first
# screen; narrow screens get half of it (the sidebar's button keeps its own place).
st.html("<style>@media (max-width: 640px) { [data-testid='stMainBlockContainer'] { padding-top: 3rem; } }</style>")

pages = st.navigation([
    st.Page(PAGES / "home.py", title="Home", icon=":material/home:", default=True),
    st.Page(PAGES / "upload.py", title="Photos", icon=":material/photo_library:"),
    st.Page(PAGES / "live.py", title="Live webcam", icon=":material/videocam:"),
    st.Page(PAGES / "video.py", title="Video", icon=":material/movie:"),
    st.Page(PAGES / "dashboard.py", title="Model dashboard", icon=":material/monitoring:"),
])
try:
    pages.run()
finally:  # a page that loaded a model: keep its objects out of every later garbage collection
    freeze_when_more_models_loaded(loaded_model_count())
