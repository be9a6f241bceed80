"""`fer predict --workers N`: every core, the same results in the same order as one process, and a run
that stops cleanly (no worker left behind) when it is interrupted."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import cv2
import numpy as np

from tests.conftest import ROOT, write_image


def fer_command(*args) -> list[str]:
    return [sys.executable, "-m", "fer", *map(str, args)]


def test_two_workers_give_exactly_what_one_gives(tmp_path, face_photo):
    folder = tmp_path / "photos"
    for i in range(12):  # faces of several sizes, mirrored or not, a face-less picture and a broken file
        photo = cv2.resize(face_photo, (160 + 40 * i, 160 + 40 * i))
        write_image(folder / f"p{i:02d}.png", photo if i % 2 else photo[:, ::-1].copy())
    write_image(folder / "wall.png", np.full((200, 300, 3), 180, np.uint8))
    (folder / "broken.jpg").write_bytes(b"not a photo")
    runs = {}
    for workers in (1, 2):
        out = subprocess.run(fer_command("predict", folder, "--workers", workers, "--format", "csv",
                                         "--annotate", tmp_path / f"annotated{workers}"),
                             cwd=ROOT, capture_output=True, text=True, timeout=300)
        assert out.returncode == 1 and out.stderr.count("skipped") == 1, out.stderr  # the broken file
        runs[workers] = out.stdout
    assert runs[1] == runs[2] and len(runs[1].splitlines()) == 1 + 12 + 1  # header, a face each, the wall
    for name in sorted(p.name for p in (tmp_path / "annotated1").iterdir()):
        assert (tmp_path / "annotated1" / name).read_bytes() == (tmp_path / "annotated2" / name).read_bytes()


def worker_pids(parent: int) -> list[int]:
    from app_harness.browser import descendants

    return descendants(parent)


def test_a_signal_stops_the_workers_and_keeps_the_results_so_far(tmp_path, face_photo):
    for i in range(120):
        write_image(tmp_path / "photos" / f"p{i:03d}.jpg", face_photo)
    results = tmp_path / "results.jsonl"
    run = subprocess.Popen(fer_command("predict", tmp_path / "photos", "--output", results, "--workers", "2",
                                       "--quiet"), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while not any(p.stat().st_size > 20_000 for p in tmp_path.glob(".results.jsonl.*")) and run.poll() is None \
            and time.monotonic() < deadline:
        time.sleep(0.05)
    workers = worker_pids(run.pid)
    assert len(workers) >= 2  # the pool's processes
    run.send_signal(signal.SIGTERM)
    status, err = run.wait(timeout=120), run.stderr.read().decode()
    assert status == 143, err
    done = int(err.split(" after ")[1].split(" of ")[0])
    records = [json.loads(line) for line in results.read_text().splitlines()]
    assert 0 < len(records) == done < 120
    assert [r["path"].rsplit("/", 1)[1] for r in records] == [f"p{i:03d}.jpg" for i in range(done)]  # in order
    time.sleep(1.0)
    assert not [pid for pid in workers if alive(pid)], "a worker outlived its run"


def test_workers_end_with_a_run_killed_by_sigkill(tmp_path, face_photo):
    for i in range(60):
        write_image(tmp_path / "photos" / f"p{i:02d}.jpg", face_photo)
    run = subprocess.Popen(fer_command("predict", tmp_path / "photos", "--output", tmp_path / "results.jsonl",
                                       "--workers", "2", "--quiet"), cwd=ROOT, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not any(p.stat().st_size > 5000 for p in tmp_path.glob(".results.jsonl.*")) and run.poll() is None \
            and time.monotonic() < deadline:
        time.sleep(0.05)
    workers = worker_pids(run.pid)
    assert len(workers) >= 2
    run.kill()  # SIGKILL: the run cannot stop its pool; the workers must notice on their own
    run.wait(timeout=60)
    deadline = time.monotonic() + 20
    while [pid for pid in workers if alive(pid)] and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not [pid for pid in workers if alive(pid)], "a worker outlived its killed run"


def alive(pid: int) -> bool:
    """Running, not just a zombie waiting for a parent that is gone to reap it."""
    try:
        state = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_a_bad_model_stops_a_run_with_workers_in_one_line(tmp_path, face_photo):
    write_image(tmp_path / "a.png", face_photo)
    write_image(tmp_path / "b.png", face_photo)
    (tmp_path / "model.tflite").write_bytes(b"not a model")
    out = subprocess.run(fer_command("predict", tmp_path / "a.png", tmp_path / "b.png", "--workers", "2",
                                     "--model", tmp_path / "model.tflite"),
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1 and "model.tflite" in out.stderr
