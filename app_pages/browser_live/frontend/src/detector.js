// @ts-check
// YuNet, the project's one face detector (fer/detection.py), in LiteRT.js beside the emotion model: the
// same weights as OpenCV's file, rebuilt for LiteRT (app_pages/browser_live/yunet_litert.py), one small
// file per input size since LiteRT.js runs fixed sizes only. Each is fetched and compiled the first time a
// frame of its size comes, then kept.
import {loadAndCompile, Tensor} from '@litertjs/core';
import {nonMaximumSuppression} from './boxes.js';
import {engineFile} from './files.js';
import {liteRt} from './runtime.js';
import {decodeFaces, detectionPlan, detectorInput} from './yunet.js';

/** @typedef {import('./yunet.js').DetectorRules} DetectorRules */
/** @typedef {import('./yunet.js').Canvas} Canvas */

/** The detector, with the file for a webcam's usual 640x480 frame compiled and ready. */
export async function loadDetector(/** @type {URL} */ baseUrl, /** @type {DetectorRules} */ rules) {
  const detector = new YuNet(baseUrl, rules);
  await detector.compiled(detectionPlan(480, 640, rules).canvas);
  return detector;
}

class YuNet {
  constructor(/** @type {URL} */ baseUrl, /** @type {DetectorRules} */ rules) {
    this.baseUrl = baseUrl;
    this.rules = rules;
    /** @type {Map<string, Promise<any>>} */
    this.models = new Map();
  }

  /** The compiled network for one input size, loaded once (a load that failed is tried again). */
  compiled(/** @type {Canvas} */ canvas) {
    let model = this.models.get(canvas.file);
    if (!model) {
      // The file comes over the network while the runtime starts (the first time).
      model = Promise.all([liteRt(this.baseUrl), engineFile(this.baseUrl, canvas.file)])
        .then(([, bytes]) => loadAndCompile(new Uint8Array(bytes), {accelerator: 'wasm'}));
      model.catch(() => this.models.delete(canvas.file));
      this.models.set(canvas.file, model);
    }
    return model;
  }

  /** The plan for a frame: the size to scale it to, and the detector file it goes into. */
  plan(/** @type {number} */ height, /** @type {number} */ width) {
    return detectionPlan(height, width, this.rules);
  }

  /** Faces in an RGBA ImageData scaled as plan() says, in its pixels, after suppression. */
  async detect(/** @type {ImageData} */ image, /** @type {Canvas} */ canvas, /** @type {number} */ minConfidence) {
    const model = await this.compiled(canvas);
    const input = new Tensor(detectorInput(image, canvas), [1, canvas.height, canvas.width, 3]);
    const outputs = await model.run(input);
    input.delete();
    const output = Array.isArray(outputs) ? outputs[0] : outputs;
    const values = /** @type {Float32Array} */ (output.toTypedArray());
    const faces = decodeFaces(values, canvas, minConfidence);
    output.delete();
    return nonMaximumSuppression(faces, this.rules.nms_threshold);
  }
}
