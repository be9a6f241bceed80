"""The Live page's browser engine: a Streamlit custom component that runs the camera, YuNet and the live
model in the visitor's browser (frontend/src), and the Python end that turns its face records into the
same `Timeline` the server engine fills.

The component is declared with `components.v1.declare_component(path=static/)`: Streamlit serves that folder
itself (the engine, its WebAssembly runtimes, gzipped and unpacked in the browser, so that no machine's MIME
table decides how they load, and the models), so nothing comes from a CDN and a deploy from
`requirements.txt` works as is. Streamlit's newer components API (v2) serves assets only from a
pip-installed package, which a Community Cloud deploy of this repository is not.
"""

from __future__ import annotations

from pathlib import Path

import streamlit.components.v1 as components

from app_pages.browser_live.assets import asset_versions
from app_pages.browser_live.build import STATIC
from app_pages.browser_live.reports import PROBLEMS, engine_limits
from app_pages.browser_live.rules import engine_rules
from app_pages.browser_live.session import BrowserSession, browser_models, model_args
from app_pages.timeline_views import timeline_csv

_engine = components.declare_component("browser_live", path=str(STATIC))


def browser_engine(model: Path, settings: dict, session: BrowserSession, key: str = "browser-live") -> object:
    """Show the engine; returns its latest report as sent (None before the first), unchecked: the caller
    hands it to `session.take`, which checks it against the schema before anything is kept."""
    # After a recorded stream stops, the timeline goes to the browser, which zips it with the clip it kept.
    csv_text = timeline_csv(session.timeline) if session.recorded and not session.playing else None
    return _engine(model=model_args(model), settings=settings, acknowledged=session.acknowledged(),
                   report_seconds=2.0, limits=engine_limits(), problems=PROBLEMS, timeline_csv=csv_text, key=key,
                   rules=engine_rules(), assets=asset_versions(),
                   default=None)


__all__ = ["BrowserSession", "browser_engine", "browser_models"]
