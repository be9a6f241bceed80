"""The video pipeline in fer/: the annotator the live page runs, `fer video` on a real clip, and the
in-memory recording the live page offers for download."""

from __future__ import annotations

import csv
import io
import shutil
import subprocess
import sys
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from fer.video import Timeline, VideoAnnotator, VideoSettings
from fer.video_io import ClipRecorder, Mp4Writer, VideoSource
from tests.conftest import ROOT

FRAMES = 24
DECODE_DAMAGED = """
import faulthandler, sys
from pathlib import Path
from fer.video_io import EncodedVideo, VideoError
data = Path(sys.argv[1]).read_bytes()
for _ in range(int(sys.argv[2])):
    faulthandler.dump_traceback_later(20, exit=True)  # a deadlock holds the GIL: only this C watchdog ends it
    video = EncodedVideo(data, "damaged.mp4")
    try:
        for _ in video.frames():
            pass
    except VideoError:
        pass
    del video  # frees the decoder
"""


def moving_face_frames(face_photo: np.ndarray, count: int = FRAMES) -> list[np.ndarray]:
    """640x480 BGR frames of grey with the astronaut's face sliding right by 4 px a frame."""
    face = cv2.resize(face_photo[30:250, 120:340], (180, 180))[:, :, ::-1]
    frames = []
    for i in range(count):
        frame = np.full((480, 640, 3), 128, np.uint8)
        frame[150:330, 100 + 4 * i : 280 + 4 * i] = face
        frames.append(frame)
    return frames


def decoded_frames(data_or_path) -> list[np.ndarray]:
    source = io.BytesIO(data_or_path) if isinstance(data_or_path, bytes) else str(data_or_path)
    with av.open(source) as container:
        return [frame.to_ndarray(format="bgr24") for frame in container.decode(video=0)]


@pytest.fixture(scope="module")
def clip(tmp_path_factory, face_photo) -> Path:
    path = tmp_path_factory.mktemp("video") / "moving face.mp4"
    writer = Mp4Writer(path, crf=18)
    for i, frame in enumerate(moving_face_frames(face_photo)):
        writer.write(frame, i / 24)
    writer.close()
    return path


def test_one_face_is_followed_as_number_one_and_detection_runs_every_third_frame(recognizer, face_photo):
    annotator = VideoAnnotator(recognizer, VideoSettings(show_fps=False))
    detections = []
    analyze = recognizer.analyze
    annotator.recognizer = type("Counting", (), {
        "analyze": lambda self, *a, **k: detections.append(1) or analyze(*a, **k),
        "classify_boxes": lambda self, *a, **k: recognizer.classify_boxes(*a, **k),
        "class_names": recognizer.class_names})()
    frames = moving_face_frames(face_photo, 9)
    infos = [annotator.annotate(frame)[1] for frame in frames]
    assert len(detections) == 3  # frames 1, 4 and 7
    assert [[track for track, _ in info.faces] for info in infos] == [[1]] * 9
    assert [info.index for info in infos] == list(range(1, 10))
    annotator.reset()  # a new stream after an earlier one: the lone face is #1 again, not #2
    assert [track for track, _ in annotator.annotate(frames[0])[1].faces] == [1]


