"""The browser engine's reports on the Python side: the schema refuses every malformed shape, a session
takes each frame once and counts what never arrived, and a live timeline stays within its cap."""

from __future__ import annotations

import itertools
import logging
import typing

import pytest

from app_harness.forged_reports import face, frame, malformed_reports, report
from app_pages.browser_live.reports import PROBLEMS, ProblemKind, ReportRejected, parse_report
from app_pages.browser_live.session import BrowserSession
from app_pages.streamlit_internals import nested_deeper_than
from fer.detection import Box
from fer.recognizer import FaceResult
from fer.video import FrameInfo, Timeline

CLASSES = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")


@pytest.mark.parametrize("name", list(malformed_reports()))
def test_the_schema_refuses_every_malformed_report(name):
    with pytest.raises(ReportRejected):
        parse_report(malformed_reports()[name], len(CLASSES))


def test_the_schema_takes_what_the_engine_sends():
    value = report([frame(1, [face(1), face(2, box=[-4, 0, 30, 30])]), frame(2, [])], recorded=True)
    parsed = parse_report(value, len(CLASSES))
    assert [f.seq for f in parsed.frames] == [1, 2] and parsed.recorded and parsed.frames[0].faces[1].box[0] == -4
    assert parse_report({"run": None, "state": "stopped", "frames": [], "error": "camera_blocked"}, 7).error


def test_every_problem_the_engine_can_report_has_the_pages_words():
    assert set(typing.get_args(ProblemKind)) == set(PROBLEMS)


def test_a_session_takes_each_frame_once_and_counts_the_ones_that_never_came():
    session = BrowserSession(CLASSES)
    assert session.take(report([frame(1), frame(2)])) == 2
    assert session.take(report([frame(2), frame(3)])) == 1  # 2 was sent again before its acknowledgement came
    assert session.acknowledged() == {"run": "forged1", "seq": 3} and session.lost_frames == 0
    assert session.take(report([frame(31)], kept_from=4)) == 0  # the browser still has 4-30: it is asked again
    assert session.acknowledged()["seq"] == 3 and session.lost_frames == 0
    assert session.take(report([frame(31)], kept_from=31)) == 1  # 4-30 will never come
    assert session.lost_frames == 27 and session.lost_seconds == pytest.approx(28 / 30)
    assert len(session.timeline) == 4
    session.take(report([frame(5)], run="next1", kept_from=5))  # a new run whose first 4 frames are gone
    assert len(session.timeline) == 1 and session.lost_frames == 4


def test_a_session_knows_when_the_engine_is_ready_and_when_it_plays():
    session = BrowserSession(CLASSES)
    assert not session.ready
    assert session.take({"run": None, "state": "ready", "frames": []}) == 0
    assert session.ready and not session.playing and len(session.timeline) == 0
    session.take(report([frame(1)]))
    assert session.playing and not session.ready


def test_a_stopped_session_is_complete_only_once_the_engines_backlog_has_come():
    """Stop pressed while a backlog is on its way (after a network cut): the summary waits for the rest."""
    session = BrowserSession(CLASSES)
    session.take(report([frame(1)]))
    assert not session.complete  # playing
    session.take(report([frame(2), frame(3)], state="stopped", more=2))
    assert not session.playing and not session.complete and session.more == 2
    session.take(report([frame(4), frame(5)], state="stopped"))
    assert session.complete and len(session.timeline) == 5


def test_a_refused_report_changes_nothing_and_is_logged_in_one_short_line(caplog):
    session = BrowserSession(CLASSES)
    session.take(report([frame(1)]))
    with caplog.at_level(logging.WARNING):
        for value in malformed_reports().values():
            assert session.take(value) == 0
            assert session.unreadable
    assert len(session.timeline) == 1 and session.acknowledged()["seq"] == 1
    assert len(caplog.records) == 1 and "\n" not in caplog.records[0].getMessage()  # one every 10 s at most
    session.take(report([frame(2)]))
    assert not session.unreadable


def happy_frame(index: int, faces: int = 1) -> FrameInfo:
    result = FaceResult.from_probabilities(Box(0, 0, 10, 10, 0.9), CLASSES, [0, 0, 0, 1, 0, 0, 0])
    return FrameInfo(index, index / 30, 30.0, 10.0, tuple((n, result) for n in range(1, faces + 1)))


def test_a_live_timeline_keeps_the_whole_stream_within_its_cap():
    timeline = Timeline(CLASSES, max_rows=1000)
    for index in range(1, 10_001):
        timeline.add(happy_frame(index))
    times = [row[0] for row in timeline.rows]
    assert len(timeline.rows) <= 1000 and len(timeline) == 10_000
    assert times[0] == pytest.approx(1 / 30, abs=1e-3) and times[-1] == pytest.approx(10_000 / 30, abs=1e-3)
    recent = [t for t in times if t > timeline.thinned_before]
    assert len(recent) >= 250 and all(b - a < 0.034 for a, b in itertools.pairwise(recent))  # every frame there
    assert times == sorted(times)


def test_nesting_is_measured_without_recursion():
    value: list = []
    for _ in range(100_000):
        value = [value]
    assert nested_deeper_than(value, 32)
    assert not nested_deeper_than(report([frame(1)]), 32)
