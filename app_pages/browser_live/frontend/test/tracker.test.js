// node --test: the tracker's numbering. Its agreement with fer.video.FaceTracker is tests/test_engine_parity.py's.
import assert from 'node:assert/strict';
import {test} from 'node:test';
import {FaceTracker} from '../src/tracker.js';

const RULES = {min_iou: 0.3, max_missed: 3, remember_frames: 90};
const at = (x, probs = [1, 0]) => ({box: {x, y: 50, w: 100, h: 100}, probs});

test('a moving face keeps its number and a new face far away gets the next', () => {
  const tracker = new FaceTracker(0, RULES);
  assert.deepEqual(tracker.update([at(0), at(300)]).map((f) => f.id), [1, 2]);
  assert.deepEqual(tracker.update([at(310), at(8)]).map((f) => f.id), [2, 1]);
  assert.deepEqual(tracker.update([at(12), at(700)]).map((f) => f.id), [1, 3]);
});

test('a face that jumped further than its box overlaps between two looks keeps its number', () => {
  const tracker = new FaceTracker(0, RULES);
  tracker.update([at(0)]);
  assert.equal(tracker.update([at(70)])[0].id, 1);
});

test('a face that comes back near where it left gets its number back, until it is forgotten', () => {
  const tracker = new FaceTracker(0.5, RULES);
  tracker.update([at(0)]);
  for (let i = 0; i < 20; i++) tracker.update([]);
  assert.equal(tracker.update([at(20)])[0].id, 1);
  for (let i = 0; i < 100; i++) tracker.update([]);
  assert.equal(tracker.update([at(0)])[0].id, 2);
});

test('probabilities are averaged over time by the smoothing', () => {
  const tracker = new FaceTracker(0.5, RULES);
  tracker.update([at(0, [1, 0])]);
  assert.deepEqual(tracker.update([at(0, [0, 1])])[0].probs, [0.5, 0.5]);
});
