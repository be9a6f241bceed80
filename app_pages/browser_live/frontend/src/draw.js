// @ts-check
// What fer.drawing draws on the server's frames, on a canvas: a box per face in its emotion's colour,
// a tag "#2 happy 87%" above (or below, or inside) it, optional probability bars, and the fps corner.
// Every size, colour and the font's metrics come from Python (fer.drawing.browser_drawing_rules), and the
// layout follows fer.drawing step for step, so both engines put each tag on the same pixels
// (tests/test_engine_parity.py runs both on the same faces).

import {engineFile} from './files.js';

/**
 * @typedef {[number, number, number]} RGB
 * @typedef {[number, number, number, number]} Rect  x0, y0, x1, y1
 * @typedef {{x: number, y: number, w: number, h: number}} Box
 * @typedef {{family: string, advances: Record<string, number>, fallback: string, top: number, descent: number}} FontRules
 * @typedef {{text_px: number, min_text_px: number, min_number_px: number, tag_width_per_face: number,
 *            box_line: number, bar_text_px: number, min_bar_text_px: number, fps_text_px: number}} Sizes
 * @typedef {{sizes: Sizes, colors: Record<string, RGB>, palette: RGB[], font: FontRules, font_file: string}} DrawingRules
 * @typedef {{text: string, px: number, rect: Rect}} Tag
 * @typedef {{id: number, box: Box, label: string, score: number, probs: ArrayLike<number>}} DrawnFace
 */

/** JavaScript's rounding, which fer.label_font.round_half_up copies: the engines agree on every pixel. */
export function roundHalfUp(/** @type {number} */ value) {
  return Math.floor(value + 0.5);
}

/** The colour of a class, as fer.drawing.color_for. @returns {RGB} */
export function colorFor(/** @type {DrawingRules} */ rules, /** @type {string} */ label) {
  if (Object.hasOwn(rules.colors, label)) return rules.colors[label];
  const sum = [...label].reduce((total, c) => total + (c.codePointAt(0) ?? 0), 0);
  return rules.palette[sum % rules.palette.length];
}

function css(/** @type {RGB} */ rgb) {
  return `rgb(${rgb.join(',')})`;
}

/** Black or white text, whichever reads better on `rgb` (fer.drawing.ink_for). */
function inkFor(/** @type {RGB} */ rgb) {
  return rgb[0] + rgb[1] + rgb[2] > 382 ? '#000' : '#fff';
}

/** How wide `text` is at `px`, from the font's advance table (fer.label_font.text_width). */
export function textWidth(/** @type {FontRules} */ font, /** @type {string} */ text, /** @type {number} */ px) {
  const fallback = font.advances[font.fallback];
  let total = 0;
  for (const character of text) total += font.advances[character] ?? fallback;
  return total * px;
}

/** @returns {number} */
function overlap(/** @type {Rect} */ a, /** @type {Rect} */ b) {
  return Math.max(0, Math.min(a[2], b[2]) - Math.max(a[0], b[0])) * Math.max(0, Math.min(a[3], b[3]) - Math.max(a[1], b[1]));
}

function corners(/** @type {Box} */ box) {
  return /** @type {Rect} */ ([box.x, box.y, box.x + box.w, box.y + box.h]);
}

/** 1 for an image whose shorter side is 480 px, growing with larger ones (fer.drawing.image_unit). */
export function imageUnit(/** @type {number} */ height, /** @type {number} */ width) {
  return Math.max(1, Math.min(height, width) / 480);
}

export function tagPadding(/** @type {number} */ px) {
  return Math.max(2, roundHalfUp(px / 5));
}

function fittedPx(/** @type {FontRules} */ font, /** @type {string} */ text, /** @type {number} */ maxWidth,
                  /** @type {number} */ basePx) {
  return Math.floor(Math.min(basePx, basePx * maxWidth / Math.max(1, textWidth(font, text, basePx) + 6)));
}

/** The places a tag may take, best first (fer.drawing._candidates). @returns {Tag[]} */
function candidates(/** @type {FontRules} */ font, /** @type {Box} */ box, /** @type {string} */ text,
                    /** @type {number} */ px, /** @type {number} */ width, /** @type {number} */ height) {
  const pad = tagPadding(px);
  const tagW = Math.ceil(textWidth(font, text, px)) + 2 * pad;
  const tagH = roundHalfUp((font.top + font.descent) * px) + 2 * pad;
  /** @type {Tag[]} */
  const tags = [];
  for (const top of [box.y - tagH, box.y + box.h, box.y, box.y + box.h - tagH]) {
    for (const left of [box.x, box.x + box.w - tagW]) {
      const x = Math.min(Math.max(0, left), Math.max(0, width - tagW));
      const y = Math.min(Math.max(0, top), Math.max(0, height - tagH));
      if (!tags.some((t) => t.rect[0] === x && t.rect[1] === y && t.text === text && t.px === px)) {
        tags.push({text, px, rect: [x, y, x + tagW, y + tagH]});
      }
    }
  }
  return tags;
}

