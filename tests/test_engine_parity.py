"""The browser engine applies the server's rules, from the server's numbers. Given the same faces, fer.drawing
(server, Photos, Video) and draw.js put every tag and probability panel on the same pixels, at the same text
size, in the same font file; fer.video.FaceTracker and tracker.js give each face the same number. The sizes
and thresholds come from Python with the component's arguments, so changing them there changes both."""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from app_pages.browser_live.build import LABEL_FONT_FILE, STATIC
from app_pages.browser_live.rules import engine_rules
from fer import drawing
from fer.detection import Box
from fer.label_font import font_bytes

ROOT = Path(__file__).resolve().parents[1]
DRAW_JS = ROOT / "app_pages" / "browser_live" / "frontend" / "src" / "draw.js"
NODE = shutil.which("node")
LABELS = ["angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"]

# Lays out each case with draw.js as the engine does before drawing: the tags, then each face's bar panel
# clear of the tags, the other faces and the panels placed before it.
BROWSER_LAYOUT = """
import {readFileSync} from 'node:fs';
import {barPanel, layoutTags, shortTag} from %s;
const {rules, cases} = JSON.parse(readFileSync(0, 'utf8'));
const corners = (b) => [b.x, b.y, b.x + b.w, b.y + b.h];
const out = cases.map(({height, width, boxes, texts}) => {
  const faces = boxes.map(([x, y, w, h]) => ({x, y, w, h}));
  const tags = layoutTags(rules, height, width, faces, texts, texts.map(shortTag));
  const obstacles = tags.map((t) => t.rect);
  const panels = faces.map((box, i) => {
    const others = faces.filter((_, j) => j !== i).map(corners);
    const panel = barPanel(rules, height, width, box, 7, [...obstacles, ...others]);
    if (panel) obstacles.push(panel.rect);
    return panel && [panel.rect, panel.px, panel.line, panel.labelWidth];
  });
  return {tags: tags.map((t) => [t.text, t.px, t.rect]), panels};
});
process.stdout.write(JSON.stringify(out));
"""


