"""Photos and videos on a Ray cluster, through Ray Data: the same analysis as one process, spread over
every core of every machine.

Ray is an optional extra (`pip install 'fer-app[cluster]'`); nothing else in `fer` imports this module.
`AnalysePhotos` is a Ray Data callable class: each actor loads one recognizer once and analyses a batch
of photos at a time with exactly the code one process runs (`fer.parallel.analyse_photo_job`), so results
do not depend on where they were computed. Use it in your own pipeline:

    import ray
    from fer.cluster import AnalysePhotos

    photos = ray.data.read_binary_files("s3://bucket/photos/", include_paths=True)  # columns: bytes, path
    results = photos.map_batches(AnalysePhotos, batch_size=16, num_cpus=1,          # adds faces, problem
                                 compute=ray.data.ActorPoolStrategy(size=8))        # leave CPUs to read files
    results.drop_columns(["bytes"]).write_parquet("s3://bucket/emotions/")

`fer predict --ray [ADDRESS]` runs the same thing from the command line (`photo_outcomes`).
"""

from __future__ import annotations

import json
import logging
import socket
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from fer.parallel import PhotoJob, PhotoOutcome, analyse_photo_job, default_workers, use_one_thread
from fer.settings import DEFAULTS

INSTALL_HINT = "pip install 'fer-app[cluster]' (or pip install 'ray[data]')"
BATCH_SIZE = 8  # photos per call: few round trips, and a batch of big photos still fits in memory


class ClusterError(Exception):
    """Ray is missing, or the cluster cannot be reached."""


def import_ray():
    """Ray and Ray Data, or one line that says how to install them."""
    try:
        import ray
        import ray.data
    except ImportError as err:
        raise ClusterError(f"--ray needs Ray, which is not installed: {INSTALL_HINT}") from err
    return ray


class AnalysePhotos:
    """A Ray Data `map_batches` callable class: one recognizer per actor, loaded once.

    A batch holds a `path` column and, when the files were read by Ray (`read_binary_files`), a `bytes`
    column; optional `annotate_to` and `overwrite` columns ask for annotated copies (on a file system
    every worker sees). Added columns: `faces` (the faces' JSON, as `fer predict` writes it; "" when the
    photo could not be read), `problem`, `annotate_problem` and `annotated_at` (empty when none)."""

    def __init__(self, model_path: str | None = None, min_confidence: float = DEFAULTS.min_confidence,
                 tta: str = DEFAULTS.photo_tta) -> None:
        from fer.recognizer import EmotionRecognizer

        use_one_thread()  # an actor is given one CPU
        self.recognizer = EmotionRecognizer(model_path)
        self.min_confidence, self.tta = min_confidence, tta

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        paths = [str(path) for path in batch["path"]]
        contents = batch.get("bytes")
        annotate_to = batch.get("annotate_to")
        overwrite = batch.get("overwrite")
        outcomes = []
        for i, path in enumerate(paths):
            job = PhotoJob(Path(path), self.min_confidence, self.tta,
                           Path(annotate_to[i]) if annotate_to is not None and annotate_to[i] else None,
                           bool(overwrite[i]) if overwrite is not None else False)
            outcomes.append(analyse_photo_job(job, self.recognizer,
                                              data=bytes(contents[i]) if contents is not None else None))
        return {**batch,
                "faces": np.array([json.dumps(o.faces) if o.faces is not None else "" for o in outcomes], object),
                "problem": np.array([o.problem or "" for o in outcomes], object),
                "annotate_problem": np.array([o.annotate_problem or "" for o in outcomes], object),
                "annotated_at": np.array([str(o.annotated_at or "") for o in outcomes], object)}


def outcome_from_row(row: dict) -> PhotoOutcome:
    """A result row of `AnalysePhotos` as the outcome one process would have given."""
    return PhotoOutcome(json.loads(row["faces"]) if row["faces"] else None, row["problem"] or None,
                        row["annotate_problem"] or None, Path(row["annotated_at"]) if row["annotated_at"] else None)


PROBE_SECONDS = 5.0


