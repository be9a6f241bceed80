// node --test: each way the camera fails has its problem kind (camera.js), which the page words.
import assert from 'node:assert/strict';
import {test} from 'node:test';
import {cameraProblem, closeCamera, openCamera} from '../src/camera.js';

test('each getUserMedia error is named as the page words it', () => {
  assert.equal(cameraProblem({name: 'NotAllowedError'}), 'camera_blocked');
  assert.equal(cameraProblem({name: 'SecurityError'}), 'camera_blocked');
  assert.equal(cameraProblem({name: 'NotFoundError'}), 'camera_missing');
  assert.equal(cameraProblem({name: 'OverconstrainedError'}), 'camera_missing');
  assert.equal(cameraProblem({name: 'NotReadableError'}), 'camera_busy');
  assert.equal(cameraProblem({name: 'TypeError'}), 'camera');
  assert.equal(cameraProblem(undefined), 'camera');
});

test('a page without the camera API is told so as a blocked camera', async () => {
  await assert.rejects(openCamera(), (err) => cameraProblem(err) === 'camera_blocked');
});

test('closing stops every track, and nothing to close is fine', () => {
  const stopped = [];
  closeCamera(/** @type {any} */ ({getTracks: () => [{stop: () => stopped.push(1)}, {stop: () => stopped.push(2)}]}));
  assert.deepEqual(stopped, [1, 2]);
  closeCamera(null);
});
