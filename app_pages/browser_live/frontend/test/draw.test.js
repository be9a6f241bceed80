// node --test: where labels go. Their agreement with fer.drawing is tests/test_engine_parity.py's.
import assert from 'node:assert/strict';
import {test} from 'node:test';
import {layoutTags, shortTag, textWidth} from '../src/draw.js';

const advances = Object.fromEntries([...' #%0123456789abcdefghijklmnopqrstuvwxyz'].map((c) => [c, 0.5]));
const RULES = {
  sizes: {text_px: 16, min_text_px: 10, min_number_px: 8, tag_width_per_face: 1.5, box_line: 2, bar_text_px: 12,
          min_bar_text_px: 8, fps_text_px: 14},
  colors: {happy: [255, 183, 3]}, palette: [[0, 0, 0]], font_file: 'fonts/label.ttf',
  font: {family: 'Test', advances, fallback: 'n', top: 0.8, descent: 0.2},
};
const overlap = (a, b) => Math.max(0, Math.min(a[2], b[2]) - Math.max(a[0], b[0])) * Math.max(0, Math.min(a[3], b[3]) - Math.max(a[1], b[1]));

test('text is as wide as its characters advance, unknown ones as the fallback', () => {
  assert.equal(textWidth(RULES.font, '#1 é', 10), 20);
});

test('a crowd gets tags that stay in the image and never cover each other', () => {
  const boxes = [];
  for (let r = 0; r < 5; r++) for (let c = 0; c < 5; c++) boxes.push({x: 10 + c * 50, y: 30 + r * 50, w: 40, h: 40});
  const texts = boxes.map((_, i) => `#${i + 1} happy 99%`);
  const tags = layoutTags(RULES, 300, 280, boxes, texts, texts.map(shortTag));
  tags.forEach((tag, i) => {
    assert.ok(tag.rect[0] >= 0 && tag.rect[1] >= 0 && tag.rect[2] <= 280 && tag.rect[3] <= 300);
    tags.slice(0, i).forEach((other) => assert.equal(overlap(tag.rect, other.rect), 0));
  });
});

test('a face too small for its label shows only its number', () => {
  const [tag] = layoutTags(RULES, 480, 640, [{x: 100, y: 100, w: 20, h: 20}], ['#3 surprise 87%'], ['#3']);
  assert.equal(tag.text, '#3');
  assert.equal(shortTag('happy 40%'), 'happy 40%');
});