def unreachable(address: str) -> str | None:
    """Why nothing answers at a cluster's `host:port` (or `ray://host:port`), or None when something does
    or the address is not one to probe ("auto"). Checked before Ray tries: Ray itself retries for about
    20 s, printing its own C++ log lines, before it gives up."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        return None
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=PROBE_SECONDS).close()
    except OSError as err:
        return err.strerror or str(err) or type(err).__name__
    return None


def start_ray(address: str | None):
    """Join the cluster at `address` ("auto": the one this machine belongs to), or start Ray here with one
    CPU per core. Quiet: Ray's own progress bars and logs stay out of the command's output."""
    ray = import_ray()
    options = {"include_dashboard": False, "log_to_driver": False, "logging_level": "ERROR"}
    if address and (why := unreachable(address)):
        raise ClusterError(f"could not reach the Ray cluster at {address}: {why}")
    try:
        if address:
            ray.init(address=address, **options)
        else:
            ray.init(num_cpus=default_workers(), **options)
    except (ConnectionError, RuntimeError, ValueError) as err:
        raise ClusterError(f"could not reach the Ray cluster at {address or 'this machine'}: {err}") from err
    for name in ("ray", "ray.data"):  # the run's own lines only; Ray's are in /tmp/ray/session_*/logs
        logging.getLogger(name).setLevel(logging.ERROR)
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    context.execution_options.preserve_order = True  # results in input order, as with one process
    return ray


def ray_photo_outcomes(jobs: list[PhotoJob], model_path: str | None, address: str | None,
                       actors: int | None = None) -> Iterator[PhotoOutcome]:
    """Each job's outcome, in input order, computed by Ray actors (one recognizer each) and streamed
    back as they finish, with back-pressure. Ray is shut down when the iterator ends or is closed."""
    if not jobs:
        return
    if len({(job.min_confidence, job.tta) for job in jobs}) != 1:
        raise ValueError("one run has one detector threshold and one TTA mode")
    first = jobs[0]

    class Configured(AnalysePhotos):  # settings travel with the class, so an actor restarts on its own
        def __init__(self) -> None:
            super().__init__(model_path, first.min_confidence, first.tta)

    rows = [{"path": str(job.path), "annotate_to": str(job.annotate_to or ""), "overwrite": job.overwrite}
            for job in jobs]
    for row in stream_rows(rows, Configured, BATCH_SIZE, address, actors):
        yield outcome_from_row(row)


class AnnotateVideos:
    """A Ray Data `map_batches` callable class for whole videos (batch size 1): one recognizer per actor.
    A row is a `fer.video_jobs.VideoJob`'s fields (paths as text); the outputs go where the row says, on a
    file system every worker sees. Added columns: frames, faces, readings, problem, missing_frames,
    damaged_frames, placed."""

    def __init__(self, model_path: str | None = None) -> None:
        from fer.recognizer import EmotionRecognizer

        use_one_thread()
        self.recognizer = EmotionRecognizer(model_path)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        from fer.video_jobs import VideoJob, annotate_video_job

        fields = list(VideoJob.__dataclass_fields__)
        outcomes = []
        for i in range(len(batch["path"])):
            values = {name: batch[name][i].item() if hasattr(batch[name][i], "item") else batch[name][i]
                      for name in fields}
            job = VideoJob(**{**values, **{k: Path(values[k]) for k in ("path", "video_to", "timeline_to")}})
            outcomes.append(annotate_video_job(job, self.recognizer))
        counts = {name: np.array([getattr(o, name) for o in outcomes], np.int64)
                  for name in ("frames", "faces", "readings", "missing_frames", "damaged_frames")}
        return {**batch, **counts, "problem": np.array([o.problem or "" for o in outcomes], object),
                "placed": np.array(["\n".join(map(str, o.placed)) for o in outcomes], object)}


def ray_video_outcomes(jobs: list, model_path: str, address: str | None,
                       actors: int | None = None) -> Iterator:
    """Each `VideoJob`'s `VideoOutcome`, in input order, one whole video per Ray actor at a time."""
    from fer.video_jobs import VideoOutcome

    if not jobs:
        return

    class Configured(AnnotateVideos):
        def __init__(self) -> None:
            super().__init__(model_path)

    rows = [{name: str(value) if isinstance(value, Path) else value for name, value in vars(job).items()}
            for job in jobs]
    for row in stream_rows(rows, Configured, 1, address, actors):
        yield VideoOutcome(int(row["frames"]), int(row["faces"]), int(row["readings"]), row["problem"] or None,
                           int(row["missing_frames"]), int(row["damaged_frames"]),
                           tuple(Path(p) for p in row["placed"].split("\n") if p))


def stream_rows(rows: list[dict], actor_class: type, batch_size: int, address: str | None,
                actors: int | None) -> Iterator[dict]:
    """`rows` through a pool of `actor_class` actors (one CPU each, as many as the cluster has CPUs or
    `actors`), results in input order, streamed. Ray is started here and shut down at the end."""
    ray = start_ray(address)
    try:
        cpus = int(ray.cluster_resources().get("CPU", 1))
        batches = -(-len(rows) // batch_size)
        count = max(1, min(actors or cpus, batches))
        dataset = ray.data.from_items(rows, override_num_blocks=batches)
        # A lost actor restarts on another machine of a cluster; on this machine alone there is nowhere else
        # to go, and a restartable Ray Data actor logs a false alarm (ray-project/ray#57733).
        # (max_restarts has no named parameter in Ray 2.60, whose remote-args dict is deprecated for 2.64.)
        restarts = {} if address else {"max_restarts": 0}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            results = dataset.map_batches(actor_class, compute=ray.data.ActorPoolStrategy(size=count),
                                          batch_size=batch_size, num_cpus=1, batch_format="numpy", **restarts)
        yield from results.iter_rows()
    finally:
        ray.shutdown()
