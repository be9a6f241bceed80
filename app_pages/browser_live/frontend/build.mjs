// Builds the engine into ../static, the folder the app serves (or into the folder given as argument):
// `npm ci && npm run build` here, or `python app_pages/browser_live/build.py` from the project root,
// which also makes the detector's copy. The output is committed, so users and Streamlit Community Cloud
// never need node.
import {build} from 'esbuild';
import {copyFileSync, mkdirSync} from 'node:fs';
import {resolve} from 'node:path';
import {pathToFileURL} from 'node:url';

const STATIC = process.argv[2] ? pathToFileURL(resolve(process.argv[2]) + '/') : new URL('../static/', import.meta.url);
const RUNTIME = new URL('runtime/', STATIC);
mkdirSync(RUNTIME, {recursive: true});

await build({
  entryPoints: ['src/main.js'],
  bundle: true,
  format: 'esm',
  minify: true,
  legalComments: 'eof',  // the bundled libraries' licence headers stay in the file
  target: 'es2022',
  outfile: new URL('engine.js', STATIC).pathname,
  logLevel: 'warning',
});

// The WebAssembly runtimes, served beside the engine: LiteRT's plain CPU build and its build for browsers
// without relaxed SIMD, and onnxruntime-web's single-file CPU build.
const runtimes = [
  ['node_modules/@litertjs/core/wasm/', 'litert_wasm_internal.js'],
  ['node_modules/@litertjs/core/wasm/', 'litert_wasm_internal.wasm'],
  ['node_modules/@litertjs/core/wasm/', 'litert_wasm_compat_internal.js'],
  ['node_modules/@litertjs/core/wasm/', 'litert_wasm_compat_internal.wasm'],
  ['node_modules/onnxruntime-web/dist/', 'ort-wasm-simd-threaded.mjs'],
  ['node_modules/onnxruntime-web/dist/', 'ort-wasm-simd-threaded.wasm'],
];
for (const [folder, name] of runtimes) copyFileSync(folder + name, new URL(name, RUNTIME));
