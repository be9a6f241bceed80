"""Every call this app makes into Streamlit's internals, fenced in one place (as streamlit-webrtc fences its
own): Streamlit 1.67's session manager and its widget-value decoding, neither of them public API. Each
function is guarded: if an internal moved or a session is broken, it logs and answers "nothing", and the
caller carries on.

Used by app_pages/left_sessions.py to end the sessions of visitors who left, and by streamlit_app.py to
decode component values safely."""

from __future__ import annotations

import logging
import threading
from typing import Any

from streamlit import runtime
from streamlit.runtime.state import session_state as _session_state

# What a component value that cannot be decoded reads as: a value no component's schema accepts, so the
# page refuses it in its own words (app_pages/browser_live/reports.py).
UNDECODABLE = "undecodable"
MAX_VALUE_DEPTH = 32  # the browser engine's reports are 5 deep; streamlit-webrtc's values about as shallow
_decoding_guarded = threading.Lock()

_logger = logging.getLogger(__name__)


class InternalsChanged(Exception):
    """Streamlit's internals are not what this module was written against: stop using them."""


def guard_widget_value_decoding_once() -> None:
    """Make a component value that cannot be decoded read as {UNDECODABLE: error}, not raise.

    A component's value arrives as JSON text and Streamlit decodes it when it compares widget values, before
    any page code runs; a value nested deeper than Python's recursion limit (about 1,000 levels: anything
    a browser can post) raised RecursionError there, which put a traceback on the page and, at the end of
    the visit, stopped `session_state.clear()`. Called once per process, by streamlit_app.py."""
    if not _decoding_guarded.acquire(blocking=False):
        return
    original = getattr(_session_state, "unpack_widget_state_value", None)
    if original is None:
        _logger.warning("component values are decoded unguarded: Streamlit's internals moved")
        return

    def unpack_safely(widget_state: Any) -> Any:
        try:
            value = original(widget_state)
        except (RecursionError, ValueError) as err:  # too deep, or not JSON
            _logger.warning("a component value could not be decoded (%s)", type(err).__name__)
            return {UNDECODABLE: type(err).__name__}
        if nested_deeper_than(value, MAX_VALUE_DEPTH):  # decoded, but Streamlit's deepcopy of it would recurse
            _logger.warning("a component value nested deeper than %d levels was refused", MAX_VALUE_DEPTH)
            return {UNDECODABLE: "too deep"}
        return value

    _session_state.unpack_widget_state_value = unpack_safely


def nested_deeper_than(value: object, limit: int) -> bool:
    """Whether lists and dicts in `value` nest more than `limit` deep; without recursion, so any depth is safe."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
        for child in children:
            if isinstance(child, (dict, list)):
                if depth + 1 > limit:
                    return True
                stack.append((child, depth + 1))
    return False


def stored_sessions() -> dict[str, Any] | None:
    """Every session Streamlit still stores, connected or not, by id; None before the runtime exists.
    Raises InternalsChanged when the session manager is not where Streamlit 1.67 keeps it."""
    if not runtime.exists():
        return None
    try:
        app = runtime.get_instance()
        return {info.session.id: info.session for info in app._session_mgr.list_sessions()}
    except AttributeError as err:
        raise InternalsChanged(str(err)) from err


def is_connected(session_id: str) -> bool:
    """Whether a browser is connected to the session now (True when that cannot be told: never end one
    that may be in use)."""
    try:
        return runtime.get_instance().is_active_session(session_id)
    except Exception:
        _logger.warning("could not tell whether session %s is connected", session_id, exc_info=True)
        return True


def end_session(session_id: str, session: Any) -> bool:
    """End a left session as Streamlit does after a logout: its state first (a closed session's objects were
    seen to outlive it, held where the garbage collector cannot see, until the next visitor came), then the
    session, on the event loop. A state that cannot be cleared (a forged component value nested past
    Python's recursion limit raises while it is decoded) does not stop the session from ending. Returns
    whether it was ended."""
    try:
        session.session_state.clear()
    except Exception as err:  # noqa: BLE001 - a poisoned value must not keep the session (and its uploads) alive
        _logger.warning("session %s: its state could not be cleared (%s); ending it anyway",
                        session_id, type(err).__name__)
    try:
        runtime.get_instance().clear_user_info_for_session(session_id)
    except Exception:
        _logger.warning("session %s could not be ended", session_id, exc_info=True)
        return False
    return True


def remove_orphaned_media() -> None:
    """Delete the media and download files of ended sessions. Streamlit only does this at the next script
    run, which an idle server never makes."""
    try:
        runtime.get_instance().media_file_mgr.remove_orphaned_files()
    except Exception:
        _logger.warning("could not remove the media files of ended sessions", exc_info=True)
