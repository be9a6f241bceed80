// @ts-check
// Box geometry both engines share, with no runtime attached (so node's tests run it beside the Python):
// overlap, non-maximum suppression, the size detection runs at, boxes back in a frame's pixels, and the
// order a reader numbers faces in. Its numbers come from Python with the page's arguments.

/**
 * @typedef {{x: number, y: number, w: number, h: number}} Box
 * @typedef {Box & {score: number, landmarks: number[][]}} Detection  a face found, in some image's pixels
 * @typedef {{every_n_frames: number, nms_threshold: number, max_faces: number, video_side: number,
 *            min_face: number, reliable_face_width: number}} DetectionRules  app_pages/browser_live/rules.py
 */

/** Intersection over union of two boxes (fer.video.iou). */
export function iou(/** @type {Box} */ a, /** @type {Box} */ b) {
  const w = Math.max(0, Math.min(a.x + a.w, b.x + b.w) - Math.max(a.x, b.x));
  const h = Math.max(0, Math.min(a.y + a.h, b.y + b.h) - Math.max(a.y, b.y));
  const union = a.w * a.h + b.w * b.h - w * h;
  return union > 0 ? w * h / union : 0;
}

/** The most confident of each group of boxes that overlap by more than `threshold` (as OpenCV's NMSBoxes). */
export function nonMaximumSuppression(/** @type {Detection[]} */ faces, /** @type {number} */ threshold) {
  const sorted = [...faces].sort((a, b) => b.score - a.score);
  /** @type {Detection[]} */
  const kept = [];
  for (const face of sorted) {
    if (kept.every((k) => iou(k, face) <= threshold)) kept.push(face);
  }
  return kept;
}

/** The longer side to detect at (fer.video.detection_side): a face `min_face` px wide in the frame must
 *  still be `reliable_face_width` wide there; never below `video_side` nor above the frame itself. */
export function detectionSide(/** @type {number} */ height, /** @type {number} */ width, /** @type {DetectionRules} */ rules) {
  const longer = Math.max(height, width);
  const wanted = Math.ceil(longer * rules.reliable_face_width / Math.max(1, rules.min_face));
  return Math.max(1, Math.min(longer, Math.max(rules.video_side, wanted)));
}

/** Boxes found at `scale` mapped back to the frame's pixels, rounded and clipped as
 *  fer.detection.detect_faces does, most confident first. */
export function toFramePixels(/** @type {Detection[]} */ faces, /** @type {number} */ scale, /** @type {number} */ width,
                              /** @type {number} */ height, /** @type {number} */ maxFaces) {
  /** @type {Detection[]} */
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
  return boxes.slice(0, maxFaces);
}

/** Boxes as a reader numbers faces (fer.detection.reading_order): rows top to bottom, each left to right. */
export function readingOrder(/** @type {Detection[]} */ boxes) {
  if (!boxes.length) return [];
  const heights = boxes.map((b) => b.h).sort((a, b) => a - b);
  const tolerance = 0.5 * heights[Math.floor(heights.length / 2)];
  /** @type {Detection[][]} */
  const rows = [];
  for (const box of [...boxes].sort((a, b) => (a.y + a.h / 2) - (b.y + b.h / 2))) {
    const centre = box.y + box.h / 2;
    const last = rows[rows.length - 1];
    if (last && centre - last.reduce((s, b) => s + b.y + b.h / 2, 0) / last.length <= tolerance) last.push(box);
    else rows.push([box]);
  }
  return rows.flatMap((row) => row.sort((a, b) => (a.x + a.w / 2) - (b.x + b.w / 2)));
}
