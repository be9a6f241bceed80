// @ts-check
// LiteRT.js, the one WebAssembly runtime both networks run in (the face detector and the emotion model):
// started once per page, from the app's own copy of its files, quietly.
import {loadLiteRt, supportsFeature} from '@litertjs/core';
import {engineFile} from './files.js';

/** @type {Promise<unknown> | null} */
let runtime = null;

/** LiteRT.js, started on first use; a start that failed is tried again by the next caller. */
export async function liteRt(/** @type {URL} */ baseUrl) {
  runtime ??= startLiteRt(baseUrl).catch((err) => {
    runtime = null;  // the next Start tries again
    throw err;
  });
  return runtime;  // once per page: it is a process-wide runtime
}

async function startLiteRt(/** @type {URL} */ baseUrl) {
  // The build LiteRT.js itself would pick: relaxed SIMD where the browser has it, the compatible one
  // elsewhere. Its WebAssembly is handed over unpacked (Emscripten's Module.wasmBinary), not fetched.
  const name = await supportsFeature('relaxedSimd') ? 'litert_wasm_internal' : 'litert_wasm_compat_internal';
  /** @type {any} */ (self).Module = {wasmBinary: await engineFile(baseUrl, `runtime/${name}.wasm.gz`, {gzipped: true}),
                                     printErr: runtimeLog};
  // LiteRT.js asks for a WebGPU device while it loads and warns where there is none (Firefox, Safari, most
  // machines); each network's accelerator is chosen on its own, so that warning is a note, not a problem.
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
