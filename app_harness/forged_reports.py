"""Reports a hostile visitor can send the Live page in place of its browser engine: valid ones with any
content, and the malformed and oversized shapes `tests/test_hostile_reports.py` and
`benchmarks/hostile_visitor.py` post into the engine's frame. Anything a browser can run can send them:
the component protocol is a postMessage from the page."""

from __future__ import annotations

import copy

HAPPY = [0.04, 0.01, 0.03, 0.8, 0.06, 0.04, 0.02]
ENGINE_FRAME = "browser_live"  # the component's iframe, by its URL

# Posts `value` as the component's value, exactly as the engine's setValue does (src/streamlit.js).
POST_VALUE = """(value) => window.parent.postMessage(
  {isStreamlitMessage: true, type: 'streamlit:setComponentValue', value, dataType: 'json'}, '*')"""
# Builds values too deep or too large to pass through Playwright, and posts them.
POST_NESTED = """(depth) => { let v = []; for (let i = 0; i < depth; i++) v = [v];
  window.parent.postMessage({isStreamlitMessage: true, type: 'streamlit:setComponentValue',
                             value: {state: 'playing', frames: v}, dataType: 'json'}, '*'); }"""
POST_FRAMES = """([run, first, count, faces]) => {
  const face = (n) => ({face: n, box: [40 * n, 80, 120, 120], detection: 0.9,
                        probabilities: [0.04, 0.01, 0.03, 0.8, 0.06, 0.04, 0.02]});
  const frames = Array.from({length: count}, (_, i) => ({seq: first + i, t: (first + i) / 30, fps: 30, ms: 12,
    faces: Array.from({length: faces}, (_, k) => face(k + 1))}));
  window.parent.postMessage({isStreamlitMessage: true, type: 'streamlit:setComponentValue',
                             value: {run, state: 'playing', frames}, dataType: 'json'}, '*'); }"""


def face(number: int = 1, **changes) -> dict:
    return {"face": number, "box": [100, 80, 120, 120], "detection": 0.9, "probabilities": list(HAPPY), **changes}


def frame(seq: int, faces: list | None = None, **changes) -> dict:
    return {"seq": seq, "t": seq / 30, "fps": 30.0, "ms": 12.0, "faces": [face()] if faces is None else faces,
            **changes}


def report(frames: list, run: str = "forged1", **changes) -> dict:
    return {"run": run, "state": "playing", "frames": frames, **changes}


def _with(value: dict, path: tuple, new) -> dict:
    changed = copy.deepcopy(value)
    target = changed
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = new
    return changed


def malformed_reports() -> dict[str, object]:
    """Every shape the schema must refuse, by name; each would otherwise have reached session state."""
    good = report([frame(1)])
    face_at = ("frames", 0, "faces", 0)
    return {
        "a string": "hello",
        "a number": 42,
        "a list": [],
        "no state": {"run": "forged1", "frames": []},
        "an unknown field": {**good, "admin": True},
        "the old message field, with a link": {**good, "message": "![x](http://127.0.0.1:9/x.png)"},
        "frames null": {**good, "frames": None},
        "a frame null": report([None]),
        "a face null": _with(good, face_at, None),
        "a face as a positional array": _with(good, face_at, [1, 100, 80, 120, 120, 0.9, *HAPPY]),
        "a face without probabilities": _with(good, face_at, {"face": 1, "box": [1, 2, 3, 4], "detection": 0.9}),
        "a face with an extra field": _with(good, (*face_at, "x"), 1),
        "strings for a box": _with(good, (*face_at, "box"), ["1", "2", "3", "4"]),
        "a box of three numbers": _with(good, (*face_at, "box"), [1, 2, 3]),
        "a negative width": _with(good, (*face_at, "box"), [1, 2, -30, 40]),
        "fps 'fast'": _with(good, ("frames", 0, "fps"), "fast"),
        "seq a string": _with(good, ("frames", 0, "seq"), "1"),
        "seq a fraction": _with(good, ("frames", 0, "seq"), 1.5),
        "seq true": _with(good, ("frames", 0, "seq"), True),
        "seq 0": _with(good, ("frames", 0, "seq"), 0),
        "seqs going backwards": report([frame(2), frame(1)]),
        "more frames to come, negative": {**good, "more": -1},
        "more frames to come, a string": {**good, "more": "600"},
        "no probabilities": _with(good, (*face_at, "probabilities"), []),
        "eight probabilities for seven classes": _with(good, (*face_at, "probabilities"), [*HAPPY, 0.0]),
        "a probability of 5000%": _with(good, (*face_at, "probabilities"), [50, 0, 0, 0, 0, 0, 0]),
        "probabilities summing to 3": _with(good, (*face_at, "probabilities"), [1, 1, 1, 0, 0, 0, 0]),
        "a negative probability": _with(good, (*face_at, "probabilities"), [-0.5, 0.5, 0, 1, 0, 0, 0]),
        "time infinite": _with(good, ("frames", 0, "t"), float("inf")),
        "time NaN": _with(good, ("frames", 0, "t"), float("nan")),
        "time 1e300": _with(good, ("frames", 0, "t"), 1e300),
        "time negative": _with(good, ("frames", 0, "t"), -5.0),
        "a face number of 2**60": _with(good, (*face_at, "face"), 2**60),
        "a run id with markup": {**good, "run": "<img src=x>"},
        "a run id of 10,000 characters": {**good, "run": "a" * 10_000},
        "state 'dancing'": {**good, "state": "dancing"},
        "an error kind that is Markdown": {**good, "error": "![x](http://127.0.0.1:9/x.png)"},
        "kept_from after the first frame": {**good, "kept_from": 2},
        "601 frames in one report": report([frame(seq) for seq in range(1, 602)]),
        "65 faces in one frame": report([frame(1, [face(n) for n in range(1, 66)])]),
    }
