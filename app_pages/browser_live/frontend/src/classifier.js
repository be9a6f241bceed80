// The shipped live model in LiteRT.js: a copy with its batch fixed at one face (LiteRT.js refuses an
// open batch), made by `python -m training.export_litert ... --batch-size 1`, and the same correction of
// its probabilities that fer.model_file.PriorCorrection applies.
import {loadAndCompile, loadLiteRt, supportsFeature, Tensor} from '@litertjs/core';
import {engineFile} from './files.js';

let runtime = null;

async function litert(baseUrl) {
  runtime ??= startLiteRt(baseUrl).catch((err) => {
    runtime = null;  // the next Start tries again
    throw err;
  });
  return runtime;  // once per page: it is a process-wide runtime
}

async function startLiteRt(baseUrl) {
  // The build LiteRT.js itself would pick: relaxed SIMD where the browser has it, the compatible one
  // elsewhere. Its WebAssembly is handed over unpacked (Emscripten's Module.wasmBinary), not fetched.
  const name = await supportsFeature('relaxedSimd') ? 'litert_wasm_internal' : 'litert_wasm_compat_internal';
  /** @type {any} */ (self).Module = {wasmBinary: await engineFile(baseUrl, `runtime/${name}.wasm.gz`, {gzipped: true}),
                                     printErr: runtimeLog};
  // LiteRT.js asks for a WebGPU device while it loads and warns where there is none (Firefox, Safari, most
  // machines); acceleratorFor below decides for itself, so that warning is a note, not a problem.
  const warn = console.warn;
  console.warn = (...parts) => (/WebGPU device/.test(String(parts[0])) ? console.debug(...parts) : warn(...parts));
  try {
    return await loadLiteRt(new URL(`runtime/${name}.js`, baseUrl).href);
  } finally {
    console.warn = warn;
  }
}

/** LiteRT's runtime logs its start-up (INFO and WARNING lines) on stderr, which Emscripten sends to
 *  console.error: a healthy page would show a dozen red lines. They go to the debug level; errors stay. */
function runtimeLog(/** @type {string} */ text) {
  if (/^(INFO|WARNING): /.test(text)) console.debug(text);
  else console.error(text);
}

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
  await litert(baseUrl);
  const bytes = new Uint8Array(await engineFile(baseUrl, `models/${model.file}`));
  let accelerator = await acceleratorFor();
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
