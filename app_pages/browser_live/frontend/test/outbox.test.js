// node --test: the engine's outbox, which must never lose a frame the page did not take.
import assert from 'node:assert/strict';
import {test} from 'node:test';
import {Outbox, faceRecord} from '../src/outbox.js';

const LIMITS = {frames_per_report: 3, faces_per_frame: 2, resend_frames: 5};
const frame = (seq, faces = 1) => ({seq, t: seq / 30, fps: 30, ms: 10,
  faces: Array.from({length: faces}, (_, i) => ({face: i + 1, box: [0, 0, 10, 10], detection: 0.9, probabilities: [1, 0]}))});

test('reports carry the oldest unacknowledged frames, at most frames_per_report', () => {
  const box = new Outbox('run1', LIMITS);
  [1, 2, 3, 4].forEach((s) => box.push(frame(s)));
  assert.deepEqual(box.report().frames.map((f) => f.seq), [1, 2, 3]);
  assert.equal(box.report().more, 1);
  assert.equal(box.owesReport(), true);
  assert.equal(box.acknowledge({run: 'run1', seq: 3}), true);
  assert.deepEqual(box.report().frames.map((f) => f.seq), [4]);
  assert.equal(box.report().more, 0);
  assert.equal(box.owesReport(), false);  // playing: the next frames carry it
});

test('after Stop, every frame left goes out, one report per acknowledgement, until none is', () => {
  const box = new Outbox('run1', LIMITS);
  [1, 2, 3, 4, 5].forEach((s) => box.push(frame(s)));
  box.acknowledge({run: 'run1', seq: 1});
  box.state = 'stopped';
  assert.equal(box.owesReport(), true);  // 4 left: under one report's size, but nothing else will carry them
  const first = box.report();
  assert.deepEqual([first.frames.map((f) => f.seq), first.more], [[2, 3, 4], 1]);
  box.acknowledge({run: 'run1', seq: 4});
  const last = box.report();
  assert.deepEqual([last.frames.map((f) => f.seq), last.more], [[5], 0]);
  box.acknowledge({run: 'run1', seq: 5});
  assert.equal(box.owesReport(), false);
});

test('a page that holds nothing of this run gets every kept frame again', () => {
  const box = new Outbox('run1', LIMITS);
  [1, 2, 3].forEach((s) => box.push(frame(s)));
  box.acknowledge({run: 'run1', seq: 3});
  assert.equal(box.acknowledge({run: null, seq: 0}), false);  // a new session: nothing taken
  assert.deepEqual(box.report().frames.map((f) => f.seq), [1, 2, 3]);
  box.acknowledge({run: 'other', seq: 9});  // another run's acknowledgement says nothing of this one
  assert.equal(box.acknowledged, 0);
});

test('only the last resend_frames are kept, and faces are capped per frame', () => {
  const box = new Outbox('run1', LIMITS);
  for (let s = 1; s <= 8; s++) box.push(frame(s, 4));
  assert.deepEqual(box.frames.map((f) => f.seq), [4, 5, 6, 7, 8]);
  assert.equal(box.report().kept_from, 4);
  assert.equal(box.frames[0].faces.length, 2);
});

test('a stopped stream says so, with whether it was recorded', () => {
  const box = new Outbox('run1', LIMITS);
  box.state = 'stopped';
  box.recorded = true;
  assert.deepEqual(box.report(), {run: 'run1', state: 'stopped', frames: [], more: 0, kept_from: 1, recorded: true});
});

test('face records have named fields, whole-pixel boxes and plain arrays of probabilities', () => {
  const record = faceRecord({id: 2, box: {x: 10.4, y: 20.6, w: 30.5, h: 40, score: 0.912345},
                             probs: Float64Array.from([0.123456789, 0.876543211])});
  assert.deepEqual(record, {face: 2, box: [10, 21, 31, 40], detection: 0.9123, probabilities: [0.12346, 0.87654]});
  assert.ok(Array.isArray(record.probabilities));
});
