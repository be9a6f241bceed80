// @ts-check
// YuNet's input and output in the browser, with no runtime attached (node's tests run them beside OpenCV):
// which of the detector's fixed-size files a frame goes into, the frame as that file's input, and its one
// output decoded as cv2.FaceDetectorYN decodes the ONNX network's twelve (scores sqrt(cls * obj), boxes,
// landmarks), before non-maximum suppression.
import {detectionSide} from './boxes.js';

/**
 * @typedef {{width: number, height: number, file: string}} Canvas  one of the detector's files
 *   (app_pages/browser_live/yunet_litert.py); LiteRT.js runs fixed input sizes only
 * @typedef {import('./boxes.js').DetectionRules & {canvases: Canvas[]}} DetectorRules
 * @typedef {{width: number, height: number, canvas: Canvas}} DetectionPlan  the frame scaled to
 *   width x height, padded with zeros (as OpenCV pads to a multiple of 32) into `canvas`
 */

const STRIDES = [8, 16, 32];
export const VALUES = 16;  // per anchor: cls, obj, box (4), landmarks (10)

/** Where a frame is detected: at fer.video.detection_side, padded to a multiple of 32 as OpenCV pads, in
 *  the file of exactly that size, else the smallest that holds it; a frame too large for every file is
 *  detected at the largest file's size (faces then need to be larger to be found). */
export function detectionPlan(/** @type {number} */ height, /** @type {number} */ width, /** @type {DetectorRules} */ rules) {
  // Any frame whose longer side is at most the largest file's shorter side fits that file (it is square).
  const largest = Math.max(...rules.canvases.map((c) => Math.min(c.width, c.height)));
  const side = Math.min(detectionSide(height, width, rules), largest);
  const scale = side / Math.max(height, width);
  const w = Math.max(1, Math.round(width * scale)), h = Math.max(1, Math.round(height * scale));
  const padW = Math.ceil(w / 32) * 32, padH = Math.ceil(h / 32) * 32;
  const fitting = rules.canvases.filter((c) => c.width >= padW && c.height >= padH);
  const exact = fitting.find((c) => c.width === padW && c.height === padH);
  const canvas = exact ?? fitting.sort((a, b) => a.width * a.height - b.width * b.height)[0];
  return {width: w, height: h, canvas};
}

/** An RGBA image as the detector's input: (1, canvas height, canvas width, 3), BGR, 0-255, zeros beyond it. */
export function detectorInput(/** @type {{width: number, height: number, data: Uint8ClampedArray}} */ image,
                              /** @type {Canvas} */ canvas) {
  const {width, height, data} = image;
  const input = new Float32Array(canvas.width * canvas.height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 4, o = (y * canvas.width + x) * 3;
      input[o] = data[i + 2];  // B
      input[o + 1] = data[i + 1];  // G
      input[o + 2] = data[i];  // R
    }
  }
  return input;
}

/** The faces in the detector's output for `canvas`, as [{x, y, w, h, score, landmarks}] in the input's
 *  pixels, every anchor scoring at least `minConfidence` (suppression comes after). */
export function decodeFaces(/** @type {Float32Array | number[]} */ values, /** @type {Canvas} */ canvas,
                            /** @type {number} */ minConfidence) {
  /** @type {import('./boxes.js').Detection[]} */
  const faces = [];
  let anchor = 0;
  for (const stride of STRIDES) {
    const cols = canvas.width / stride, rows = canvas.height / stride;
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++, anchor++) {
        const v = anchor * VALUES;
        const score = Math.sqrt(clamp01(values[v]) * clamp01(values[v + 1]));
        if (score < minConfidence) continue;
        const cx = (c + values[v + 2]) * stride, cy = (r + values[v + 3]) * stride;
        const w = Math.exp(values[v + 4]) * stride, h = Math.exp(values[v + 5]) * stride;
        const landmarks = [];
        for (let n = 0; n < 5; n++) {
          landmarks.push([(values[v + 6 + 2 * n] + c) * stride, (values[v + 7 + 2 * n] + r) * stride]);
        }
        faces.push({x: cx - w / 2, y: cy - h / 2, w, h, score, landmarks});
      }
    }
  }
  return faces;
}

function clamp01(/** @type {number} */ v) {
  return Math.min(1, Math.max(0, v));
}
