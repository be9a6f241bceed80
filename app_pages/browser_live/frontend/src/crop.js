// The 48x48 grey face the classifier reads, made as the server makes it (fer.recognizer.face_crop and
// fer.preprocessing.prepare_face): a square around the box with a 10% margin, rotated about its centre
// so the eyes are level, edges replicated, converted to grey with OpenCV's weights and shrunk by area
// averaging (cv2.INTER_AREA; bilinear when it has to grow). The margin and whether to align come from
// Python with the page's arguments (fer.recognizer.CROP_MARGIN, fer.settings.DEFAULTS.align_faces).

/** Python's round(): halves go to the even neighbour (Math.round takes them up, and a crop one pixel wider
 *  than the server's shifts the whole face). */
export function roundHalfEven(/** @type {number} */ value) {
  const floor = Math.floor(value);
  const fraction = value - floor;
  if (fraction !== 0.5) return Math.round(value);
  return floor % 2 === 0 ? floor : floor + 1;
}

export function eyeAngle(box) {
  if (!box.landmarks || box.landmarks.length < 2) return 0;
  const [[rx, ry], [lx, ly]] = box.landmarks;
  return Math.atan2(ly - ry, lx - rx) * 180 / Math.PI;
}

/** The square crop of `box` in a grey image, `margin` wider than the box, as a side x side grey image. */
export function faceCrop(gray, box, /** @type {number} */ margin, align = true) {
  const cx = box.x + box.w / 2, cy = box.y + box.h / 2;
  const angle = align ? eyeAngle(box) : 0;
  if (Math.abs(angle) < 1) {
    const side = Math.max(box.w, box.h) * (1 + margin);
    const x0 = roundHalfEven(cx - side / 2), y0 = roundHalfEven(cy - side / 2);
    const x1 = roundHalfEven(cx + side / 2), y1 = roundHalfEven(cy + side / 2);
    const w = x1 - x0, h = y1 - y0, out = new Uint8Array(w * h);
    for (let y = 0; y < h; y++) {
      const sy = Math.min(gray.height - 1, Math.max(0, y0 + y)) * gray.width;
      for (let x = 0; x < w; x++) out[y * w + x] = gray.data[sy + Math.min(gray.width - 1, Math.max(0, x0 + x))];
    }
    return {width: w, height: h, data: out};
  }
  // cv2.getRotationMatrix2D((cx, cy), angle, 1) shifted so the centre lands mid-square, then warpAffine:
  // each output pixel samples the source at the inverse map, bilinearly, edges replicated.
  const side = Math.max(1, roundHalfEven(Math.max(box.w, box.h) * (1 + margin)));
  const a = Math.cos(angle * Math.PI / 180), b = Math.sin(angle * Math.PI / 180);
  // Forward: u = a*x + b*y + tx, v = -b*x + a*y + ty with (cx, cy) -> (side/2, side/2). Inverse below.
  const out = new Uint8Array(side * side);
  const half = side / 2;
  for (let v = 0; v < side; v++) {
    for (let u = 0; u < side; u++) {
      const du = u - half, dv = v - half;
      const sx = cx + a * du - b * dv, sy = cy + b * du + a * dv;
      out[v * side + u] = bilinear(gray, sx, sy);
    }
  }
  return {width: side, height: side, data: out};
}

function bilinear(gray, x, y) {
  const {width, height, data} = gray;
  const x0 = Math.floor(x), y0 = Math.floor(y), fx = x - x0, fy = y - y0;
  const xa = Math.min(width - 1, Math.max(0, x0)), xb = Math.min(width - 1, Math.max(0, x0 + 1));
  const ya = Math.min(height - 1, Math.max(0, y0)) * width, yb = Math.min(height - 1, Math.max(0, y0 + 1)) * width;
  const top = data[ya + xa] * (1 - fx) + data[ya + xb] * fx;
  const bottom = data[yb + xa] * (1 - fx) + data[yb + xb] * fx;
  return Math.round(top * (1 - fy) + bottom * fy);
}

/** A grey image resized to size x size: area averaging when shrinking (cv2.INTER_AREA), bilinear with
 *  half-pixel centres when growing (cv2.INTER_LINEAR), unchanged at the same size. */
export function resizeGray(image, size) {
  const {width, height, data} = image;
  if (width === size && height === size) return data.slice();
  if (width < size || height < size) {
    const out = new Uint8Array(size * size);
    const sx = width / size, sy = height / size;
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        out[y * size + x] = bilinear(image, Math.max(0, (x + 0.5) * sx - 0.5), Math.max(0, (y + 0.5) * sy - 0.5));
      }
    }
    return out;
  }
  const cols = areaWeights(width, size), rows = areaWeights(height, size);
  const across = new Float32Array(height * size);  // each row shrunk to `size` columns
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < size; x++) {
      let sum = 0;
      for (const [src, weight] of cols[x]) sum += data[y * width + src] * weight;
      across[y * size + x] = sum;
    }
  }
  const out = new Uint8Array(size * size);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      let sum = 0;
      for (const [src, weight] of rows[y]) sum += across[src * size + x] * weight;
      out[y * size + x] = Math.min(255, Math.round(sum));
    }
  }
  return out;
}

// For each output index, the source pixels it covers and the share of each (they sum to 1).
function areaWeights(from, to) {
  const scale = from / to, weights = [];
  for (let i = 0; i < to; i++) {
    const start = i * scale, end = (i + 1) * scale, cells = [];
    for (let s = Math.floor(start); s < Math.ceil(end); s++) {
      const cover = Math.min(end, s + 1) - Math.max(start, s);
      if (cover > 1e-9) cells.push([Math.min(from - 1, s), cover / scale]);
    }
    weights.push(cells);
  }
  return weights;
}

/** The grey pixels around `box` that its crop can reach (the rotated square's corners included), with
 *  the box in that region's pixels: a frame's other pixels are never converted. */
export function grayAround(image, box, /** @type {number} */ margin) {
  const reach = Math.max(box.w, box.h) * (1 + margin) * 0.75 + 2;
  const cx = box.x + box.w / 2, cy = box.y + box.h / 2;
  const x0 = Math.max(0, Math.floor(cx - reach)), y0 = Math.max(0, Math.floor(cy - reach));
  const x1 = Math.min(image.width, Math.ceil(cx + reach)), y1 = Math.min(image.height, Math.ceil(cy + reach));
  const width = x1 - x0, height = y1 - y0, gray = new Uint8Array(width * height), src = image.data;
  for (let y = 0; y < height; y++) {
    let p = ((y0 + y) * image.width + x0) * 4;
    for (let x = 0; x < width; x++, p += 4) {
      gray[y * width + x] = (src[p] * 4899 + src[p + 1] * 9617 + src[p + 2] * 1868 + 8192) >> 14;
    }
  }
  const shifted = {...box, x: box.x - x0, y: box.y - y0,
                   landmarks: (box.landmarks ?? []).map(([px, py]) => [px - x0, py - y0])};
  return {gray: {width, height, data: gray}, box: shifted};
}
