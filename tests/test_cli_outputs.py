"""The CLI's outputs under attack: an output that is an input, an output that exists, two runs writing one
output at once, signals in the middle of a run, outputs that cannot be written, and videos that end
early. Every case runs the real `fer` command in a subprocess."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from fer.outputs import OutputFile
from fer.video_io import Mp4Writer
from tests.conftest import ROOT, write_image


def fer_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "fer", *map(str, args)]


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(fer_command(*args), cwd=ROOT, capture_output=True, timeout=300)


def stderr_lines(out: subprocess.CompletedProcess) -> list[str]:
    text = out.stderr.decode(errors="replace") if isinstance(out.stderr, bytes) else out.stderr
    assert "Traceback" not in text, text
    return [line for line in text.splitlines() if line.strip()]


def decoded_frame_count(path: Path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


def write_clip(path: Path, face_photo: np.ndarray, frames: int, size: tuple[int, int] = (320, 240),
               faststart: bool = False) -> Path:
    """A real H.264 clip of the astronaut's face sliding across grey; `faststart` puts the index first, as
    web videos have it, so that a truncated copy still opens."""
    width, height = size
    face = cv2.resize(face_photo[30:250, 120:340], (height // 2, height // 2))[:, :, ::-1]
    plain = path.with_suffix(".plain.mp4") if faststart else path
    writer = Mp4Writer(plain, crf=30)
    for i in range(frames):
        frame = np.full((height, width, 3), 128, np.uint8)
        x = (i * 2) % (width - face.shape[1])
        frame[height // 4 : height // 4 + face.shape[0], x : x + face.shape[1]] = face
        writer.write(frame, i / 30)
    writer.close()
    if faststart:
        with av.open(str(plain)) as source, av.open(str(path), "w", options={"movflags": "faststart"}) as target:
            stream = target.add_stream_from_template(source.streams.video[0])
            for packet in source.demux(source.streams.video[0]):
                if packet.dts is not None:
                    packet.stream = stream
                    target.mux(packet)
        plain.unlink()
    return path


@pytest.fixture(scope="module")
def inputs(tmp_path_factory, face_photo) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("inputs")
    photos = root / "photos"
    write_image(photos / "p.png", face_photo)
    write_image(photos / "p_annotated.png", face_photo[:, ::-1].copy())  # an input named as p's annotation
    (root / "x.csv").write_text("pixels\n" + " ".join(["128"] * 2304) + "\n")
    write_clip(root / "clip.mp4", face_photo, 12)
    return {"photo": photos / "p.png", "photos": photos, "csv": root / "x.csv", "video": root / "clip.mp4"}


def bytes_of(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# Every verb with every output it takes pointed at one of its inputs, by the same path, a symlink, a hard
# link and a roundabout relative path; --overwrite or not.
SAME_FILE_CASES = [
    ("predict", "{photo}", "--output", "{photo}"),
    ("predict", "{photos}", "--output", "{photo}"),
    ("predict", "{photos}", "--output", "{symlink}"),
    ("predict", "{photos}", "--output", "{hardlink}"),
    ("predict", "{photos}", "--output", "{photos}/../photos/p.png"),
    ("predict", "--cropped", "{photos}", "--format", "csv", "--output", "{photo}"),
    ("predict", "{photos}", "--annotate", "{photos}"),  # p.png's annotated copy would be p_annotated.png
    ("predict-csv", "{csv}", "--output", "{csv}"),
    ("predict-csv", "{csv}", "--output", "{csv_link}"),
    ("video", "{video}", "--output", "{video}"),
    ("video", "{video}", "--csv", "{video}"),
    ("video", "{video}", "--output", "{video_link}"),
    ("video", "{video}", "--output", "{work}/out.mp4", "--csv", "{video}"),
]


@pytest.mark.parametrize("overwrite", [False, True], ids=["plain", "overwrite"])
@pytest.mark.parametrize("case", SAME_FILE_CASES, ids=lambda case: " ".join(case))
def test_no_output_ever_replaces_an_input(inputs, tmp_path, case, overwrite):
    work = tmp_path / "work"
    work.mkdir()
    (work / "symlink.png").symlink_to(inputs["photo"])
    os.link(inputs["photo"], work / "hardlink.png")
    (work / "csv_link.csv").symlink_to(inputs["csv"])
    (work / "video_link.mp4").symlink_to(inputs["video"])
    names = {**{k: str(v) for k, v in inputs.items()}, "work": str(work), "symlink": str(work / "symlink.png"),
             "hardlink": str(work / "hardlink.png"), "csv_link": str(work / "csv_link.csv"),
             "video_link": str(work / "video_link.mp4")}
    before = bytes_of(inputs["photos"].parent)
    out = run_cli(*[part.format(**names) for part in case], *(["--overwrite"] if overwrite else []))
    lines = stderr_lines(out)
    assert out.returncode == 2 and len(lines) == 1 and "is the input" in lines[0], lines
    assert bytes_of(inputs["photos"].parent) == before
    assert not (work / "out.mp4").exists()


@pytest.mark.parametrize("verb", ["predict --output", "predict --annotate", "predict-csv --output",
                                  "video --output", "video --csv"])
def test_an_existing_output_is_refused_before_any_work_and_replaced_only_with_overwrite(inputs, tmp_path, verb):
    command, flag = verb.split()
    source = {"predict": inputs["photo"], "predict-csv": inputs["csv"], "video": inputs["video"]}[command]
    if flag == "--annotate":
        target, taken = tmp_path, tmp_path / "p_annotated.png"
    else:
        target = taken = tmp_path / {"--output": "out.mp4" if command == "video" else "out.txt",
                                     "--csv": "timeline.csv"}[flag]
    taken.write_bytes(b"an earlier result")
    out = run_cli(command, source, flag, target)
    lines = stderr_lines(out)
    assert out.returncode == 2 and len(lines) == 1 and "exist" in lines[0] and "--overwrite" in lines[0], lines
    assert taken.read_bytes() == b"an earlier result"
    assert sorted(p.name for p in tmp_path.iterdir()) == [taken.name]  # nothing else, not even a staged file
    out = run_cli(command, source, flag, target, "--overwrite", *(["--quiet"] if command == "video" else []))
    assert out.returncode == 0, stderr_lines(out)
    assert taken.read_bytes() != b"an earlier result" and taken.stat().st_size > 0


def test_a_name_taken_meanwhile_is_never_overwritten(tmp_path):
    """Two runs check an output name at the start and both find it free; the later one to finish must
    not replace the first one's file."""
    first = OutputFile(tmp_path / "results.csv", "--output", overwrite=False)
    second = OutputFile(tmp_path / "results.csv", "--output", overwrite=False)
    first.path.write_text("first run\n")
    second.path.write_text("second run\n")
    assert first.commit() == tmp_path / "results.csv"
    assert second.commit() == tmp_path / "results-2.csv"
    assert (tmp_path / "results.csv").read_text() == "first run\n"
    assert (tmp_path / "results-2.csv").read_text() == "second run\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results-2.csv", "results.csv"]


