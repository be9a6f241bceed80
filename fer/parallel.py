"""Photos and videos on every core: a pool of worker processes, each with its own recognizer loaded once,
each photo analysed (and its annotated copy written), or each video annotated, by one of them, and the
results handed back in input order. A worker ends with its command, even one killed by SIGKILL.

A photo is analysed exactly as in one process (the same `EmotionRecognizer.analyze_photo`), so the
output does not depend on the number of workers. Each worker runs its model and OpenCV on one thread:
N workers on N cores, not N x 4 threads fighting for them. Workers ignore Ctrl+C, SIGTERM and SIGHUP;
the command that owns them stops them and writes out what was done (`fer.interrupts`).
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import os
import signal
import threading
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from fer.settings import THREADS_VARIABLE

_recognizer = None  # the worker process's own
_stop = None  # set by the parent to stop the videos in progress between two frames


@dataclass(frozen=True)
class PhotoJob:
    path: Path
    min_confidence: float
    tta: str
    annotate_to: Path | None = None  # where the annotated copy goes (planned by the parent), if anywhere
    overwrite: bool = False


@dataclass(frozen=True)
class PhotoOutcome:
    faces: list[dict] | None  # each face's JSON, in input pixels; None when the photo could not be read
    problem: str | None = None  # why it could not be read
    annotate_problem: str | None = None  # why its annotated copy could not be written
    annotated_at: Path | None = None  # where the annotated copy went (another name if its own was taken)


def default_workers() -> int:
    """Every core this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS, Windows
        return max(1, os.cpu_count() or 1)


def use_one_thread() -> None:
    """A worker process's model and OpenCV on one thread: N workers on N cores, not N x 4 threads."""
    os.environ[THREADS_VARIABLE] = "1"
    import cv2

    cv2.setNumThreads(1)


def exit_with_parent() -> None:
    """End this worker when the process that started it ends. A command stopped by a signal it can catch
    stops its pool itself; one killed by SIGKILL cannot, and its workers would idle forever, each
    holding a model."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        multiprocessing.connection.wait([parent.sentinel])
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def _start_worker(model_path: str | None, stop) -> None:
    global _recognizer, _stop
    _stop = stop
    for name in ("SIGINT", "SIGTERM", "SIGHUP"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), signal.SIG_IGN)
    exit_with_parent()
    use_one_thread()
    from fer.recognizer import EmotionRecognizer

    _recognizer = EmotionRecognizer(model_path)


def analyse_photo_job(job: PhotoJob, recognizer=None, data: bytes | None = None) -> PhotoOutcome:
    """One photo, in whichever process runs it; `data`: its file's bytes, when they were read already."""
    from fer.images import ImageError

    recognizer = recognizer or _recognizer
    try:
        photo = recognizer.analyze_photo(job.path if data is None else data, min_confidence=job.min_confidence,
                                         tta=job.tta)
    except ImageError as err:
        return PhotoOutcome(None, str(err))
    faces = [face.scaled(1 / photo.scale).to_json() for face in photo.faces]
    return outcome_with_copy(faces, photo.rgb, photo.faces, job.annotate_to, job.overwrite)


def outcome_with_copy(faces: list[dict], rgb, results: list, annotate_to: Path | None,
                      overwrite: bool) -> PhotoOutcome:
    """A read photo's outcome, with its annotated copy written to `annotate_to` when there is one (a copy
    that cannot be written is a problem of its own: the results still count)."""
    from fer.drawing import draw_results
    from fer.outputs import OutputError

    if annotate_to is None:
        return PhotoOutcome(faces)
    try:
        placed = write_annotated(annotate_to, draw_results(rgb, results, numbered=True), overwrite)
    except (OSError, OutputError) as err:
        return PhotoOutcome(faces, annotate_problem=getattr(err, "strerror", None) or str(err))
    return PhotoOutcome(faces, annotated_at=placed)


def write_annotated(target: Path, rgb, overwrite: bool) -> Path:
    """The annotated copy as PNG, whole or not at all, never over another run's file (fer.outputs)."""
    import cv2

    from fer.outputs import OutputFile, shown

    target.parent.mkdir(parents=True, exist_ok=True)
    ok, encoded = cv2.imencode(".png", rgb[:, :, ::-1])
    if not ok:
        raise OSError(f"could not encode {shown(target)}")
    output = OutputFile(target, "--annotate", overwrite, refuse_existing=False, sweep_leftovers=False)
    try:
        output.path.write_bytes(encoded.tobytes())
        return output.commit()
    finally:
        output.discard()


def annotate_video_in_worker(job):
    from fer.video_jobs import annotate_video_job

    return annotate_video_job(job, _recognizer, stop=_stop.is_set)


class WorkerPool:
    """`workers` processes, one recognizer each; `photos` and `videos` yield each job's outcome in the
    order given."""

    def __init__(self, workers: int, model_path: str | None) -> None:
        # Spawned, not forked: the parent already runs LiteRT's and OpenCV's threads, and a fork copies
        # their locks in whatever state they are (the default on macOS and Windows anyway).
        context = multiprocessing.get_context("spawn")
        self._stop = context.Event()
        self._executor = ProcessPoolExecutor(max_workers=workers, initializer=_start_worker,
                                             initargs=(model_path, self._stop), mp_context=context)
        self.workers = workers

    def photos(self, jobs: list[PhotoJob]) -> Iterator[PhotoOutcome]:
        chunk = max(1, min(8, len(jobs) // (4 * self.workers)))  # few round trips, yet balanced to the end
        yield from self._executor.map(analyse_photo_job, jobs, chunksize=chunk)

    def videos(self, jobs: list) -> Iterator:
        """Each `fer.video_jobs.VideoJob`'s `VideoOutcome`, a whole video per worker at a time."""
        yield from self._executor.map(annotate_video_in_worker, jobs, chunksize=1)

    def close(self) -> None:
        """Stop now: jobs not started are dropped, videos in progress stop at their next frame (leaving no
        output), photos in progress finish; the workers end."""
        self._stop.set()
        self._executor.shutdown(wait=True, cancel_futures=True)
