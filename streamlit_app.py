"""Entry point: `streamlit run streamlit_app.py`."""

from pathlib import Path

import streamlit as st

# Import WebRTC before TensorFlow, in every server process. TensorFlow bundles BoringSSL, and
# pylibsrtp (aiortc's SRTP binding) crashes the whole process in srtp_init() when it loads after it.
import streamlit_webrtc  # noqa: F401

from app_pages.process_memory import tune_memory_once

tune_memory_once()  # process-wide memory settings: here, once, not as a side effect of importing a page

ICON = Path(__file__).resolve().parent / "app_pages" / "icon.png"
# The tab icon is a file of ours: a ":material/...:" icon would be fetched from Google's font server.
st.set_page_config(page_title="Facial expression recognition", page_icon=str(ICON), layout="wide")

pages = st.navigation([
    st.Page("app_pages/home.py", title="Home", icon=":material/home:", default=True),
    st.Page("app_pages/upload.py", title="Photos", icon=":material/photo_library:"),
    st.Page("app_pages/live.py", title="Live webcam", icon=":material/videocam:"),
    st.Page("app_pages/video.py", title="Video", icon=":material/movie:"),
    st.Page("app_pages/dashboard.py", title="Model dashboard", icon=":material/monitoring:"),
])
pages.run()
