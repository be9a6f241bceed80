// @ts-check
// fer.video.FaceTracker: each frame's faces matched to the last frame's by overlap (greedy IoU), else to the
// nearest face left unmatched, their probabilities averaged over time, and a face that comes back where it
// left gets its old number. Its thresholds come from Python (fer.video.browser_tracking_rules) with the page's
// arguments.
import {iou} from './boxes.js';

/**
 * @typedef {{x: number, y: number, w: number, h: number}} Box
 * @typedef {{min_iou: number, max_missed: number, remember_frames: number}} TrackingRules
 * @typedef {{id: number, box: Box, probs: number[], lastSeen: number}} Track
 */

/**
 * Which of `boxes` is nearest `box`, if within one box width (centre to centre) and half to twice its size:
 * most likely the same face (fer.video._nearest). -1 if none is.
 * @param {Box} box @param {Box[]} boxes @returns {number}
 */
export function nearest(box, boxes) {
  const distance = (/** @type {Box} */ old) => {
    const dx = (box.x + box.w / 2) - (old.x + old.w / 2), dy = (box.y + box.h / 2) - (old.y + old.h / 2);
    return Math.sqrt(dx * dx + dy * dy) / Math.max(old.w, 1);
  };
  let best = -1;
  boxes.forEach((old, i) => {
    const ratio = box.w / Math.max(old.w, 1);
    if (distance(old) <= 1 && ratio >= 0.5 && ratio <= 2 && (best < 0 || distance(old) < distance(boxes[best]))) best = i;
  });
  return best;
}

export class FaceTracker {
  /** @param {number} smoothing @param {TrackingRules} rules */
  constructor(smoothing, rules) {
    this.smoothing = smoothing;
    this.rules = rules;
    this.reset();
  }

  reset() {
    /** @type {Track[]} */
    this.tracks = [];
    /** @type {Track[]} */
    this.departed = [];
    this.frameIndex = 0;
    this.nextId = 1;
  }

  /**
   * One frame's faces; returns each face's number and smoothed probabilities, in the same order.
   * @param {{box: Box, probs: ArrayLike<number>}[]} faces @returns {{id: number, box: Box, probs: number[]}[]}
   */
  update(faces) {
    this.frameIndex += 1;
    const {min_iou: minIou, max_missed: maxMissed, remember_frames: rememberFrames} = this.rules;
    const alpha = Math.min(Math.max(this.smoothing, 0), 0.99);
    /** @type {[number, number, number][]} */
    const pairs = [];
    faces.forEach((f, fi) => this.tracks.forEach((t, ti) => pairs.push([iou(f.box, t.box), fi, ti])));
    pairs.sort((p, q) => q[0] - p[0] || q[1] - p[1] || q[2] - p[2]);  // Python's sorted(reverse=True)
    /** @type {Map<number, Track>} */
    const assigned = new Map();
    const unmatched = new Set(this.tracks.keys());
    for (const [overlap, fi, ti] of pairs) {
      if (overlap < minIou) break;
      if (assigned.has(fi) || !unmatched.has(ti)) continue;
      assigned.set(fi, this.tracks[ti]);
      unmatched.delete(ti);
    }
    faces.forEach((face, fi) => {  // moved further than its box overlaps: still the nearest face left
      if (assigned.has(fi)) return;
      const left = [...unmatched].sort((a, b) => a - b);
      const near = nearest(face.box, left.map((ti) => this.tracks[ti].box));
      if (near >= 0) {
        assigned.set(fi, this.tracks[left[near]]);
        unmatched.delete(left[near]);
      }
    });
    const output = faces.map((face, fi) => {
      let track = assigned.get(fi);
      if (!track) {
        track = {id: this.returningId(face.box), box: face.box, probs: Array.from(face.probs), lastSeen: this.frameIndex};
        this.tracks.push(track);
      } else {
        const old = track.probs;
        track.probs = old.map((p, i) => alpha * p + (1 - alpha) * face.probs[i]);
        track.box = face.box;
        track.lastSeen = this.frameIndex;
      }
      return {id: track.id, box: face.box, probs: track.probs};
    });
    const gone = this.tracks.filter((t) => this.frameIndex - t.lastSeen > maxMissed);
    this.tracks = this.tracks.filter((t) => this.frameIndex - t.lastSeen <= maxMissed);
    this.departed = [...this.departed, ...gone].filter((t) => this.frameIndex - t.lastSeen <= rememberFrames);
    return output;
  }

  /** The number of a face that left near `box` at about its size, else a new one. */
  returningId(/** @type {Box} */ box) {
    const near = nearest(box, this.departed.map((t) => t.box));
    if (near >= 0) return this.departed.splice(near, 1)[0].id;
    return this.nextId++;
  }
}
