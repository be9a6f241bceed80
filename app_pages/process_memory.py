"""How the server process uses memory: set up once, by `streamlit_app.py`, never on import.

glibc keeps freed memory in its heap; a server that decodes 50-megapixel photos grew photo by photo and
never gave it back (benchmarks/app_memory.py measured the difference). Elsewhere (macOS, Windows, musl)
none of this is needed and nothing happens.
"""

from __future__ import annotations

import ctypes
import gc
import threading
import time

M_MMAP_THRESHOLD = -3
HEAP_TRIM_SECONDS = 10.0
_started = threading.Lock()
_libc = None
_models_frozen = 0


def _glibc():
    try:
        return ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc (macOS, Windows): its allocator needs none of this
        return None


def tune_memory_once() -> None:
    """The process-wide memory settings, applied the first time this is called in a process."""
    global _libc
    if not _started.acquire(blocking=False):
        return
    _libc = _glibc()
    if _libc is None:
        return
    # Buffers of 1 MB and more (decoded photos) always get their own mapping, returned to the system when
    # freed. glibc's default raises this threshold to the largest block freed so far, after which tens of
    # MB per photo stayed in the heap and the server's resident size crept up photo by photo.
    _libc.mallopt(M_MMAP_THRESHOLD, 1 << 20)
    # What other threads free in small pieces (the web server reads an upload in 64 KB chunks) is handed
    # back every few seconds, whichever thread freed it and whenever.
    threading.Thread(target=_trim_heap_forever, name="heap-trim", daemon=True).start()


def _trim_heap_forever() -> None:
    while True:
        time.sleep(HEAP_TRIM_SECONDS)
        _libc.malloc_trim(0)


def give_back_freed_memory() -> None:
    """Hand the memory a run on big photos freed back to the operating system: collect cyclic garbage
    (Streamlit's own collection after each run is off, see .streamlit/config.toml), then trim the heap."""
    gc.collect()
    if _libc is not None:
        _libc.malloc_trim(0)


def freeze_when_more_models_loaded(models_loaded: int) -> None:
    """After a model is loaded, move everything alive out of the garbage collector's sight (`gc.freeze`).
    A full collection walks every tracked object holding the GIL, stalling the live video's callback:
    with the Photos model loaded it took a median 25 ms, worst 39 (a .keras model: 199 ms; benchmarks/gc_pause.py),
    against 33 ms per frame at 30 fps. Frozen, it took under 0.1 ms. The model lives as long as the process."""
    global _models_frozen
    if models_loaded > _models_frozen:
        _models_frozen = models_loaded
        gc.collect()
        gc.freeze()
