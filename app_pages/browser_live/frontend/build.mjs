// Builds the engine into ../static, the folder the app serves (or into the folder given as argument):
// `npm ci && npm run build` here, or `python app_pages/browser_live/build.py` from the project root,
// which also makes the detector's copy. The output is committed, so users and Streamlit Community Cloud
// never need node.
import {build} from 'esbuild';
import {copyFileSync, mkdirSync, readFileSync, writeFileSync} from 'node:fs';
import {resolve} from 'node:path';
import {pathToFileURL} from 'node:url';
import {gzipSync} from 'node:zlib';

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

// The WebAssembly runtimes, served beside the engine, gzipped (src/gzipped.js unpacks them): LiteRT's
// plain CPU build and its glue, its build for browsers without relaxed SIMD, and onnxruntime-web's
// single-threaded CPU build, whose glue code is in the bundle.
const LITERT = 'node_modules/@litertjs/core/wasm/', ORT = 'node_modules/onnxruntime-web/dist/';
for (const name of ['litert_wasm_internal.js', 'litert_wasm_compat_internal.js']) {
  copyFileSync(LITERT + name, new URL(name, RUNTIME));
}
const gzipped = [[LITERT, 'litert_wasm_internal.wasm'], [LITERT, 'litert_wasm_compat_internal.wasm'],
                 [ORT, 'ort-wasm-simd-threaded.wasm']];
for (const [folder, name] of gzipped) {
  writeFileSync(new URL(`${name}.gz`, RUNTIME), gzipSync(readFileSync(folder + name), {level: 9}));
}
