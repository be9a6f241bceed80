// @ts-check
// The frames of one stream on their way to the Python page, which checks every report against one schema
// (app_pages/browser_live/reports.py) and acknowledges what it took. Frames stay here after that, the last
// `limits.resend_frames` of them, so that a page whose session ended during a long network cut (it then
// acknowledges nothing of this run) gets them again; each report carries at most
// `limits.frames_per_report` frames, oldest first, and a backlog goes out report after report.

/**
 * @typedef {{face: number, box: number[], detection: number, probabilities: number[]}} FaceRecord
 * @typedef {{seq: number, t: number, fps: number, ms: number, faces: FaceRecord[]}} FrameRecord
 * @typedef {{frames_per_report: number, faces_per_frame: number, resend_frames: number}} Limits
 * @typedef {{run: string | null, seq: number}} Acknowledgement
 */

export class Outbox {
  /** @param {string} run @param {Limits} limits */
  constructor(run, limits) {
    this.run = run;
    this.limits = limits;
    /** @type {FrameRecord[]} in seq order */
    this.frames = [];
    this.acknowledged = 0;
    /** @type {'playing' | 'stopped'} */
    this.state = 'playing';
    this.recorded = false;
  }

  /** @param {FrameRecord} frame */
  push(frame) {
    this.frames.push({...frame, faces: frame.faces.slice(0, this.limits.faces_per_frame)});
    const excess = this.frames.length - this.limits.resend_frames;
    if (excess > 0) this.frames.splice(0, excess);  // the oldest go; if the page never took them, it says so
  }

  /** The page's acknowledgement. Another run, or none, means the page holds nothing of this one (a new
   *  session): everything kept is sent again. Returns whether it moved forward.
   *  @param {Acknowledgement | undefined} ack */
  acknowledge(ack) {
    const seq = ack?.run === this.run ? ack.seq : 0;
    const moved = seq > this.acknowledged;
    this.acknowledged = seq;
    return moved;
  }

  pending() {
    return this.frames.filter((f) => f.seq > this.acknowledged);
  }

  /** Whether to report again as soon as the page acknowledges. While the stream plays, only a backlog larger
   *  than one report (the rest goes out every 2 s with the new frames); once stopped, whatever is left, since
   *  no new frame will come to carry it.
   *  @returns {boolean} */
  owesReport() {
    const waiting = this.pending().length;
    return this.state === 'stopped' ? waiting > 0 : waiting > this.limits.frames_per_report;
  }

  /** The next report: the oldest frames the page has not acknowledged, how many more wait behind them (a
   *  stopped stream's page holds its summary until none do), and the oldest it could send again (the page
   *  waits for those rather than counting them lost). */
  report() {
    const pending = this.pending();
    const frames = pending.slice(0, this.limits.frames_per_report);
    return {run: this.run, state: this.state, frames, more: pending.length - frames.length,
            kept_from: this.frames[0]?.seq ?? 1, recorded: this.recorded};
  }
}

/** A face as the schema names it: track number, box (x, y, w, h) in the analysed frame's pixels, detector
 *  score, smoothed probabilities, rounded to what the timeline keeps.
 *  @param {{id: number, box: {x: number, y: number, w: number, h: number, score: number}, probs: ArrayLike<number>}} face
 *  @returns {FaceRecord} */
export function faceRecord({id, box, probs}) {
  const round = (/** @type {number} */ v, /** @type {number} */ digits) => Number(v.toFixed(digits));
  return {face: id, box: [box.x, box.y, box.w, box.h].map((v) => Math.round(v)), detection: round(box.score, 4),
          probabilities: Array.from(probs, (p) => round(p, 5))};
}