def test_runs_started_together_keep_every_result(tmp_path, face_photo):
    """Three runs on different photos, one --output and one --annotate folder, started at once: each checks
    the names at its start and finds them free, so the race is real."""
    for i in range(3):
        for j in range(30 + i):  # enough work for the runs to overlap; each its own count, to tell them apart
            write_image(tmp_path / f"in{i}" / f"photo{j}.png", face_photo)
    runs = [subprocess.Popen(fer_command("predict", tmp_path / f"in{i}", "--output", tmp_path / "results.jsonl",
                                         "--annotate", tmp_path / "annotated", "--quiet", "--workers", "1"),
                             cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for i in range(3)]
    outcomes = [(run.wait(timeout=300), run.stderr.read().decode()) for run in runs]
    results = sorted(tmp_path.glob("results*.jsonl"))
    counts = sorted(len(path.read_text().splitlines()) for path in results)
    finished = sorted(30 + i for i, (status, _) in enumerate(outcomes) if status in (0, 1))
    assert counts == finished and finished, outcomes  # every run that worked kept its own file
    for status, err in outcomes:
        assert "Traceback" not in err
        assert status in (0, 1) or (status == 2 and "exist" in err), (status, err)  # refused up front at worst
        assert status != 1 or "created by another run meanwhile" in err
    annotated = list((tmp_path / "annotated").glob("*.png"))
    assert len(annotated) == sum(finished)  # no annotated copy overwrote another
    assert not list(tmp_path.rglob(".*.partial"))


def test_names_taken_by_another_run_mid_way_are_numbered_not_overwritten(tmp_path, face_photo):
    """A run checks its outputs at the start; another run creates the same names before it ends (here,
    deterministically, the test does): nothing of the other run's is replaced, and the run says where its
    own files went and exits 1."""
    for j in range(60):
        write_image(tmp_path / "in" / f"photo{j:02d}.png", face_photo)
    run = subprocess.Popen(fer_command("predict", tmp_path / "in", "--output", tmp_path / "results.jsonl",
                                       "--annotate", tmp_path / "annotated", "--quiet", "--workers", "1"),
                           cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while not (tmp_path / "annotated" / "photo00_annotated.png").exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    (tmp_path / "results.jsonl").write_text("the other run's results\n")
    (tmp_path / "annotated" / "photo59_annotated.png").write_bytes(b"the other run's picture")
    status, err = run.wait(timeout=300), run.stderr.read().decode()
    assert status == 1, err
    assert (tmp_path / "results.jsonl").read_text() == "the other run's results\n"
    assert (tmp_path / "annotated" / "photo59_annotated.png").read_bytes() == b"the other run's picture"
    assert len((tmp_path / "results-2.jsonl").read_text().splitlines()) == 60
    assert (tmp_path / "annotated" / "photo59_annotated-2.png").read_bytes()[:4] == b"\x89PNG"
    assert sorted(line.split(" was created")[0] for line in err.splitlines()) == [
        str(tmp_path / "annotated" / "photo59_annotated.png"), str(tmp_path / "results.jsonl")]


@pytest.fixture(scope="module")
def long_clip(tmp_path_factory, face_photo) -> Path:
    return write_clip(tmp_path_factory.mktemp("long") / "long.mp4", face_photo, 2400)


def wait_for_staged_rows(run: subprocess.Popen, folder: Path, rows: int = 100) -> None:
    """Until the run's staged timeline holds `rows` lines (it is then well into the video)."""
    deadline = time.monotonic() + 120
    while run.poll() is None and time.monotonic() < deadline:
        staged = list(folder.glob(".timeline.csv.*.partial"))
        if staged and staged[0].read_text().count("\n") >= rows:
            return
        time.sleep(0.05)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT], ids=lambda s: s.name)
