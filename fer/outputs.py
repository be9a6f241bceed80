"""Where a command's results go, so that no input, no earlier result and no other run's result is lost.

One rule for every verb and every output kind (`--output`, `--csv`, each `--annotate` file):
- an output that is one of the inputs (same resolved path or inode, links included) is refused before
  anything is read or written, `--overwrite` or not;
- an output that already exists is refused before any work unless `--overwrite` is given;
- every output's folder is checked before the first input is read;
- a file is written under a hidden name beside its target and takes its own name only when it is
  complete (or, for an interrupted run, when all that was done is in it): a killed run leaves a
  valid file or none, and the hidden file it leaves is removed by the next run that completes the
  same output (`--resume` merges it first);
- when two runs finish with one output name at once, the name is claimed atomically (a hard link,
  which never replaces): the later run writes `NAME-2.EXT` and says so, and nothing is overwritten.
Devices and pipes (`/dev/stdout`, `/dev/full`, a FIFO) are written directly: there is nothing to replace.
"""

from __future__ import annotations

import errno
import os
import secrets
import stat
from collections.abc import Iterable
from pathlib import Path
from typing import TextIO

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None


class OutputError(Exception):
    """An output that must not or cannot be written; the run stops before any work (CLI exit status 2)."""


def shown(path: str | os.PathLike) -> str:
    """A path as text any output can hold: bytes that are not UTF-8 in a file name become escapes."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def identities(path: Path) -> set:
    """What makes two paths one file: the resolved path, and the device and inode where it exists."""
    found: set = set()
    try:
        found.add(path.resolve())
        info = path.stat()
        found.add((info.st_dev, info.st_ino))
    except OSError:
        pass
    return found


def refuse_inputs_as_outputs(outputs: dict[str, str | os.PathLike | None] | Iterable[tuple[str, os.PathLike]],
                             inputs: Iterable[Path]) -> None:
    """An output that is one of the inputs would destroy it: refused before anything is read or written.
    `outputs`: {flag: path} or (flag, path) pairs (one flag may name many files)."""
    known: dict = {}
    for source in inputs:
        for identity in identities(source):
            known.setdefault(identity, source)
    for flag, output in outputs.items() if isinstance(outputs, dict) else outputs:
        if output is None:
            continue
        source = next((known[i] for i in identities(Path(output)) if i in known), None)
        if source is not None:
            raise OutputError(f"{flag} {shown(output)} is the input {shown(source)}: write the results elsewhere")


def is_stream(path: Path) -> bool:
    """A character device, pipe or socket: written as it is, never staged or replaced."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return False
    return not stat.S_ISREG(mode) and not stat.S_ISDIR(mode)


def check_writable_folder(path: Path, flag: str) -> None:
    """`path` is (or can become) a folder this process may write in; checked before any work."""
    if path.exists() and not path.is_dir():
        raise OutputError(f"{flag} {shown(path)} is a file, not a folder")
    existing = next((p for p in (path, *path.parents) if p.exists()), Path("."))
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        raise OutputError(f"cannot write {flag} {shown(path)}: {shown(existing)} is not a folder this user "
                          "may write in")


