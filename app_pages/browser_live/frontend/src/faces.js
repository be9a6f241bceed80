// Classifying the faces of one frame within a time budget: with many faces in view, each frame
// re-reads a few of them in turn (the others keep their last reading), so the rate stays live.
import {faceCrop, grayAround, resizeGray} from './crop.js';

const FACES_PER_FRAME = 6;  // about 25 ms of the live model on a laptop's CPU

/** Raw probabilities for each box: new readings for up to `budget` faces, and for every face that has
 *  none yet (a face just found); the others keep their last reading. `crop`: {margin, align} from Python. */
export async function classifyFaces(classifier, image, boxes, previous, state, crop, budget = FACES_PER_FRAME) {
  const probs = previous.slice();
  const missing = boxes.map((_, i) => i).filter((i) => !probs[i]);
  const order = [...missing];
  for (let k = 0; k < boxes.length && order.length < Math.max(budget, missing.length); k++) {
    const i = (state.cursor + k) % boxes.length;
    if (!order.includes(i)) order.push(i);
  }
  state.cursor = boxes.length ? (state.cursor + budget) % boxes.length : 0;
  for (const i of order) {
    const {gray, box} = grayAround(image, boxes[i], crop.margin);
    const face = resizeGray(faceCrop(gray, box, crop.margin, crop.align), classifier.size);
    probs[i] = await classifier.classify(face);
  }
  return probs;
}
