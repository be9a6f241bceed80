"""The content version of each file the browser engine loads, sent with the component's arguments: the engine
keeps its runtimes, models and font in the browser's Cache Storage under these versions (frontend/src/files.js),
because Streamlit serves a component's files with no validator and the HTTP cache fetched them on every visit."""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

from app_pages.browser_live.build import STATIC


@functools.cache
def asset_versions(folder: Path = STATIC) -> dict[str, str]:
    """{path under static/: the first 16 hex digits of its SHA-256}, read once per server process (the files
    ship with the app and change only with a new release)."""
    versions = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.suffix not in {".html"}:
            versions[path.relative_to(folder).as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    return versions