def cases(seed: int = 0) -> list[dict]:
    """Webcam frames, phone photos and group photos: faces from 8 px to most of the frame, crowds whose tags
    must dodge each other, faces at the edges, and tags with and without a number."""
    rng = np.random.default_rng(seed)
    found = []
    for height, width in [(120, 160), (240, 320), (480, 640), (720, 1280), (1080, 1920), (3000, 4000), (640, 480)]:
        for _ in range(12):
            boxes = []
            for _ in range(int(rng.integers(1, 13))):
                side = int(rng.integers(8, max(9, min(height, width) // 2)))
                x, y = rng.integers(-side // 4, [width - side // 2, height - side // 2])
                boxes.append([int(x), int(y), side, side])
            numbered = bool(rng.integers(0, 2))
            texts = [f"{LABELS[int(rng.integers(0, 7))]} {int(rng.integers(0, 101))}%" for _ in boxes]
            texts = [f"#{i + 1} {text}" for i, text in enumerate(texts)] if numbered else texts
            found.append({"height": height, "width": width, "boxes": boxes, "texts": texts})
    for side in (12, 24, 40, 60, 90):  # crowds on a grid, as people stand for a photo
        gap = max(4, side // 5)
        boxes = [[20 + c * (side + gap), 40 + r * (side + gap) + (c % 3) * 4, side, side]
                 for r in range(6) for c in range(6)]
        found.append({"height": 80 + 6 * (side + gap), "width": 40 + 6 * (side + gap), "boxes": boxes,
                      "texts": [f"#{i + 1} surprise 100%" for i in range(36)]})
    return found


def server_layout(case: dict) -> dict:
    """fer.drawing's layout of one case, in the shape the browser's comes back in."""
    shape = (case["height"], case["width"], 3)
    boxes = [Box(*b, 0.9) for b in case["boxes"]]
    tags = drawing.layout_tags(shape, boxes, case["texts"], [drawing.short_tag(t) for t in case["texts"]])
    obstacles = [tag.rect for tag in tags]
    panels = []
    for i, box in enumerate(boxes):
        others = [b.corners() for j, b in enumerate(boxes) if j != i]
        panel = drawing.bar_panel(shape, box, 7, obstacles + others)
        if panel:
            obstacles.append(panel.rect)
        panels.append(panel and [list(panel.rect), panel.px, panel.line, panel.label_width])
    return {"tags": [[tag.text, tag.px, list(tag.rect)] for tag in tags], "panels": panels}


def run_module(script: str, payload: dict):
    """`script` (an ES module that reads JSON on stdin and writes JSON) run by node."""
    done = subprocess.run([NODE, "--input-type=module", "-e", script], input=json.dumps(payload),
                          capture_output=True, text=True, timeout=60, check=True)
    return json.loads(done.stdout)


def browser_layout(rules: dict, layout_cases: list[dict]) -> list[dict]:
    return run_module(BROWSER_LAYOUT % json.dumps(DRAW_JS.as_uri()), {"rules": rules, "cases": layout_cases})


def test_the_browser_engine_serves_the_font_the_server_draws_with():
    assert (STATIC / LABEL_FONT_FILE).read_bytes() == font_bytes()


@pytest.mark.skipif(NODE is None, reason="node is not installed (it runs the browser engine's draw.js)")
def test_both_engines_put_every_tag_and_panel_on_the_same_pixels():
    layout_cases = cases()
    browser = browser_layout(drawing.browser_drawing_rules(), layout_cases)
    server = [server_layout(case) for case in layout_cases]
    short = sum(tag[0].count(" ") == 0 for result in server for tag in result["tags"])
    panels = sum(p is not None for result in server for p in result["panels"])
    assert short > 20 and panels > 100, "the cases should include tiny faces and room for bars"
    for case, theirs, ours in zip(layout_cases, browser, server):
        assert theirs == ours, case


@pytest.mark.skipif(NODE is None, reason="node is not installed (it runs the browser engine's draw.js)")
def test_the_sizes_reach_the_browser_engine_from_python(monkeypatch):
    layout_cases = cases(seed=1)[:40]
    before = browser_layout(drawing.browser_drawing_rules(), layout_cases)
    monkeypatch.setattr(drawing, "SIZES", dataclasses.replace(drawing.SIZES, text_px=24.0, bar_text_px=9.0,
                                                              tag_width_per_face=2.5))
    after = browser_layout(drawing.browser_drawing_rules(), layout_cases)
    assert after != before
    assert after == [server_layout(case) for case in layout_cases]


TRACKER_JS = ROOT / "app_pages" / "browser_live" / "frontend" / "src" / "tracker.js"
BROWSER_TRACKING = """
import {readFileSync} from 'node:fs';
import {FaceTracker} from %s;
const {rules, smoothing, frames} = JSON.parse(readFileSync(0, 'utf8'));
const tracker = new FaceTracker(smoothing, rules);
const out = frames.map((faces) => tracker.update(faces.map(([x, y, w, h, probs]) => ({box: {x, y, w, h}, probs})))
  .map(({id, probs}) => [id, probs]));
process.stdout.write(JSON.stringify(out));
"""


def wandering_faces(seed: int, frames: int = 400) -> list[list]:
    """Up to four faces that drift, jump (a slow device's look every few seconds), leave and come back, and
    strangers who pass by: every path the tracker has."""
    rng = np.random.default_rng(seed)
    people = [[float(x), 200.0, float(w), True] for x, w in zip(rng.uniform(0, 1200, 4), rng.uniform(40, 200, 4))]
    sequence = []
    for _ in range(frames):
        faces = []
        for person in people:
            person[0] += rng.normal(0, 4) + (rng.uniform(-0.9, 0.9) * person[2] if rng.random() < 0.05 else 0)
            if rng.random() < 0.03:
                person[3] = not person[3]  # leaves, or comes back
            if person[3]:
                probs = rng.dirichlet(np.ones(3)).tolist()
                side = round(person[2])
                faces.append([round(person[0]), 200 + int(rng.integers(-3, 4)), side, side, probs])
        if rng.random() < 0.04:
            faces.append([int(rng.integers(0, 1400)), 500, 60, 60, rng.dirichlet(np.ones(3)).tolist()])
        sequence.append([faces[i] for i in rng.permutation(len(faces))])
    return sequence


def server_tracking(frames: list[list], smoothing: float) -> list[list]:
    from fer.recognizer import FaceResult
    from fer.video import FaceTracker

    tracker = FaceTracker(("happy", "neutral", "sad"), smoothing=smoothing)
    out = []
    for faces in frames:
        results = [FaceResult.from_probabilities(Box(x, y, w, h, 0.9), tracker.class_names, np.array(probs))
                   for x, y, w, h, probs in faces]
        tracked = tracker.update(results)
        out.append([[track_id, [r.probabilities[n] for n in tracker.class_names]] for track_id, r in tracked])
    return out


@pytest.mark.skipif(NODE is None, reason="node is not installed (it runs the browser engine's tracker.js)")
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_both_trackers_give_each_face_the_same_number(seed):
    from fer.video import browser_tracking_rules

    frames = wandering_faces(seed)
    browser = run_module(BROWSER_TRACKING % json.dumps(TRACKER_JS.as_uri()),
                         {"rules": browser_tracking_rules(), "smoothing": 0.6, "frames": frames})
    server = server_tracking(frames, 0.6)
    assert max(track_id for faces in server for track_id, _ in faces) >= 6, "strangers and returns get numbers"
    for index, (theirs, ours) in enumerate(zip(browser, server)):
        assert [track_id for track_id, _ in theirs] == [track_id for track_id, _ in ours], index
        assert np.allclose([p for _, p in theirs], [p for _, p in ours], atol=1e-9), index


BOXES_JS = ROOT / "app_pages" / "browser_live" / "frontend" / "src" / "boxes.js"
CROP_JS = ROOT / "app_pages" / "browser_live" / "frontend" / "src" / "crop.js"
BROWSER_BOXES = """
import {readFileSync} from 'node:fs';
import {detectionSide, nonMaximumSuppression, readingOrder} from %s;
const {rules, sizes, groups, detections} = JSON.parse(readFileSync(0, 'utf8'));
const box = ([x, y, w, h, score]) => ({x, y, w, h, score, landmarks: []});
process.stdout.write(JSON.stringify({
  sides: sizes.map(([height, width]) => detectionSide(height, width, rules.detection)),
  orders: groups.map((boxes) => readingOrder(boxes.map(box)).map((b) => [b.x, b.y, b.w, b.h])),
  kept: detections.map((found) => nonMaximumSuppression(found.map(box), rules.detection.nms_threshold)
    .map((b) => [b.x, b.y, b.w, b.h])),
}));
"""


def random_boxes(rng: np.random.Generator, count: int, spread: int = 1200) -> list[list]:
    sides = rng.integers(20, 200, count)
    return [[int(x), int(y), int(s), int(s * rng.uniform(1.0, 1.3)), float(rng.uniform(0.5, 1.0))]
            for x, y, s in zip(rng.integers(0, spread, count), rng.integers(0, spread // 2, count), sides)]


@pytest.mark.skipif(NODE is None, reason="node is not installed (it runs the browser engine's boxes.js)")
def test_both_engines_detect_at_the_same_size_and_number_faces_in_the_same_order():
    """Detection size, reading order and non-maximum suppression, with the settings a user may change: a
    smaller `min_face` in fer.settings makes both engines detect at a larger size."""
    import cv2

    from fer.detection import NMS_THRESHOLD, reading_order
    from fer.settings import DEFAULTS
    from fer.video import detection_side

    rng = np.random.default_rng(3)
    sizes = [(240, 320), (480, 640), (720, 1280), (1080, 1920), (2160, 3840), (1920, 1080), (100, 100)]
    groups = [random_boxes(rng, int(rng.integers(1, 40)), spread=int(rng.integers(200, 2000))) for _ in range(60)]
    detections = []
    for _ in range(60):  # clusters of overlapping boxes around a few faces, as YuNet's anchors give
        centres = random_boxes(rng, int(rng.integers(1, 6)))
        jitter = rng.integers(-15, 16, (len(centres), 8, 2))
        detections.append([[x + int(jitter[c, k, 0]), y + int(jitter[c, k, 1]), w, h, float(rng.uniform(0.5, 1))]
                           for c, (x, y, w, h, _) in enumerate(centres) for k in range(int(rng.integers(1, 8)))])
    for min_face in (DEFAULTS.min_face, 40):
        rules = engine_rules(dataclasses.replace(DEFAULTS, min_face=min_face))
        browser = run_module(BROWSER_BOXES % json.dumps(BOXES_JS.as_uri()),
                             {"rules": rules, "sizes": sizes, "groups": groups, "detections": detections})
        assert browser["sides"] == [detection_side(h, w, min_face) for h, w in sizes]
        assert browser["orders"] == [[[b.x, b.y, b.w, b.h] for b in reading_order([Box(*b) for b in boxes])]
                                     for boxes in groups]
        for found, kept in zip(detections, browser["kept"]):
            chosen = cv2.dnn.NMSBoxes([b[:4] for b in found], [b[4] for b in found], 0.0, NMS_THRESHOLD)
            assert kept == [found[i][:4] for i in np.asarray(chosen).reshape(-1)]
    assert engine_rules(dataclasses.replace(DEFAULTS, min_face=40))["detection"]["min_face"] == 40


BROWSER_CROP = """
import {readFileSync} from 'node:fs';
import {faceCrop, grayAround, resizeGray} from %s;
const {rules, width, height, rgb, boxes, size} = JSON.parse(readFileSync(0, 'utf8'));
const pixels = Buffer.from(rgb, 'base64');
const data = new Uint8ClampedArray(width * height * 4);
for (let i = 0; i < width * height; i++) {
  data.set(pixels.subarray(i * 3, i * 3 + 3), i * 4);
  data[i * 4 + 3] = 255;
}
const image = {width, height, data};
const faces = boxes.map(([x, y, w, h, landmarks]) => {
  const {gray, box} = grayAround(image, {x, y, w, h, landmarks}, rules.crop.margin);
  return Array.from(resizeGray(faceCrop(gray, box, rules.crop.margin, rules.crop.align), size));
});
process.stdout.write(JSON.stringify(faces));
"""


@pytest.mark.skipif(NODE is None, reason="node is not installed (it runs the browser engine's crop.js)")
def test_both_engines_give_the_model_the_same_face(face_photo):
    """The 48x48 grey face the model reads, from a real photo, upright and tilted, at the edges and small:
    the browser's crop and the server's (fer.recognizer and fer.preprocessing) agree to a grey level or two."""
    import base64

    from fer.preprocessing import prepare_face
    from fer.recognizer import EmotionRecognizer

    rng = np.random.default_rng(4)
    height, width = face_photo.shape[:2]
    boxes = []
    for _ in range(40):
        side = int(rng.integers(30, 260))
        x, y = int(rng.integers(-side // 3, width - side // 2)), int(rng.integers(-side // 3, height - side // 2))
        angle = float(rng.choice([0.0, rng.uniform(-40, 40)]))
        cx, cy, half = x + side / 2, y + side / 3, side / 5
        dx, dy = half * np.cos(np.radians(angle)), half * np.sin(np.radians(angle))
        boxes.append([x, y, side, side, [[cx - dx, cy - dy], [cx + dx, cy + dy]]])
    rules = engine_rules()
    browser = run_module(BROWSER_CROP % json.dumps(CROP_JS.as_uri()),
                         {"rules": rules, "width": width, "height": height, "size": 48, "boxes": boxes,
                          "rgb": base64.b64encode(np.ascontiguousarray(face_photo).tobytes()).decode()})
    worst = []
    for (x, y, w, h, eyes), theirs in zip(boxes, browser):
        box = Box(x, y, w, h, 0.9, tuple(map(tuple, eyes)))
        ours = prepare_face(EmotionRecognizer.face_crop(face_photo, box, align=rules["crop"]["align"]), (48, 48), 1)
        difference = np.abs(ours[:, :, 0].astype(int) - np.array(theirs).reshape(48, 48))
        worst.append((difference.mean(), difference.max()))
    assert max(mean for mean, _ in worst) < 0.3 and max(top for _, top in worst) <= 2, worst


YUNET_JS = ROOT / "app_pages" / "browser_live" / "frontend" / "src" / "yunet.js"
BROWSER_DETECTOR = """
import {readFileSync} from 'node:fs';
import {decodeFaces, detectionPlan} from %s;
import {nonMaximumSuppression} from %s;
const {rules, frames, outputs, minConfidence} = JSON.parse(readFileSync(0, 'utf8'));
const plans = frames.map(([height, width]) => detectionPlan(height, width, rules.detection));
const faces = outputs.map((values, i) => values && nonMaximumSuppression(
  decodeFaces(values, plans[i].canvas, minConfidence), rules.detection.nms_threshold)
  .map((f) => [f.x, f.y, f.w, f.h, f.score, ...f.landmarks.flat()]));
process.stdout.write(JSON.stringify({plans, faces}));
"""


def camera_frames(face_photo: np.ndarray) -> list[np.ndarray]:
    """Webcam-like frames holding the photo's face: 4:3, 16:9 with two faces, portrait, and 1080p."""
    import cv2

    frames = []
    layouts = [((480, 640), [(60, 150, 360)]), ((720, 1280), [(100, 100, 400), (250, 700, 300)]),
               ((640, 480), [(150, 40, 400)]), ((1080, 1920), [(200, 800, 500)])]
    for (height, width), placements in layouts:
        frame = np.full((height, width, 3), 90, np.uint8)
        for top, left, side in placements:
            frame[top:top + side, left:left + side] = cv2.resize(face_photo, (side, side), interpolation=cv2.INTER_AREA)
        frames.append(frame)
    return frames


@pytest.mark.skipif(NODE is None, reason="node is not installed (it runs the browser engine's yunet.js)")
def test_the_browser_detector_finds_the_faces_opencv_finds(face_photo):
    """The detector's LiteRT files (YuNet rebuilt from OpenCV's ONNX file) and yunet.js's decoding give the
    boxes, landmarks and scores cv2.FaceDetectorYN gives the server on the same scaled frame."""
    import cv2
    from ai_edge_litert.interpreter import Interpreter

    from fer.detection import WEIGHTS

    rules = engine_rules()
    frames = camera_frames(face_photo)
    plans = run_module(BROWSER_DETECTOR % (json.dumps(YUNET_JS.as_uri()), json.dumps(BOXES_JS.as_uri())),
                       {"rules": rules, "frames": [f.shape[:2] for f in frames], "outputs": [None] * len(frames),
                        "minConfidence": 0.5})["plans"]
    outputs, expected = [], []
    for frame, plan in zip(frames, plans):
        small = cv2.cvtColor(cv2.resize(frame, (plan["width"], plan["height"]), interpolation=cv2.INTER_AREA),
                             cv2.COLOR_RGB2BGR)
        canvas = plan["canvas"]
        padded = np.zeros((1, canvas["height"], canvas["width"], 3), np.float32)
        padded[0, :plan["height"], :plan["width"]] = small
        interpreter = Interpreter(str(STATIC / canvas["file"]))
        interpreter.allocate_tensors()
        interpreter.set_tensor(interpreter.get_input_details()[0]["index"], padded)
        interpreter.invoke()
        outputs.append(interpreter.get_tensor(interpreter.get_output_details()[0]["index"]).reshape(-1).tolist())
        opencv = cv2.FaceDetectorYN.create(str(WEIGHTS), "", (plan["width"], plan["height"]), 0.5,
                                           rules["detection"]["nms_threshold"], 5000)
        _, rows = opencv.detect(small)
        expected.append(sorted(rows[:, [0, 1, 2, 3, 14, *range(4, 14)]].tolist(), key=lambda r: -r[4]))
    found = run_module(BROWSER_DETECTOR % (json.dumps(YUNET_JS.as_uri()), json.dumps(BOXES_JS.as_uri())),
                       {"rules": rules, "frames": [f.shape[:2] for f in frames], "outputs": outputs,
                        "minConfidence": 0.5})["faces"]
    assert [len(faces) for faces in found] == [1, 2, 1, 1]
    for browser, server in zip(found, expected):
        assert len(browser) == len(server)
        for ours, theirs in zip(browser, server):
            assert np.allclose(ours[:4], theirs[:4], atol=0.05) and abs(ours[4] - theirs[4]) < 1e-4
            assert np.allclose(ours[5:], theirs[5:], atol=0.05)


def test_every_detector_file_the_engine_is_told_of_is_served():
    """Each input size has its file, and the largest is square, so every frame fits one (yunet.js)."""
    canvases = engine_rules()["detection"]["canvases"]
    assert all((STATIC / c["file"]).is_file() for c in canvases)
    largest = max(canvases, key=lambda c: c["width"] * c["height"])
    assert largest["width"] == largest["height"] == max(max(c["width"], c["height"]) for c in canvases)
