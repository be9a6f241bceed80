// What fer.drawing draws on the server's frames, on a canvas: a box per face in its emotion's colour,
// a tag "#2 happy 87%" above (or below, or inside) it, optional probability bars, and the fps corner.

export const EMOTION_COLORS = {
  angry: [230, 57, 70], disgust: [106, 153, 78], fear: [155, 93, 229], happy: [255, 183, 3],
  neutral: [141, 153, 174], sad: [33, 118, 255], surprise: [255, 112, 166],
};
const PALETTE = [[230, 57, 70], [42, 157, 143], [233, 196, 106], [38, 70, 83], [244, 162, 97], [131, 56, 236]];

export function colorFor(label) {
  const rgb = EMOTION_COLORS[label] ?? PALETTE[[...label].reduce((s, c) => s + c.charCodeAt(0), 0) % PALETTE.length];
  return `rgb(${rgb.join(',')})`;
}

function inkFor(label) {
  const rgb = EMOTION_COLORS[label] ?? [0, 0, 0];
  return rgb[0] + rgb[1] + rgb[2] > 382 ? '#000' : '#fff';
}

function overlap(a, b) {
  return Math.max(0, Math.min(a[2], b[2]) - Math.max(a[0], b[0])) * Math.max(0, Math.min(a[3], b[3]) - Math.max(a[1], b[1]));
}

/** Draws `faces` ([{id, box, label, score, probs}]) on `ctx`, whose canvas holds the frame. */
export function drawFaces(ctx, faces, classNames, showProbabilities) {
  const {width, height} = ctx.canvas;
  const unit = Math.max(1, Math.min(width, height) / 480);
  const fontPx = Math.round(15 * unit);
  ctx.lineWidth = Math.max(1, Math.round(2 * unit));
  ctx.textBaseline = 'top';
  const placed = [];
  for (const face of faces) {
    const {x, y, w, h} = face.box;
    ctx.strokeStyle = colorFor(face.label);
    ctx.strokeRect(x, y, w, h);
    let text = `#${face.id} ${face.label} ${Math.round(face.score * 100)}%`;
    let size = fontPx;
    ctx.font = `${size}px sans-serif`;
    const maxWidth = 1.5 * w;  // fer.drawing.TAG_WIDTH_PER_FACE
    if (ctx.measureText(text).width + 6 > maxWidth) {
      size = Math.max(8, Math.floor(size * maxWidth / (ctx.measureText(text).width + 6)));
      if (size < 10) { text = `#${face.id}`; size = Math.max(8, Math.min(fontPx, size * 2)); }
      ctx.font = `${size}px sans-serif`;
    }
    const pad = Math.max(2, Math.round(size / 5));
    const tagW = Math.ceil(ctx.measureText(text).width) + 2 * pad, tagH = size + 2 * pad;
    const candidates = [];
    for (const top of [y - tagH, y + h, y, y + h - tagH]) {
      for (const left of [x, x + w - tagW]) {
        const cx = Math.min(Math.max(0, left), Math.max(0, width - tagW));
        const cy = Math.min(Math.max(0, top), Math.max(0, height - tagH));
        candidates.push([cx, cy, cx + tagW, cy + tagH]);
      }
    }
    const rect = candidates.find((c) => placed.every((p) => overlap(c, p) === 0)) ?? candidates[0];
    placed.push(rect);
    ctx.fillStyle = colorFor(face.label);
    ctx.fillRect(rect[0], rect[1], tagW, tagH);
    ctx.fillStyle = inkFor(face.label);
    ctx.fillText(text, rect[0] + pad, rect[1] + pad);
  }
  if (showProbabilities) {
    for (const face of faces) drawBars(ctx, face, classNames, placed, faces, unit);
  }
}

function drawBars(ctx, face, classNames, obstacles, faces, unit) {
  const {x, y, w, h} = face.box;
  const {width, height} = ctx.canvas;
  const size = Math.max(8, Math.min(Math.round(11 * unit), Math.round(h / 9)));
  ctx.font = `${size}px sans-serif`;
  const line = Math.round(size * 1.35) + 2;
  const labelWidth = Math.ceil(ctx.measureText('surprise ').width);
  const panelW = labelWidth + Math.max(Math.round(w * 0.8), 4 * line), panelH = line * classNames.length;
  const others = faces.filter((f) => f !== face).map((f) => [f.box.x, f.box.y, f.box.x + f.box.w, f.box.y + f.box.h]);
  const own = [x, y, x + w, y + h];
  const spots = [[x + w + 4, y], [x - panelW - 4, y], [x, y + h + 4], [x, y - panelH - 4]].map(([sx, sy]) => {
    const px = Math.min(Math.max(0, sx), Math.max(0, width - panelW));
    const py = Math.min(Math.max(0, sy), Math.max(0, height - panelH));
    return [px, py, px + panelW, py + panelH];
  });
  const spot = spots.find((r) => [...obstacles, ...others].every((o) => overlap(r, o) === 0)
                          && overlap(r, own) <= 0.25 * w * h);
  if (!spot) return;  // no room beside the face: the face and its tag stay visible instead
  obstacles.push(spot);
  classNames.forEach((name, i) => {
    const top = spot[1] + i * line;
    ctx.fillStyle = '#000';
    ctx.fillRect(spot[0], top, panelW, line);
    ctx.fillStyle = colorFor(name);
    ctx.fillRect(spot[0] + labelWidth, top + 2, (panelW - labelWidth) * face.probs[i], line - 4);
    ctx.fillStyle = '#fff';
    ctx.fillText(name.slice(0, 8), spot[0] + 2, top + 1);
  });
}

/** The processing rate in the top-left corner, white on black (fer.video.draw_fps). */
export function drawFps(ctx, fps) {
  const unit = Math.max(0.6, ctx.canvas.height / 480);
  const size = Math.round(13 * unit);
  ctx.font = `${size}px sans-serif`;
  ctx.textBaseline = 'top';
  const text = `${fps.toFixed(1)} fps`;
  ctx.fillStyle = '#000';
  ctx.fillRect(0, 0, ctx.measureText(text).width + 12, size + 12);
  ctx.fillStyle = '#fff';
  ctx.fillText(text, 6, 6);
}