class OutputFile:
    """One output file of a run, staged beside its target until `commit` puts it in place."""

    def __init__(self, target: str | os.PathLike, flag: str, overwrite: bool, *, streams_allowed: bool = True,
                 refuse_existing: bool = True, sweep_leftovers: bool = True) -> None:
        """`sweep_leftovers`: on commit, remove what killed runs left for this name (one look at the folder:
        not for each of thousands of annotated copies)."""
        self.target, self.flag, self.overwrite = Path(target), flag, overwrite
        self.sweep_leftovers = sweep_leftovers
        self.direct = is_stream(self.target)  # /dev/full, a FIFO: written in place
        if self.direct and not streams_allowed:
            raise OutputError(f"{flag} {shown(target)} is not a regular file (this output needs one)")
        if self.target.is_dir():
            raise OutputError(f"{flag} {shown(target)} is a folder, not a file")
        if refuse_existing and not self.direct and self.target.exists() and not overwrite:
            raise OutputError(f"{flag} {shown(target)} exists (add --overwrite to replace it)")
        self.staged: Path | None = None
        self._lock: int | None = None
        if not self.direct:
            try:
                self.staged = create_staged(self.target)
                self._lock = hold_lock(self.staged)
            except OSError as err:
                raise OutputError(f"cannot write {flag} {shown(target)}: {err.strerror or err}") from err

    @property
    def path(self) -> Path:
        """Where to write now: the staged file (or the device itself)."""
        return self.target if self.direct else self.staged

    def open_text(self) -> TextIO:
        try:
            return open(self.path, "w", newline="", encoding="utf-8")
        except OSError as err:
            raise OutputError(f"cannot write {self.flag} {shown(self.target)}: {err.strerror or err}") from err

    def commit(self) -> Path:
        """Give the finished file its name; returns that name: the target, or `NAME-2.EXT` (3, ...) when
        another run created the target after this run checked it."""
        if self.direct or self.staged is None:
            return self.target
        staged, self.staged = self.staged, None
        self._release()
        placed = self._place(staged)
        if self.sweep_leftovers and placed == self.target:  # killed runs' files for this name: superseded
            for leftover in abandoned_stagings(self.target):
                leftover.unlink(missing_ok=True)
        return placed

    def _place(self, staged: Path) -> Path:
        if self.overwrite:
            os.replace(staged, self.target)
            return self.target
        for n in range(1, 10_000):
            candidate = self.target if n == 1 else self.target.with_name(f"{self.target.stem}-{n}{self.target.suffix}")
            try:
                claim_name(staged, candidate)
            except FileExistsError:
                continue
            return candidate
        raise OutputError(f"{self.flag} {shown(self.target)}: no free name beside it")

    def discard(self) -> None:
        if self.staged is not None:
            self.staged.unlink(missing_ok=True)
            self.staged = None
        self._release()

    def _release(self) -> None:
        if self._lock is not None:
            os.close(self._lock)
            self._lock = None


def hold_lock(staged: Path) -> int | None:
    """An exclusive lock on a staged file for as long as its run lives (the system drops it when the
    process ends, however it ends): a staged file nobody holds was left by a killed run."""
    if fcntl is None:  # Windows: no advisory locks; --resume then reads finished outputs only
        return None
    descriptor = os.open(staged, os.O_RDONLY)
    fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    return descriptor


def abandoned_stagings(target: Path) -> list[Path]:
    """The staged files of `target` that killed runs left (no living run holds their lock), oldest first."""
    if fcntl is None:
        return []
    found = []
    for staged in target.parent.glob(f".{glob_escape(target.name)}.*.partial"):
        try:
            os.close(hold_lock(staged))
        except OSError:  # a living run is writing it (or it is gone)
            continue
        found.append(staged)
    return sorted(found, key=lambda path: path.stat().st_mtime)


def glob_escape(name: str) -> str:
    return "".join(f"[{c}]" if c in "*?[" else c for c in name)


def create_staged(target: Path) -> Path:
    """A new empty hidden file beside `target`, with the permissions a plain new file would get (the
    umask applies, unlike tempfile's private 0600)."""
    for _ in range(100):
        staged = target.with_name(f".{target.name}.{secrets.token_hex(4)}.partial")
        try:
            os.close(os.open(staged, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
        except FileExistsError:
            continue
        return staged
    raise FileExistsError(errno.EEXIST, "no free staging name", str(target))


def claim_name(staged: Path, target: Path) -> None:
    """Move `staged` to `target` only if no file has that name, in one step that no other process can
    interleave with (a hard link fails on an existing name; rename would replace it). Where the file
    system has no hard links, an exclusive create claims the name first."""
    try:
        os.link(staged, target)
    except FileExistsError:
        raise
    except OSError as err:
        if err.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK, errno.EXDEV):
            raise
        os.close(os.open(target, os.O_CREAT | os.O_EXCL | os.O_WRONLY))  # FileExistsError when taken
        os.replace(staged, target)
        return
    staged.unlink()
