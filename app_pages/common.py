"""What the pages share: the model (loaded once per process), the model list and WebRTC settings."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import streamlit as st

from fer.classifier import available_models, default_model_path, models_dir
from fer.recognizer import EmotionRecognizer
from fer.settings import ICE_SERVERS_VARIABLE, ICE_TRANSPORT_POLICY_VARIABLE, TURN_PROVIDER_VARIABLES

PHOTO_TYPES = ["jpg", "jpeg", "png", "webp", "bmp", "tif", "tiff"]  # what the photo uploaders accept
PHOTO_MAX_MB = 64  # per photo: a 50-megapixel JPEG is about 20 MB

# Environment variables that streamlit-webrtc itself turns into TURN servers.
def model_paths(purpose: str = "photos") -> list[Path]:
    """The models in models/ (or FER_MODELS_DIR), one file each (LiteRT where there is a .tflite),
    the default for `purpose` first."""
    default = default_model_path(purpose)
    return sorted(available_models(), key=lambda p: (p != default, p.name))


def selected_model_path(purpose: str, where=st.sidebar, key: str | None = None) -> Path:
    """The model picked in `where` (the sidebar) when the models folder holds several; else the default
    for `purpose` ("photos" or "live"). Each purpose keeps its own choice."""
    paths = model_paths(purpose)
    if len(paths) > 1:
        choice = where.selectbox("Model", [p.name for p in paths], key=key or f"model_choice_{purpose}",
                                 help="Each page starts with the model that suits it best; the Model dashboard "
                                      "compares them.")
        return models_dir() / choice
    return paths[0] if paths else default_model_path(purpose)


@st.cache_resource(show_spinner="Loading the emotion model…")
def load_recognizer(model_path: str) -> EmotionRecognizer:
    """One recognizer per model per server process, shared by every session and the webcam thread."""
    recognizer = EmotionRecognizer(model_path)
    recognizer.analyze(np.zeros((240, 320, 3), np.uint8))  # warm up the detector and the model
    _loaded_models.add(model_path)
    return recognizer


_loaded_models: set[str] = set()


def loaded_model_count() -> int:
    """How many models this server process has loaded (streamlit_app.py freezes their objects)."""
    return len(_loaded_models)


def model_problem(model_path: Path) -> str | None:
    """Why the model file cannot run (damaged, metadata that disagrees with the network...), or None.
    A report can outlive its model file: the dashboard says so instead of showing a broken model as fine."""
    try:
        load_recognizer(str(model_path))
    except Exception as err:  # noqa: BLE001 - any failure to open is the answer here
        return str(err)
    return None


def recognizer_or_stop(model_path: Path, chooser: str = "in the sidebar") -> EmotionRecognizer:
    """The page's model, or a clear message and the end of the page when it cannot be loaded; `chooser` says
    where the page offers the other models."""
    try:
        return load_recognizer(str(model_path))
    except Exception as err:  # noqa: BLE001 - a missing or broken model file must not crash the page
        st.error(f"The model {model_path.name} could not be loaded ({err}). Train one with "
                 f"`python -m training.train`, or pick another {chooser}.")
        st.stop()


def display_width(pixels: int, stretch_from: int = 400) -> int | str:
    """How wide to show an image: across its column, or at its own size when it is narrower than
    `stretch_from` (a 1x1 photo was shown as a column-wide black square)."""
    return "stretch" if pixels >= stretch_from else pixels


def literal(text: str) -> str:
    """User-supplied text (a file name) as a Markdown code span: shown exactly as typed, so a name like
    `# Title` or `![x](https://host/y)` is neither formatted nor fetched by a visitor's browser."""
    text = text.replace("\r", " ").replace("\n", " ")
    fence = "`" * (max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or not text.strip() else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _secret(name: str):
    try:
        return st.secrets.get(name)
    except Exception:  # noqa: BLE001 - no secrets.toml at all is the normal local case
        return None


def rtc_configuration() -> dict:
    """ICE servers for WebRTC, from (in order) an explicit list, a TURN provider, or none.

    - `ICE_SERVERS` in Streamlit secrets (a list of {urls, username, credential}) or in the
      environment (the same list as JSON): used as given.
    - Credentials that streamlit-webrtc understands (Cloudflare, Twilio or Hugging Face; see the
      README) in the environment or as root-level secrets: streamlit-webrtc fetches TURN servers.
    - Nothing configured: no ICE servers, so a local browser connects over the machine's own
      addresses without waiting on an unreachable public STUN server.
    """
    explicit = _secret(ICE_SERVERS_VARIABLE) or os.environ.get(ICE_SERVERS_VARIABLE)
    if explicit:
        servers = json.loads(explicit) if isinstance(explicit, str) else [dict(s) for s in explicit]
        policy = str(_secret(ICE_TRANSPORT_POLICY_VARIABLE) or os.environ.get(ICE_TRANSPORT_POLICY_VARIABLE) or "all")
        # "relay": the browser sends media only through the TURN servers, as behind a strict firewall; it
        # proves a TURN set-up works before it is needed (tests/test_e2e_browser.py runs one on coturn).
        return {"iceServers": servers, **({"iceTransportPolicy": "relay"} if policy == "relay" else {})}
    for names in TURN_PROVIDER_VARIABLES:
        values = [os.environ.get(n) or _secret(n) for n in names]
        if all(values):
            for name, value in zip(names, values):
                os.environ.setdefault(name, str(value))
            return {}  # iceServers unset: streamlit-webrtc asks the provider
    return {"iceServers": []}
