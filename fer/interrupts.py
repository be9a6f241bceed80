"""Ctrl+C, `kill` and a closed terminal end a command the same way: the work done so far is written out
as valid files, the command says how far it got, and it exits with 128 + the signal's number.

Python turns SIGINT into KeyboardInterrupt but lets SIGTERM and SIGHUP kill the process at once, in
the middle of a file. `interruptible()` makes all three raise `Interrupted` in the main thread, and
`deferred()` holds a signal back until a unit of output (a frame, a record) is written whole, and
`shielded()` ignores further signals while the partial results are finished.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager

SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))


class Interrupted(KeyboardInterrupt):
    """The run was asked to stop by a signal; `exit_status` is the shell's 128 + its number."""

    def __init__(self, signum: int = signal.SIGINT) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum
        self.name = signal.Signals(signum).name
        self.exit_status = 128 + signum


_pending: list[int] = []  # signals held back by deferred()
_deferring = False


def _raise_interrupted(signum: int, _frame) -> None:
    if _deferring:
        _pending.append(signum)
        return
    raise Interrupted(signum)


@contextmanager
def handling(handler) -> Iterator[None]:
    """`handler` for SIGINT, SIGTERM and SIGHUP while inside; the previous handlers after."""
    previous = {sig: signal.signal(sig, handler) for sig in SIGNALS}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def interruptible():
    """While inside, SIGINT, SIGTERM and SIGHUP raise `Interrupted` (main thread only)."""
    return handling(_raise_interrupted)


def shielded():
    """While inside, those signals are ignored: finishing the files must not be cut short."""
    return handling(signal.SIG_IGN)


@contextmanager
def deferred() -> Iterator[None]:
    """A signal that arrives inside is raised when the block ends: a frame half muxed into an MP4 would
    spoil the frames after it."""
    global _deferring
    _deferring = True
    try:
        yield
    finally:
        _deferring = False
    if _pending:
        signum = _pending[0]
        _pending.clear()
        raise Interrupted(signum)
