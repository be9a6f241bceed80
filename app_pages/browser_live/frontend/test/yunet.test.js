// node --test: the detector's input and output (yunet.js). That the rebuilt network and this decoding find
// the faces OpenCV finds in a real photo is tests/test_engine_parity.py's job.
import assert from 'node:assert/strict';
import {test} from 'node:test';
import {VALUES, decodeFaces, detectionPlan, detectorInput} from '../src/yunet.js';

const SIZES = [[320, 256], [256, 320], [320, 192], [192, 320], [416, 256], [256, 416], [640, 352], [352, 640], [640, 640]];
const RULES = {every_n_frames: 3, nms_threshold: 0.3, max_faces: 8, video_side: 320, min_face: 100, reliable_face_width: 32,
               canvases: SIZES.map(([width, height]) => ({width, height, file: `detector/yunet_${width}x${height}.tflite`}))};
const planned = (height, width) => {
  const plan = detectionPlan(height, width, RULES);
  return [plan.width, plan.height, plan.canvas.width, plan.canvas.height];
};

test('a webcam frame goes into the file of its exact padded size, landscape or portrait', () => {
  assert.deepEqual(planned(480, 640), [320, 240, 320, 256]);
  assert.deepEqual(planned(640, 480), [240, 320, 256, 320]);
  assert.deepEqual(planned(720, 1280), [410, 231, 416, 256]);
  assert.deepEqual(planned(1080, 1920), [615, 346, 640, 352]);
  assert.deepEqual(planned(360, 640), [320, 180, 320, 192]);
});

test('a size with no file of its own goes into the smallest file that holds it', () => {
  assert.deepEqual(planned(768, 1024), [328, 246, 416, 256]);
  assert.deepEqual(planned(500, 500), [320, 320, 640, 352]);
});

test('a frame too large for every file is detected at the largest size', () => {
  assert.deepEqual(planned(2160, 3840), [640, 360, 640, 640]);
  const smallFaces = {...RULES, min_face: 20};
  const plan = detectionPlan(1080, 1920, smallFaces);
  assert.deepEqual([plan.width, plan.height, plan.canvas.width], [640, 360, 640]);
});

test('the input is BGR, row by row across the whole file, zero beyond the frame', () => {
  const image = {width: 2, height: 1, data: new Uint8ClampedArray([10, 20, 30, 255, 40, 50, 60, 255])};
  const input = detectorInput(image, {width: 32, height: 32, file: ''});
  assert.equal(input.length, 32 * 32 * 3);
  assert.deepEqual(Array.from(input.slice(0, 6)), [30, 20, 10, 60, 50, 40]);
  assert.equal(input.slice(6).reduce((a, b) => a + b, 0), 0);
});

test('an anchor is decoded as OpenCV decodes it: score sqrt(cls * obj), box and landmarks from its cell', () => {
  const canvas = {width: 64, height: 32, file: ''};
  const anchors = (64 / 8) * (32 / 8) + (64 / 16) * (32 / 16) + (64 / 32) * (32 / 32);
  const values = new Float32Array(anchors * VALUES);
  const at = (64 / 8) * (32 / 8) + 1 * (64 / 16) + 3;  // stride 16, row 1, column 3
  values.set([0.81, 1.0, 0.5, 0.25, Math.log(2), 0, 0.1, 0.2, 0, 0, 0, 0, 0, 0, 0, 0], at * VALUES);
  values.set([0.5, 0.5], 0);  // stride 8, first cell: 0.5, under the threshold below
  const faces = decodeFaces(values, canvas, 0.6);
  assert.equal(faces.length, 1);
  const [face] = faces;
  assert.ok(Math.abs(face.score - 0.9) < 1e-6);
  const expected = [3.5 * 16 - 16, 1.25 * 16 - 8, 32, 16];  // centre (3.5, 1.25) cells, width e^ln2 cells
  [face.x, face.y, face.w, face.h].forEach((value, i) => assert.ok(Math.abs(value - expected[i]) < 1e-5, `${value}`));
  assert.ok(Math.abs(face.landmarks[0][0] - 3.1 * 16) < 1e-5 && Math.abs(face.landmarks[0][1] - 1.2 * 16) < 1e-5);
  assert.equal(decodeFaces(values, canvas, 0.4).length, 2);
});
