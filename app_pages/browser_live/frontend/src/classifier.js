// The shipped live model in LiteRT.js: a copy with its batch fixed at one face (LiteRT.js refuses an
// open batch), made by `python -m training.export_litert ... --batch-size 1`, and the same correction of
// its probabilities that fer.model_file.PriorCorrection applies.
import {loadAndCompile, Tensor} from '@litertjs/core';
import {engineFile} from './files.js';
import {liteRt} from './runtime.js';

/** @returns {Promise<'webgpu' | 'wasm'>} */
async function acceleratorFor() {
  // WebGPU where the browser has an adapter; the WebAssembly CPU path otherwise, quietly.
  const gpu = /** @type {any} */ (navigator).gpu;
  try {
    if (gpu && await gpu.requestAdapter()) return 'webgpu';
  } catch {
    // no adapter: the CPU path below
  }
  return 'wasm';
}

export async function loadClassifier(baseUrl, model) {
  // The model comes over the network while the runtime starts, and the accelerator is asked for meanwhile.
  const [, file, chosen] = await Promise.all([liteRt(baseUrl), engineFile(baseUrl, `models/${model.file}`),
                                              acceleratorFor()]);
  const bytes = new Uint8Array(file);
  let accelerator = chosen;
  let compiled;
  try {
    compiled = await loadAndCompile(bytes, {accelerator});
  } catch (err) {
    if (accelerator === 'wasm') throw err;
    accelerator = 'wasm';
    compiled = await loadAndCompile(bytes, {accelerator});
  }
  return new Classifier(compiled, model, accelerator);
}

class Classifier {
  constructor(compiled, model, accelerator) {
    this.compiled = compiled;
    this.model = model;
    this.accelerator = accelerator;
    this.size = model.image_size[0];
  }

  /** Corrected probabilities (Float64Array, one per class) for a size x size grey face, uint8. */
  async classify(face) {
    const input = new Tensor(Float32Array.from(face), [1, this.size, this.size, 1]);
    const outputs = await this.compiled.run(input);
    input.delete();
    const output = Array.isArray(outputs) ? outputs[0] : outputs;
    const onCpu = output.accelerator === 'wasm' ? output : await output.moveTo('wasm');
    const raw = Float64Array.from(onCpu.toTypedArray());
    if (onCpu !== output) onCpu.delete();
    output.delete();
    return correct(raw, this.model.prior_correction);
  }

  delete() {
    this.compiled.delete?.();
  }
}

/** fer.model_file.PriorCorrection.apply: divide by prior ** tau, then temperature, renormalising. */
export function correct(probs, correction) {
  if (!correction) return probs;
  let scaled = probs.map((p, i) => p * Math.pow(correction.prior[i], -correction.tau));
  const temperature = correction.temperature ?? 1;
  if (temperature !== 1) {
    const total = scaled.reduce((a, b) => a + b, 0);
    scaled = scaled.map((p) => Math.pow(Math.max(p / total, 1e-12), 1 / temperature));
  }
  const total = scaled.reduce((a, b) => a + b, 0);
  return scaled.map((p) => p / total);
}
