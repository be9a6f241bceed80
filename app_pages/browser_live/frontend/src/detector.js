// YuNet, the project's one face detector (fer/detection.py), in onnxruntime-web, decoded as OpenCV's
// cv2.FaceDetectorYN decodes it: the same weights, input (BGR, 0-255, padded to a multiple of 32),
// scores (sqrt(cls * obj)), boxes, landmarks and non-maximum suppression.
import * as ort from 'onnxruntime-web/wasm';
import {fetchGzipped} from './gzipped.js';
import {iou} from './tracker.js';

const STRIDES = [8, 16, 32];
const NMS_THRESHOLD = 0.3;  // fer.detection.NMS_THRESHOLD
export const MAX_FACES = 64;  // fer.detection.MAX_FACES

export async function loadDetector(baseUrl) {
  ort.env.wasm.numThreads = 1;  // threads need cross-origin isolation, which an app in an iframe lacks
  // Served by the app itself, never a CDN; with the binary given, the glue code bundled in engine.js runs it.
  ort.env.wasm.wasmBinary ??= await fetchGzipped(new URL('runtime/ort-wasm-simd-threaded.wasm.gz', baseUrl));
  ort.env.logLevel = 'error';
  const session = await ort.InferenceSession.create(new URL('models/yunet_s_dynamic.onnx', baseUrl).href,
                                                    {executionProviders: ['wasm']});
  return new YuNet(session);
}

class YuNet {
  constructor(session) {
    this.session = session;
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
    return nonMaximumSuppression(faces);
  }
}

function clamp01(v) {
  return Math.min(1, Math.max(0, v));
}

function nonMaximumSuppression(faces) {
  faces.sort((a, b) => b.score - a.score);
  const kept = [];
  for (const face of faces) {
    if (kept.every((k) => iou(k, face) <= NMS_THRESHOLD)) kept.push(face);
  }
  return kept;
}

// The longer side to detect at (fer.video.detection_side): a face `minFace` px wide in the frame must
// still be 32 px wide there; never below 320 px nor above the frame itself.
const RELIABLE_FACE_WIDTH = 32, VIDEO_DETECTION_SIDE = 320;

export function detectionSide(height, width, minFace = 100) {
  const longer = Math.max(height, width);
  const wanted = Math.ceil(longer * RELIABLE_FACE_WIDTH / Math.max(1, minFace));
  return Math.max(1, Math.min(longer, Math.max(VIDEO_DETECTION_SIDE, wanted)));
}

/** Boxes found at `scale` mapped back to the frame's pixels, rounded and clipped as
 *  fer.detection.detect_faces does, most confident first. */
export function toFramePixels(faces, scale, width, height) {
  const boxes = [];
  for (const f of faces) {
    const x0 = Math.round(f.x / scale), y0 = Math.round(f.y / scale);
    const x1 = Math.round((f.x + f.w) / scale), y1 = Math.round((f.y + f.h) / scale);
    const cx0 = Math.max(0, x0), cy0 = Math.max(0, y0), cx1 = Math.min(width, x1), cy1 = Math.min(height, y1);
    if (cx1 - cx0 < 2 || cy1 - cy0 < 2) continue;
    boxes.push({x: cx0, y: cy0, w: cx1 - cx0, h: cy1 - cy0, score: f.score,
                landmarks: f.landmarks.map(([px, py]) => [px / scale, py / scale])});
  }
  boxes.sort((a, b) => b.score - a.score);
  return boxes.slice(0, MAX_FACES);
}

/** Boxes as a reader numbers faces (fer.detection.reading_order): rows top to bottom, each left to right. */
export function readingOrder(boxes) {
  if (!boxes.length) return [];
  const heights = boxes.map((b) => b.h).sort((a, b) => a - b);
  const tolerance = 0.5 * heights[Math.floor(heights.length / 2)];
  const rows = [];
  for (const box of [...boxes].sort((a, b) => (a.y + a.h / 2) - (b.y + b.h / 2))) {
    const centre = box.y + box.h / 2;
    const last = rows[rows.length - 1];
    if (last && centre - last.reduce((s, b) => s + b.y + b.h / 2, 0) / last.length <= tolerance) last.push(box);
    else rows.push([box]);
  }
  return rows.flatMap((row) => row.sort((a, b) => (a.x + a.w / 2) - (b.x + b.w / 2)));
}