def test_annotated_frames_carry_box_tag_and_fps(recognizer, face_photo):
    frame = moving_face_frames(face_photo, 1)[0]
    annotator = VideoAnnotator(recognizer)
    first, _ = annotator.annotate(frame)
    assert not np.any(first[:20, :60] != frame[:20, :60])  # no rate yet: no "0.0 fps" tag on the first frame
    drawn, info = annotator.annotate(frame)
    assert drawn.shape == frame.shape and not np.shares_memory(drawn, frame)
    ((_, face),) = info.faces
    box = face.box
    changed = np.any(drawn != frame, axis=2)
    assert changed[box.y, box.x : box.x + box.w].mean() > 0.9  # the box's top edge is drawn
    assert changed[:20, :60].mean() > 0.5  # the fps tag in the corner
    inside = (slice(box.y + box.h // 3, box.y + box.h * 2 // 3), slice(box.x + box.w // 3, box.x + box.w * 2 // 3))
    assert not changed[inside].any()  # the face itself is left alone


def test_timeline_rows_and_csv(recognizer, face_photo):
    annotator = VideoAnnotator(recognizer)
    timeline = Timeline(recognizer.class_names)
    for i, frame in enumerate(moving_face_frames(face_photo, 5)):
        timeline.add(annotator.annotate(frame, t=i / 10)[1])
    stream = io.StringIO()
    timeline.write_csv(stream)
    rows = list(csv.DictReader(io.StringIO(stream.getvalue())))
    assert [float(row["t"]) for row in rows] == [0.0, 0.1, 0.2, 0.3, 0.4]
    assert {row["face"] for row in rows} == {"1"}
    assert all(row["label"] == max(recognizer.class_names, key=lambda n: float(row[n])) for row in rows)
    assert len(timeline.last(0.15)) == 2


def test_clip_recorder_keeps_the_video_in_memory_and_stops_at_its_limit(face_photo):
    recorder = ClipRecorder(max_seconds=0.5)
    for i, frame in enumerate(moving_face_frames(face_photo, 20)):
        recorder.add(frame, 10 + i / 20)  # a stream's clock does not start at 0
    data = recorder.finish()
    assert recorder.full and data[4:8] == b"ftyp"
    frames = decoded_frames(data)
    assert len(frames) == 11 and frames[0].shape == (480, 640, 3)
    assert recorder.finish() is data  # finishing twice gives the same clip
    assert ClipRecorder().finish() == b""


def test_clip_recorder_keeps_every_frame_of_a_live_stream_with_uneven_timing():
    """Live frames arrive 5-50 ms apart; the encoder once counted in 1/30 s ticks, so two frames in one
    tick collided (non-monotonic DTS) and writing failed for a frame in three."""
    rng = np.random.default_rng(0)
    gaps = rng.choice([0.005, 0.012, 0.020, 0.033, 0.034, 0.050], size=199)
    times = 1000.0 + np.concatenate([[0.0], np.cumsum(gaps)])
    recorder = ClipRecorder()
    for i, t in enumerate(times):
        recorder.add(np.full((240, 320, 3), (i * 7) % 250, np.uint8), float(t))
    with av.open(io.BytesIO(recorder.finish())) as container:
        frames = list(container.decode(video=0))
    assert len(frames) == len(times)
    shown_at = np.array([float(frame.pts * frame.time_base) for frame in frames])
    assert np.abs(shown_at - (times - times[0])).max() < 1e-3  # each frame at its own time, to the millisecond
    levels = [frame.to_ndarray(format="gray").mean() for frame in frames]
    assert np.abs(np.array(levels) - [(i * 7) % 250 for i in range(len(times))]).max() < 3  # in order, intact


def run_fer(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """The installed `fer` command (pip install -e .), run from outside the repository."""
    command = shutil.which("fer", path=str(Path(sys.executable).parent))
    assert command, "the fer console script is not installed: pip install -e ."
    return subprocess.run([command, *args], cwd=cwd, capture_output=True, text=True, timeout=300)


def test_fer_video_writes_the_annotated_clip_and_the_timeline(clip, tmp_path, face_photo):
    out = run_fer("video", str(clip), "--output", str(tmp_path / "annotated.mp4"), "--csv",
                  str(tmp_path / "timeline.csv"), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "tensorflow" not in out.stderr.lower() and "E0000" not in out.stderr
    assert f"{FRAMES} frames, 1 face(s) followed" in out.stderr
    original, annotated = decoded_frames(clip), decoded_frames(tmp_path / "annotated.mp4")
    assert len(annotated) == len(original) == FRAMES
    assert VideoSource(tmp_path / "annotated.mp4").frame_count == FRAMES
    difference = np.abs(annotated[12].astype(int) - original[12].astype(int)).max(axis=2)
    assert (difference > 60).sum() > 500  # a box and a tag were drawn, beyond compression noise
    rows = list(csv.DictReader((tmp_path / "timeline.csv").open()))
    assert len(rows) == FRAMES and {row["face"] for row in rows} == {"1"}
    assert float(rows[-1]["t"]) == pytest.approx((FRAMES - 1) / 24, abs=1e-3)  # the video's own time


def test_fer_video_refuses_what_it_cannot_do_in_one_line(clip, tmp_path):
    (tmp_path / "taken.mp4").write_bytes(b"precious")
    out = run_fer("video", str(clip), "--output", "taken.mp4", cwd=tmp_path)
    assert out.returncode == 2 and "exists" in out.stderr and len(out.stderr.strip().splitlines()) == 1
    assert (tmp_path / "taken.mp4").read_bytes() == b"precious"
    (tmp_path / "not a video.mp4").write_bytes(b"\x00" * 1000)
    out = run_fer("video", "not a video.mp4", cwd=tmp_path)
    assert out.returncode == 2 and "not a video.mp4" in out.stderr and "Traceback" not in out.stderr
    out = run_fer("video", "missing.mp4", cwd=tmp_path)
    assert out.returncode == 2 and "no such file" in out.stderr


def test_video_source_reads_what_mp4_writer_wrote(clip):
    source = VideoSource(clip)
    assert not source.is_camera and source.fps == pytest.approx(24, abs=0.5)
    times = [t for _, t in source.frames()]
    assert times == pytest.approx([i / 24 for i in range(FRAMES)], abs=1e-3)  # the file's own timestamps


def test_a_variable_rate_video_keeps_its_own_frame_times(tmp_path):
    """Phones record at a variable rate: the timeline follows each frame's timestamp, not index / fps."""
    stamps = [0.0, 0.04, 0.05, 0.2, 0.25, 0.9, 1.0]
    writer = Mp4Writer(tmp_path / "vfr.mp4")
    for i, t in enumerate(stamps):
        writer.write(np.full((240, 320, 3), i * 30, np.uint8), t)
    writer.close()
    assert [t for _, t in VideoSource(tmp_path / "vfr.mp4").frames()] == pytest.approx(stamps, abs=1e-3)


def test_cli_module_and_console_script_agree(clip, tmp_path):
    module = subprocess.run([sys.executable, "-m", "fer", "video", str(clip), "--max-frames", "3", "--quiet"],
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    script = run_fer("video", str(clip), "--max-frames", "3", "--quiet", cwd=tmp_path)
    assert module.returncode == script.returncode == 0
    assert module.stdout == script.stdout and len(module.stdout.strip().splitlines()) == 4  # header + 3 frames


def test_a_video_without_frames_leaves_no_output_file(tmp_path):
    writer = Mp4Writer(tmp_path / "never.mp4")
    writer.close()
    assert not (tmp_path / "never.mp4").exists()


def test_detection_size_follows_the_frame_and_the_smallest_face_worth_finding():
    from fer.video import detection_side

    assert detection_side(480, 640) == 320  # a webcam: as before
    assert detection_side(2160, 3840, min_face=100) == 1229  # 4K: a 100 px face is 32 px at detection
    assert detection_side(2160, 3840, min_face=300) == 410
    assert detection_side(240, 320, min_face=10) == 320  # never above the frame itself
    assert detection_side(120, 160) == 160


def test_a_small_face_in_a_large_frame_is_found(recognizer, face_photo):
    """A 1920x1080 frame with a face of about 60 px: lost when detection ran at 320 px, found now."""
    frame = np.full((1080, 1920, 3), 110, np.uint8)
    face = cv2.resize(face_photo[0:300, 80:380], (220, 220), interpolation=cv2.INTER_AREA)
    frame[400:620, 600:820] = face[:, :, ::-1]
    old = recognizer.analyze(frame, bgr=True, detection_side=320)
    _, info = VideoAnnotator(recognizer, VideoSettings(show_fps=False)).annotate(frame)
    assert old == [] and len(info.faces) == 1
    assert 40 <= info.faces[0][1].box.w <= 100


def test_decoding_damaged_videos_never_freezes_the_process(tmp_path, face_photo):
    """Decoder threads still working on damaged data when the decoder is freed log errors through PyAV,
    which needs the GIL that the freeing thread holds: the whole process froze, and with it the server of
    every Video page. Busy cores widen the window: without the fix this froze within a few dozen videos."""
    from tests.test_cli_outputs import damaged_copy, write_clip

    clip = write_clip(tmp_path / "whole.mp4", face_photo, 120, faststart=True)
    damaged = damaged_copy(clip, tmp_path / "damaged.mp4")
    busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(3)]
    try:
        run = subprocess.run([sys.executable, "-c", DECODE_DAMAGED, str(damaged), "80"], cwd=ROOT,
                             capture_output=True, text=True, timeout=400)
    finally:
        for process in busy:
            process.kill()
    assert run.returncode == 0, run.stderr[-3000:]
