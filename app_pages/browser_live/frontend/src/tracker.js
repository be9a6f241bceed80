// fer.video.FaceTracker: each frame's faces matched to the last frame's by overlap (greedy IoU), their
// probabilities averaged over time, and a face that comes back where it left gets its old number.

export function iou(a, b) {
  const w = Math.max(0, Math.min(a.x + a.w, b.x + b.w) - Math.max(a.x, b.x));
  const h = Math.max(0, Math.min(a.y + a.h, b.y + b.h) - Math.max(a.y, b.y));
  const union = a.w * a.h + b.w * b.h - w * h;
  return union > 0 ? w * h / union : 0;
}

export class FaceTracker {
  constructor(smoothing) {
    this.smoothing = smoothing;
    this.minIou = 0.3;
    this.maxMissed = 10;
    this.rememberFrames = 300;
    this.reset();
  }

  reset() {
    this.tracks = [];
    this.departed = [];
    this.frameIndex = 0;
    this.nextId = 1;
  }

  /** `faces`: [{box, probs}] of one frame; returns [{id, box, probs (smoothed)}] in the same order. */
  update(faces) {
    this.frameIndex += 1;
    const alpha = Math.min(Math.max(this.smoothing, 0), 0.99);
    const pairs = [];
    faces.forEach((f, fi) => this.tracks.forEach((t, ti) => pairs.push([iou(f.box, t.box), fi, ti])));
    pairs.sort((p, q) => q[0] - p[0] || q[1] - p[1] || q[2] - p[2]);
    const assigned = new Map(), taken = new Set();
    for (const [overlap, fi, ti] of pairs) {
      if (overlap < this.minIou) break;
      if (assigned.has(fi) || taken.has(ti)) continue;
      assigned.set(fi, this.tracks[ti]);
      taken.add(ti);
    }
    const output = faces.map((face, fi) => {
      let track = assigned.get(fi);
      if (!track) {
        track = {id: this.returningId(face.box), box: face.box, probs: face.probs, lastSeen: this.frameIndex};
        this.tracks.push(track);
      } else {
        track.probs = track.probs.map((p, i) => alpha * p + (1 - alpha) * face.probs[i]);
        track.box = face.box;
        track.lastSeen = this.frameIndex;
      }
      return {id: track.id, box: face.box, probs: track.probs};
    });
    const gone = this.tracks.filter((t) => this.frameIndex - t.lastSeen > this.maxMissed);
    this.tracks = this.tracks.filter((t) => this.frameIndex - t.lastSeen <= this.maxMissed);
    this.departed = [...this.departed, ...gone].filter((t) => this.frameIndex - t.lastSeen <= this.rememberFrames);
    return output;
  }

  returningId(box) {
    const distance = (t) => {
      const dx = (box.x + box.w / 2) - (t.box.x + t.box.w / 2), dy = (box.y + box.h / 2) - (t.box.y + t.box.h / 2);
      return Math.hypot(dx, dy) / Math.max(t.box.w, 1);
    };
    const near = this.departed.filter((t) => distance(t) <= 1 && box.w / Math.max(t.box.w, 1) >= 0.5
                                            && box.w / Math.max(t.box.w, 1) <= 2);
    if (near.length) {
      const track = near.reduce((best, t) => (distance(t) < distance(best) ? t : best));
      this.departed = this.departed.filter((t) => t !== track);
      return track.id;
    }
    return this.nextId++;
  }
}
