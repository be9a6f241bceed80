// @ts-check
// What the engine runs: the face detector, the emotion model the page names and the label font, loaded
// side by side in the one runtime before Start. Each load happens once however many renders ask, a load
// that failed is tried again by the next ask, and another model named mid-stream takes over only once it
// is ready (the old one runs until then).
import {loadClassifier} from './classifier.js';
import {loadDetector} from './detector.js';
import {loadLabelFont} from './draw.js';

export class EngineModels {
  /** @param {URL} base the engine's folder @param {(classifier: any) => void} [onClassifier] told of each new model */
  constructor(base, onClassifier = () => undefined) {
    this.base = base;
    this.onClassifier = onClassifier;
    /** @type {any} */
    this.detector = null;
    /** @type {any} */
    this.classifier = null;  // {model, accelerator, classify, ...}
    /** @type {Promise<any> | null} */
    this.loadingDetector = null;
    /** @type {Promise<unknown> | null} */
    this.loadingFont = null;
    /** @type {{file: string, promise: Promise<void>} | null} */
    this.loadingModel = null;
  }

  /** Whether loading has begun (the first render starts it, so the first frame is analysed at once). */
  get started() {
    return Boolean(this.loadingDetector || this.loadingModel);
  }

  /** The detector, the font and `args.model` loaded; throws where the runtime or a file failed. */
  async ensure(/** @type {any} */ args) {
    this.loadingDetector ??= loadDetector(this.base, args.rules.detection).catch((err) => {
      this.loadingDetector = null;  // the next Start tries again
      throw err;
    });
    // Without the label font the tags keep their sizes and places, in the browser's sans-serif.
    this.loadingFont ??= loadLabelFont(this.base, args.rules.drawing).catch(() => undefined);
    const wanted = args.model.file;
    const model = this.classifier?.model.file === wanted ? undefined
      : this.loadingModel?.file === wanted ? this.loadingModel.promise : this.replaceClassifier(args.model);
    model?.catch(() => undefined);  // its failure is reported below, once, even if the detector fails first
    this.detector = await this.loadingDetector;
    await this.loadingFont;
    return model;
  }

  /** Loads `model` beside the runtime; it replaces the current classifier once it is ready. */
  replaceClassifier(/** @type {any} */ model) {
    const promise = loadClassifier(this.base, model).catch((err) => {
      this.loadingModel = null;  // the next Start tries again
      throw err;
    }).then((loaded) => {  // the old model runs until this one is ready
      const old = this.classifier;
      this.classifier = loaded;
      old?.delete();
      this.loadingModel = null;
      this.onClassifier(loaded);
    });
    this.loadingModel = {file: model.file, promise};
    return promise;
  }
}