/**
 * Where each face's tag goes (fer.drawing.layout_tags): scaled to its face, inside the image, above, below or
 * inside its box wherever it covers no tag placed before it (and, if it can, no other face).
 * @param {DrawingRules} rules @param {number} height @param {number} width @param {Box[]} boxes
 * @param {string[]} texts @param {string[]} shortTexts @returns {Tag[]}
 */
export function layoutTags(rules, height, width, boxes, texts, shortTexts) {
  const {sizes, font} = rules;
  const basePx = sizes.text_px * imageUnit(height, width);
  /** @type {Tag[]} */
  const placed = [];
  boxes.forEach((box, i) => {
    const text = texts[i], short = shortTexts[i];
    const faces = boxes.filter((_, j) => j !== i).map(corners);
    const fullPx = fittedPx(font, text, sizes.tag_width_per_face * box.w, basePx);
    const places = fullPx >= sizes.min_text_px ? candidates(font, box, text, fullPx, width, height) : [];
    if (short !== text || !places.length) {
      const shortPx = Math.max(sizes.min_number_px, fittedPx(font, short, Math.max(box.w, 1), basePx));
      places.push(...candidates(font, box, short, shortPx, width, height));
    }
    let best = 0, bestCost = [Infinity, 1];
    places.forEach((tag, k) => {
      const covered = placed.reduce((sum, p) => sum + overlap(tag.rect, p.rect), 0);
      const onFace = covered === 0 && faces.reduce((sum, f) => sum + overlap(tag.rect, f), 0) > 0 ? 1 : 0;
      if (covered < bestCost[0] || (covered === bestCost[0] && onFace < bestCost[1])) {
        best = k;
        bestCost = [covered, onFace];
      }
    });
    placed.push(places[best]);
  });
  return placed;
}

/** What a tag says on a face too small for its whole text (fer.drawing.short_tag). */
export function shortTag(/** @type {string} */ text) {
  return text.startsWith('#') ? text.split(' ')[0] : text;
}

/** The text drawn from its baseline, in the label font. */
function fillText(/** @type {CanvasRenderingContext2D} */ ctx, /** @type {FontRules} */ font, /** @type {string} */ text,
                  /** @type {number} */ left, /** @type {number} */ baseline, /** @type {number} */ px) {
  ctx.font = `${px}px ${font.family}, sans-serif`;
  ctx.textBaseline = 'alphabetic';
  ctx.fillText(text, left, baseline);
}

/**
 * Draws `faces` on `ctx`, whose canvas holds the frame, as fer.drawing.draw_results(numbered=True) does.
 * @param {CanvasRenderingContext2D} ctx @param {DrawnFace[]} faces @param {string[]} classNames
 * @param {boolean} showProbabilities @param {DrawingRules} rules
 */
export function drawFaces(ctx, faces, classNames, showProbabilities, rules) {
  const {width, height} = ctx.canvas;
  const unit = imageUnit(height, width);
  const {font} = rules;
  ctx.lineWidth = Math.max(1, roundHalfUp(rules.sizes.box_line * unit));
  for (const face of faces) {
    ctx.strokeStyle = css(colorFor(rules, face.label));
    ctx.strokeRect(face.box.x, face.box.y, face.box.w, face.box.h);
  }
  const texts = faces.map((face) => `#${face.id} ${face.label} ${Math.round(face.score * 100)}%`);
  const tags = layoutTags(rules, height, width, faces.map((f) => f.box), texts, texts.map(shortTag));
  tags.forEach((tag, i) => {
    const color = colorFor(rules, faces[i].label);
    const [x0, y0, x1, y1] = tag.rect;
    ctx.fillStyle = css(color);
    ctx.fillRect(x0, y0, x1 - x0, y1 - y0);
    ctx.fillStyle = inkFor(color);
    const pad = tagPadding(tag.px);
    fillText(ctx, font, tag.text, x0 + pad, y0 + pad + roundHalfUp(font.top * tag.px), tag.px);
  });
  if (showProbabilities) {
    /** @type {Rect[]} */
    const obstacles = tags.map((t) => t.rect);
    for (const face of faces) {
      const others = faces.filter((f) => f !== face).map((f) => corners(f.box));
      const panel = drawBars(ctx, face, classNames, rules, [...obstacles, ...others]);
      if (panel) obstacles.push(panel);
    }
  }
}

