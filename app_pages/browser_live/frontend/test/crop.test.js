// node --test: the face crop's geometry and shrinking. Its agreement with the server's crop on a real
// photo is tests/test_engine_parity.py's.
import assert from 'node:assert/strict';
import {test} from 'node:test';
import {eyeAngle, faceCrop, resizeGray, roundHalfEven} from '../src/crop.js';

const gray = (width, height, value = (x, y) => x + y) => ({width, height,
  data: Uint8Array.from({length: width * height}, (_, i) => value(i % width, Math.floor(i / width)))});

test('halves round to even, as Python rounds crop edges', () => {
  assert.deepEqual([0.5, 1.5, 2.5, -0.5, 2.4, 2.6].map(roundHalfEven), [0, 2, 2, 0, 2, 3]);
});

test('an upright crop is a square a margin wider than the box, edges replicated', () => {
  const crop = faceCrop(gray(20, 20), {x: 0, y: 0, w: 10, h: 8}, 0.2, true);
  assert.equal(crop.width, 12);
  assert.equal(crop.height, 12);
  assert.equal(crop.data[0], 0);  // outside the image: the corner pixel, replicated
});

test('the eyes give the angle a tilted face is turned by', () => {
  assert.equal(eyeAngle({landmarks: [[0, 0], [10, 10]]}), 45);
  assert.equal(eyeAngle({}), 0);
});

test('a tilted crop of a flat image stays flat', () => {
  const crop = faceCrop(gray(40, 40, () => 77), {x: 10, y: 10, w: 20, h: 20, landmarks: [[0, 0], [10, 3]]}, 0.1, true);
  assert.ok(crop.data.every((v) => v === 77));
});

test('shrinking averages areas and growing interpolates', () => {
  const checker = gray(4, 4, (x, y) => ((x + y) % 2 ? 200 : 0));
  assert.deepEqual(Array.from(resizeGray(checker, 2)), [100, 100, 100, 100]);
  assert.equal(resizeGray(gray(2, 2, () => 9), 4).length, 16);
});
