// YuNet, the project's one face detector (fer/detection.py), in onnxruntime-web, decoded as OpenCV's
// cv2.FaceDetectorYN decodes it: the same weights, input (BGR, 0-255, padded to a multiple of 32),
// scores (sqrt(cls * obj)), boxes, landmarks and non-maximum suppression.
import * as ort from 'onnxruntime-web/wasm';
import {engineFile} from './files.js';
import {nonMaximumSuppression} from './boxes.js';

// Its thresholds come from Python with the page's arguments (app_pages/browser_live/rules.py).
/** @typedef {import('./boxes.js').DetectionRules} DetectionRules */

const STRIDES = [8, 16, 32];

export async function loadDetector(baseUrl, /** @type {DetectionRules} */ rules) {
  ort.env.wasm.numThreads = 1;  // threads need cross-origin isolation, which an app in an iframe lacks
  // Served by the app itself, never a CDN; with the binary given, the glue code bundled in engine.js runs it.
  ort.env.wasm.wasmBinary ??= await engineFile(baseUrl, 'runtime/ort-wasm-simd-threaded.wasm.gz', {gzipped: true});
  ort.env.logLevel = 'error';
  const model = new Uint8Array(await engineFile(baseUrl, 'models/yunet_s_dynamic.onnx'));
  const session = await ort.InferenceSession.create(model, {executionProviders: ['wasm']});
  return new YuNet(session, rules);
}

class YuNet {
  constructor(session, /** @type {DetectionRules} */ rules) {
    this.session = session;
    this.rules = rules;
  }

  /** Faces in an RGBA ImageData, as [{x, y, w, h, score, landmarks: [[x, y] x 5]}] in its pixels. */
  async detect(image, minConfidence) {
    const {width, height, data} = image;
    const padW = Math.ceil(width / 32) * 32, padH = Math.ceil(height / 32) * 32;
    const plane = padW * padH;
    const input = new Float32Array(3 * plane);  // zeros beyond the image, as OpenCV pads
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const i = (y * width + x) * 4, o = y * padW + x;
        input[o] = data[i + 2];  // B
        input[plane + o] = data[i + 1];  // G
        input[2 * plane + o] = data[i];  // R
      }
    }
    const feeds = {input: new ort.Tensor('float32', input, [1, 3, padH, padW])};
    const out = await this.session.run(feeds);
    const faces = [];
    for (const stride of STRIDES) {
      const cols = padW / stride, rows = padH / stride;
      const cls = out[`cls_${stride}`].data, obj = out[`obj_${stride}`].data;
      const bbox = out[`bbox_${stride}`].data, kps = out[`kps_${stride}`].data;
      for (let r = 0; r < rows; r++) {
        for (let c = 0; c < cols; c++) {
          const idx = r * cols + c;
          const score = Math.sqrt(clamp01(cls[idx]) * clamp01(obj[idx]));
          if (score < minConfidence) continue;
          const cx = (c + bbox[idx * 4]) * stride, cy = (r + bbox[idx * 4 + 1]) * stride;
          const w = Math.exp(bbox[idx * 4 + 2]) * stride, h = Math.exp(bbox[idx * 4 + 3]) * stride;
          const landmarks = [];
          for (let n = 0; n < 5; n++) {
            landmarks.push([(kps[idx * 10 + 2 * n] + c) * stride, (kps[idx * 10 + 2 * n + 1] + r) * stride]);
          }
          faces.push({x: cx - w / 2, y: cy - h / 2, w, h, score, landmarks});
        }
      }
    }
    return nonMaximumSuppression(faces, this.rules.nms_threshold);
  }
}

function clamp01(v) {
  return Math.min(1, Math.max(0, v));
}
