"""The Video page through Streamlit's AppTest: a real clip, the real live model, the same timeline as
`fer video`, and a message of its own for a damaged, truncated or face-less video."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT
from tests.test_cli_outputs import write_clip
from tests.test_video_pipeline import decoded_frames

APP = str(ROOT / "streamlit_app.py")


@pytest.fixture(scope="module")
def clip(tmp_path_factory, face_photo) -> Path:
    return write_clip(tmp_path_factory.mktemp("clip") / "moving face.mp4", face_photo, 45)


def video_page() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=180).run()
    at.switch_page("app_pages/video.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def analyse(at: AppTest, name: str, data: bytes) -> AppTest:
    at.file_uploader[0].set_value((name, data, "video/mp4")).run()
    assert not at.exception
    next(b for b in at.button if b.label == "Analyse the video").click().run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_a_clip_is_annotated_exactly_as_fer_video_does_it(clip, tmp_path, monkeypatch):
    # This process's temporary folder, Python's and C libraries' alike, is one of its own: what else runs
    # on the machine (another test run, a shell) writes to the shared one.
    private = tmp_path / "tmp"
    private.mkdir()
    monkeypatch.setenv("TMPDIR", str(private))
    monkeypatch.setattr(tempfile, "tempdir", str(private))
    at = analyse(video_page(), clip.name, clip.read_bytes())
    assert not any(private.iterdir())  # decoded and encoded in memory: nothing written
    result = at.session_state["video_result"]
    assert len(decoded_frames(result["clip"])) == 45  # every frame, in an MP4 the browser plays (H.264)
    assert len(at.get("video")) == 1
    assert [b.label for b in at.get("download_button")] == ["Annotated video (MP4)", "Timeline (CSV)", "Both (ZIP)"]
    summary = at.dataframe[0].value
    assert list(summary["face"]) == ["#1"] and summary["frames"][0] == 45
    assert summary["to (s)"][0] == pytest.approx(44 / 30, abs=0.01)  # the video's own time
    assert at.selectbox[0].label == "Probabilities over time for face"
    cli = subprocess.run([sys.executable, "-m", "fer", "video", str(clip), "--quiet"], cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    assert cli.returncode == 0, cli.stderr
    page_rows = [list(map(str, row)) for row in result["timeline"].rows]
    cli_rows = list(csv.reader(io.StringIO(cli.stdout)))[1:]
    assert page_rows == cli_rows  # the same faces, numbers, labels and probabilities at the same times


def test_a_damaged_video_gets_its_own_message(clip):
    at = analyse(video_page(), "broken.mp4", clip.read_bytes()[:3000])
    assert len(at.error) == 1 and "`broken.mp4` could not be read as a video" in at.error[0].value
    assert "video_result" not in at.session_state


def test_a_truncated_video_says_where_it_ended(tmp_path, face_photo):
    whole = write_clip(tmp_path / "whole.mp4", face_photo, 120, faststart=True).read_bytes()
    at = analyse(video_page(), "cut.mp4", whole[: len(whole) // 2])
    read = len(at.session_state["video_result"]["timeline"])
    assert 0 < read < 120
    assert any(f"ended at frame {read} of the 120" in w.value for w in at.warning), [w.value for w in at.warning]
    assert len(at.get("video")) == 1  # what was read is still shown


def test_damaged_frames_are_counted_and_the_page_warns(tmp_path, face_photo):
    from tests.test_cli_outputs import damaged_copy

    clip = write_clip(tmp_path / "whole.mp4", face_photo, 120, faststart=True)
    at = analyse(video_page(), "damaged.mp4", damaged_copy(clip, tmp_path / "damaged.mp4").read_bytes())
    damaged = at.session_state["video_result"]["damaged"]
    assert damaged > 0
    assert any(f"{damaged:,} of the " in w.value and "decoded from damaged data" in w.value for w in at.warning)
    whole = analyse(video_page(), "whole.mp4", clip.read_bytes())
    assert whole.session_state["video_result"]["damaged"] == 0 and not whole.warning


def test_a_video_without_faces_says_so(tmp_path):
    from fer.video_io import Mp4Writer

    writer = Mp4Writer(tmp_path / "grey.mp4")
    for i in range(20):
        writer.write(np.full((240, 320, 3), 100 + i, np.uint8), i / 30)
    writer.close()
    at = analyse(video_page(), "grey.mp4", (tmp_path / "grey.mp4").read_bytes())
    assert any("No face was found in `grey.mp4` (20 frames)" in i.value for i in at.info)
    assert len(at.get("video")) == 1 and not at.dataframe
