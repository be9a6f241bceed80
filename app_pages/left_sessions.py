"""Ends the sessions of visitors who have left, so that what they uploaded and made leaves the server.

Streamlit 1.67 keeps a disconnected session for `server.disconnectedSessionTTL` seconds, so that a browser
whose connection blipped can resume it; after that it only drops the session from its store, without
shutting it down (streamlit/streamlit#12506). The session's uploads (a 200 MB video), its media (the
annotated clip the Video page shows) and its session state then stay in memory as long as the server
runs: on a small shared host, a few uploads end the app for everyone. A thread started once per process
closes each disconnected session shortly before Streamlit would drop it, the way Streamlit closes one
after a logout (files, media and state go), then hands the freed memory back to the system.

It reads which sessions are disconnected from Streamlit's session manager, which is not public API; every
such call lives in app_pages/streamlit_internals.py, guarded. If the internals moved, it logs one warning
and stops, and the app runs on as before; an error on one session (a forged value that cannot even be
decoded) is logged and that session ended or skipped, and any other error in a sweep is logged and the
next sweep goes on: the thread never dies of what a visitor sent.
"""

from __future__ import annotations

import logging
import threading
import time

from streamlit import config

from app_pages import streamlit_internals as internals
from app_pages.process_memory import give_back_freed_memory

SWEEP_SECONDS = 5.0
MARGIN_SECONDS = 2 * SWEEP_SECONDS  # closed this long before Streamlit would drop it (and could no longer)
_started = threading.Lock()
_logger = logging.getLogger(__name__)


def close_left_sessions_once() -> None:
    """Start the thread that ends left sessions, the first time this is called in a process."""
    if _started.acquire(blocking=False):
        threading.Thread(target=_close_left_sessions_forever, name="left-sessions", daemon=True).start()


def _close_left_sessions_forever() -> None:
    grace = max(0.0, config.get_option("server.disconnectedSessionTTL") - MARGIN_SECONDS)
    sweeper = LeftSessionSweeper(grace)
    while True:
        time.sleep(SWEEP_SECONDS)
        try:
            sweeper.sweep()
        except internals.InternalsChanged as err:  # do nothing rather than break the app
            _logger.warning("left sessions are not closed early: %s", err)
            return
        except Exception:
            _logger.exception("a sweep for left sessions failed; the next one goes on")


class LeftSessionSweeper:
    """Which sessions have been disconnected since when, and ending those gone longer than `grace` s."""

    def __init__(self, grace: float) -> None:
        self.grace = grace
        self.left_since: dict[str, float] = {}
        self.closed_last_sweep = False

    def sweep(self) -> list[str]:
        """One pass; returns the ids of the sessions it ended."""
        if self.closed_last_sweep:
            # Download buttons' files are only marked when their session ends and deleted at the next
            # sweep for orphans, which on an idle server no script run would make: make it here.
            internals.remove_orphaned_media()
            give_back_freed_memory()
            self.closed_last_sweep = False
        stored = internals.stored_sessions()
        if stored is None:
            return []
        now = time.monotonic()
        disconnected = {sid for sid in stored if not internals.is_connected(sid)}
        self.left_since = {sid: self.left_since.get(sid, now) for sid in disconnected}  # resumed ones drop out
        ended = []
        for sid in [sid for sid, since in self.left_since.items() if now - since >= self.grace]:
            del self.left_since[sid]  # tried once: a session that cannot be ended is not retried forever
            if internals.end_session(sid, stored[sid]):
                ended.append(sid)
        self.closed_last_sweep = bool(ended)
        return ended
