// node --test: box geometry (overlap, suppression, detection size, frame pixels, reading order).
// Its agreement with fer.detection and fer.video on random cases is tests/test_engine_parity.py's job.
import assert from 'node:assert/strict';
import {test} from 'node:test';
import {detectionSide, iou, nonMaximumSuppression, readingOrder, toFramePixels} from '../src/boxes.js';

const RULES = {every_n_frames: 3, nms_threshold: 0.3, max_faces: 2, video_side: 320, min_face: 100, reliable_face_width: 32};
const face = (x, y, w, h, score = 0.9) => ({x, y, w, h, score, landmarks: [[x, y]]});

test('iou is 1 for the same box, 0 apart, and a third for boxes sharing half their width', () => {
  assert.equal(iou(face(0, 0, 10, 10), face(0, 0, 10, 10)), 1);
  assert.equal(iou(face(0, 0, 10, 10), face(20, 0, 10, 10)), 0);
  assert.equal(iou(face(0, 0, 10, 10), face(5, 0, 10, 10)), 1 / 3);
});

test('suppression keeps the most confident box of each overlapping group', () => {
  const kept = nonMaximumSuppression([face(0, 0, 100, 100, 0.8), face(4, 2, 100, 100, 0.95), face(300, 0, 90, 90, 0.7)], 0.3);
  assert.deepEqual(kept.map((f) => f.score), [0.95, 0.7]);
});

test('detection runs at 320 px for a webcam and larger for 4K, never above the frame', () => {
  assert.equal(detectionSide(480, 640, RULES), 320);
  assert.equal(detectionSide(2160, 3840, RULES), Math.ceil(3840 * 32 / 100));
  assert.equal(detectionSide(120, 160, RULES), 160);
});

test('boxes come back in frame pixels, clipped, most confident first and capped', () => {
  const boxes = toFramePixels([face(-5, 10, 50, 50, 0.7), face(100, 100, 40, 40, 0.9), face(10, 10, 20, 20, 0.8)], 0.5, 300, 300, 2);
  assert.deepEqual(boxes.map((b) => [b.x, b.y, b.w, b.h]), [[200, 200, 80, 80], [20, 20, 40, 40]]);
  assert.deepEqual(boxes[0].landmarks, [[200, 200]]);
});

test('faces are numbered in rows, top to bottom, each left to right, despite uneven heights', () => {
  const grid = [face(0, 0, 50, 50), face(60, 8, 50, 50), face(120, 4, 50, 50), face(0, 80, 50, 50), face(60, 86, 50, 50)];
  const shuffled = [grid[3], grid[1], grid[4], grid[0], grid[2]];
  assert.deepEqual(readingOrder(shuffled), grid);
  assert.deepEqual(readingOrder([]), []);
});