def test_a_signal_mid_video_leaves_a_valid_partial_video_and_timeline(long_clip, tmp_path, sig):
    run = subprocess.Popen(fer_command("video", long_clip, "--output", tmp_path / "annotated.mp4",
                                       "--csv", tmp_path / "timeline.csv", "--quiet"),
                           cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    wait_for_staged_rows(run, tmp_path)
    run.send_signal(sig)
    status, err = run.wait(timeout=120), run.stderr.read().decode()
    assert status == 128 + sig, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"interrupted by {sig.name} after "), lines
    frames = int(lines[0].split(" after ")[1].split(" of ")[0])
    assert 100 <= frames < 2400 and "of 2400 frames" in lines[0]
    rows = list(csv.DictReader((tmp_path / "timeline.csv").open()))
    assert decoded_frame_count(tmp_path / "annotated.mp4") == len(rows) == frames
    assert sorted(p.name for p in tmp_path.iterdir()) == ["annotated.mp4", "timeline.csv"]
    out = run_cli("video", long_clip, "--output", tmp_path / "annotated.mp4")  # the rule still holds after
    assert out.returncode == 2 and "exists" in stderr_lines(out)[0]


def test_a_killed_video_run_leaves_no_output_under_its_name(long_clip, tmp_path):
    """SIGKILL cannot be caught: the outputs are staged under hidden names, so none is left half-written."""
    run = subprocess.Popen(fer_command("video", long_clip, "--output", tmp_path / "annotated.mp4",
                                       "--csv", tmp_path / "timeline.csv", "--quiet"),
                           cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_staged_rows(run, tmp_path)
    run.kill()
    run.wait(timeout=60)
    assert not (tmp_path / "annotated.mp4").exists() and not (tmp_path / "timeline.csv").exists()


def test_a_signal_mid_predict_keeps_the_results_so_far(tmp_path, face_photo):
    for i in range(150):
        write_image(tmp_path / "photos" / f"p{i:03d}.jpg", face_photo)
    results = tmp_path / "results.jsonl"
    run = subprocess.Popen(fer_command("predict", tmp_path / "photos", "--output", results, "--quiet"),
                           cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while not any(p.stat().st_size > 20_000 for p in tmp_path.glob(".results.jsonl.*")) and run.poll() is None \
            and time.monotonic() < deadline:
        time.sleep(0.05)
    run.send_signal(signal.SIGTERM)
    status, err = run.wait(timeout=120), run.stderr.read().decode()
    assert status == 143, err
    done = int(err.split(" after ")[1].split(" of ")[0])
    records = [json.loads(line) for line in results.read_text().splitlines()]  # every line whole
    assert 0 < len(records) == done < 150
    assert [Path(r["path"]).name for r in records] == [f"p{i:03d}.jpg" for i in range(done)]


@pytest.mark.parametrize("csv_target", ["{tmp}/missing/timeline.csv", "/dev/full"])
def test_an_unwritable_timeline_stops_the_video_before_the_first_frame(long_clip, tmp_path, csv_target):
    started = time.monotonic()
    out = run_cli("video", long_clip, "--output", tmp_path / "annotated.mp4", "--csv",
                  csv_target.format(tmp=tmp_path))
    lines = stderr_lines(out)
    assert out.returncode == 2 and len(lines) == 1 and lines[0].startswith("error: cannot write --csv"), lines
    assert list(tmp_path.iterdir()) == []  # no MP4, no staged file
    assert time.monotonic() - started < 30  # 2,400 frames take longer than that


def test_a_truncated_video_says_where_it_ended_and_exits_1(tmp_path, face_photo):
    clip = write_clip(tmp_path / "whole.mp4", face_photo, 300, faststart=True)
    data = clip.read_bytes()
    (tmp_path / "cut.mp4").write_bytes(data[: len(data) // 2])
    out = run_cli("video", tmp_path / "cut.mp4", "--csv", tmp_path / "timeline.csv", "--quiet")
    lines = stderr_lines(out)
    assert out.returncode == 1, lines
    # The summary, the frames cut in the middle (decoded from damaged data), then where the file ended.
    assert lines[-1].startswith(f"error: {tmp_path / 'cut.mp4'} ended at frame "), lines
    assert len(lines) == 2 or (len(lines) == 3 and "decoded from damaged data" in lines[1]), lines
    read = int(lines[-1].split("ended at frame ")[1].split(" of ")[0])
    assert 0 < read < 300 and "of the 300 its container lists" in lines[-1]
    assert len(list(csv.DictReader((tmp_path / "timeline.csv").open()))) == read
    out = run_cli("video", clip, "--max-frames", "10", "--quiet")  # stopping early on purpose is no error
    assert out.returncode == 0 and len(list(csv.DictReader(io.StringIO(out.stdout.decode())))) == 10


def damaged_copy(clip: Path, target: Path) -> Path:
    """`clip` with one byte in every 997 of its second half flipped: its index intact (faststart), its frames
    damaged, as a bad disk or a broken transfer leaves a file."""
    data = bytearray(clip.read_bytes())
    for i in range(len(data) // 2, len(data), 997):
        data[i] ^= 0xFF
    target.write_bytes(bytes(data))
    return target


def test_a_damaged_video_is_counted_and_exits_1(tmp_path, face_photo):
    clip = write_clip(tmp_path / "whole.mp4", face_photo, 120, faststart=True)
    damaged = damaged_copy(clip, tmp_path / "damaged.mp4")
    out = run_cli("video", damaged, "--csv", tmp_path / "timeline.csv", "--quiet")
    lines = stderr_lines(out)
    assert out.returncode == 1, lines
    (note,) = [line for line in lines if "damaged data" in line]
    assert note.startswith(f"error: {damaged}: ") and note.endswith("so their results may be wrong")
    assert 0 < int(note.split(": ")[2].split(" of the ")[0]) <= 120
    clean = run_cli("video", clip, "--csv", tmp_path / "clean.csv", "--quiet")
    assert clean.returncode == 0 and "damaged" not in clean.stderr.decode()
    many = run_cli("video", clip, damaged, "--output-dir", tmp_path / "out", "--quiet", "--workers", "1")
    assert many.returncode == 1 and sum("damaged data" in line for line in stderr_lines(many)) == 1


@pytest.mark.parametrize("source", ["0", "{tmp}/corrupt.mp4"])
def test_a_video_that_does_not_open_is_one_line_without_library_noise(tmp_path, face_photo, source):
    whole = write_clip(tmp_path / "whole.mp4", face_photo, 30)
    (tmp_path / "corrupt.mp4").write_bytes(whole.read_bytes()[:3000])  # the index at the end is cut off
    out = run_cli("video", source.format(tmp=tmp_path))
    lines = stderr_lines(out)
    assert out.returncode == 2 and len(lines) == 1 and lines[0].startswith("error: "), lines
    assert "could not be opened as a video" in lines[0]


@pytest.mark.parametrize("csv_name", ["annotated", "./sub/../annotated"])
def test_one_file_named_for_two_outputs_is_refused_before_any_work(long_clip, tmp_path, csv_name):
    (tmp_path / "sub").mkdir()  # names without a format's suffix: a .mp4 --csv is refused for its name first
    out = subprocess.run(fer_command("video", long_clip, "--output", "annotated", "--csv", csv_name),
                         cwd=tmp_path, capture_output=True, timeout=300)
    assert out.returncode == 2
    assert stderr_lines(out) == [f"error: --csv {csv_name} is also --output: give each output its own file"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sub"]  # nothing staged is left


def test_output_dir_tells_a_video_from_another_with_the_same_name(tmp_path, face_photo):
    (tmp_path / "vids").mkdir()
    (tmp_path / "other").mkdir()
    first, second = write_clip(tmp_path / "vids" / "clip.mp4", face_photo, 20), tmp_path / "other" / "clip.mp4"
    write_clip(second, face_photo[::-1], 25)  # another video, the same name
    out = tmp_path / "out"
    assert run_cli("video", first, "--output-dir", out, "--quiet").returncode == 0
    run = run_cli("video", second, "--output-dir", out, "--quiet")
    assert run.returncode == 0, run.stderr
    assert "from an earlier run" not in run.stderr.decode()  # analysed, not skipped
    assert sorted(p.name for p in out.iterdir()) == ["clip-2.csv", "clip-2.mp4", "clip.csv", "clip.mp4"]
    assert (decoded_frame_count(out / "clip.mp4"), decoded_frame_count(out / "clip-2.mp4")) == (20, 25)
    for video in (first, second):  # each is known again by its own outputs: nothing is done twice
        again = run_cli("video", video, "--output-dir", out, "--quiet")
        assert again.returncode == 0 and "1 of 1 video(s) have their outputs" in again.stderr.decode()
        assert len(list(out.iterdir())) == 4
