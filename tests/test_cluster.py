"""Past one process: `fer predict` and `fer video` on a real local Ray (2 CPUs, `ray.init`, no mock) and on
worker processes give exactly what one process gives; a corrupt file is reported and the rest finish;
runs that were stopped or killed are finished by running them again; Ray missing is one clear line."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from tests.conftest import ROOT, write_image

pytestmark = pytest.mark.timeout(900)


def fer(*args, **options) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fer", *map(str, args)], cwd=ROOT, capture_output=True, text=True,
                          timeout=600, **options)


@pytest.fixture(scope="module")
def photo_folder(tmp_path_factory, face_photo) -> Path:
    folder = tmp_path_factory.mktemp("photos")
    for i in range(10):  # faces of several sizes, mirrored or not, in a subfolder too
        photo = cv2.resize(face_photo, (160 + 40 * i, 160 + 40 * i))
        write_image(folder / ("more" if i > 6 else ".") / f"p{i:02d}.png", photo if i % 2 else photo[:, ::-1].copy())
    write_image(folder / "wall.png", np.full((200, 300, 3), 180, np.uint8))
    (folder / "broken.jpg").write_bytes(b"not a photo")
    return folder


@pytest.fixture(scope="module")
def video_folder(tmp_path_factory, face_photo) -> Path:
    folder = tmp_path_factory.mktemp("videos")
    face = cv2.resize(face_photo[:, :, ::-1], (320, 320))
    for k, frames in enumerate((24, 36)):
        writer = cv2.VideoWriter(str(folder / f"clip{k}.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), 30, (320, 320))
        for i in range(frames):  # a face that moves a little, so tracking and smoothing have work
            writer.write(cv2.warpAffine(face, np.float32([[1, 0, i % 7], [0, 1, k]]), (320, 320)))
        writer.release()
    (folder / "broken.mp4").write_bytes(b"not a video")
    return folder


def test_ray_gives_exactly_the_plain_cli_s_results(photo_folder, tmp_path):
    plain = fer("predict", photo_folder, "--workers", "1", "--output", tmp_path / "plain.jsonl")
    on_ray = fer("predict", photo_folder, "--ray", "--output", tmp_path / "ray.jsonl")
    for run in (plain, on_ray):
        assert run.returncode == 1, run.stderr  # the broken file; the others are all there
        assert run.stderr.count("skipped") == 1 and "broken.jpg" in run.stderr and "Traceback" not in run.stderr
    assert (tmp_path / "ray.jsonl").read_text() == (tmp_path / "plain.jsonl").read_text()
    assert len((tmp_path / "ray.jsonl").read_text().splitlines()) == 11

    table = fer("predict", photo_folder, "--ray", "--format", "parquet", "--output", tmp_path / "faces.parquet")
    assert table.returncode == 1, table.stderr
    import pyarrow.parquet as pq

    rows = pq.read_table(tmp_path / "faces.parquet").to_pylist()
    plain_rows = [json.loads(line) for line in (tmp_path / "plain.jsonl").read_text().splitlines()]
    assert [(r["path"], r["face"], r["label"], r["score"]) for r in rows] == [
        (p["path"], n if p["faces"] else None, f["label"] if f else None, f["score"] if f else None)
        for p in plain_rows for n, f in (enumerate(p["faces"], start=1) if p["faces"] else [(None, None)])]


def frames_in(path: Path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


def test_videos_on_workers_and_on_ray_give_what_one_process_gives(video_folder, tmp_path):
    outputs = {}
    for way, flags in (("one", ["--workers", "1"]), ("two", ["--workers", "2"]), ("ray", ["--ray"])):
        run = fer("video", video_folder, "--output-dir", tmp_path / way, *flags, "--quiet")
        assert run.returncode == 1, run.stderr
        assert "skipped" in run.stderr and "broken.mp4" in run.stderr and "Traceback" not in run.stderr
        assert run.stdout.count(" frames, ") == 2
        outputs[way] = {p.name: p for p in (tmp_path / way).iterdir()}
    assert sorted(outputs["one"]) == ["clip0.csv", "clip0.mp4", "clip1.csv", "clip1.mp4"]  # nothing for broken
    for way in ("two", "ray"):
        assert sorted(outputs[way]) == sorted(outputs["one"])
        for name in ("clip0.csv", "clip1.csv"):
            assert outputs[way][name].read_text() == outputs["one"][name].read_text(), (way, name)
        assert [frames_in(outputs[way][n]) for n in ("clip0.mp4", "clip1.mp4")] == [24, 36]
    single = fer("video", video_folder / "clip1.mp4", "--csv", tmp_path / "single.csv")  # `fer video FILE`
    assert single.returncode == 0, single.stderr
    assert (tmp_path / "single.csv").read_text() == outputs["one"]["clip1.csv"].read_text()


def test_a_video_run_again_does_only_what_is_missing(video_folder, tmp_path):
    out = tmp_path / "out"
    first = fer("video", video_folder / "clip0.mp4", video_folder / "clip1.mp4", "--output-dir", out, "--quiet")
    assert first.returncode == 0, first.stderr
    (out / "clip1.mp4").unlink()  # as if the run had stopped before clip1 was done
    before = (out / "clip0.csv").stat().st_mtime_ns
    again = fer("video", video_folder / "clip0.mp4", video_folder / "clip1.mp4", "--output-dir", out, "--quiet")
    assert again.returncode == 0, again.stderr
    assert "1 of 2 video(s) have their outputs" in again.stderr and again.stdout.count(" frames, ") == 1
    assert (out / "clip0.csv").stat().st_mtime_ns == before and frames_in(out / "clip1.mp4") == 36
    assert sorted(p.name for p in out.iterdir()) == ["clip0.csv", "clip0.mp4", "clip1.csv", "clip1.mp4"]


def test_a_killed_photo_run_is_finished_by_resume(tmp_path, face_photo):
    folder = tmp_path / "photos"
    for i in range(80):
        write_image(folder / f"p{i:03d}.jpg", cv2.resize(face_photo, (200 + 4 * i, 200 + 4 * i)))
    whole = fer("predict", folder, "--output", tmp_path / "whole.jsonl", "--quiet")
    assert whole.returncode == 0, whole.stderr
    results = tmp_path / "results.jsonl"
    run = subprocess.Popen([sys.executable, "-m", "fer", "predict", str(folder), "--output", str(results),
                            "--workers", "1", "--quiet"], cwd=ROOT, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not any(p.stat().st_size > 9000 for p in tmp_path.glob(".results.jsonl.*.partial")) \
            and run.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    run.send_signal(signal.SIGKILL)  # no chance to write anything out: only its staged file is left
    run.wait(timeout=60)
    assert not results.exists() and len(list(tmp_path.glob(".results.jsonl.*.partial"))) == 1
    resumed = fer("predict", folder, "--output", results, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert "left by killed runs" in resumed.stderr or "killed runs left" in resumed.stderr
    done_before = int(resumed.stderr.split("resuming")[1].split(" photo(s)")[0].split(":")[1])
    assert 0 < done_before < 80
    lines = results.read_text().splitlines()
    assert sorted(lines) == sorted((tmp_path / "whole.jsonl").read_text().splitlines())  # each photo once
    assert not list(tmp_path.glob(".results.jsonl.*.partial"))  # merged, then removed

    again = fer("predict", folder, "--output", results, "--resume")  # nothing left to do
    assert again.returncode == 0 and "80 photo(s) recorded by earlier runs" in again.stderr
    assert results.read_text().splitlines() == lines


def test_without_ray_the_cli_names_the_extra_to_install(photo_folder, tmp_path):
    blocked = "import sys; sys.modules['ray'] = None; from fer.cli import main; sys.exit(main(sys.argv[1:]))"
    run = subprocess.run([sys.executable, "-c", blocked, "predict", str(photo_folder), "--ray", "--output",
                          str(tmp_path / "out.jsonl")], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 2
    assert run.stderr.strip().splitlines() == [
        "error: --ray needs Ray, which is not installed: pip install 'fer-app[cluster]' (or pip install 'ray[data]')"]
    assert not (tmp_path / "out.jsonl").exists() and not list(tmp_path.iterdir())


def test_a_cluster_that_is_not_there_is_one_line_at_once(photo_folder, tmp_path):
    pytest.importorskip("ray")
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{sock.getsockname()[1]}"
    started = time.monotonic()
    run = fer("predict", photo_folder, "--ray", address, "--output", tmp_path / "out.jsonl")
    assert run.returncode == 2 and time.monotonic() - started < 15
    assert run.stderr.strip().splitlines() == [
        f"error: could not reach the Ray cluster at {address}: Connection refused"]
    assert not list(tmp_path.iterdir())


def test_the_library_entry_point_in_a_ray_data_pipeline(photo_folder, recognizer):
    """What a user puts into their own pipeline: files read by Ray, one recognizer per actor."""
    ray = pytest.importorskip("ray")
    from fer.cluster import AnalysePhotos

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    try:
        paths = sorted(str(p) for p in photo_folder.rglob("p*.png"))
        photos = ray.data.read_binary_files(paths, include_paths=True)
        # One actor on one CPU: the other reads the files (an actor per CPU would leave none to read them).
        rows = photos.map_batches(AnalysePhotos, batch_size=4, compute=ray.data.ActorPoolStrategy(size=1),
                                  num_cpus=1).drop_columns(["bytes"]).take_all()
    finally:
        ray.shutdown()
    by_path = {row["path"]: json.loads(row["faces"]) for row in rows}
    assert sorted(by_path) == paths
    for path in paths:
        expected = [face.scaled(1 / photo.scale).to_json() for photo in [recognizer.analyze_photo(path)]
                    for face in photo.faces]
        assert by_path[path] == json.loads(json.dumps(expected))
