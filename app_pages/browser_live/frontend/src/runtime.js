// @ts-check
// LiteRT.js, the one WebAssembly runtime both networks run in (the face detector and the emotion model):
// started once per page, from the app's own copy of its files, quietly, and as early as the files allow:
// its JavaScript arrives while its WebAssembly does, and the WebAssembly compiles while it arrives.
import {loadLiteRt, supportsFeature} from '@litertjs/core';
import {engineResponse} from './files.js';

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
  // elsewhere.
  const name = await supportsFeature('relaxedSimd') ? 'litert_wasm_internal' : 'litert_wasm_compat_internal';
  const glue = new URL(`runtime/${name}.js`, baseUrl).href;
  preloadScript(glue);
  const compiling = compileWasm(await engineResponse(baseUrl, `runtime/${name}.wasm.gz`, {gzipped: true}));
  /** @type {(reason: unknown) => void} */
  let fail = () => undefined;
  const failure = new Promise((_, reject) => { fail = reject; });
  compiling.catch(fail);
  // Emscripten's hook for a module compiled by the page: it instantiates ours and waits for `received`.
  /** @type {any} */ (self).Module = {
    instantiateWasm: (/** @type {WebAssembly.Imports} */ imports, /** @type {(i: WebAssembly.Instance) => void} */ received) => {
      compiling.then((module) => WebAssembly.instantiate(module, imports)).then(received, fail);
      return {};
    },
    printErr: runtimeLog,
  };
  // LiteRT.js asks for a WebGPU device while it loads and warns where there is none (Firefox, Safari, most
  // machines); each network's accelerator is chosen on its own, so that warning is a note, not a problem.
  const warn = console.warn;
  console.warn = (...parts) => (/WebGPU device/.test(String(parts[0])) ? console.debug(...parts) : warn(...parts));
  try {
    // A WebAssembly that fails to compile or instantiate never answers Emscripten's hook: `failure` says so.
    return await Promise.race([loadLiteRt(glue), failure]);
  } finally {
    console.warn = warn;
  }
}

/** The runtime's WebAssembly, compiled while it streams in where the browser can (all three engines
 *  here), else once it has all arrived. */
async function compileWasm(/** @type {Response} */ unpacked) {
  const typed = new Response(unpacked.body, {headers: {'Content-Type': 'application/wasm'}});
  if (typeof WebAssembly.compileStreaming === 'function') return WebAssembly.compileStreaming(typed);
  return WebAssembly.compile(await typed.arrayBuffer());
}

/** Fetches the runtime's JavaScript now, for the script tag LiteRT.js adds once the WebAssembly is on
 *  its way (the same CORS mode, so the browser hands the preloaded copy over). */
function preloadScript(/** @type {string} */ url) {
  const link = document.createElement('link');
  link.rel = 'preload';
  link.as = 'script';
  link.crossOrigin = 'anonymous';
  link.href = url;
  document.head.append(link);
}

/** LiteRT's runtime logs its start-up (INFO and WARNING lines) on stderr, which Emscripten sends to
 *  console.error: a healthy page would show a dozen red lines. They go to the debug level; errors stay. */
function runtimeLog(/** @type {string} */ text) {
  if (/^(INFO|WARNING): /.test(text)) console.debug(text);
  else console.error(text);
}