/**
 * Where a face's probability bars go (fer.drawing.bar_panel): beside it, else below or above it, covering
 * none of `obstacles` and at most a quarter of its own face; null where there is no such place.
 * @param {DrawingRules} rules @param {number} height @param {number} width @param {Box} box
 * @param {number} classes @param {Rect[]} obstacles
 * @returns {{rect: Rect, px: number, line: number, labelWidth: number} | null}
 */
export function barPanel(rules, height, width, box, classes, obstacles) {
  const {x, y, w, h} = box;
  const {sizes, font} = rules;
  const px = Math.max(sizes.min_bar_text_px, Math.min(roundHalfUp(sizes.bar_text_px * imageUnit(height, width)),
                                                       roundHalfUp(h / 9)));
  const line = roundHalfUp(px * 1.35) + 2;
  const labelWidth = Math.ceil(textWidth(font, 'surprise ', px));
  const panelW = labelWidth + Math.max(roundHalfUp(w * 0.8), 4 * line), panelH = line * classes;
  const own = corners(box);
  for (const [sx, sy] of [[x + w + 4, y], [x - panelW - 4, y], [x, y + h + 4], [x, y - panelH - 4]]) {
    const px0 = Math.min(Math.max(0, sx), Math.max(0, width - panelW));
    const py0 = Math.min(Math.max(0, sy), Math.max(0, height - panelH));
    /** @type {Rect} */
    const rect = [px0, py0, px0 + panelW, py0 + panelH];
    if (obstacles.every((o) => overlap(rect, o) === 0) && overlap(rect, own) <= 0.25 * w * h) {
      return {rect, px, line, labelWidth};
    }
  }
  return null;
}

/**
 * The face's probabilities as bars in their `barPanel`; null (nothing drawn) where there is no room.
 * @param {CanvasRenderingContext2D} ctx @param {DrawnFace} face @param {string[]} classNames
 * @param {DrawingRules} rules @param {Rect[]} obstacles @returns {Rect | null}
 */
function drawBars(ctx, face, classNames, rules, obstacles) {
  const panel = barPanel(rules, ctx.canvas.height, ctx.canvas.width, face.box, classNames.length, obstacles);
  if (!panel) return null;
  const {font} = rules;
  const [x, y, x1] = panel.rect;
  const barWidth = x1 - x - panel.labelWidth;
  const baseline = Math.floor((panel.line - roundHalfUp((font.top + font.descent) * panel.px)) / 2)
    + roundHalfUp(font.top * panel.px);
  classNames.forEach((name, i) => {
    const top = y + i * panel.line;
    ctx.fillStyle = '#000';
    ctx.fillRect(x, top, x1 - x, panel.line);
    ctx.fillStyle = css(colorFor(rules, name));
    ctx.fillRect(x + panel.labelWidth, top + 2, Math.floor(barWidth * face.probs[i]), panel.line - 4);
    ctx.fillStyle = '#fff';
    fillText(ctx, font, name.slice(0, 8), x + 2, top + baseline, panel.px);
  });
  return panel.rect;
}

/** The processing rate in the top-left corner, white on black (fer.drawing.draw_fps). */
export function drawFps(/** @type {CanvasRenderingContext2D} */ ctx, /** @type {number} */ fps,
                        /** @type {DrawingRules} */ rules) {
  const {font} = rules;
  const px = Math.max(8, roundHalfUp(rules.sizes.fps_text_px * ctx.canvas.height / 480));
  const text = `${fps.toFixed(1)} fps`;
  const pad = roundHalfUp(px / 2);
  ctx.fillStyle = '#000';
  ctx.fillRect(0, 0, Math.ceil(textWidth(font, text, px)) + 2 * pad, roundHalfUp((font.top + font.descent) * px) + 2 * pad);
  ctx.fillStyle = '#fff';
  fillText(ctx, font, text, pad, pad + roundHalfUp(font.top * px), px);
}

/** Loads the label font, the file fer.label_font draws with (written beside the engine by build.py). */
export async function loadLabelFont(/** @type {URL} */ base, /** @type {DrawingRules} */ rules) {
  const face = new FontFace(rules.font.family, await engineFile(base, rules.font_file));
  document.fonts.add(await face.load());
}
