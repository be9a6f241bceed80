// @ts-check
// How much work each frame gets on this device, with no page attached (node's tests run it): the frames
// shown a second over the last two seconds, and the pace that keeps that rate near the camera's. A slow
// (or shared) device first reads each face every second, then third frame (smoothing carries the reading),
// then finds faces less often (the boxes in between are the last ones found), before the shown rate drops;
// it goes back to full work when the rate holds with time to spare. The work is re-tuned twice a second;
// whether the device is slow is judged every frame, with a margin so the page's line does not flicker.

export const SLOW_FPS = 15;  // under this, the page says the device is slow
const MAX_CLASSIFY_EVERY = 3;
const MAX_DETECT_EVERY = 12;
const SETTLE_MS = 3000;  // the first seconds of a stream are not judged
const RETUNE_MS = 500;

/** Frames shown a second over the last `windowMs`. */
export class FrameRate {
  constructor(windowMs = 2000) {
    this.windowMs = windowMs;
    /** @type {number[]} */
    this.times = [];
    this.fps = 0;
  }

  /** One frame shown at `now` (ms); returns the rate. */
  tick(/** @type {number} */ now) {
    this.times.push(now);
    while (this.times.length && now - this.times[0] > this.windowMs) this.times.shift();
    const span = this.times[this.times.length - 1] - this.times[0];
    this.fps = this.times.length >= 2 && span > 0 ? (this.times.length - 1) * 1000 / span : 0;
    return this.fps;
  }
}

/** @typedef {'slow' | 'recovered' | null} PaceChange  what the page's status line should now say */

export class Pace {
  constructor(/** @type {number} */ detectEvery, /** @type {number} */ started) {
    this.baseDetectEvery = detectEvery;  // the shared rule (rules.py); never below it
    this.detectEvery = detectEvery;
    this.classifyEvery = 1;
    this.started = started;
    this.adaptedAt = started;
    this.busyMs = 0;  // ms spent analysing frames since the last re-tune
    this.slow = false;
  }

  /** The rate is measured afresh (a tab that comes back): the next frames say whether it is slow. */
  forgetSlow() {
    this.slow = false;
  }

  /** After each frame: its cost, the rate shown, the time. Returns a change of the slow line, if any. */
  update(/** @type {number} */ frameMs, /** @type {number} */ fps, /** @type {number} */ now) {
    this.busyMs += frameMs;
    if (now - this.started < SETTLE_MS) return /** @type {PaceChange} */ (null);
    /** @type {PaceChange} */
    let change = null;
    const slow = this.slow ? fps < SLOW_FPS + 3 : fps < SLOW_FPS;
    if (slow !== this.slow) {
      this.slow = slow;
      change = slow ? 'slow' : 'recovered';
    }
    if (now - this.adaptedAt < RETUNE_MS) return change;
    const busy = this.busyMs / Math.max(1, now - this.adaptedAt);
    this.busyMs = 0;
    this.adaptedAt = now;
    if (fps < 26) {
      if (this.classifyEvery < MAX_CLASSIFY_EVERY) this.classifyEvery += 1;
      else if (this.detectEvery < MAX_DETECT_EVERY) this.detectEvery += 1;
    } else if (fps >= 28 && busy < 0.35) {
      if (this.detectEvery > this.baseDetectEvery) this.detectEvery -= 1;
      else if (this.classifyEvery > 1) this.classifyEvery -= 1;
    }
    return change;
  }
}
