"""Write a file so that no reader ever sees half of it: stage it beside the target, then rename.

A kill or a full disk mid-write leaves the old file (or none) in place, never a truncated one. Every
writer of models, reports, checkpoints and stats files in this project goes through here.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def staged_path(target: str | os.PathLike) -> Iterator[Path]:
    """A path to write in place of `target` (same folder, same suffix); it replaces `target` only when
    the block finishes without an exception, and is removed otherwise."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".staging-") as folder:
        staged = Path(folder) / target.name
        yield staged
        os.replace(staged, target)


def write_text_atomic(target: str | os.PathLike, text: str) -> None:
    with staged_path(target) as staged:
        staged.write_text(text)
