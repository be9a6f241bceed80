"""Ends the sessions of visitors who have left, so that what they uploaded and made leaves the server.

Streamlit 1.67 keeps a disconnected session for `server.disconnectedSessionTTL` seconds, so that a browser
whose connection blipped can resume it; after that it only drops the session from its store, without
shutting it down (streamlit/streamlit#12506). The session's uploads (a 200 MB video), its media (the
annotated clip the Video page shows) and its session state then stay in memory as long as the server
runs: on a small shared host, a few uploads end the app for everyone. A thread started once per process
closes each disconnected session shortly before Streamlit would drop it, the way Streamlit closes one
after a logout (files, media and state go), then hands the freed memory back to the system.

It reads which sessions are disconnected from Streamlit's session manager, which is not public API: if
that changes, it logs one warning and stops, and the app runs on as before.
"""

from __future__ import annotations

import logging
import threading
import time

from streamlit import config, runtime

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
    left_since: dict[str, float] = {}
    closed_last_sweep = False
    while True:
        time.sleep(SWEEP_SECONDS)
        if not runtime.exists():
            continue
        app = runtime.get_instance()
        if closed_last_sweep:
            # Download buttons' files are only marked when their session ends and deleted at the next
            # sweep for orphans, which on an idle server no script run would make: make it here.
            app.media_file_mgr.remove_orphaned_files()
            give_back_freed_memory()
        try:
            stored = {info.session.id: info.session for info in app._session_mgr.list_sessions()}
        except AttributeError as err:  # Streamlit's internals moved: do nothing rather than break the app
            _logger.warning("left sessions are not closed early: %s", err)
            return
        now = time.monotonic()
        disconnected = {sid for sid in stored if not app.is_active_session(sid)}
        left_since = {sid: left_since.get(sid, now) for sid in disconnected}  # resumed ones drop out
        due = [sid for sid, since in left_since.items() if now - since >= grace]
        for sid in due:
            # Its state first: a closed session's objects were seen to outlive it, held where the garbage
            # collector cannot see (until the next visitor came), and with them its upload and results.
            stored[sid].session_state.clear()
            app.clear_user_info_for_session(sid)  # as after a logout: never resumed, closed on the event loop
            del left_since[sid]
        closed_last_sweep = bool(due)
